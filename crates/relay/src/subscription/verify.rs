//! Signature rules: the MONITOR and UNSUBSCRIBE messages (PROTOCOL §3.1–3.2), the verifying
//! key (§3.3), subaccount tokens (§3.4), failure messages (§3.5) and time windows (§3.6).

use std::fmt::Write;

use super::{AccountId, Signature, SubaccountAuth, SubscriptionError};
use crate::crypto;

/// How long before `now` a subscribe signature may be (exclusive), PROTOCOL §3.6.
const SUBSCRIBE_MAX_AGE_SECS: i64 = 1_209_600;
/// How far after `now` a subscribe signature may be (exclusive), PROTOCOL §3.6.
const SUBSCRIBE_MAX_FUTURE_SECS: i64 = 86_400;
/// Unsubscribe signatures must be within this distance of `now` (inclusive), PROTOCOL §3.6.
const UNSUBSCRIBE_GRACE_SECS: i64 = 86_400;

/// Subaccount token flags (§3.4).
const FLAG_READ: u8 = 0x01;
const FLAG_ANY_PREFIX: u8 = 0x08;

/// The account prefix of Session IDs (X25519 keys).
const SESSION_PREFIX: u8 = 0x05;

/// `MONITOR ‖ hex(account) ‖ dec(sig_ts) ‖ "1"|"0" ‖ ns,ns,…` (§3.1).
pub(crate) fn monitor_message(
    account: &AccountId,
    sig_ts: i64,
    want_data: bool,
    namespaces: &[i16],
) -> String {
    let mut msg = format!(
        "MONITOR{}{sig_ts}{}",
        account.to_hex(),
        if want_data { "1" } else { "0" }
    );
    for (i, ns) in namespaces.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(msg, "{sep}{ns}");
    }
    msg
}

/// `UNSUBSCRIBE ‖ hex(account) ‖ dec(sig_ts)` (§3.2).
pub(crate) fn unsubscribe_message(account: &AccountId, sig_ts: i64) -> String {
    format!("UNSUBSCRIBE{}{sig_ts}", account.to_hex())
}

/// The account's own Ed25519 key (§3.3); for 05 accounts this is step 2 of §2.4, which checks
/// that `session_ed25519` converts to the Session ID.
pub(crate) fn account_key(
    account: &AccountId,
    session_ed25519: Option<&[u8; 32]>,
) -> Result<[u8; 32], SubscriptionError> {
    let bytes = account.as_bytes();
    match (bytes[0], session_ed25519) {
        (SESSION_PREFIX, Some(ed)) => {
            let x25519 = crypto::ed25519_pk_to_x25519(ed).ok_or_else(|| {
                SubscriptionError::invalid("Failed to convert session_ed25519 to x25519 pubkey")
            })?;
            if x25519[..] != bytes[1..] {
                return Err(SubscriptionError::invalid(
                    "account_id/session_ed25519 mismatch: session_ed25519 does not convert to given account_id",
                ));
            }
            Ok(*ed)
        }
        // Step 1 makes session_ed25519 required for 05 accounts; without it no key fits.
        (SESSION_PREFIX, None) => Err(SubscriptionError::missing("session_ed25519")),
        _ => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes[1..]);
            Ok(key)
        }
    }
}

