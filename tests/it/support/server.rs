//! The real public router on 127.0.0.1:0 with an in-memory store, a movable clock and the
//! services `apns` (APNs rules), `firebase` (FCM rules) and `dummy` (the log kind).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Once};

use relay::api::{self, ApiState};
use relay::clock::Clock;
use relay::crypto::{self, RelayKeys};
use relay::notifier::{LogNotifier, Services};
use relay::store::{Changes, Upsert};
use relay::subscription::{Subscription, SubscriptionKey};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::memory_store::MemoryStore;
use super::notifiers::{ApnsRules, FcmRules};
use super::vectors::VECTOR_NOW;

/// One call the API made on [`Changes`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `subscribed(sub, outcome)`.
    Subscribed(Box<Subscription>, Upsert),
    /// `removed(key)`.
    Removed(SubscriptionKey),
}

/// Records every change notification.
#[derive(Default)]
pub struct RecordingChanges(Mutex<Vec<Change>>);

impl RecordingChanges {
    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Change> {
        self.0.lock().unwrap().clone()
    }
}

impl Changes for RecordingChanges {
    fn subscribed(&self, sub: &Subscription, outcome: Upsert) {
        self.0
            .lock()
            .unwrap()
            .push(Change::Subscribed(Box::new(sub.clone()), outcome));
    }

    fn removed(&self, key: &SubscriptionKey) {
        self.0.lock().unwrap().push(Change::Removed(key.clone()));
    }
}

/// A running router; stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The store behind it.
    pub store: Arc<MemoryStore>,
    /// What the API reported after each committed change.
    pub changes: Arc<RecordingChanges>,
    now: Arc<AtomicI64>,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server whose clock reads [`VECTOR_NOW`], with the default 100 000-byte limit.
    pub async fn start() -> Self {
        Self::with_limit(100_000).await
    }

    /// Starts a server with a JSON body limit of `max_body_bytes`.
    pub async fn with_limit(max_body_bytes: usize) -> Self {
        Self::with_config(relay::config::ApiConfig {
            max_body_bytes,
            ..Default::default()
        })
        .await
    }

    /// Starts a server with the limits and timeouts of `api` (its `listen` is ignored).
    pub async fn with_config(api: relay::config::ApiConfig) -> Self {
        let max_body_bytes = api.max_body_bytes;
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            crypto::init().expect("libsodium initialises");
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let mut services = Services::new();
        services.insert("apns", Arc::new(ApnsRules));
        services.insert("firebase", Arc::new(FcmRules));
        services.insert("dummy", Arc::new(LogNotifier::new("dummy")));
        let store = Arc::new(MemoryStore::default());
        let changes = Arc::new(RecordingChanges::default());
        let now = Arc::new(AtomicI64::new(VECTOR_NOW));
        let clock_now = now.clone();
        let (subscribes, writer) = relay::store::group_commit(
            store.clone(),
            relay::config::DatabaseConfig::default().batch(),
        );
        tokio::spawn(writer.run());
        let state = ApiState {
            store: store.clone(),
            subscribes,
            services: Arc::new(services),
            changes: changes.clone(),
            keys: Arc::new(RelayKeys::generate()),
            max_body_bytes,
            clock: Clock::from_fn(move || clock_now.load(Ordering::SeqCst)),
            limits: Arc::new(relay::api::Limits::new(&api)),
        };
        // Bound before the server task starts, so requests never race the listener.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let options = api::server::ServeOptions::from_config(&api);
            api::server::serve(listener, api::router(state), options, stop).await;
        });
        TestServer {
            url,
            store,
            changes,
            now,
            client: reqwest::Client::new(),
            shutdown,
            task: Some(task),
        }
    }

    /// Starts the shutdown and waits until the server has returned.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Moves the server's clock.
    pub fn set_now(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// POSTs raw bytes to `path`; returns the status, the content type and the body.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, String, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .header(CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// POSTs `body` as JSON to `path` and parses the reply, asserting HTTP 200 and JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        let (status, content_type, text) = self.post_raw(path, body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(content_type, "application/json");
        serde_json::from_str(&text).unwrap()
    }

    /// `POST /subscribe`.
    pub async fn subscribe(&self, body: &Value) -> Value {
        self.post("/subscribe", body).await
    }

    /// `POST /unsubscribe`.
    pub async fn unsubscribe(&self, body: &Value) -> Value {
        self.post("/unsubscribe", body).await
    }

    /// `GET` of `path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The error reply `{"error":code,"message":message}`.
pub fn error(code: u8, message: &str) -> Value {
    serde_json::json!({ "error": code, "message": message })
}

/// The `added` reply.
pub fn added() -> Value {
    serde_json::json!({"added": true, "message": "Subscription successful", "success": true})
}

/// The `updated` reply.
pub fn updated() -> Value {
    serde_json::json!({"message": "Resubscription successful", "success": true, "updated": true})
}
