//! FCM HTTP v1 answers → [`Answer`]s: the table of PROTOCOL §11.2, one arm per row.

use std::time::Duration;

use crate::notifier::renew::Answer;
use crate::notifier::Verdict;

/// Default wait after a 429 without `Retry-After` (PROTOCOL §11.2).
const QUOTA_DELAY: Duration = Duration::from_secs(60);

/// The answer that stops an FCM service (see `notifier/halt.rs`).
pub(crate) const SENDER_ID_MISMATCH: &str = "SENDER_ID_MISMATCH";

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

/// What an error body says: the `FcmError` code, if any, and the RPC status.
struct ErrorBody {
    fcm_code: Option<&'static str>,
    status: &'static str,
}

/// Classifies one `messages:send` answer.
pub(crate) fn verdict(status: u16, body: &[u8], retry_after: Option<Duration>) -> Answer {
    let error = parse(body);
    let code = error.fcm_code.unwrap_or(error.status);
    let verdict = match (status, code) {
        (200..=299, _) => Verdict::Delivered,
        (_, "UNREGISTERED") => Verdict::invalid("UNREGISTERED", false),
        // The token may belong to another project: the breaker watches this one.
        // The relay's key belongs to another project: a configuration error, never a dead
        // token. Nothing is deleted; `Fcm::send` stops the service (notifier/halt.rs).
        (_, SENDER_ID_MISMATCH) => Verdict::drop_alert(SENDER_ID_MISMATCH),
        (400, "INVALID_ARGUMENT") if error.fcm_code.is_some() => {
            Verdict::invalid("INVALID_ARGUMENT", false)
        }
        // Only google.rpc.BadRequest details: the request itself is wrong (a relay bug).
        (400, _) => Verdict::drop_alert("INVALID_ARGUMENT"),
        // The access token was refused: a new one is fetched and the push retried once.
        (401, _) => return Answer::CredentialRejected("UNAUTHENTICATED"),
        (_, "UNAUTHENTICATED" | "THIRD_PARTY_AUTH_ERROR") => {
            return Answer::CredentialRejected(code)
        }
        (429, _) => Verdict::retry("QUOTA_EXCEEDED", Some(retry_after.unwrap_or(QUOTA_DELAY))),
        (500..=599, "UNSPECIFIED_ERROR") => Verdict::retry("INTERNAL", retry_after),
        (500..=599, _) => Verdict::retry(code, retry_after),
        _ => Verdict::drop_alert(code),
    };
    Answer::Verdict(verdict)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's answer as the push's final verdict (a refused token counts as dropped).
    fn verdict(status: u16, body: &[u8], retry_after: Option<Duration>) -> Verdict {
        super::verdict(status, body, retry_after).into_verdict()
    }

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
            Verdict::invalid("UNREGISTERED", false)
        );
    }

    #[test]
    fn row_403_sender_id_mismatch_drops_and_never_invalidates() {
        assert_eq!(
            error(403, "PERMISSION_DENIED", &fcm("SENDER_ID_MISMATCH")),
            Verdict::drop_alert("SENDER_ID_MISMATCH")
        );
    }

    #[test]
    fn row_400_fcm_invalid_argument_is_a_bad_token() {
        let details = format!("{},{BAD_REQUEST}", fcm("INVALID_ARGUMENT"));
        assert_eq!(
            error(400, "INVALID_ARGUMENT", &details),
            Verdict::invalid("INVALID_ARGUMENT", false)
        );
    }

    #[test]
    fn row_400_bad_request_only_drops_and_alerts() {
        assert_eq!(
            error(400, "INVALID_ARGUMENT", BAD_REQUEST),
            Verdict::drop_alert("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn row_401_and_third_party_auth_want_a_new_token() {
        let answer = |details: &str| {
            let body =
                format!(r#"{{"error":{{"status":"UNAUTHENTICATED","details":[{details}]}}}}"#);
            super::verdict(401, body.as_bytes(), None)
        };
        assert_eq!(answer(""), Answer::CredentialRejected("UNAUTHENTICATED"));
        let third_party = fcm("THIRD_PARTY_AUTH_ERROR");
        assert_eq!(
            answer(&third_party),
            Answer::CredentialRejected("UNAUTHENTICATED")
        );
        let body =
            format!(r#"{{"error":{{"status":"PERMISSION_DENIED","details":[{third_party}]}}}}"#);
        assert_eq!(
            super::verdict(403, body.as_bytes(), None),
            Answer::CredentialRejected("THIRD_PARTY_AUTH_ERROR")
        );
        assert_eq!(
            error(401, "UNAUTHENTICATED", ""),
            Verdict::drop_alert("UNAUTHENTICATED")
        );
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
            Verdict::drop_alert("PERMISSION_DENIED")
        );
    }
}
