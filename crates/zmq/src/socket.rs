//! A small safe wrapper over the libzmq FFI: a context, sockets, multipart send/receive
//! (always non-blocking) and `zmq_poll`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::os::raw::{c_int, c_long, c_void};
use std::sync::Arc;

use super::ffi;
use crate::ZmqError;

const EINTR: c_int = 4;

fn last_error(op: &'static str) -> ZmqError {
    // SAFETY: zmq_errno has no preconditions; zmq_strerror returns a static C string.
    let (errno, message) = unsafe {
        let errno = ffi::zmq_errno();
        let text = CStr::from_ptr(ffi::zmq_strerror(errno));
        (errno, text.to_string_lossy().into_owned())
    };
    ZmqError { op, errno, message }
}

fn check(op: &'static str, rc: c_int) -> Result<(), ZmqError> {
    if rc < 0 {
        Err(last_error(op))
    } else {
        Ok(())
    }
}

fn c_string(op: &'static str, text: &str) -> Result<CString, ZmqError> {
    CString::new(text).map_err(|_| ZmqError {
        op,
        errno: 0,
        message: "endpoint contains a NUL byte".into(),
    })
}

/// Whether this libzmq was built with `capability` (e.g. `"curve"`).
pub fn has(capability: &str) -> bool {
    let Ok(cap) = CString::new(capability) else {
        return false;
    };
    // SAFETY: cap is a valid NUL-terminated string for the duration of the call.
    unsafe { ffi::zmq_has(cap.as_ptr()) == 1 }
}

struct ContextInner(*mut c_void);

// SAFETY: a libzmq context is thread-safe (documented in zmq_ctx_new(3)).
unsafe impl Send for ContextInner {}
// SAFETY: as above.
unsafe impl Sync for ContextInner {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: every socket holds an Arc to this context, so all sockets are closed by now;
        // zmq_ctx_term then returns promptly (sockets use LINGER 0).
        unsafe { ffi::zmq_ctx_term(self.0) };
    }
}

/// A libzmq context; sockets keep it alive.
#[derive(Clone)]
pub struct Context(Arc<ContextInner>);

impl Context {
    /// A new context allowing `max_sockets` sockets.
    pub fn new(max_sockets: i32) -> Result<Self, ZmqError> {
        // SAFETY: zmq_ctx_new has no preconditions; null means failure.
        let raw = unsafe { ffi::zmq_ctx_new() };
        if raw.is_null() {
            return Err(last_error("zmq_ctx_new"));
        }
        let ctx = Context(Arc::new(ContextInner(raw)));
        // SAFETY: raw is a live context.
        check("zmq_ctx_set", unsafe {
            ffi::zmq_ctx_set(raw, ffi::ZMQ_MAX_SOCKETS, max_sockets)
        })?;
        Ok(ctx)
    }

    /// A new socket of `kind` (`ffi::ZMQ_DEALER`, …) with `LINGER` 0.
    pub fn socket(&self, kind: c_int) -> Result<Socket, ZmqError> {
        // SAFETY: the context is alive (we hold an Arc); null means failure.
        let raw = unsafe { ffi::zmq_socket(self.0 .0, kind) };
        if raw.is_null() {
            return Err(last_error("zmq_socket"));
        }
        let socket = Socket {
            raw,
            _ctx: self.0.clone(),
        };
        socket.set_int(ffi::ZMQ_LINGER, 0)?;
        Ok(socket)
    }
}

/// One libzmq socket. It may move between threads but is used by one thread at a time.
pub struct Socket {
    raw: *mut c_void,
    _ctx: Arc<ContextInner>,
}

// SAFETY: libzmq sockets may be migrated between threads with a full memory barrier (which a
// channel send or thread spawn provides); `Socket` is not `Sync`, so it is never shared.
unsafe impl Send for Socket {}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: raw is a live socket owned by this value.
        unsafe { ffi::zmq_close(self.raw) };
    }
}

impl Socket {
    /// Sets an integer option.
    pub fn set_int(&self, option: c_int, value: i32) -> Result<(), ZmqError> {
        self.set_number::<c_int>(option, value)
    }

    /// Sets a 64-bit integer option (`MAXMSGSIZE`).
    pub fn set_i64(&self, option: c_int, value: i64) -> Result<(), ZmqError> {
        self.set_number(option, value)
    }

