//! Huawei Push Kit (PROTOCOL §11.3): client-credentials OAuth and `messages:send`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::http::{self, Reply};
use super::oauth::{self, Bearer, SendEndpoint};
use super::renew::{Answer, Renewable};
use super::{NotifyError, Push, Verdict};
use crate::config::{HmsConfig, Secret};

const DEFAULT_ENDPOINT: &str = "https://push-api.cloud.huawei.com";
const DEFAULT_TOKEN_ENDPOINT: &str = "https://oauth-login.cloud.huawei.com/oauth2/v2/token";

/// One Huawei service.
pub struct Hms {
    send: SendEndpoint,
    /// The app's OAuth client: exchanged for an access token at `token_url`.
    client: AppClient,
}

/// The client-credentials grant's inputs (the app's ID and secret as OAuth client).
struct AppClient {
    token_url: String,
    id: String,
    secret: Secret<String>,
}

impl Hms {
    /// Builds the service.
    pub fn new(config: &HmsConfig) -> Result<Self, NotifyError> {
        let service = config.name.as_str();
        let missing = |key| NotifyError::MissingSetting {
            service: service.to_owned(),
            key,
        };
        if config.app_id.is_empty() {
            return Err(missing("app_id"));
        }
        if config.app_secret.expose().is_empty() {
            return Err(missing("app_secret"));
        }
        let base = http::base_url(service, "endpoint", &config.endpoint, DEFAULT_ENDPOINT)?;
        let token_url = http::base_url(
            service,
            "token_endpoint",
            &config.token_endpoint,
            DEFAULT_TOKEN_ENDPOINT,
        )?;
        let send = SendEndpoint::new(
            service,
            format!("{base}/v1/{}/messages:send", config.app_id),
            &config.ca_file,
            Duration::from_secs(config.request_timeout_secs),
        )?;
        let client = AppClient {
            token_url,
            id: config.app_id.clone(),
            secret: config.app_secret.clone(),
        };
        Ok(Hms { send, client })
    }

    /// A new access token for the app's ID and secret (the client-credentials grant).
    async fn exchange(&self) -> Result<Bearer, Verdict> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client.id.as_str()),
            ("client_secret", self.client.secret.expose().as_str()),
        ];
        let send = &self.send;
        oauth::exchange(&send.client, &send.service, &self.client.token_url, &form).await
    }
}

// === impl Renewable for Hms ===

#[async_trait]
impl Renewable for Hms {
    fn service(&self) -> &str {
        &self.send.service
    }

    async fn attempt(&self, push: &Push) -> (Answer, Option<Arc<str>>) {
        let table = |r: &Reply| verdict(r.status, &r.body, push.token.expose());
        let now = crate::clock::unix_now();
        self.send
            .attempt(now, self.exchange(), &body(push), table)
            .await
    }

    async fn renew(&self, rejected: &str) {
        self.send.token.renew(rejected).await;
    }
}

/// The §11.3 body. `data` is a JSON string, written as Python's `json.dumps` does (the vectors).
fn body(push: &Push) -> serde_json::Value {
    let data = serde_json::json!(format!(
        "{{\"enc_payload\": {}, \"spns\": \"1\"}}",
        serde_json::Value::from(push.enc_payload.as_str())
    ));
    serde_json::json!({
        "validate_only": false,
        "message": {
            "data": data,
            "token": [push.token.expose()],
            "android": {"urgency": "HIGH"},
        }
    })
}

