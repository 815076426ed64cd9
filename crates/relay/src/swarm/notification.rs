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

/// A parsed `notify.message` still borrowing its hash and data from the received frame
/// ([`crate::swarm::message::parse_notify_ref`]); [`NotifyRef::into_owned`] copies them out.
#[derive(Clone, Copy, Debug)]
pub struct NotifyRef<'a> {
    /// `@`.
    pub account: AccountId,
    /// `h`.
    pub hash: &'a [u8],
    /// `n`.
    pub namespace: i16,
    /// `t`.
    pub timestamp_ms: i64,
    /// `z`.
    pub expiry_ms: i64,
    /// `~`. Never logged.
    pub data: Option<&'a [u8]>,
}

impl NotifyRef<'_> {
    /// The owned [`Notification`], received at `received`.
    pub fn into_owned(self, received: Instant) -> Notification {
        Notification {
            account: self.account,
            hash: Bytes::copy_from_slice(self.hash),
            namespace: self.namespace,
            timestamp_ms: self.timestamp_ms,
            expiry_ms: self.expiry_ms,
            data: self.data.map(Bytes::copy_from_slice),
            received,
        }
    }
}
