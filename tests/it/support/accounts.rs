//! Test accounts that sign real `MONITOR` messages (PROTOCOL §3.1).

use std::sync::Arc;

use relay::crypto::{self, ed25519_keypair_from_seed, ed25519_pk_to_x25519, ed25519_sign};
use relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};

/// Unix seconds now.
pub use relay::clock::unix_now;

/// The `MONITOR` message of §3.1.
pub fn monitor_message(account: &AccountId, sig_ts: i64, data: bool, namespaces: &[i16]) -> String {
    let ns: Vec<String> = namespaces.iter().map(|n| n.to_string()).collect();
    format!(
        "MONITOR{}{}{}{}",
        account.to_hex(),
        sig_ts,
        if data { "1" } else { "0" },
        ns.join(",")
    )
}

/// A 05 account from `seed`, subscribed (signed) for `namespaces` at `sig_ts`, with device
/// token `token`.
pub fn session_subscription(
    seed: u8,
    namespaces: &[i16],
    data: bool,
    sig_ts: i64,
    token: &str,
) -> Subscription {
    crypto::init().unwrap();
    let sk = ed25519_keypair_from_seed(&[seed; 32]);
    let ed = sk.public_key();
    let x = ed25519_pk_to_x25519(&ed).unwrap();
    let mut id = [0x05u8; 33];
    id[1..].copy_from_slice(&x);
    let account = AccountId(id);
    let sig = ed25519_sign(
        monitor_message(&account, sig_ts, data, namespaces).as_bytes(),
        &sk,
    );
    Subscription {
        account,
        session_ed25519: Some(ed),
        subaccount: None,
        signature: Signature(sig),
        sig_ts,
        namespaces: namespaces.to_vec(),
        want_data: data,
        service: Arc::from("dummy"),
        token: DeviceToken::new(token.to_string()),
        enc_key: EncKey([7; 32]),
    }
}