/// Classifies one answer by its `code` (PROTOCOL §11.3), then by HTTP status.
pub(crate) fn verdict(status: u16, body: &[u8], token: &str) -> Answer {
    #[derive(serde::Deserialize)]
    struct Reply {
        code: String,
        #[serde(default)]
        msg: String,
    }
    let reply = serde_json::from_slice::<Reply>(body).ok();
    let code = reply.as_ref().map_or("", |r| r.code.as_str());
    let verdict = match (status, code) {
        (_, "80000000") => Verdict::Delivered,
        (_, "80300007") => Verdict::invalid("InvalidToken", false),
        (_, "80100000") if lists_illegal(reply.as_ref().map_or("", |r| &r.msg), token) => {
            Verdict::invalid("IllegalToken", false)
        }
        // The access token expired early: a new one is fetched and the push retried once.
        (_, "80200003") => return Answer::CredentialRejected("OAuthTokenExpired"),
        (502 | 503, _) => Verdict::retry("Unavailable", None),
        _ => Verdict::drop_alert("other"),
    };
    Answer::Verdict(verdict)
}

/// `msg` of an 80100000 reply is itself JSON: `{"success":…,"illegal_tokens":[…]}`.
fn lists_illegal(msg: &str, token: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Partial {
        #[serde(default)]
        illegal_tokens: Vec<String>,
    }
    serde_json::from_str::<Partial>(msg).is_ok_and(|p| p.illegal_tokens.iter().any(|t| t == token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::DeviceToken;

    const TOKEN: &str = "hms-token-0123456789abcdef0123456789";

    /// The table's answer as the push's final verdict (a refused token counts as dropped).
    fn v(status: u16, body: &str) -> Verdict {
        verdict(status, body.as_bytes(), TOKEN).into_verdict()
    }

    #[test]
    fn row_success() {
        let ok = r#"{"code":"80000000","msg":"Success","requestId":"1"}"#;
        assert_eq!(v(200, ok), Verdict::Delivered);
    }

    #[test]
    fn row_invalid_token() {
        let body = r#"{"code":"80300007","msg":"All the tokens are invalid"}"#;
        assert_eq!(v(400, body), Verdict::invalid("InvalidToken", false));
    }

    #[test]
    fn row_80100000_invalidates_only_a_listed_token() {
        let listed = format!(
            r#"{{"code":"80100000","msg":"{{\"success\":0,\"failure\":1,\"illegal_tokens\":[\"{TOKEN}\"]}}"}}"#
        );
        assert_eq!(v(200, &listed), Verdict::invalid("IllegalToken", false));
        let other = r#"{"code":"80100000","msg":"{\"illegal_tokens\":[\"someone-else\"]}"}"#;
        assert_eq!(v(200, other), Verdict::drop_alert("other"));
    }

    #[test]
    fn row_oauth_expired_asks_for_a_new_token() {
        let body = r#"{"code":"80200003","msg":"OAuth token expired"}"#;
        assert_eq!(
            verdict(401, body.as_bytes(), TOKEN),
            Answer::CredentialRejected("OAuthTokenExpired")
        );
    }

    #[test]
    fn row_502_503_retry() {
        let retry = Verdict::Retry {
            reason: "Unavailable",
            after: None,
        };
        assert_eq!(v(502, "<html>"), retry);
        assert_eq!(v(503, ""), retry);
    }

    #[test]
    fn row_other_codes_drop() {
        assert_eq!(
            v(400, r#"{"code":"80100003","msg":"bad"}"#),
            Verdict::drop_alert("other")
        );
        assert_eq!(v(500, ""), Verdict::drop_alert("other"));
    }

    #[test]
    fn body_matches_the_vector() {
        let vectors = crate::test_support::payload();
        let expected = &vectors["provider_bodies"]["hms"];
        let data: serde_json::Value =
            serde_json::from_str(expected["message"]["data"].as_str().unwrap()).unwrap();
        let push = Push {
            service: "huawei".into(),
            token: DeviceToken::new(expected["message"]["token"][0].as_str().unwrap()),
            enc_payload: data["enc_payload"].as_str().unwrap().into(),
            has_data: true,
            namespace: 0,
        };
        // Byte-for-byte, including the json.dumps spacing inside `data`.
        assert_eq!(&body(&push), expected);
    }
}
