//! ZeroMQ for the relay and the simulated network: our own thin binding to the libzmq that
//! `build.rs` compiles (with CURVE, against the vendored libsodium), and the OxenMQ message
//! classification of PROTOCOL §7.2.
//!
//! **Owns:** every `unsafe` line that touches libzmq (`ffi.rs` declarations, `socket.rs` the safe
//! wrapper), and `frames.rs` (what a multipart message from a remote means).
//! **Must not:** know about swarms, accounts or providers: the OxenMQ client lives in the relay's
//! `swarm::oxenmq`, the fake storage servers in `devnet`.

pub mod consts;
mod error;
mod ffi;
mod frames;
mod socket;

pub use error::ZmqError;
pub use frames::{classify, classify_frames, Incoming, IncomingRef};
pub use socket::{has, poll, Context, Multipart, Pollable, Socket};
