//! One upstream row: expired, invalid, or a verified [`Subscription`].

use crate::store::spns::SpnsRow;
use crate::subscription::{
    verify_stored, AccountId, DeviceToken, EncKey, ServiceCatalog, Signature, SubaccountAuth,
    Subscription, SUBSCRIPTION_LIFETIME_SECS,
};

/// What an upstream row is worth to the relay.
#[derive(Debug)]
pub enum Class {
    /// Verified exactly as a `/subscribe` would be; ready to store (boxed: the other cases
    /// are small).
    Valid(Box<Subscription>),
    /// Its signature is 14 days old or older (PROTOCOL §2.6): storage servers would refuse it.
    Expired,
    /// Refused, with the reason (the `/subscribe` error message, or a column's bad length).
    Invalid(String),
}

/// Classifies `row` at unix time `now` against the configured `services`.
pub fn classify(row: &SpnsRow, now: i64, services: &dyn ServiceCatalog) -> Class {
    if row.signature_ts <= now.saturating_sub(SUBSCRIPTION_LIFETIME_SECS) {
        return Class::Expired;
    }
    match stored(row) {
        Err(column) => Class::Invalid(format!("bad {column} column")),
        Ok(stored) => match verify_stored(stored, now, services) {
            Ok(sub) => Class::Valid(Box::new(sub)),
            Err(e) => Class::Invalid(e.message.into_owned()),
        },
    }
}

/// The row's columns as a subscribe's fields, not yet verified; `Err` names a column of the
/// wrong length.
fn stored(row: &SpnsRow) -> Result<Subscription, &'static str> {
    if row.subkey_tag.is_some() {
        // The older group-auth scheme: PROTOCOL §3.4 knows only subaccount tokens, and a
        // `/subscribe` carrying a subkey tag would not verify either.
        return Err("subkey_tag (old group auth)");
    }
    let subaccount = match (&row.subaccount_tag, &row.subaccount_sig) {
        (None, _) => None, // a signature alone is ignored, as in a request (§2.3)
        (Some(token), Some(sig)) => Some(SubaccountAuth {
            token: fixed(token, "subaccount_tag")?,
            signature: Signature(fixed(sig, "subaccount_sig")?),
        }),
        (Some(_), None) => return Err("subaccount_sig (missing)"),
    };
    let account = AccountId(fixed(&row.account, "account")?);
    // Read only for 05 accounts, as a request's `session_ed25519` is (§2.3).
    let session_ed25519 = match (account.prefix(), row.session_ed25519.as_deref()) {
        (0x05, Some(key)) => Some(fixed(key, "session_ed25519")?),
        _ => None,
    };
    Ok(Subscription {
        account,
        session_ed25519,
        subaccount,
        signature: Signature(fixed(&row.signature, "signature")?),
        sig_ts: row.signature_ts,
        namespaces: row.namespaces.clone(),
        want_data: row.want_data,
        service: row.service.as_str().into(),
        token: DeviceToken::new(row.svcid.as_str()),
        enc_key: EncKey(fixed(&row.enc_key, "enc_key")?),
    })
}

fn fixed<const N: usize>(bytes: &[u8], column: &'static str) -> Result<[u8; N], &'static str> {
    bytes.try_into().map_err(|_| column)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::notifier::{LogNotifier, Services};

    const NOW: i64 = 1_700_000_000;

    fn row() -> SpnsRow {
        SpnsRow {
            id: 1,
            account: vec![5; 33],
            session_ed25519: Some(vec![1; 32]),
            subaccount_tag: None,
            subaccount_sig: None,
            subkey_tag: None,
            signature: vec![2; 64],
            signature_ts: NOW - 60,
            want_data: true,
            enc_key: vec![3; 32],
            service: "firebase".into(),
            svcid: "t".repeat(40),
            namespaces: vec![0],
        }
    }

    fn services() -> Services {
        let mut s = Services::new();
        s.insert("firebase", Arc::new(LogNotifier::new("firebase")));
        s
    }

    fn reason(row: &SpnsRow) -> String {
        match classify(row, NOW, &services()) {
            Class::Invalid(reason) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expiry_comes_first_then_columns_then_the_subscribe_rules() {
        crate::crypto::init().unwrap();
        let mut old = row();
        old.signature_ts = NOW - SUBSCRIPTION_LIFETIME_SECS;
        old.account = vec![5; 3]; // expired wins over a bad column
        assert!(matches!(classify(&old, NOW, &services()), Class::Expired));
        let mut short = row();
        short.enc_key = vec![3; 31];
        assert_eq!(reason(&short), "bad enc_key column");
        let mut subkey = row();
        subkey.subkey_tag = Some(vec![4; 32]);
        assert_eq!(reason(&subkey), "bad subkey_tag (old group auth) column");
        let mut unconfigured = row();
        unconfigured.account = vec![3; 33]; // step 2 (the account key) passes for a 03 account
        unconfigured.service = "huawei".into();
        assert_eq!(
            reason(&unconfigured),
            "huawei notification service not currently available"
        );
        let mut tag_alone = row();
        tag_alone.subaccount_tag = Some(vec![3; 36]);
        assert_eq!(reason(&tag_alone), "bad subaccount_sig (missing) column");
        // The key [1; 32] does not convert to the account: refused as /subscribe refuses it.
        assert!(reason(&row()).contains("session_ed25519"));
    }
}
