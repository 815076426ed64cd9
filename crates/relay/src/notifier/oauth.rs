//! OAuth2 access tokens for FCM (JWT bearer grant) and HMS (client credentials): one exchange
//! at a time, the token cached until 5 minutes before it expires (PROTOCOL §11.2, §13).

use std::sync::Arc;

use tokio::sync::Mutex;

use super::renew::{ask, Answer};
use super::{http, NotifyError, Verdict};
use crate::admin::metrics as names;

/// A token is renewed this long before `expires_in` runs out.
const RENEW_MARGIN_SECS: i64 = 5 * 60;

/// A bearer token and when it expires (unix seconds).
#[derive(Clone, Debug)]
pub(crate) struct Bearer {
    pub value: Arc<str>,
    pub expires_at: i64,
}

impl Bearer {
    /// Whether it may still be used at `now`.
    pub(crate) fn fresh(&self, now: i64) -> bool {
        now + RENEW_MARGIN_SECS < self.expires_at
    }
}

/// The cached token of one service.
#[derive(Default)]
pub(crate) struct BearerCache {
    /// Held across an exchange, so concurrent sends wait for one token request.
    current: Mutex<Option<Bearer>>,
}

impl BearerCache {
    /// The cached token if fresh at `now`, else the result of `exchange`, which is cached.
    pub(crate) async fn get<F>(&self, now: i64, exchange: F) -> Result<Arc<str>, Verdict>
    where
        F: std::future::Future<Output = Result<Bearer, Verdict>>,
    {
        let mut current = self.current.lock().await;
        if let Some(bearer) = current.as_ref().filter(|b| b.fresh(now)) {
            return Ok(bearer.value.clone());
        }
        let bearer = exchange.await?;
        let value = bearer.value.clone();
        *current = Some(bearer);
        Ok(value)
    }

    /// Forgets `rejected` (unless a concurrent send already replaced it).
    pub(crate) async fn renew(&self, rejected: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|b| &*b.value == rejected) {
            *current = None;
        }
    }
}

/// POSTs `form` to a token endpoint and reads `{"access_token", "expires_in"}`.
/// Unreachable or 5xx → retry later; a refusal → drop and alert (credentials are wrong).
pub(crate) async fn exchange(
    client: &reqwest::Client,
    service: &str,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Bearer, Verdict> {
    #[derive(serde::Deserialize)]
    struct Reply {
        access_token: String,
        expires_in: u64,
    }
    let response = client
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| retry("oauth_unreachable", &e))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Verdict::retry(
            "oauth_unavailable",
            http::retry_after(response.headers()),
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| retry("oauth_unreachable", &e))?;
    let reply = match serde_json::from_slice::<Reply>(&bytes) {
        Ok(reply) if status.is_success() => reply,
        _ => {
            tracing::error!(
                service,
                status = status.as_u16(),
                "token endpoint refused the credentials"
            );
            return Err(Verdict::drop_alert("oauth_refused"));
        }
    };
    let expires_at = crate::clock::unix_now()
        .saturating_add(i64::try_from(reply.expires_in).unwrap_or(i64::MAX));
    metrics::gauge!(names::OAUTH_TOKEN_EXPIRY, "service" => service.to_owned())
        .set(expires_at as f64);
    Ok(Bearer {
        value: reply.access_token.into(),
        expires_at,
    })
}

fn retry(reason: &'static str, error: &reqwest::Error) -> Verdict {
    tracing::warn!(error = %error, "token endpoint unreachable");
    Verdict::retry(reason, None)
}

/// What FCM and HMS share: the service's client, its `messages:send` URL and the cached
/// access token that every send carries (PROTOCOL §11.2, §11.3).
pub(crate) struct SendEndpoint {
    /// Service name, for logs and metrics.
    pub service: Arc<str>,
    /// The service's pooled client (also used for the token exchange).
    pub client: reqwest::Client,
    /// `…/messages:send`.
    pub url: String,
    /// The current access token.
    pub token: BearerCache,
}

impl SendEndpoint {
    /// The endpoint at `url`, with a client that trusts `ca_file` too, gives up after
    /// `timeout`, and lets ALPN pick HTTP/2 or HTTP/1.1.
    pub(crate) fn new(
        service: &str,
        url: String,
        ca_file: &std::path::Path,
        timeout: std::time::Duration,
    ) -> Result<Self, NotifyError> {
        let client = http::build_client(http::HttpOptions {
            service,
            ca_file,
            timeout,
            http2_only: false,
            identity: None,
        })?;
        Ok(SendEndpoint {
            service: Arc::from(service),
            client,
            url,
            token: BearerCache::default(),
        })
    }

    /// One `messages:send` of the JSON `body` under the cached token (from `exchange` when
    /// none is fresh at `now`), classified by `table`; and the token it carried.
    pub(crate) async fn attempt<F>(
        &self,
        now: i64,
        exchange: F,
        body: &serde_json::Value,
        table: impl FnOnce(&http::Reply) -> Answer,
    ) -> (Answer, Option<Arc<str>>)
    where
        F: std::future::Future<Output = Result<Bearer, Verdict>>,
    {
        let token = match self.token.get(now, exchange).await {
            Ok(token) => token,
            Err(verdict) => return (verdict.into(), None),
        };
        let request = self
            .client
            .post(&self.url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string());
        (ask(request, table).await, Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str, expires_at: i64) -> Bearer {
        Bearer {
            value: value.into(),
            expires_at,
        }
    }

    #[test]
    fn fresh_until_five_minutes_before_expiry() {
        let b = bearer("t", 10_000);
        assert!(b.fresh(10_000 - 301));
        assert!(!b.fresh(10_000 - 300));
        assert!(!b.fresh(10_001));
    }

    #[tokio::test]
    async fn cached_while_fresh_then_exchanged_again() {
        let cache = BearerCache::default();
        let t0 = 1_000_000;
        let first = cache.get(t0, async { Ok(bearer("a", t0 + 3600)) }).await;
        assert_eq!(first.unwrap().as_ref(), "a");
        // Injected clock: 54 min later still cached (the exchange would give "b").
        let cached = cache.get(t0 + 54 * 60, async { Ok(bearer("b", 0)) }).await;
        assert_eq!(cached.unwrap().as_ref(), "a");
        // 55 min later: within the margin → renewed.
        let renewed = cache
            .get(t0 + 55 * 60, async { Ok(bearer("c", t0 + 7200)) })
            .await;
        assert_eq!(renewed.unwrap().as_ref(), "c");
    }

    #[tokio::test]
    async fn renew_forgets_only_the_rejected_token() {
        let cache = BearerCache::default();
        cache.get(0, async { Ok(bearer("a", 3600)) }).await.unwrap();
        cache.renew("zzz").await;
        let same = cache.get(1, async { Ok(bearer("b", 3600)) }).await;
        assert_eq!(same.unwrap().as_ref(), "a");
        cache.renew("a").await;
        let new = cache.get(2, async { Ok(bearer("b", 3600)) }).await;
        assert_eq!(new.unwrap().as_ref(), "b");
    }

    #[tokio::test]
    async fn a_failed_exchange_is_not_cached() {
        let cache = BearerCache::default();
        let failed = cache
            .get(0, async { Err(Verdict::retry("oauth_unreachable", None)) })
            .await;
        assert!(failed.is_err());
        let ok = cache.get(1, async { Ok(bearer("a", 3600)) }).await;
        assert_eq!(ok.unwrap().as_ref(), "a");
    }
}