    /// Sets an option whose value is a number of the C type libzmq documents for it.
    fn set_number<T: Copy>(&self, option: c_int, value: T) -> Result<(), ZmqError> {
        // SAFETY: the pointer and length describe `value`, a live `T`.
        check("zmq_setsockopt", unsafe {
            ffi::zmq_setsockopt(
                self.raw,
                option,
                (&value as *const T).cast(),
                std::mem::size_of::<T>(),
            )
        })
    }

    /// Sets a binary option (keys, routing id).
    pub fn set_bytes(&self, option: c_int, value: &[u8]) -> Result<(), ZmqError> {
        // SAFETY: the pointer and length describe a live slice.
        check("zmq_setsockopt", unsafe {
            ffi::zmq_setsockopt(self.raw, option, value.as_ptr().cast(), value.len())
        })
    }

    /// Binds to `endpoint`.
    pub fn bind(&self, endpoint: &str) -> Result<(), ZmqError> {
        let c = c_string("zmq_bind", endpoint)?;
        // SAFETY: c is a valid NUL-terminated string.
        check("zmq_bind", unsafe { ffi::zmq_bind(self.raw, c.as_ptr()) })
    }

    /// Connects to `endpoint` (libzmq then reconnects by itself).
    pub fn connect(&self, endpoint: &str) -> Result<(), ZmqError> {
        let c = c_string("zmq_connect", endpoint)?;
        // SAFETY: c is a valid NUL-terminated string.
        check("zmq_connect", unsafe {
            ffi::zmq_connect(self.raw, c.as_ptr())
        })
    }

    /// Publishes this socket's `events` on an inproc PAIR endpoint.
    pub fn monitor(&self, endpoint: &str, events: u16) -> Result<(), ZmqError> {
        let c = c_string("zmq_socket_monitor", endpoint)?;
        // SAFETY: c is a valid NUL-terminated string.
        check("zmq_socket_monitor", unsafe {
            ffi::zmq_socket_monitor(self.raw, c.as_ptr(), c_int::from(events))
        })
    }

    /// An integer option (`ZMQ_EVENTS`, `ZMQ_FD`, …).
    pub fn get_int(&self, option: c_int) -> Result<i32, ZmqError> {
        let mut value: c_int = 0;
        let mut len = std::mem::size_of::<c_int>();
        // SAFETY: the pointer and length describe a live, writable c_int.
        check("zmq_getsockopt", unsafe {
            ffi::zmq_getsockopt(
                self.raw,
                option,
                (&mut value as *mut c_int).cast(),
                &mut len,
            )
        })?;
        Ok(value)
    }

    /// `ZMQ_FD`: a descriptor that becomes readable (edge-triggered) whenever `ZMQ_EVENTS`
    /// may have changed. It signals nothing by itself: after each wake-up, and after every
    /// send or receive on the socket, read until `EAGAIN` (or check [`Socket::events`]).
    /// libzmq owns it; it lives as long as the socket.
    pub fn fd(&self) -> Result<RawFd, ZmqError> {
        self.get_int(ffi::ZMQ_FD)
    }

