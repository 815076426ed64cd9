use bytes::Bytes;
use tokio::time::Instant;

use crate::subscription::AccountId;

/// A validated `notify.message` from a storage server (PROTOCOL §8.4).
#[derive(Clone, Debug)]
pub struct Notification {
    /// `@`: the account the message was stored for.
    pub account: AccountId,
    /// `h`: the message hash (32…99 bytes, opaque).
    pub hash: Bytes,
    /// `n`: namespace.
    pub namespace: i16,
    /// `t`: message timestamp, ms since the epoch.
    pub timestamp_ms: i64,
    /// `z`: message expiry, ms since the epoch.
    pub expiry_ms: i64,
    /// `~`: the message data, when the connection's entry wants data. Never logged.
    pub data: Option<Bytes>,
    /// When the relay received it (end-to-end latency starts here).
    pub received: Instant,
}
