//! A mock APNs: HTTP/2 over TLS (ALPN h2) or h2c, `POST /3/device/<token>`, checking every
//! header, the provider JWT (against the public key) or the client certificate, and the body.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::Extension;
use base64::Engine;
use rustls::pki_types::CertificateDer;

use super::server::{Mock, PeerCertificate, Recorder, Replies};
use super::{Reply, TestCa};

/// How the mock authenticates the relay.
#[derive(Clone, Debug)]
pub enum MockApnsAuth {
    /// Token auth: JWTs must verify with this P-256 public key (PEM) and carry these ids.
    Token {
        /// SPKI PEM of the `.p8` key.
        public_key_pem: String,
        /// Expected `kid`.
        key_id: String,
        /// Expected `iss`.
        team_id: String,
    },
    /// Certificate auth: clients must present a certificate issued by this CA (TLS only).
    Certificate {
        /// The issuing CA.
        client_ca: CertificateDer<'static>,
    },
}

/// Settings of a mock APNs.
#[derive(Clone, Debug)]
pub struct MockApnsConfig {
    /// Expected `apns-topic`.
    pub topic: String,
    /// Expected authentication.
    pub auth: MockApnsAuth,
    /// TLS (with a fresh [`TestCa`]) or h2c.
    pub tls: bool,
}

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct ApnsRequest {
    /// The device token from the path.
    pub token: String,
    /// Header values (empty when absent).
    pub topic: String,
    /// `apns-push-type`.
    pub push_type: String,
    /// `apns-priority`.
    pub priority: String,
    /// `apns-expiration`.
    pub expiration: String,
    /// The JWT of `authorization: bearer …`.
    pub jwt: Option<String>,
    /// Whether the TLS connection presented a client certificate.
    pub client_certificate: bool,
    /// The body (JSON `null` when it did not parse).
    pub body: serde_json::Value,
    /// Checks that failed; empty for a well-formed request.
    pub problems: Vec<String>,
    /// When the request arrived (devnet measures end-to-end latency up to here).
    pub received: std::time::Instant,
}

/// What the mock's handler shares (opaque).
pub struct ApnsState {
    config: MockApnsConfig,
    replies: Arc<Replies>,
    recorder: Recorder<ApnsRequest>,
    count: AtomicUsize,
    /// The last JWT whose signature, `kid` and `iss` verified, with its `iat`: the relay reuses
    /// one JWT for 40 minutes, and an ES256 check per request would cost devnet more CPU than
    /// the relay's whole push (the same string verifies the same way; `iat` is still checked).
    verified_jwt: Mutex<Option<(String, i64)>>,
}

/// A running mock; dropping it stops the server.
pub type MockApns = Mock<ApnsState>;

impl MockApns {
    /// Starts the mock on an ephemeral 127.0.0.1 port.
    pub async fn start(config: MockApnsConfig) -> anyhow::Result<Self> {
        let ca = if config.tls {
            Some(TestCa::new()?)
        } else {
            None
        };
        let tls = match (&ca, &config.auth) {
            (Some(ca), MockApnsAuth::Certificate { client_ca }) => {
                Some(ca.server_config(&[b"h2"], Some(client_ca.clone()))?)
            }
            (Some(ca), MockApnsAuth::Token { .. }) => Some(ca.server_config(&[b"h2"], None)?),
            (None, _) => None,
        };
        let state = |replies| ApnsState {
            config,
            replies,
            recorder: Recorder::new(),
            count: AtomicUsize::new(0),
            verified_jwt: Mutex::new(None),
        };
        Mock::serve(state, ca, tls, handle).await
    }

    /// The next request received, waiting for one.
    pub async fn next_request(&self) -> Option<ApnsRequest> {
        self.shared.recorder.next().await
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::Relaxed)
    }
}

/// 410 `Unregistered`.
pub fn unregistered() -> Reply {
    reason(410, "Unregistered")
}

/// 400 `BadDeviceToken`.
pub fn bad_device_token() -> Reply {
    reason(400, "BadDeviceToken")
}

/// 400 `DeviceTokenNotForTopic`.
pub fn device_token_not_for_topic() -> Reply {
    reason(400, "DeviceTokenNotForTopic")
}

/// 429 `TooManyRequests` with `Retry-After: secs`.
pub fn too_many_requests(secs: u64) -> Reply {
    reason(429, "TooManyRequests").with_retry_after(secs)
}

/// 500 `InternalServerError`.
pub fn internal_server_error() -> Reply {
    reason(500, "InternalServerError")
}

/// 403 `ExpiredProviderToken`.
pub fn expired_provider_token() -> Reply {
    reason(403, "ExpiredProviderToken")
}

/// Any status with `{"reason": …}`.
pub fn reason(status: u16, reason: &str) -> Reply {
    Reply::json(status, serde_json::json!({ "reason": reason }).to_string())
}

async fn handle(
    State(shared): State<Arc<ApnsState>>,
    Extension(peer): Extension<PeerCertificate>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    shared.count.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let token = uri
        .path()
        .strip_prefix("/3/device/")
        .unwrap_or("")
        .to_owned();
    let jwt = header("authorization")
        .strip_prefix("bearer ")
        .map(str::to_owned);
    let mut request = ApnsRequest {
        token,
        topic: header("apns-topic"),
        push_type: header("apns-push-type"),
        priority: header("apns-priority"),
        expiration: header("apns-expiration"),
        jwt,
        client_certificate: peer.0.is_some(),
        body: serde_json::from_slice(&body).unwrap_or_default(),
        problems: Vec::new(),
        received,
    };
    let failed = check(
        &shared,
        &method,
        &header("content-type"),
        body.len(),
        &mut request,
    );
    let reply = match failed {
        Some(reply) => reply,
        None => shared
            .replies
            .next(&request.token)
            .unwrap_or_else(|| Reply::json(200, "")),
    };
    shared.recorder.record(request);
    reply.into_response().await
}

