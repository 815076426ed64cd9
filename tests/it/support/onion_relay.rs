//! A relay router on a [`NullStore`] with the devnet onion client, for the onion tests.

use std::sync::Arc;

use anyhow::{ensure, Context};
use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use bytes::Bytes;
use devnet::onion_client::{ClientEncType, OnionClient, OnionRequest};
use relay::api::{self, ApiState};
use relay::crypto::{self, RelayKeys};
use relay::notifier::Services;
use relay::store::NoChanges;
use tower::ServiceExt;

use super::null_store::NullStore;

/// A relay router with fresh keys, a store that counts writes, and a client for it.
pub struct Relay {
    /// The state the router runs on (for direct `handle_json` calls).
    pub state: ApiState,
    /// The store behind it.
    pub store: Arc<NullStore>,
    /// A client holding the relay's onion public key.
    pub client: OnionClient,
}

/// What the router answered.
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// `Content-Type`, empty when absent.
    pub content_type: String,
    /// The raw body.
    pub body: Bytes,
}

/// A decrypted inner reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Inner {
    /// Inner status code.
    pub code: u16,
    /// The one inner header.
    pub content_type: String,
    /// Inner body.
    pub body: Vec<u8>,
}

impl Relay {
    /// A relay with fresh keys and an empty store.
    pub fn new() -> anyhow::Result<Self> {
        crypto::init()?;
        let keys = RelayKeys::generate();
        let store = Arc::new(NullStore::default());
        let client = OnionClient::new(*keys.onion.public());
        // The property tests build a runtime per case, so the writer gets a thread of its own;
        // it ends when this relay (the last handle) is dropped.
        let batch = relay::config::DatabaseConfig::default().batch();
        let (subscribes, writer) = relay::store::group_commit(store.clone(), batch);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || runtime.block_on(writer.run()));
        let state = ApiState {
            store: store.clone(),
            subscribes,
            services: Arc::new(Services::new()),
            changes: Arc::new(NoChanges),
            keys: Arc::new(keys),
            max_body_bytes: 100_000,
            clock: relay::clock::Clock::system(),
            limits: Arc::new(relay::api::Limits::default()),
        };
        Ok(Relay {
            state,
            store,
            client,
        })
    }

    /// Sends `body` to `/oxen/v4/lsrpc` with `method`.
    pub async fn call(&self, method: Method, body: Vec<u8>) -> anyhow::Result<Answer> {
        let request = Request::builder()
            .method(method)
            .uri("/oxen/v4/lsrpc")
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(body))?;
        let response = api::router(self.state.clone()).oneshot(request).await?;
        let content_type = match response.headers().get(header::CONTENT_TYPE) {
            Some(value) => value.to_str()?.to_string(),
            None => String::new(),
        };
        Ok(Answer {
            status: response.status(),
            content_type,
            body: to_bytes(response.into_body(), usize::MAX).await?,
        })
    }

    /// POSTs `body` to `/oxen/v4/lsrpc`.
    pub async fn post(&self, body: Vec<u8>) -> anyhow::Result<Answer> {
        self.call(Method::POST, body).await
    }

    /// POSTs `request` and opens the encrypted reply.
    pub async fn exchange(&self, request: &OnionRequest) -> anyhow::Result<Inner> {
        open(&self.post(request.body().to_vec()).await?, request)
    }

    /// A POST of `body` to `endpoint`, wrapped for this relay.
    pub fn wrap(
        &self,
        enc: ClientEncType,
        endpoint: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<OnionRequest> {
        self.client.request(enc, "POST", endpoint, body)
    }
}

/// Checks the outer reply is an encrypted 200 and decrypts it.
pub fn open(answer: &Answer, request: &OnionRequest) -> anyhow::Result<Inner> {
    ensure!(answer.status == StatusCode::OK, "status {}", answer.status);
    ensure!(answer.content_type == "application/octet-stream");
    let reply = request.open_reply(&answer.body)?;
    ensure!(reply.headers.len() == 1, "headers {:?}", reply.headers);
    let content_type = reply.headers["content-type"]
        .as_str()
        .context("content-type not a string")?;
    Ok(Inner {
        code: reply.code,
        content_type: content_type.to_string(),
        body: reply.body,
    })
}

/// Checks the outer reply is a plain 400 (PROTOCOL §4.2) and returns its text.
pub fn plain_400(answer: &Answer) -> anyhow::Result<String> {
    ensure!(
        answer.status == StatusCode::BAD_REQUEST,
        "status {}",
        answer.status
    );
    ensure!(answer.content_type.starts_with("text/plain"));
    let text = String::from_utf8(answer.body.to_vec())?;
    ensure!(!text.is_empty() && text.len() < 100, "{text}");
    Ok(text)
}
