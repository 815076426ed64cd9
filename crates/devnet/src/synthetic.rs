//! Synthetic subscriptions for memory and restart measurements: the same population on every
//! run, written straight into a store (no onion request, no signature check), so a relay can be
//! started holding 1,000,000 of them in a few minutes.
//!
//! **Must not:** stand in for real clients where signatures matter: the signatures are not
//! valid, so storage servers refuse the `monitor.messages` items they become (the relay counts
//! such refusals and keeps renewing, PROTOCOL §8.2, so its memory is the same as with valid ones).

use std::sync::Arc;

use futures::StreamExt;
use relay::crypto;
use relay::store::Store;
use relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};

/// Subscription `i` of a synthetic population, the same on every run: a 05 account with its
/// Ed25519 key, namespace 0, data wanted; even `i` on `apns` with a 64-hex-character token,
/// odd `i` on `firebase` with a 163-character FCM-shaped token.
pub fn subscription(i: u64, sig_ts: i64) -> Subscription {
    let bytes = |role: u8| crypto::blake2b::<32>(&[&[role], &i.to_le_bytes()]);
    let mut signature = [0; 64];
    signature[..32].copy_from_slice(&bytes(2));
    signature[32..].copy_from_slice(&bytes(3));
    let (service, token) = if i.is_multiple_of(2) {
        ("apns", hex::encode(bytes(4)))
    } else {
        // FCM registration tokens: an 11-character id, ':', then 151 URL-safe characters.
        let mut token = format!("{}:APA91b", &hex::encode(bytes(4))[..11]);
        while token.len() < 163 {
            token.push_str(&hex::encode(bytes(5)));
        }
        token.truncate(163);
        ("firebase", token)
    };
    Subscription {
        account: account(i),
        session_ed25519: Some(bytes(6)),
        subaccount: None,
        signature: Signature(signature),
        sig_ts,
        namespaces: vec![0],
        want_data: true,
        service: Arc::from(service),
        token: DeviceToken::new(token),
        enc_key: EncKey(bytes(7)),
    }
}

/// The account of synthetic subscription `i`.
pub fn account(i: u64) -> AccountId {
    let mut account = [0x05; 33];
    account[1..].copy_from_slice(&crypto::blake2b::<32>(&[&[1], &i.to_le_bytes()]));
    AccountId(account)
}

/// Rows per [`Store::upsert_many`] call (one transaction each) while filling.
const FILL_BATCH: u64 = 500;

/// Upserts synthetic subscriptions `0..count` into `store`, in transactions of [`FILL_BATCH`]
/// rows, `concurrency` transactions at a time, printing progress every 100,000; returns how
/// many were written.
pub async fn fill(
    store: &dyn Store,
    count: u64,
    sig_ts: i64,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let mut writes = futures::stream::iter((0..count).step_by(FILL_BATCH as usize))
        .map(|first| async move {
            let subs: Vec<Subscription> = (first..count.min(first + FILL_BATCH))
                .map(|i| subscription(i, sig_ts))
                .collect();
            let rows: Vec<(&Subscription, i64)> = subs.iter().map(|s| (s, sig_ts)).collect();
            store
                .upsert_many(&rows)
                .await
                .map(|outcomes| outcomes.len() as u64)
        })
        .buffer_unordered(concurrency.max(1));
    let mut written = 0;
    while let Some(result) = writes.next().await {
        let before = written;
        written += result?;
        if written / 100_000 > before / 100_000 {
            println!("preloaded {written} of {count} subscriptions");
        }
    }
    Ok(written)
}
