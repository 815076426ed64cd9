//! A mock FCM HTTP v1 with its OAuth token endpoint: `POST /token` (JWT bearer grant, the
//! assertion verified against the service account's public key) and
//! `POST /v1/projects/<project>/messages:send` (bearer checked, body shape checked).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::oauth_mock::{AccessTokens, Form};
use super::server::{self, Mock, Recorder, Replies};
use super::{Reply, TestCa};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// Settings of a mock FCM.
#[derive(Clone, Debug)]
pub struct MockFcmConfig {
    /// Expected project in the path.
    pub project_id: String,
    /// Expected `iss` of the assertion.
    pub client_email: String,
    /// SPKI PEM of the service account's RSA key; assertions must verify with it.
    pub public_key_pem: String,
    /// TLS (with a fresh [`TestCa`]) or plain HTTP.
    pub tls: bool,
}

/// One `messages:send` as the mock saw it.
#[derive(Clone, Debug)]
pub struct FcmRequest {
    /// `message.token`.
    pub token: String,
    /// The access token used.
    pub access_token: Option<String>,
    /// The body (JSON `null` when it did not parse).
    pub body: serde_json::Value,
    /// Checks that failed; empty for a well-formed request.
    pub problems: Vec<String>,
    /// When the request arrived (devnet measures end-to-end latency up to here).
    pub received: std::time::Instant,
}

/// What the mock's handler shares (opaque).
pub struct FcmState {
    config: MockFcmConfig,
    base: Mutex<String>,
    replies: Arc<Replies>,
    recorder: Recorder<FcmRequest>,
    tokens: AccessTokens,
    expires_in: AtomicU64,
}

/// A running mock; dropping it stops the server.
pub type MockFcm = Mock<FcmState>;

impl MockFcm {
    /// Starts the mock on an ephemeral 127.0.0.1 port.
    pub async fn start(config: MockFcmConfig) -> anyhow::Result<Self> {
        let (ca, tls) = TestCa::optional(config.tls)?;
        let state = |replies| FcmState {
            config,
            base: Mutex::new(String::new()),
            replies,
            recorder: Recorder::new(),
            tokens: AccessTokens::default(),
            expires_in: AtomicU64::new(3600),
        };
        let mock = Mock::serve(state, ca, tls, handle).await?;
        *lock(&mock.shared.base) = mock.url();
        Ok(mock)
    }

    /// The `token_uri` to write into the service-account file.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.url())
    }

    /// `expires_in` of the access tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.expires_in.store(secs, Ordering::Relaxed);
    }

    /// Forgets every issued access token: the next sends get 401 UNAUTHENTICATED.
    pub fn revoke_access_tokens(&self) {
        self.shared.tokens.revoke_all();
    }

    /// OAuth exchanges served so far.
    pub fn token_requests(&self) -> usize {
        self.shared.tokens.exchanges()
    }

    /// The next `messages:send` received, waiting for one.
    pub async fn next_request(&self) -> Option<FcmRequest> {
        self.shared.recorder.next().await
    }
}

/// 404 `UNREGISTERED`.
pub fn unregistered() -> Reply {
    error(404, "NOT_FOUND", "UNREGISTERED")
}

/// 400 `INVALID_ARGUMENT` about the token.
pub fn invalid_argument() -> Reply {
    error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
}

/// 403 `SENDER_ID_MISMATCH`.
pub fn sender_id_mismatch() -> Reply {
    error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
}

/// 429 `QUOTA_EXCEEDED` with `Retry-After: secs`.
pub fn quota_exceeded(secs: u64) -> Reply {
    error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED").with_retry_after(secs)
}

/// 500 `INTERNAL`.
pub fn internal() -> Reply {
    error(500, "INTERNAL", "INTERNAL")
}

/// 503 `UNAVAILABLE`.
pub fn unavailable() -> Reply {
    error(503, "UNAVAILABLE", "UNAVAILABLE")
}

/// A Google RPC error with an `FcmError` detail.
pub fn error(status: u16, rpc_status: &str, error_code: &str) -> Reply {
    let body = serde_json::json!({"error": {
        "code": status, "message": error_code, "status": rpc_status,
        "details": [{"@type": FCM_ERROR, "errorCode": error_code}],
    }});
    Reply::json(status, body.to_string())
}

