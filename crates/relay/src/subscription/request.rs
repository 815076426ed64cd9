//! One subscribe or unsubscribe element, checked in the exact order of PROTOCOL §2.4.

use std::sync::Arc;

use serde_json::Value;

use super::fields::Fields;
use super::verify;
use super::{
    AccountId, Code, DeviceToken, EncKey, ServiceCatalog, Signature, SubaccountAuth, Subscription,
    SubscriptionError, SubscriptionKey,
};

/// What both endpoints share once steps 1–3 passed: the signer and the configured service.
struct Common<'a> {
    signer: Signer,
    service: Arc<str>,
    service_info: &'a Value,
}

/// Who signed an element, with the account key that checks the signature (step 2 of §2.4).
struct Signer {
    account: AccountId,
    session_ed25519: Option<[u8; 32]>,
    key: [u8; 32],
    subaccount: Option<SubaccountAuth>,
    signature: Signature,
    sig_ts: i64,
}

/// Parses and verifies one `/subscribe` element (steps 1–6 of §2.4) at unix time `now`.
pub fn parse_subscribe(
    element: &Value,
    now: i64,
    services: &dyn ServiceCatalog,
) -> Result<Subscription, SubscriptionError> {
    let fields = Fields::of(element)?;
    let common = common(&fields, services)?;
    // Step 4S, in the order of the §2.3 table.
    let namespaces = fields.namespaces("namespaces")?;
    let want_data = fields.boolean("data")?;
    let enc_key = EncKey(fields.bytes::<32>("enc_key")?);
    common.signer.check_monitor(want_data, &namespaces, now)?;
    // Step 6.
    let token = token(common.service_info, services, &common.service)?;
    Ok(common
        .signer
        .subscription(namespaces, want_data, common.service, token, enc_key))
}

/// Verifies a subscription another server stored (the upstream server's rows, import-spns),
/// assembled from its columns by the caller but not yet trusted, at `now` by exactly the rules
/// a `/subscribe` with the same fields meets (steps 2, 3, 5S and 6 of §2.4: the account key, a
/// configured service, the namespaces, the signature window, the MONITOR signature with any
/// subaccount, and the token by its service's rule, which also normalises it). Step 1's
/// decoding is the caller's, from its columns.
pub fn verify_stored(
    unverified: Subscription,
    now: i64,
    services: &dyn ServiceCatalog,
) -> Result<Subscription, SubscriptionError> {
    let signer = Signer::new(
        unverified.account,
        unverified.session_ed25519,
        unverified.subaccount,
        unverified.signature,
        unverified.sig_ts,
    )?;
    let service = service(services, &unverified.service)?;
    signer.check_monitor(unverified.want_data, &unverified.namespaces, now)?;
    let token = validate_token(services, &service, unverified.token.expose())?;
    Ok(signer.subscription(
        unverified.namespaces,
        unverified.want_data,
        service,
        token,
        unverified.enc_key,
    ))
}

/// Parses and verifies one `/unsubscribe` element (steps 1–3, 6, 7U of §2.4) at `now`.
pub fn parse_unsubscribe(
    element: &Value,
    now: i64,
    services: &dyn ServiceCatalog,
) -> Result<SubscriptionKey, SubscriptionError> {
    let fields = Fields::of(element)?;
    let common = common(&fields, services)?;
    let token = token(common.service_info, services, &common.service)?;
    common.signer.check_unsubscribe(now)?;
    Ok(SubscriptionKey {
        account: common.signer.account,
        service: common.service,
        token,
    })
}

/// Steps 1–3: the common fields in the order of the §2.3 table, the account key, the service.
fn common<'a>(
    fields: &Fields<'a>,
    services: &dyn ServiceCatalog,
) -> Result<Common<'a>, SubscriptionError> {
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
    let signature = Signature(fields.bytes::<64>("signature")?);
    let sig_ts = fields.integer("sig_ts")?;
    let service = fields.string("service")?;
    let service_info = fields.required("service_info")?;
    let signer = Signer::new(account, session_ed25519, subaccount, signature, sig_ts)?;
    Ok(Common {
        signer,
        service: self::service(services, service)?,
        service_info,
    })
}

