//! Helpers shared by the measurement examples: synthetic subscriptions and the process's RSS.

use std::sync::Arc;

use relay::crypto;
use relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};

/// Subscription `i` of a synthetic population, the same on every run: a 05 account with its
/// Ed25519 key, namespace 0, data wanted; even `i` on `apns` with a 64-hex-character token,
/// odd `i` on `firebase` with a 163-character FCM-shaped token. Signatures are not valid:
/// nothing here checks them (the store and the index never do).
pub fn synthetic(i: u64, sig_ts: i64) -> Subscription {
    let bytes = |role: u8| crypto::blake2b::<32>(&[&[role], &i.to_le_bytes()]);
    let mut account = [0x05; 33];
    account[1..].copy_from_slice(&bytes(1));
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
        account: AccountId(account),
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

/// The process's resident set size in bytes (`VmRSS` of `/proc/self/status`).
pub fn vm_rss() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS line in /proc/self/status"))?;
    Ok(kib * 1024)
}
