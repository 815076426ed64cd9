//! Helpers shared by delivery's unit tests.

use std::sync::Arc;

use bendy::decoding::{Decoder, Object};
use bytes::Bytes;

use crate::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};
use crate::swarm::Notification;

pub use crate::test_support::payload as payload_vectors;

/// Parses a vector's `notify.message` dict.
pub fn notification_from_bencode(raw: &[u8]) -> Notification {
    let mut n = Notification {
        account: AccountId([0; 33]),
        hash: Bytes::new(),
        namespace: 0,
        timestamp_ms: 0,
        expiry_ms: 0,
        data: None,
        received: tokio::time::Instant::now(),
    };
    let mut decoder = Decoder::new(raw);
    let Ok(Some(Object::Dict(mut dict))) = decoder.next_object() else {
        panic!("not a dict");
    };
    while let Some((key, value)) = dict.next_pair().unwrap() {
        let int = |v: Object<'_, '_>| v.try_into_integer().unwrap().parse::<i64>().unwrap();
        match key {
            b"@" => n.account = AccountId(value.try_into_bytes().unwrap().try_into().unwrap()),
            b"h" => n.hash = Bytes::copy_from_slice(value.try_into_bytes().unwrap()),
            b"n" => n.namespace = int(value) as i16,
            b"t" => n.timestamp_ms = int(value),
            b"z" => n.expiry_ms = int(value),
            b"~" => n.data = Some(Bytes::copy_from_slice(value.try_into_bytes().unwrap())),
            _ => {}
        }
    }
    n
}

/// A subscription of account `[a; 33]` (sig_ts now).
pub fn subscription(a: u8, service: &str, token: &str, namespaces: &[i16]) -> Subscription {
    Subscription {
        account: AccountId([a; 33]),
        session_ed25519: Some([a; 32]),
        subaccount: None,
        signature: Signature([a; 64]),
        sig_ts: 1_700_000_000,
        namespaces: namespaces.to_vec(),
        want_data: true,
        service: Arc::from(service),
        token: DeviceToken::new(token),
        enc_key: EncKey([a; 32]),
    }
}
