//! What a devnet message is: its number travels in the message hash, and its data is derived
//! from the number, so a device's payload alone says which message it is and what it must hold.

use crate::fake_storage::FakeMessage;
use relay::clock;
use relay::subscription::AccountId;

/// Stored messages expire after 14 days, as on a real swarm.
const EXPIRY_MS: i64 = 14 * 86_400_000;

/// The message hash of message `seq` (ASCII, 44 bytes: within the 32…99 of PROTOCOL §8.4).
pub fn message_hash(seq: u64) -> String {
    format!("devnet{seq:038}")
}

/// The message number in a hash made by [`message_hash`].
pub fn parse_hash(hash: &str) -> Option<u64> {
    hash.strip_prefix("devnet")?.parse().ok()
}

/// The message data of message `seq` (short enough to travel in the payload).
pub fn message_data(seq: u64) -> Vec<u8> {
    format!("devnet message {seq}: hello from the swarm").into_bytes()
}

/// Message `seq` for `account` in `namespace`, stored now.
pub fn message(seq: u64, account: AccountId, namespace: i16) -> FakeMessage {
    let now_ms = clock::unix_now().saturating_mul(1000);
    FakeMessage {
        account,
        hash: message_hash(seq).into_bytes(),
        namespace,
        timestamp_ms: now_ms,
        expiry_ms: now_ms + EXPIRY_MS,
        data: message_data(seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_fit_the_protocol_bounds() {
        let hash = message_hash(12345);
        assert!((32..=99).contains(&hash.len()));
        assert_eq!(parse_hash(&hash), Some(12345));
        assert_eq!(parse_hash("something else"), None);
    }

    #[test]
    fn a_message_carries_its_number_and_data() {
        let m = message(7, AccountId([5; 33]), 11);
        assert_eq!(m.hash, message_hash(7).into_bytes());
        assert_eq!(m.data, message_data(7));
        assert_eq!(m.namespace, 11);
        assert!(m.expiry_ms > m.timestamp_ms);
    }
}
