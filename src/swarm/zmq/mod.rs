//! Our own thin binding to the libzmq that `build.rs` compiles (with CURVE): raw declarations in
//! `ffi.rs`, a safe wrapper in `socket.rs`. These two files are the only `unsafe` of the swarm
//! side; the OxenMQ proxy and the devnet fakes use the wrapper.

pub(crate) mod ffi;
mod socket;

pub use socket::{has, poll, Context, Pollable, Socket};
