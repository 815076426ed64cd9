//! The OAuth side the FCM and HMS mocks share: the access tokens they issued (checked on every
//! send, revocable), the count of token exchanges, and the form body of an exchange.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use axum::http::HeaderMap;

use super::server;

/// Access tokens issued by one mock's token endpoint.
#[derive(Default)]
pub(crate) struct AccessTokens {
    issued: Mutex<HashSet<String>>,
    exchanges: AtomicUsize,
}

impl AccessTokens {
    /// Counts one token exchange (granted or refused) and returns its number, from 1.
    pub(crate) fn count_exchange(&self) -> usize {
        self.exchanges.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Token exchanges served so far.
    pub(crate) fn exchanges(&self) -> usize {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// Issues `token`: sends bearing it are accepted until [`AccessTokens::revoke_all`].
    pub(crate) fn issue(&self, token: &str) {
        self.lock().insert(token.to_owned());
    }

    /// Whether the request's `Authorization: Bearer` is a token this mock issued.
    pub(crate) fn authorises(&self, headers: &HeaderMap) -> bool {
        server::bearer(headers).is_some_and(|t| self.lock().contains(t))
    }

    /// Forgets every issued token.
    pub(crate) fn revoke_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An `application/x-www-form-urlencoded` body (empty when malformed).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Form {
        Form(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The first value of `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
