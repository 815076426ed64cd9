//! `extern "C"` declarations of the part of libzmq 4.3.5 the relay uses. libzmq itself is
//! built by `build.rs` (zeromq-src, CURVE on, linked to libsodium-sys-stable's libsodium).
#![allow(unsafe_code, non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_int, c_long, c_short, c_void};

pub use crate::consts::*;

/// `EAGAIN` on Linux and macOS is 11 / 35; libzmq reports the platform's value.
pub const EAGAIN: c_int = libc_eagain();

const fn libc_eagain() -> c_int {
    if cfg!(target_os = "linux") {
        11
    } else {
        35
    }
}

/// `zmq_msg_t`: 64 opaque bytes, pointer-aligned.
#[repr(C, align(8))]
pub struct zmq_msg_t {
    pub _opaque: [u8; 64],
}

/// `zmq_pollitem_t` (Unix: `fd` is an `int`).
#[repr(C)]
pub struct zmq_pollitem_t {
    pub socket: *mut c_void,
    pub fd: c_int,
    pub events: c_short,
    pub revents: c_short,
}

extern "C" {
    pub fn zmq_ctx_new() -> *mut c_void;
    pub fn zmq_ctx_term(context: *mut c_void) -> c_int;
    pub fn zmq_ctx_set(context: *mut c_void, option: c_int, optval: c_int) -> c_int;

    pub fn zmq_socket(context: *mut c_void, kind: c_int) -> *mut c_void;
    pub fn zmq_close(socket: *mut c_void) -> c_int;
    pub fn zmq_setsockopt(
        socket: *mut c_void,
        option: c_int,
        optval: *const c_void,
        optvallen: usize,
    ) -> c_int;
    pub fn zmq_getsockopt(
        socket: *mut c_void,
        option: c_int,
        optval: *mut c_void,
        optvallen: *mut usize,
    ) -> c_int;
    pub fn zmq_bind(socket: *mut c_void, endpoint: *const c_char) -> c_int;
    pub fn zmq_connect(socket: *mut c_void, endpoint: *const c_char) -> c_int;
    pub fn zmq_socket_monitor(socket: *mut c_void, endpoint: *const c_char, events: c_int)
        -> c_int;

    pub fn zmq_msg_init(msg: *mut zmq_msg_t) -> c_int;
    pub fn zmq_msg_init_size(msg: *mut zmq_msg_t, size: usize) -> c_int;
    pub fn zmq_msg_data(msg: *mut zmq_msg_t) -> *mut c_void;
    pub fn zmq_msg_size(msg: *const zmq_msg_t) -> usize;
    pub fn zmq_msg_close(msg: *mut zmq_msg_t) -> c_int;
    pub fn zmq_msg_send(msg: *mut zmq_msg_t, socket: *mut c_void, flags: c_int) -> c_int;
    pub fn zmq_msg_recv(msg: *mut zmq_msg_t, socket: *mut c_void, flags: c_int) -> c_int;
    pub fn zmq_msg_more(msg: *const zmq_msg_t) -> c_int;

    pub fn zmq_poll(items: *mut zmq_pollitem_t, nitems: c_int, timeout: c_long) -> c_int;

    pub fn zmq_errno() -> c_int;
    pub fn zmq_strerror(errnum: c_int) -> *const c_char;
    pub fn zmq_has(capability: *const c_char) -> c_int;
}
