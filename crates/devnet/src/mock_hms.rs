//! A mock Huawei Push Kit: `POST /oauth2/v2/token` (client credentials) and
//! `POST /v1/<app_id>/messages:send` (bearer and §11.3 body checked).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::oauth_mock::{AccessTokens, Form};
use super::server::{Mock, Recorder, Replies};
use super::{Reply, TestCa};

/// Path of the OAuth endpoint on the mock.
pub const TOKEN_PATH: &str = "/oauth2/v2/token";

/// Settings of a mock Huawei Push Kit.
#[derive(Clone, Debug)]
pub struct MockHmsConfig {
    /// Expected `client_id` and path app id.
    pub app_id: String,
    /// Expected `client_secret`.
    pub app_secret: String,
    /// TLS (with a fresh [`TestCa`]) or plain HTTP.
    pub tls: bool,
}

/// One `messages:send` as the mock saw it.
#[derive(Clone, Debug)]
pub struct HmsRequest {
    /// `message.token[0]`.
    pub token: String,
    /// The body (JSON `null` when it did not parse).
    pub body: serde_json::Value,
    /// Checks that failed; empty for a well-formed request.
    pub problems: Vec<String>,
}

/// What the mock's handler shares (opaque).
pub struct HmsState {
    config: MockHmsConfig,
    replies: Arc<Replies>,
    recorder: Recorder<HmsRequest>,
    tokens: AccessTokens,
}

/// A running mock; dropping it stops the server.
pub type MockHms = Mock<HmsState>;

impl MockHms {
    /// Starts the mock on an ephemeral 127.0.0.1 port.
    pub async fn start(config: MockHmsConfig) -> anyhow::Result<Self> {
        let (ca, tls) = TestCa::optional(config.tls)?;
        let state = |replies| HmsState {
            config,
            replies,
            recorder: Recorder::new(),
            tokens: AccessTokens::default(),
        };
        Mock::serve(state, ca, tls, handle).await
    }

    /// URL for the service's `token_endpoint`.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.url())
    }

    /// OAuth exchanges served so far.
    pub fn token_requests(&self) -> usize {
        self.shared.tokens.exchanges()
    }

    /// The next `messages:send` received, waiting for one.
    pub async fn next_request(&self) -> Option<HmsRequest> {
        self.shared.recorder.next().await
    }
}

/// A reply with Huawei's `code` and `msg`.
pub fn code(status: u16, code: &str, msg: &str) -> Reply {
    Reply::json(
        status,
        serde_json::json!({"code": code, "msg": msg, "requestId": "mock"}).to_string(),
    )
}

/// 80000000 Success.
pub fn success() -> Reply {
    code(200, "80000000", "Success")
}

/// 80300007: all tokens invalid.
pub fn invalid_token() -> Reply {
    code(400, "80300007", "All the tokens are invalid")
}

/// 80200003: OAuth token expired.
pub fn oauth_expired() -> Reply {
    code(401, "80200003", "OAuth token expired")
}

/// HTTP 503.
pub fn unavailable() -> Reply {
    Reply::json(503, "")
}

async fn handle(
    State(shared): State<Arc<HmsState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == TOKEN_PATH {
        return token(&shared, &body).into_response().await;
    }
    if uri.path() != format!("/v1/{}/messages:send", shared.config.app_id) {
        return code(404, "80100003", "no such path").into_response().await;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut request = HmsRequest {
        token: body["message"]["token"][0]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        body,
        problems: Vec::new(),
    };
    let authorised = shared.tokens.authorises(&headers);
    let reply = if !authorised {
        request.problems.push("unknown access token".into());
        oauth_expired()
    } else if let Some(problem) = body_problem(&request.body) {
        request.problems.push(problem.clone());
        code(400, "80100003", &problem)
    } else {
        shared.replies.next(&request.token).unwrap_or_else(success)
    };
    shared.recorder.record(request);
    reply.into_response().await
}

fn token(shared: &HmsState, body: &[u8]) -> Reply {
    let n = shared.tokens.count_exchange();
    let form = Form::parse(body);
    let config = &shared.config;
    if form.field("grant_type") != Some("client_credentials")
        || form.field("client_id") != Some(config.app_id.as_str())
        || form.field("client_secret") != Some(config.app_secret.as_str())
    {
        let refused = serde_json::json!({"error": 1101, "error_description": "invalid client"});
        return Reply::json(400, refused.to_string());
    }
    let access = format!("hms-mock-{n}");
    shared.tokens.issue(&access);
    let reply =
        serde_json::json!({"access_token": access, "expires_in": 3600, "token_type": "Bearer"});
    Reply::json(200, reply.to_string())
}

/// §11.3: `validate_only: false`, `data` a JSON string with `enc_payload` and `spns`, one
/// token, `urgency: HIGH`.
fn body_problem(body: &serde_json::Value) -> Option<String> {
    let message = &body["message"];
    if body["validate_only"] != false {
        return Some("validate_only is not false".into());
    }
    let data = message["data"]
        .as_str()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    let Some(data) = data else {
        return Some("message.data is not a JSON string".into());
    };
    if !data["enc_payload"].is_string() || data["spns"] != "1" {
        return Some("message.data lacks enc_payload or spns".into());
    }
    if message["token"].as_array().is_none_or(|t| t.len() != 1) {
        return Some("message.token is not a one-token list".into());
    }
    if message["android"]["urgency"] != "HIGH" {
        return Some("message.android.urgency is not HIGH".into());
    }
    None
}