fn unauthenticated() -> Reply {
    let body = serde_json::json!({"error": {
        "code": 401, "message": "Request had invalid authentication credentials.",
        "status": "UNAUTHENTICATED",
    }});
    Reply::json(401, body.to_string())
}

fn bad_request(problem: &str) -> Reply {
    let body = serde_json::json!({"error": {
        "code": 400, "message": problem, "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": [{"description": problem}]}],
    }});
    Reply::json(400, body.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn handle(
    State(shared): State<Arc<FcmState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    if uri.path() == "/token" {
        return token(&shared, &body).into_response().await;
    }
    let send_path = format!("/v1/projects/{}/messages:send", shared.config.project_id);
    if uri.path() != send_path {
        return Reply::json(404, r#"{"error":{"code":404,"status":"NOT_FOUND"}}"#)
            .into_response()
            .await;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let access_token = server::bearer(&headers).map(str::to_owned);
    let mut request = FcmRequest {
        token: body["message"]["token"].as_str().unwrap_or("").to_owned(),
        access_token,
        body,
        problems: Vec::new(),
        received,
    };
    let authorised = shared.tokens.authorises(&headers);
    let reply = if !authorised {
        request.problems.push("unknown access token".into());
        unauthenticated()
    } else if let Some(problem) = body_problem(&request.body) {
        request.problems.push(problem.clone());
        bad_request(&problem)
    } else {
        shared.replies.next(&request.token).unwrap_or_else(|| {
            let name = format!("projects/{}/messages/1", shared.config.project_id);
            Reply::json(200, serde_json::json!({ "name": name }).to_string())
        })
    };
    shared.recorder.record(request);
    reply.into_response().await
}

/// The OAuth JWT bearer grant: form fields, then the assertion's signature and claims.
fn token(shared: &FcmState, body: &[u8]) -> Reply {
    let n = shared.tokens.count_exchange();
    let form = Form::parse(body);
    let refuse = |why: &str| {
        Reply::json(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": why}).to_string(),
        )
    };
    if form.field("grant_type") != Some(GRANT_TYPE) {
        return refuse("grant_type");
    }
    let audience = format!("{}/token", lock(&shared.base));
    if let Err(why) = verify_assertion(
        form.field("assertion").unwrap_or(""),
        &shared.config,
        &audience,
    ) {
        return refuse(&why);
    }
    let access = format!("ya29.mock-{n}");
    shared.tokens.issue(&access);
    let expires_in = shared.expires_in.load(Ordering::Relaxed);
    Reply::json(
        200,
        serde_json::json!({"access_token": access, "expires_in": expires_in, "token_type": "Bearer"})
            .to_string(),
    )
}

fn verify_assertion(jwt: &str, config: &MockFcmConfig, audience: &str) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
        scope: String,
        iat: u64,
        exp: u64,
    }
    let key =
        DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    let data = jsonwebtoken::decode::<Claims>(jwt, &key, &validation).map_err(|e| e.to_string())?;
    let c = data.claims;
    if c.iss != config.client_email || c.scope != SCOPE || c.exp != c.iat + 3600 {
        return Err("claims".into());
    }
    Ok(())
}

/// §11.2: `message.token`, string-only `data` with `enc_payload` and `spns`, Android priority.
fn body_problem(body: &serde_json::Value) -> Option<String> {
    let message = &body["message"];
    if !message["token"].is_string() {
        return Some("message.token is not a string".into());
    }
    let Some(data) = message["data"].as_object() else {
        return Some("message.data is not an object".into());
    };
    if data.values().any(|v| !v.is_string()) {
        return Some("message.data values must be strings".into());
    }
    if !data["enc_payload"].is_string() || data.get("spns").is_none() {
        return Some("message.data lacks enc_payload or spns".into());
    }
    match message["android"]["priority"].as_str() {
        Some("high" | "normal") => None,
        _ => Some("message.android.priority is not high or normal".into()),
    }
}
