//! One subscribe or unsubscribe element, checked in the exact order of PROTOCOL §2.4.

use std::sync::Arc;

use serde_json::Value;

use super::fields::Fields;
use super::verify;
use super::{
    AccountId, Code, DeviceToken, EncKey, ServiceCatalog, Signature, SubaccountAuth, Subscription,
    SubscriptionError, SubscriptionKey,
};

/// The fields both endpoints share, decoded (step 1).
struct Common<'a> {
    account: AccountId,
    session_ed25519: Option<[u8; 32]>,
    subaccount: Option<SubaccountAuth>,
    signature: Signature,
    sig_ts: i64,
    service: &'a str,
    service_info: &'a Value,
}

/// Parses and verifies one `/subscribe` element (steps 1–6 of §2.4) at unix time `now`.
pub fn parse_subscribe(
    element: &Value,
    now: i64,
    services: &dyn ServiceCatalog,
) -> Result<Subscription, SubscriptionError> {
    let fields = Fields::of(element)?;
    let common = common(&fields)?;
    let account_key = verify::account_key(&common.account, common.session_ed25519.as_ref())?;
    let service = service(services, common.service)?;
    // Step 4S, in the order of the §2.3 table.
    let namespaces = fields.namespaces("namespaces")?;
    let want_data = fields.boolean("data")?;
    let enc_key = EncKey(fields.bytes::<32>("enc_key")?);
    // Step 5S.
    check_namespaces(&namespaces)?;
    verify::subscribe_window(common.sig_ts, now)?;
    let message = verify::monitor_message(&common.account, common.sig_ts, want_data, &namespaces);
    verify::verify_signature(
        &common.account,
        &account_key,
        common.subaccount.as_ref(),
        message.as_bytes(),
        &common.signature,
    )?;
    // Step 6.
    let token = token(common.service_info, services, &service)?;
    Ok(Subscription {
        account: common.account,
        session_ed25519: common.session_ed25519,
        subaccount: common.subaccount,
        signature: common.signature,
        sig_ts: common.sig_ts,
        namespaces,
        want_data,
        service,
        token,
        enc_key,
    })
}

/// Parses and verifies one `/unsubscribe` element (steps 1–3, 6, 7U of §2.4) at `now`.
pub fn parse_unsubscribe(
    element: &Value,
    now: i64,
    services: &dyn ServiceCatalog,
) -> Result<SubscriptionKey, SubscriptionError> {
    let fields = Fields::of(element)?;
    let common = common(&fields)?;
    let account_key = verify::account_key(&common.account, common.session_ed25519.as_ref())?;
    let service = service(services, common.service)?;
    let token = token(common.service_info, services, &service)?;
    verify::unsubscribe_window(common.sig_ts, now)?;
    let message = verify::unsubscribe_message(&common.account, common.sig_ts);
    verify::verify_signature(
        &common.account,
        &account_key,
        common.subaccount.as_ref(),
        message.as_bytes(),
        &common.signature,
    )?;
    Ok(SubscriptionKey {
        account: common.account,
        service,
        token,
    })
}

/// Step 1: the common fields in the order of the §2.3 table.
fn common<'a>(fields: &Fields<'a>) -> Result<Common<'a>, SubscriptionError> {
    let account = AccountId(fields.bytes::<33>("pubkey")?);
    // §2.3: ignored entirely (any value, null included) unless the account is a Session ID.
    let session_ed25519 = match account.prefix() {
        0x05 => Some(fields.bytes::<32>("session_ed25519")?),
        _ => None,
    };
    let subaccount = match fields.opt_bytes::<36>("subaccount")? {
        None => None, // `subaccount_sig` alone is ignored
        Some(token) => {
            let signature = fields.opt_bytes::<64>("subaccount_sig")?.ok_or_else(|| {
                SubscriptionError::invalid("Cannot specify subaccount without subaccount_sig")
            })?;
            Some(SubaccountAuth {
                token,
                signature: Signature(signature),
            })
        }
    };
    Ok(Common {
        account,
        session_ed25519,
        subaccount,
        signature: Signature(fields.bytes::<64>("signature")?),
        sig_ts: fields.integer("sig_ts")?,
        service: fields.string("service")?,
        service_info: fields.required("service_info")?,
    })
}