// === impl Signer ===

impl Signer {
    /// Step 2: the account key; `session_ed25519` counts for Session IDs (05) only (§2.3),
    /// which must have it.
    fn new(
        account: AccountId,
        session_ed25519: Option<[u8; 32]>,
        subaccount: Option<SubaccountAuth>,
        signature: Signature,
        sig_ts: i64,
    ) -> Result<Self, SubscriptionError> {
        let session_ed25519 = session_ed25519.filter(|_| account.prefix() == 0x05);
        let key = verify::account_key(&account, session_ed25519.as_ref())?;
        Ok(Signer {
            account,
            session_ed25519,
            key,
            subaccount,
            signature,
            sig_ts,
        })
    }

    /// Step 5S: the namespaces, the subscribe window and the MONITOR signature over them.
    fn check_monitor(
        &self,
        want_data: bool,
        namespaces: &[i16],
        now: i64,
    ) -> Result<(), SubscriptionError> {
        check_namespaces(namespaces)?;
        verify::subscribe_window(self.sig_ts, now)?;
        let message = verify::monitor_message(&self.account, self.sig_ts, want_data, namespaces);
        self.verify(message.as_bytes())
    }

    /// Step 7U: the unsubscribe window and the UNSUBSCRIBE signature.
    fn check_unsubscribe(&self, now: i64) -> Result<(), SubscriptionError> {
        verify::unsubscribe_window(self.sig_ts, now)?;
        self.verify(verify::unsubscribe_message(&self.account, self.sig_ts).as_bytes())
    }

    /// The signature over `message`, by the account or through its subaccount (§3.4).
    fn verify(&self, message: &[u8]) -> Result<(), SubscriptionError> {
        verify::verify_signature(
            &self.account,
            &self.key,
            self.subaccount.as_ref(),
            message,
            &self.signature,
        )
    }

    /// The verified subscription of this signer and the rest of its fields.
    fn subscription(
        self,
        namespaces: Vec<i16>,
        want_data: bool,
        service: Arc<str>,
        token: DeviceToken,
        enc_key: EncKey,
    ) -> Subscription {
        Subscription {
            account: self.account,
            session_ed25519: self.session_ed25519,
            subaccount: self.subaccount,
            signature: self.signature,
            sig_ts: self.sig_ts,
            namespaces,
            want_data,
            service,
            token,
            enc_key,
        }
    }
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
    validate_token(services, service, token)
}

/// The token by its service's rule (§12); a refusal is code 4 with the rule's message.
fn validate_token(
    services: &dyn ServiceCatalog,
    service: &str,
    token: &str,
) -> Result<DeviceToken, SubscriptionError> {
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
    fn a_stored_row_verifies_like_its_request_and_fails_like_it() {
        crate::crypto::init().unwrap();
        let v = vectors();
        let request = &v["subscribe_request"];
        let from_request = parse_subscribe(request, NOW, &services()).unwrap();
        // As another server stores it: the token as the client sent it, not normalised.
        let stored = || Subscription {
            token: DeviceToken::new(request["service_info"]["token"].as_str().unwrap()),
            ..from_request.clone()
        };
        assert_eq!(
            verify_stored(stored(), NOW, &services()).unwrap(),
            from_request
        );
        let mut other_ns = stored();
        other_ns.namespaces.push(99);
        let e = verify_stored(other_ns, NOW, &services()).unwrap_err();
        assert_eq!(e.message, "Signature verification failed");
        let mut flipped = stored();
        flipped.want_data = !flipped.want_data;
        assert!(verify_stored(flipped, NOW, &services()).is_err());
        let mut unconfigured = stored();
        unconfigured.service = "huawei".into();
        let e = verify_stored(unconfigured, NOW, &services()).unwrap_err();
        assert_eq!(e.code, Code::ServiceNotAvailable);
        let mut no_key = stored();
        no_key.session_ed25519 = None;
        assert!(verify_stored(no_key, NOW, &services()).is_err());
        let mut bad_token = stored();
        bad_token.token = DeviceToken::new("not hex");
        assert_eq!(
            verify_stored(bad_token, NOW, &services()).unwrap_err().code,
            Code::Error
        );
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