    /// `ZMQ_EVENTS`: `ZMQ_POLLIN` / `ZMQ_POLLOUT` bits; reading it also processes libzmq's
    /// pending commands for the socket.
    pub fn events(&self) -> Result<i32, ZmqError> {
        self.get_int(ffi::ZMQ_EVENTS)
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:0` to the chosen port).
    pub fn last_endpoint(&self) -> Result<String, ZmqError> {
        let mut buf = [0u8; 256];
        let mut len = buf.len();
        // SAFETY: buf/len describe a writable buffer; libzmq writes a NUL-terminated string.
        check("zmq_getsockopt", unsafe {
            ffi::zmq_getsockopt(
                self.raw,
                ffi::ZMQ_LAST_ENDPOINT,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        let text = CStr::from_bytes_until_nul(&buf).map_err(|_| ZmqError {
            op: "zmq_getsockopt",
            errno: 0,
            message: "endpoint not NUL-terminated".into(),
        })?;
        Ok(text.to_string_lossy().into_owned())
    }

    /// Sends a multipart message without blocking; `Ok(false)` if it would block.
    pub fn send<P: AsRef<[u8]>>(&self, frames: &[P]) -> Result<bool, ZmqError> {
        for (i, frame) in frames.iter().enumerate() {
            let frame = frame.as_ref();
            let more = i + 1 < frames.len();
            let flags = ffi::ZMQ_DONTWAIT | if more { ffi::ZMQ_SNDMORE } else { 0 };
            let mut msg = ffi::zmq_msg_t { _opaque: [0; 64] };
            // SAFETY: msg is valid storage; init_size allocates frame.len() bytes which we fill
            // from a slice of exactly that length; msg_send takes ownership on success and we
            // close it on failure.
            let rc = unsafe {
                check(
                    "zmq_msg_init_size",
                    ffi::zmq_msg_init_size(&mut msg, frame.len()),
                )?;
                if !frame.is_empty() {
                    std::ptr::copy_nonoverlapping(
                        frame.as_ptr(),
                        ffi::zmq_msg_data(&mut msg).cast::<u8>(),
                        frame.len(),
                    );
                }
                let rc = ffi::zmq_msg_send(&mut msg, self.raw, flags);
                if rc < 0 {
                    let err = last_error("zmq_msg_send");
                    ffi::zmq_msg_close(&mut msg);
                    Err(err)
                } else {
                    Ok(())
                }
            };
            match rc {
                Ok(()) => {}
                // Only the first frame can block: libzmq queues multipart messages atomically.
                Err(ZmqError { errno, .. }) if errno == ffi::EAGAIN && i == 0 => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Receives one multipart message without blocking, each frame in its own `Vec`; `Ok(None)`
    /// when none is waiting. The proxy's hot path uses [`Socket::recv_into`] instead.
    pub fn recv(&self) -> Result<Option<Vec<Vec<u8>>>, ZmqError> {
        let mut buf = Multipart::new();
        if !self.recv_into(&mut buf)? {
            return Ok(None);
        }
        Ok(Some(
            (0..buf.len())
                .filter_map(|i| buf.frame(i).map(<[u8]>::to_vec))
                .collect(),
        ))
    }

    /// Receives one multipart message without blocking into `buf`, reusing its storage (no
    /// allocation once it has grown to the largest message); `Ok(false)` when none is waiting.
    pub fn recv_into(&self, buf: &mut Multipart) -> Result<bool, ZmqError> {
        buf.clear();
        loop {
            let mut msg = ffi::zmq_msg_t { _opaque: [0; 64] };
            // SAFETY: msg is initialised before use and closed after its bytes are copied out;
            // data/size describe the message's own buffer, valid until zmq_msg_close.
            let step = unsafe {
                ffi::zmq_msg_init(&mut msg);
                let rc = ffi::zmq_msg_recv(&mut msg, self.raw, ffi::ZMQ_DONTWAIT);
                if rc < 0 {
                    let err = last_error("zmq_msg_recv");
                    ffi::zmq_msg_close(&mut msg);
                    Err(err)
                } else {
                    let len = ffi::zmq_msg_size(&msg);
                    if len > 0 {
                        let data = ffi::zmq_msg_data(&mut msg).cast::<u8>();
                        buf.data
                            .extend_from_slice(std::slice::from_raw_parts(data, len));
                    }
                    buf.ends.push(buf.data.len());
                    let more = ffi::zmq_msg_more(&msg) == 1;
                    ffi::zmq_msg_close(&mut msg);
                    Ok(more)
                }
            };
            match step {
                Ok(true) => {}
                Ok(false) => return Ok(true),
                Err(ZmqError { errno, .. }) if errno == ffi::EAGAIN && buf.ends.is_empty() => {
                    return Ok(false)
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A reusable receive buffer: one multipart message as contiguous bytes and frame ends.
#[derive(Debug, Default)]
pub struct Multipart {
    data: Vec<u8>,
    ends: Vec<usize>,
}

/// Frames of a message that fit the stack in [`Multipart::with_frames`].
const INLINE_FRAMES: usize = 8;

impl Multipart {
    /// An empty buffer.
    pub fn new() -> Self {
        Multipart::default()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no frame.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Frame `i`.
    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    /// Calls `f` with the frames as slices: on the stack for up to 8 frames, else in a `Vec`.
    pub fn with_frames<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let n = self.ends.len();
        if n <= INLINE_FRAMES {
            let mut frames: [&[u8]; INLINE_FRAMES] = [&[]; INLINE_FRAMES];
            for (i, slot) in frames.iter_mut().enumerate().take(n) {
                *slot = self.frame(i).unwrap_or_default();
            }
            f(&frames[..n])
        } else {
            let frames: Vec<&[u8]> = (0..n).map(|i| self.frame(i).unwrap_or_default()).collect();
            f(&frames)
        }
    }

    /// Owned copies of the frames.
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        (0..self.ends.len())
            .map(|i| self.frame(i).unwrap_or_default().to_vec())
            .collect()
    }
}

/// Something `poll` can wait on.
pub enum Pollable<'a> {
    /// A libzmq socket (readable = a message is waiting).
    Socket(&'a Socket),
    /// A plain file descriptor (the proxy's wake-up pipe).
    Fd(RawFd),
}

/// Waits up to `timeout_ms` (-1 = forever) until one of `items` is readable; returns a flag
/// per item. An interrupted wait returns all `false`.
pub fn poll(items: &[Pollable<'_>], timeout_ms: i64) -> Result<Vec<bool>, ZmqError> {
    let mut raw: Vec<ffi::zmq_pollitem_t> = items
        .iter()
        .map(|item| match item {
            Pollable::Socket(s) => ffi::zmq_pollitem_t {
                socket: s.raw,
                fd: 0,
                events: ffi::ZMQ_POLLIN,
                revents: 0,
            },
            Pollable::Fd(fd) => ffi::zmq_pollitem_t {
                socket: std::ptr::null_mut(),
                fd: *fd,
                events: ffi::ZMQ_POLLIN,
                revents: 0,
            },
        })
        .collect();
    let count = c_int::try_from(raw.len()).unwrap_or(c_int::MAX);
    // SAFETY: raw holds `count` initialised poll items whose sockets are alive (borrowed).
    let rc = unsafe { ffi::zmq_poll(raw.as_mut_ptr(), count, timeout_ms as c_long) };
    if rc < 0 {
        let err = last_error("zmq_poll");
        if matches!(err, ZmqError { errno: EINTR, .. }) {
            return Ok(vec![false; raw.len()]);
        }
        return Err(err);
    }
    Ok(raw
        .iter()
        .map(|r| r.revents & ffi::ZMQ_POLLIN != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_available() {
        assert!(has("curve"));
    }

    /// Two PAIR sockets of `ctx` connected over `inproc://{name}`: `a` bound, `b` connected.
    fn pair(ctx: &Context, name: &str) -> (Socket, Socket) {
        let endpoint = format!("inproc://{name}");
        let a = ctx.socket(ffi::ZMQ_PAIR).unwrap();
        a.bind(&endpoint).unwrap();
        let b = ctx.socket(ffi::ZMQ_PAIR).unwrap();
        b.connect(&endpoint).unwrap();
        (a, b)
    }

    #[test]
    fn pair_round_trip_with_empty_frames() {
        let ctx = Context::new(16).unwrap();
        let (a, b) = pair(&ctx, "socket-test");
        assert_eq!(b.recv().unwrap(), None);
        assert!(a.send(&[b"one".as_slice(), b"", b"three"]).unwrap());
        let ready = poll(&[Pollable::Socket(&b)], 1000).unwrap();
        assert_eq!(ready, vec![true]);
        let got = b.recv().unwrap().unwrap();
        assert_eq!(got, vec![b"one".to_vec(), Vec::new(), b"three".to_vec()]);
    }

    #[test]
    fn recv_into_reuses_one_buffer_and_the_fd_signals() {
        let ctx = Context::new(16).unwrap();
        let (a, b) = pair(&ctx, "recv-into-test");
        assert!(b.fd().unwrap() >= 0);
        let mut buf = Multipart::new();
        assert!(!b.recv_into(&mut buf).unwrap());
        assert!(buf.is_empty());
        let many: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; i as usize]).collect();
        assert!(a.send(&[b"one".as_slice(), b"", b"three"]).unwrap());
        assert!(a.send(&many).unwrap());
        assert_ne!(b.events().unwrap() & i32::from(ffi::ZMQ_POLLIN), 0);
        assert!(b.recv_into(&mut buf).unwrap());
        assert_eq!(buf.len(), 3);
        assert_eq!(buf.frame(1), Some(&b""[..]));
        assert_eq!(buf.frame(3), None);
        buf.with_frames(|f| assert_eq!(f, [&b"one"[..], b"", b"three"]));
        assert!(b.recv_into(&mut buf).unwrap());
        assert_eq!(buf.to_vecs(), many);
        buf.with_frames(|f| assert_eq!(f.len(), 10));
        assert!(!b.recv_into(&mut buf).unwrap());
        assert_eq!(b.events().unwrap() & i32::from(ffi::ZMQ_POLLIN), 0);
    }
}