/// Checks as APNs does; the first failure's answer, every failure noted in `problems`.
fn check(
    shared: &ApnsState,
    method: &Method,
    content_type: &str,
    body_len: usize,
    r: &mut ApnsRequest,
) -> Option<Reply> {
    let config = &shared.config;
    let mut failures = Vec::new();
    let mut fail = |problem: String, reply: Reply| failures.push((problem, reply));
    if method != Method::POST {
        fail(format!("method {method}"), reason(405, "MethodNotAllowed"));
    }
    if r.token.len() != 64 || !r.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        fail("path is not /3/device/<64 hex>".into(), bad_device_token());
    }
    if r.topic != config.topic {
        fail(format!("apns-topic {:?}", r.topic), reason(400, "BadTopic"));
    }
    if r.push_type != "alert" {
        fail(
            format!("apns-push-type {:?}", r.push_type),
            reason(400, "InvalidPushType"),
        );
    }
    if r.priority != "10" {
        fail(
            format!("apns-priority {:?}", r.priority),
            reason(400, "BadPriority"),
        );
    }
    let now = relay::clock::unix_now();
    if !r.expiration.parse::<i64>().is_ok_and(|t| t > now) {
        fail(
            format!("apns-expiration {:?}", r.expiration),
            reason(400, "BadExpirationDate"),
        );
    }
    if content_type != "application/json" {
        fail(
            format!("content-type {content_type:?}"),
            reason(400, "BadPayload"),
        );
    }
    if body_len > 4096 {
        fail(
            "body over 4096 bytes".into(),
            reason(413, "PayloadTooLarge"),
        );
    }
    if let Some(problem) = body_problem(&r.body) {
        fail(problem, reason(400, "PayloadEmpty"));
    }
    match &config.auth {
        MockApnsAuth::Token { .. } if r.jwt.is_none() => {
            fail("no bearer JWT".into(), reason(403, "MissingProviderToken"));
        }
        MockApnsAuth::Token {
            public_key_pem,
            key_id,
            team_id,
        } => {
            let jwt = r.jwt.as_deref().unwrap_or("");
            let verified = &shared.verified_jwt;
            if let Err(problem) = verify_jwt(jwt, public_key_pem, key_id, team_id, now, verified) {
                fail(problem, reason(403, "InvalidProviderToken"));
            }
        }
        MockApnsAuth::Certificate { .. } => {
            if !r.client_certificate {
                fail(
                    "no client certificate".into(),
                    reason(403, "MissingProviderToken"),
                );
            }
            if r.jwt.is_some() {
                fail(
                    "authorization header with certificate auth".into(),
                    reason(400, "BadPayload"),
                );
            }
        }
    }
    let first = failures.first().map(|(_, reply)| reply.clone());
    r.problems = failures.into_iter().map(|(problem, _)| problem).collect();
    first
}

/// The §11.1 body shape: `aps` with an alert and `mutable-content: 1`, `spns: 1`, base64
/// `enc_payload`.
fn body_problem(body: &serde_json::Value) -> Option<String> {
    let aps = &body["aps"];
    if !aps["alert"].is_object() || aps["mutable-content"] != 1 {
        return Some("aps without alert or mutable-content 1".into());
    }
    if body["spns"] != 1 {
        return Some("spns is not 1".into());
    }
    let enc = body["enc_payload"].as_str().unwrap_or("");
    match base64::engine::general_purpose::STANDARD.decode(enc) {
        Ok(raw) if raw.len() > 24 => None,
        _ => Some("enc_payload is not base64 of nonce ‖ ciphertext".into()),
    }
}

/// ES256 signature, `kid`, `iss` (skipped for the JWT verified last), and an `iat` younger
/// than an hour.
fn verify_jwt(
    jwt: &str,
    public_pem: &str,
    key_id: &str,
    team_id: &str,
    now: i64,
    verified: &Mutex<Option<(String, i64)>>,
) -> Result<(), String> {
    let mut last = verified.lock().unwrap_or_else(PoisonError::into_inner);
    let iat = match last.as_ref().filter(|(v, _)| v == jwt) {
        Some((_, iat)) => *iat,
        None => {
            let iat = verify_signed_jwt(jwt, public_pem, key_id, team_id)?;
            *last = Some((jwt.to_owned(), iat));
            iat
        }
    };
    if iat + 3600 < now || iat > now + 60 {
        return Err(format!("JWT iat {iat} too old or in the future"));
    }
    Ok(())
}

/// ES256 signature, `kid` and `iss`; returns `iat`.
fn verify_signed_jwt(
    jwt: &str,
    public_pem: &str,
    key_id: &str,
    team_id: &str,
) -> Result<i64, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
        iat: i64,
    }
    let key =
        DecodingKey::from_ec_pem(public_pem.as_bytes()).map_err(|e| format!("mock key: {e}"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Claims>(jwt, &key, &validation)
        .map_err(|e| format!("JWT does not verify: {e}"))?;
    if data.header.kid.as_deref() != Some(key_id) {
        return Err(format!("JWT kid {:?}", data.header.kid));
    }
    if data.header.typ.is_some() {
        return Err("JWT header has typ".into());
    }
    if data.claims.iss != team_id {
        return Err(format!("JWT iss {:?}", data.claims.iss));
    }
    Ok(data.claims.iat)
}
