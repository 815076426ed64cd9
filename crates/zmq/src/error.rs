//! `ZmqError`: a libzmq call that failed.

/// A failed libzmq call, with the `errno` libzmq reported.
#[derive(Debug, thiserror::Error)]
#[error("{op} failed: {message} (errno {errno})")]
pub struct ZmqError {
    /// The libzmq function.
    pub op: &'static str,
    /// `zmq_errno()`.
    pub errno: i32,
    /// `zmq_strerror()`.
    pub message: String,
}
