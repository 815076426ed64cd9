//! Admin-listener helpers: a store whose health a test controls, and request shortcuts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures::stream::{self, BoxStream, StreamExt};
use relay::admin::{self, AdminState};
use relay::config::Secret;
use relay::store::{Store, StoreError, Upsert};
use relay::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};
use relay::swarm::SwarmStatus;
use tokio::sync::watch;
use tower::ServiceExt;

/// A store that holds nothing; `ping` fails while `healthy` is false and `count_by_service`
/// answers `counts`.
pub struct FakeStore {
    pub healthy: AtomicBool,
    pub counts: Vec<(String, u64)>,
}

impl FakeStore {
    pub fn new(counts: &[(&str, u64)]) -> Arc<FakeStore> {
        Arc::new(FakeStore {
            healthy: AtomicBool::new(true),
            counts: counts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        })
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.healthy.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
        }
    }
}

#[async_trait]
impl Store for FakeStore {
    async fn upsert(&self, _sub: &Subscription, _now: i64) -> Result<Upsert, StoreError> {
        self.check().map(|()| Upsert::Added)
    }
    async fn remove(&self, _key: &SubscriptionKey) -> Result<bool, StoreError> {
        self.check().map(|()| false)
    }
    async fn remove_token(
        &self,
        _service: &str,
        _token: &DeviceToken,
        _accounts: &[AccountId],
    ) -> Result<Vec<AccountId>, StoreError> {
        self.check().map(|()| Vec::new())
    }
    async fn delete_expired(&self, _now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        self.check().map(|()| Vec::new())
    }
    fn live(&self, _now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        stream::empty().boxed()
    }
    async fn for_account(
        &self,
        _account: &AccountId,
        _now: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.check().map(|()| Vec::new())
    }
    async fn count_by_service(&self, _now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        self.check().map(|()| self.counts.clone())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
}

/// Admin state over `store`, an optional swarm watch and `token`.
pub fn state(
    store: Arc<FakeStore>,
    swarm: Option<watch::Receiver<SwarmStatus>>,
    token: &str,
) -> AdminState {
    relay::crypto::init().unwrap();
    AdminState::new(store, swarm, Secret::new(token.to_string())).unwrap()
}

/// `GET uri` on the admin router, with optional extra headers; returns status and body text.
pub async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// `GET uri` and parse the body as JSON.
pub async fn get_json(
    router: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let (status, body) = get(router, uri, headers).await;
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, value)
}

/// The router of `state`.
pub fn router(state: &AdminState) -> Router {
    admin::router(state.clone())
}
