//! `GET /stats`: the upstream server's `get_stats` fields plus ours, as JSON.
//!
//! Counters are read back from the recorder (the numbers Prometheus scrapes); subscription
//! counts from the store; swarm figures from the swarm's status watch. When `[admin] token`
//! is set the request needs `Authorization: Bearer <token>`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use super::health::DB_TIMEOUT;
use super::metrics as names;
use super::scrape::Scrape;
use super::{AdminError, AdminState};
use crate::crypto;
use crate::swarm::SwarmStatus;

/// `GET /stats`.
pub(super) async fn get(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Json<Value>, AdminError> {
    authorize(state.token.expose(), &headers)?;
    let scrape = Scrape::parse(&state.prometheus.render());
    let swarm = state
        .swarm
        .as_ref()
        .map(|rx| rx.borrow().clone())
        .unwrap_or_default();
    let mut stats = counters(&scrape, &swarm);
    stats["uptime"] = json!(state.started.elapsed().as_secs_f64());
    if let Some(cluster) = &state.cluster {
        // Ours: this replica's share of the swarms ([cluster] only).
        stats["cluster"] = json!(cluster.share());
    }
    match subscriptions(&state).await {
        Ok(subs) => stats["subscriptions"] = subs,
        Err(why) => {
            stats["subscriptions"] = Value::Null;
            stats["subscriptions_error"] = json!(why);
        }
    }
    Ok(Json(stats))
}

/// Rejects the request unless `token` is empty or the bearer token equals it.
fn authorize(token: &str, headers: &HeaderMap) -> Result<(), AdminError> {
    if token.is_empty() {
        return Ok(());
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if crypto::ct_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
    }
}

/// Every field that comes from the recorder and the swarm snapshot.
fn counters(s: &Scrape, swarm: &SwarmStatus) -> Value {
    let subscribe_ok = |endpoint: &str| {
        names::SUBSCRIBE_SUCCESS
            .iter()
            .map(|result| {
                s.sum(
                    names::SUBSCRIBE_REQUESTS,
                    &[("endpoint", endpoint), ("result", result)],
                )
            })
            .fold(0.0, |total, v| total + v)
    };
    json!({
        // Upstream names (spns `get_stats`).
        "notifications": count(s.sum(names::SWARM_NOTIFICATIONS, &[])),
        "pushes": count(s.sum(names::PUSH_TOTAL, &[("result", names::RESULT_DELIVERED)])),
        "subscription": count(subscribe_ok("subscribe")),
        "sub_renew": count(s.sum(names::SWARM_MONITOR_REQUESTS, &[])),
        "swarms": swarm.swarms,
        "snodes": swarm.snodes,
        "accounts_monitored": swarm.accounts_monitored,
        "connections": swarm.connections,
        "pending_connections": swarm.pending_connections,
        // Ours.
        "version": env!("CARGO_PKG_VERSION"),
        "unsubscription": count(subscribe_ok("unsubscribe")),
        "swarms_connected": swarm.swarms_connected,
        "pushes_by_result": nested(s, names::PUSH_TOTAL, "result"),
        "push_failures": nested(s, names::PUSH_FAILURES, "reason"),
        "tokens_removed": nested(s, names::TOKENS_REMOVED, "reason"),
        "dedup_dropped": count(s.sum(names::DEDUP_DROPPED, &[])),
        "onion_requests": count(s.sum(names::ONION_REQUESTS, &[])),
    })
}

/// `{"<service>": {"<label value>": n}}` of a metric labelled by service and `inner`.
fn nested(s: &Scrape, name: &str, inner: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ((service, value), n) in s.by2(name, "service", inner) {
        out.entry(service).or_default().insert(value, count(n));
    }
    out
}

/// Counters are exported as floats; `/stats` reports them as the integers they are.
fn count(value: f64) -> u64 {
    value.max(0.0).round() as u64
}

/// `{"<service>": n, …, "total": n}` from the store, or why it could not be read.
async fn subscriptions(state: &AdminState) -> Result<Value, String> {
    let now = crate::clock::unix_now();
    let counts = tokio::time::timeout(DB_TIMEOUT, state.store.count_by_service(now))
        .await
        .map_err(|_| "database did not answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    let mut out = serde_json::Map::new();
    let mut total = 0;
    for (service, n) in counts {
        total += n;
        out.insert(service, json!(n));
    }
    out.insert("total".into(), json!(total));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_token_is_checked_only_when_set() {
        crypto::init().unwrap();
        assert!(authorize("", &HeaderMap::new()).is_ok());
        assert!(authorize("s3cret", &HeaderMap::new()).is_err());
        assert!(authorize("s3cret", &with_auth("Bearer wrong")).is_err());
        assert!(authorize("s3cret", &with_auth("s3cret")).is_err());
        assert!(authorize("s3cret", &with_auth("Bearer s3cret")).is_ok());
    }

    #[test]
    fn counters_use_the_upstream_names() {
        let s = Scrape::parse(
            "relay_push_total{service=\"apns\",result=\"delivered\"} 4\n\
             relay_push_total{service=\"apns\",result=\"retry\"} 1\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"added\"} 2\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"updated\"} 1\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"bad_input\"} 9\n\
             relay_push_failures_total{service=\"apns\",reason=\"BadDeviceToken\"} 1\n",
        );
        let swarm = SwarmStatus {
            swarms: 7,
            ..SwarmStatus::default()
        };
        let v = counters(&s, &swarm);
        assert_eq!(v["pushes"], 4.0);
        assert_eq!(v["subscription"], 3.0);
        assert_eq!(v["swarms"], 7);
        assert_eq!(v["push_failures"]["apns"]["BadDeviceToken"], 1.0);
        assert_eq!(v["pushes_by_result"]["apns"]["retry"], 1.0);
    }
}
