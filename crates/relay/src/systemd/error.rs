/// A systemd notification problem: a malformed environment or a failed send.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    /// `NOTIFY_SOCKET` is neither an absolute path nor an `@abstract` name.
    #[error(
        "NOTIFY_SOCKET must be an absolute path or an @abstract name (vsock is not supported)"
    )]
    UnsupportedSocket,
    /// `NOTIFY_SOCKET` names a socket address the OS rejects (too long, NUL byte).
    #[error("NOTIFY_SOCKET is not a valid Unix socket address")]
    BadSocketAddress(#[source] std::io::Error),
    /// `WATCHDOG_USEC` is not a positive integer.
    #[error("WATCHDOG_USEC must be a positive integer of microseconds")]
    BadWatchdogUsec,
    /// The datagram could not be sent (systemd gone, socket queue full).
    #[error("cannot send to the systemd notify socket")]
    Send(#[source] std::io::Error),
}
