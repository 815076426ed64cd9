//! Builders for domain values used across tests.

use relay::crypto;
use relay::subscription::{
    AccountId, DeviceToken, EncKey, Signature, SubaccountAuth, Subscription,
    SUBSCRIPTION_LIFETIME_SECS,
};

/// "Now" in every store test: 2026-12-01T00:00:00Z.
pub const NOW: i64 = 1_796_083_200;

/// A `05…` account whose key bytes are all `n`.
pub fn account(n: u8) -> AccountId {
    let mut id = [n; 33];
    id[0] = 0x05;
    AccountId(id)
}

/// An APNs-shaped token (64 lowercase hex digits) distinct per `n`.
pub fn apns_token(n: u8) -> DeviceToken {
    let bytes: [u8; 32] = crypto::blake2b(&[b"test token", &[n]]);
    DeviceToken::new(hex::encode(bytes))
}

/// A fresh subscription of `account` for `token` on `service`, signed at `NOW`, with a random
/// enc_key and every optional field set (so round trips check them all).
pub fn subscription(account: AccountId, service: &str, token: &DeviceToken) -> Subscription {
    Subscription {
        account,
        session_ed25519: Some([0x11; 32]),
        subaccount: Some(SubaccountAuth {
            token: [0x03; 36],
            signature: Signature([0x22; 64]),
        }),
        signature: Signature(crypto::random_array()),
        sig_ts: NOW,
        namespaces: vec![-10, 0, 1, 2],
        want_data: true,
        service: service.into(),
        token: token.clone(),
        enc_key: EncKey(crypto::random_array()),
    }
}

/// The same subscription signed `age` seconds before `NOW`.
pub fn signed_ago(mut sub: Subscription, age: i64) -> Subscription {
    sub.sig_ts = NOW - age;
    sub
}

/// A subscription that expired exactly at `NOW` (PROTOCOL §2.6: `sig_ts + 14 d <= now`).
pub fn expired(sub: Subscription) -> Subscription {
    signed_ago(sub, SUBSCRIPTION_LIFETIME_SECS)
}
