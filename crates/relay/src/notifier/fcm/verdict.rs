//! FCM HTTP v1 answers → [`Verdict`]: the table of PROTOCOL §11.2, one arm per row.

use std::time::Duration;

use crate::notifier::Verdict;

/// Default wait after a 429 without `Retry-After` (PROTOCOL §11.2).
const QUOTA_DELAY: Duration = Duration::from_secs(60);

const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// FCM `errorCode`s and Google RPC statuses, as static metric labels.
const CODES: &[&str] = &[
    "INTERNAL",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "PERMISSION_DENIED",
    "QUOTA_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "SENDER_ID_MISMATCH",
    "THIRD_PARTY_AUTH_ERROR",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "UNREGISTERED",
    "UNSPECIFIED_ERROR",
];

/// Reasons after which a new access token is fetched and the push retried once.
const AUTH_REASONS: &[&str] = &["UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"];

/// What an error body says: the `FcmError` code, if any, and the RPC status.
struct ErrorBody {
    fcm_code: Option<&'static str>,
    status: &'static str,
}

/// Classifies one `messages:send` answer.
pub(crate) fn verdict(status: u16, body: &[u8], retry_after: Option<Duration>) -> Verdict {
    let error = parse(body);
    let code = error.fcm_code.unwrap_or(error.status);
    match (status, code) {
        (200..=299, _) => Verdict::Delivered,
        (_, "UNREGISTERED") => invalid("UNREGISTERED", false),
        // The token may belong to another project: the breaker watches this one.
        (_, "SENDER_ID_MISMATCH") => invalid("SENDER_ID_MISMATCH", true),
        (400, "INVALID_ARGUMENT") if error.fcm_code.is_some() => invalid("INVALID_ARGUMENT", false),
        // Only google.rpc.BadRequest details: the request itself is wrong (a relay bug).
        (400, _) => drop_alert("INVALID_ARGUMENT"),
        (401, _) => drop_alert("UNAUTHENTICATED"),
        (_, "UNAUTHENTICATED" | "THIRD_PARTY_AUTH_ERROR") => drop_alert(code),
        (429, _) => Verdict::Retry {
            reason: "QUOTA_EXCEEDED",
            after: Some(retry_after.unwrap_or(QUOTA_DELAY)),
        },
        (500..=599, _) => Verdict::Retry {
            reason: if code == "UNSPECIFIED_ERROR" {
                "INTERNAL"
            } else {
                code
            },
            after: retry_after,
        },
        _ => drop_alert(code),
    }
}

/// Whether a verdict came from a rejected access token (refresh it and retry once).
pub(crate) fn wants_new_token(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Drop { reason, .. } if AUTH_REASONS.contains(reason))
}

fn parse(body: &[u8]) -> ErrorBody {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &value["error"];
    let known = |s: Option<&str>| s.and_then(|s| CODES.iter().copied().find(|c| *c == s));
    let fcm_code = error["details"].as_array().and_then(|details| {
        details
            .iter()
            .find(|d| d["@type"] == FCM_ERROR_TYPE)
            .map(|d| known(d["errorCode"].as_str()).unwrap_or("UNSPECIFIED_ERROR"))
    });
    ErrorBody {
        fcm_code,
        status: known(error["status"].as_str()).unwrap_or("UNSPECIFIED_ERROR"),
    }
}

fn invalid(reason: &'static str, config_reason: bool) -> Verdict {
    Verdict::TokenInvalid {
        reason,
        config_reason,
    }
}

fn drop_alert(reason: &'static str) -> Verdict {
    Verdict::Drop {
        reason,
        alert: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: u16, status: &str, details: &str) -> Verdict {
        let body = format!(
            r#"{{"error":{{"code":{code},"message":"m","status":"{status}","details":[{details}]}}}}"#
        );
        verdict(code, body.as_bytes(), None)
    }

    fn fcm(code: &str) -> String {
        format!(r#"{{"@type":"{FCM_ERROR_TYPE}","errorCode":"{code}"}}"#)
    }

    const BAD_REQUEST: &str = r#"{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data"}]}"#;

    #[test]
    fn row_200_delivered() {
        assert_eq!(
            verdict(200, br#"{"name":"projects/p/messages/1"}"#, None),
            Verdict::Delivered
        );
    }

    #[test]
    fn row_404_unregistered() {
        assert_eq!(
            error(404, "NOT_FOUND", &fcm("UNREGISTERED")),
            invalid("UNREGISTERED", false)
        );
    }

    #[test]
    fn row_403_sender_id_mismatch_is_a_config_reason() {
        assert_eq!(
            error(403, "PERMISSION_DENIED", &fcm("SENDER_ID_MISMATCH")),
            invalid("SENDER_ID_MISMATCH", true)
        );
    }

    #[test]
    fn row_400_fcm_invalid_argument_is_a_bad_token() {
        let details = format!("{},{BAD_REQUEST}", fcm("INVALID_ARGUMENT"));
        assert_eq!(
            error(400, "INVALID_ARGUMENT", &details),
            invalid("INVALID_ARGUMENT", false)
        );
    }

    #[test]
    fn row_400_bad_request_only_drops_and_alerts() {
        assert_eq!(
            error(400, "INVALID_ARGUMENT", BAD_REQUEST),
            drop_alert("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn row_401_and_third_party_auth_want_a_new_token() {
        let v = error(401, "UNAUTHENTICATED", "");
        assert_eq!(v, drop_alert("UNAUTHENTICATED"));
        assert!(wants_new_token(&v));
        let v = error(401, "UNAUTHENTICATED", &fcm("THIRD_PARTY_AUTH_ERROR"));
        assert!(wants_new_token(&v));
        assert!(!wants_new_token(&drop_alert("INVALID_ARGUMENT")));
    }

    #[test]
    fn row_429_honours_retry_after_or_waits_a_minute() {
        let body = format!(
            r#"{{"error":{{"status":"RESOURCE_EXHAUSTED","details":[{}]}}}}"#,
            fcm("QUOTA_EXCEEDED")
        );
        let retry = |s| Verdict::Retry {
            reason: "QUOTA_EXCEEDED",
            after: Some(Duration::from_secs(s)),
        };
        assert_eq!(verdict(429, body.as_bytes(), None), retry(60));
        let given = Some(Duration::from_secs(30));
        assert_eq!(verdict(429, body.as_bytes(), given), retry(30));
    }

    #[test]
    fn row_5xx_retries() {
        let retry = |reason| Verdict::Retry {
            reason,
            after: None,
        };
        assert_eq!(error(500, "INTERNAL", &fcm("INTERNAL")), retry("INTERNAL"));
        assert_eq!(
            error(503, "UNAVAILABLE", &fcm("UNAVAILABLE")),
            retry("UNAVAILABLE")
        );
        assert_eq!(verdict(502, b"<html>", None), retry("INTERNAL"));
    }

    #[test]
    fn other_answers_drop_and_alert() {
        assert_eq!(
            error(403, "PERMISSION_DENIED", ""),
            drop_alert("PERMISSION_DENIED")
        );
    }
}