/// Verifies `signature` over `message`, directly with the account key or through a
/// subaccount token, with the checks of §3.4 in order.
pub(crate) fn verify_signature(
    account: &AccountId,
    account_key: &[u8; 32],
    subaccount: Option<&SubaccountAuth>,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SubscriptionError> {
    let Some(sub) = subaccount else {
        return check(
            crypto::ed25519_verify(message, signature.expose(), account_key),
            "Signature verification failed",
        );
    };
    let token = &sub.token;
    check(
        token[1] & FLAG_READ != 0,
        "Invalid subaccount: this subaccount does not have read permission",
    )?;
    check(
        token[1] & FLAG_ANY_PREFIX != 0 || token[0] == account.prefix(),
        "Invalid subaccount: subaccount and main account have mismatched network prefix",
    )?;
    check(
        crypto::ed25519_verify(token, sub.signature.expose(), account_key),
        "Subaccount auth signature verification failed",
    )?;
    let mut sub_key = [0u8; 32];
    sub_key.copy_from_slice(&token[4..36]);
    check(
        crypto::ed25519_verify(message, signature.expose(), &sub_key),
        "Subaccount main signature verification failed",
    )
}

/// The subscribe window `now − 14 d < sig_ts < now + 1 d` (§2.4 step 5S, §3.6).
pub(crate) fn subscribe_window(sig_ts: i64, now: i64) -> Result<(), SubscriptionError> {
    check(sig_ts != 0, "Subscription: signature timestamp is missing")?;
    check(
        sig_ts > now.saturating_sub(SUBSCRIBE_MAX_AGE_SECS),
        "Subscription: sig_ts timestamp is too old",
    )?;
    check(
        sig_ts < now.saturating_add(SUBSCRIBE_MAX_FUTURE_SECS),
        "Subscription: sig_ts timestamp is too far in the future",
    )
}

/// The unsubscribe window `|sig_ts − now| ≤ 1 d` (§2.4 step 7U, §3.6).
pub(crate) fn unsubscribe_window(sig_ts: i64, now: i64) -> Result<(), SubscriptionError> {
    check(
        sig_ts >= now.saturating_sub(UNSUBSCRIBE_GRACE_SECS)
            && sig_ts <= now.saturating_add(UNSUBSCRIBE_GRACE_SECS),
        "Invalid signature: sig_ts is too far from current time",
    )
}

fn check(ok: bool, message: &'static str) -> Result<(), SubscriptionError> {
    if ok {
        Ok(())
    } else {
        Err(SubscriptionError::invalid(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn monitor_message_layout() {
        let account = AccountId([0x05; 33]);
        let msg = monitor_message(&account, 1_677_520_760, true, &[-400, 0, 1]);
        assert_eq!(
            msg,
            format!("MONITOR{}16775207601-400,0,1", "05".repeat(33))
        );
        let msg = monitor_message(&account, 5, false, &[7]);
        assert_eq!(msg, format!("MONITOR{}507", "05".repeat(33)));
    }

    #[test]
    fn unsubscribe_message_layout() {
        let account = AccountId([0x03; 33]);
        let msg = unsubscribe_message(&account, -1);
        assert_eq!(msg, format!("UNSUBSCRIBE{}-1", "03".repeat(33)));
    }

    #[test]
    fn subscribe_window_edges() {
        assert!(subscribe_window(NOW - SUBSCRIBE_MAX_AGE_SECS + 1, NOW).is_ok());
        assert!(subscribe_window(NOW + SUBSCRIBE_MAX_FUTURE_SECS - 1, NOW).is_ok());
        let old = subscribe_window(NOW - SUBSCRIBE_MAX_AGE_SECS, NOW).unwrap_err();
        assert_eq!(old.message, "Subscription: sig_ts timestamp is too old");
        let future = subscribe_window(NOW + SUBSCRIBE_MAX_FUTURE_SECS, NOW).unwrap_err();
        assert_eq!(
            future.message,
            "Subscription: sig_ts timestamp is too far in the future"
        );
        let zero = subscribe_window(0, NOW).unwrap_err();
        assert_eq!(zero.message, "Subscription: signature timestamp is missing");
        assert!(subscribe_window(i64::MIN, NOW).is_err());
        assert!(subscribe_window(i64::MAX, NOW).is_err());
    }

    #[test]
    fn unsubscribe_window_is_inclusive() {
        assert!(unsubscribe_window(NOW - UNSUBSCRIBE_GRACE_SECS, NOW).is_ok());
        assert!(unsubscribe_window(NOW + UNSUBSCRIBE_GRACE_SECS, NOW).is_ok());
        assert!(unsubscribe_window(NOW - UNSUBSCRIBE_GRACE_SECS - 1, NOW).is_err());
        assert!(unsubscribe_window(NOW + UNSUBSCRIBE_GRACE_SECS + 1, NOW).is_err());
    }

    #[test]
    fn other_prefixes_use_the_account_bytes_as_key() {
        let mut bytes = [7u8; 33];
        bytes[0] = 0x03;
        let key = account_key(&AccountId(bytes), Some(&[1; 32])).unwrap();
        assert_eq!(key, [7u8; 32]);
    }

    #[test]
    fn a_05_account_checks_the_conversion() {
        crypto::init().unwrap();
        let ed = crypto::ed25519_keypair_from_seed(&[9; 32]).public_key();
        let x = crypto::ed25519_pk_to_x25519(&ed).unwrap();
        let mut bytes = [0x05; 33];
        bytes[1..].copy_from_slice(&x);
        assert_eq!(account_key(&AccountId(bytes), Some(&ed)).unwrap(), ed);
        bytes[5] ^= 1;
        let e = account_key(&AccountId(bytes), Some(&ed)).unwrap_err();
        assert!(e.message.starts_with("account_id/session_ed25519 mismatch"));
    }
}