/// Longest `service` accepted; no configured name is longer, and the name is echoed in the
/// error reply and logs (issue 16).
pub const MAX_SERVICE_NAME: usize = 64;

/// Step 3: the service must be configured.
fn service(services: &dyn ServiceCatalog, name: &str) -> Result<Arc<str>, SubscriptionError> {
    if name.len() > MAX_SERVICE_NAME {
        return Err(SubscriptionError::new(
            Code::BadInput,
            "Invalid service: longer than 64 bytes",
        ));
    }
    services.service(name).ok_or_else(|| {
        SubscriptionError::new(
            Code::ServiceNotAvailable,
            format!("{name} notification service not currently available"),
        )
    })
}

/// Step 5S: non-empty, strictly ascending.
fn check_namespaces(namespaces: &[i16]) -> Result<(), SubscriptionError> {
    if namespaces.is_empty() {
        return Err(SubscriptionError::invalid(
            "Subscription: namespaces missing or empty",
        ));
    }
    for pair in namespaces.windows(2) {
        if pair[0] > pair[1] {
            return Err(SubscriptionError::invalid(
                "Subscription: namespaces are not sorted numerically",
            ));
        }
        if pair[0] == pair[1] {
            return Err(SubscriptionError::invalid(
                "Subscription: namespaces contains duplicates",
            ));
        }
    }
    Ok(())
}

/// Step 6: `service_info` must be an object with a string `token` the service accepts (§12).
fn token(
    service_info: &Value,
    services: &dyn ServiceCatalog,
    service: &str,
) -> Result<DeviceToken, SubscriptionError> {
    let token = service_info
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SubscriptionError::new(Code::BadInput, "Error: missing required key 'token'")
        })?;
    services
        .validate_token(service, token)
        .map_err(|message| SubscriptionError::new(Code::Error, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::{LogNotifier, Services};

    const NOW: i64 = 1_700_000_000;

    fn vectors() -> Value {
        crate::test_support::payload()["signatures"]["account_05"].clone()
    }

    fn services() -> Services {
        let mut services = Services::new();
        services.insert("apns", Arc::new(LogNotifier::new("apns")));
        services
    }

    #[test]
    fn the_05_vector_parses_and_its_unsubscribe_names_the_same_row() {
        crate::crypto::init().unwrap();
        let v = vectors();
        let sub = parse_subscribe(&v["subscribe_request"], NOW, &services()).unwrap();
        assert_eq!(sub.account.to_hex(), v["x25519_account"].as_str().unwrap());
        assert_eq!(sub.namespaces, vec![-10, 0, 2, 5]);
        let key = parse_unsubscribe(&v["unsubscribe_request"], NOW, &services()).unwrap();
        assert_eq!(key, sub.key());
    }

    #[test]
    fn the_first_failing_step_wins() {
        crate::crypto::init().unwrap();
        let mut request = vectors()["subscribe_request"].clone();
        request["service"] = "nope".into();
        request["namespaces"] = serde_json::json!([]);
        let e = parse_subscribe(&request, NOW, &services()).unwrap_err();
        assert_eq!(e.code, Code::ServiceNotAvailable);
        request["service"] = "apns".into();
        request["sig_ts"] = 0.into();
        let e = parse_subscribe(&request, NOW, &services()).unwrap_err();
        assert_eq!(e.message, "Subscription: namespaces missing or empty");
    }

    #[test]
    fn namespace_rules() {
        assert!(check_namespaces(&[-32768, 0, 32767]).is_ok());
        let msg = |ns: &[i16]| check_namespaces(ns).unwrap_err().message;
        assert_eq!(msg(&[]), "Subscription: namespaces missing or empty");
        assert_eq!(
            msg(&[2, 1]),
            "Subscription: namespaces are not sorted numerically"
        );
        assert_eq!(msg(&[1, 1]), "Subscription: namespaces contains duplicates");
    }
}
