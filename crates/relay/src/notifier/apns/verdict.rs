//! APNs answers → [`Answer`]s: the table of PROTOCOL §11.1, one arm per row.

use std::time::Duration;

use crate::notifier::renew::Answer;
use crate::notifier::Verdict;

/// First delay after a 429 (PROTOCOL §11.1: "retry, first delay ≥ 60 s").
const TOO_MANY_REQUESTS_DELAY: Duration = Duration::from_secs(60);

/// The `reason` strings APNs documents, as static metric labels; anything else is `other`.
const REASONS: &[&str] = &[
    "BadCollapseId",
    "BadDeviceToken",
    "BadExpirationDate",
    "BadMessageId",
    "BadPath",
    "BadPriority",
    "BadTopic",
    "DeviceTokenNotForTopic",
    "DuplicateHeaders",
    "ExpiredProviderToken",
    "ExpiredToken",
    "Forbidden",
    "IdleTimeout",
    "InternalServerError",
    "InvalidProviderToken",
    "InvalidPushType",
    "MethodNotAllowed",
    "MissingDeviceToken",
    "MissingProviderToken",
    "MissingTopic",
    "PayloadEmpty",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "Shutdown",
    "TooManyProviderTokenUpdates",
    "TooManyRequests",
    "TopicDisallowed",
    "Unregistered",
];

/// Reasons that mean the JWT was refused: a fresh one is made and the push retried once.
const PROVIDER_TOKEN_REASONS: &[&str] = &[
    "ExpiredProviderToken",
    "InvalidProviderToken",
    "MissingProviderToken",
];

/// Classifies one APNs answer: HTTP status, body (`{"reason": …}`) and `Retry-After`.
pub(crate) fn verdict(status: u16, body: &[u8], retry_after: Option<Duration>) -> Answer {
    let reason = reason(body);
    let verdict = match (status, reason) {
        (200, _) => Verdict::Delivered,
        (400, "BadDeviceToken") => Verdict::invalid(reason, false),
        // The token may be fine and the topic wrong: the breaker watches this one.
        (400, "DeviceTokenNotForTopic") => Verdict::invalid(reason, true),
        (410, _) => Verdict::invalid(
            if reason == "other" {
                "Unregistered"
            } else {
                reason
            },
            false,
        ),
        (403, r) if PROVIDER_TOKEN_REASONS.contains(&r) => return Answer::CredentialRejected(r),
        (429, _) => Verdict::retry(
            "TooManyRequests",
            Some(retry_after.map_or(TOO_MANY_REQUESTS_DELAY, |d| d.max(TOO_MANY_REQUESTS_DELAY))),
        ),
        (500..=599, "other") => Verdict::retry("InternalServerError", retry_after),
        (500..=599, _) => Verdict::retry(reason, retry_after),
        // 413 PayloadTooLarge, other 400/403/404/405 reasons (BadTopic, TopicDisallowed, …).
        _ => Verdict::drop_alert(reason),
    };
    Answer::Verdict(verdict)
}

fn reason(body: &[u8]) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        reason: Option<&'a str>,
    }
    let given = serde_json::from_slice::<Body<'_>>(body)
        .ok()
        .and_then(|b| b.reason);
    given
        .and_then(|r| REASONS.iter().copied().find(|known| *known == r))
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's answer as the push's final verdict (a refused JWT counts as dropped).
    fn verdict(status: u16, body: &[u8], retry_after: Option<Duration>) -> Verdict {
        super::verdict(status, body, retry_after).into_verdict()
    }

    fn v(status: u16, reason: &str) -> Verdict {
        verdict(
            status,
            format!(r#"{{"reason":"{reason}"}}"#).as_bytes(),
            None,
        )
    }

    #[test]
    fn row_200_delivered() {
        assert_eq!(verdict(200, b"", None), Verdict::Delivered);
    }

    #[test]
    fn row_bad_device_token_and_410_invalidate() {
        assert_eq!(
            v(400, "BadDeviceToken"),
            Verdict::invalid("BadDeviceToken", false)
        );
        assert_eq!(
            v(410, "Unregistered"),
            Verdict::invalid("Unregistered", false)
        );
        assert_eq!(
            v(410, "ExpiredToken"),
            Verdict::invalid("ExpiredToken", false)
        );
        assert_eq!(
            verdict(410, b"", None),
            Verdict::invalid("Unregistered", false)
        );
    }

    #[test]
    fn row_device_token_not_for_topic_is_a_config_reason() {
        assert_eq!(
            v(400, "DeviceTokenNotForTopic"),
            Verdict::invalid("DeviceTokenNotForTopic", true)
        );
    }

    #[test]
    fn row_403_provider_token_asks_for_a_new_jwt() {
        let answer =
            |r: &str| super::verdict(403, format!(r#"{{"reason":"{r}"}}"#).as_bytes(), None);
        for r in PROVIDER_TOKEN_REASONS {
            assert_eq!(answer(r), Answer::CredentialRejected(r));
        }
        assert_eq!(
            answer("BadTopic"),
            Answer::Verdict(Verdict::drop_alert("BadTopic"))
        );
    }

    #[test]
    fn row_429_waits_at_least_a_minute() {
        let retry = |after| verdict(429, br#"{"reason":"TooManyRequests"}"#, after);
        let at = |s| Verdict::Retry {
            reason: "TooManyRequests",
            after: Some(Duration::from_secs(s)),
        };
        assert_eq!(retry(None), at(60));
        assert_eq!(retry(Some(Duration::from_secs(5))), at(60));
        assert_eq!(retry(Some(Duration::from_secs(90))), at(90));
    }

    #[test]
    fn row_5xx_retries() {
        let retry = |reason| Verdict::Retry {
            reason,
            after: None,
        };
        assert_eq!(v(500, "InternalServerError"), retry("InternalServerError"));
        assert_eq!(v(503, "ServiceUnavailable"), retry("ServiceUnavailable"));
        assert_eq!(v(503, "Shutdown"), retry("Shutdown"));
        assert_eq!(verdict(502, b"<html>", None), retry("InternalServerError"));
    }

    #[test]
    fn row_other_client_errors_drop_and_alert() {
        assert_eq!(
            v(413, "PayloadTooLarge"),
            Verdict::drop_alert("PayloadTooLarge")
        );
        assert_eq!(v(400, "BadTopic"), Verdict::drop_alert("BadTopic"));
        assert_eq!(
            v(400, "TopicDisallowed"),
            Verdict::drop_alert("TopicDisallowed")
        );
        assert_eq!(v(400, "BadPriority"), Verdict::drop_alert("BadPriority"));
        assert_eq!(v(404, "BadPath"), Verdict::drop_alert("BadPath"));
        assert_eq!(
            v(405, "MethodNotAllowed"),
            Verdict::drop_alert("MethodNotAllowed")
        );
        assert_eq!(v(400, "SomethingNew"), Verdict::drop_alert("other"));
    }
}
