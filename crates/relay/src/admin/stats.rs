//! `GET /stats`: the upstream server's `get_stats` fields (same names, same meanings) plus
//! ours, as JSON.
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

/// Every field that comes from the recorder, the swarm snapshot and the services' states.
///
/// Upstream's `get_stats` fields keep upstream's names and meanings: `pushes` counts
/// `notify.message`s received from storage servers, `notifications` the pushes handed to the
/// push services (one per device, after de-duplication), `subscription`/`sub_renew` the
/// subscribes that added/renewed a row, `notifier.<service>` each service's `notifies`
/// (delivered) and `failures` (given up on), `alive.<service>` whether the service is sending.
fn counters(s: &Scrape, swarm: &SwarmStatus) -> Value {
    let subscribe = |endpoint: &str, results: &[&str]| {
        results
            .iter()
            .map(|result| {
                s.sum(
                    names::SUBSCRIBE_REQUESTS,
                    &[("endpoint", endpoint), ("result", result)],
                )
            })
            .fold(0.0, |total, v| total + v)
    };
    let mut stats = json!({
        // Upstream names (spns `get_stats`).
        "pushes": count(s.sum(names::SWARM_NOTIFICATIONS, &[])),
        "notifications": count(s.sum(names::PUSH_TOTAL, &[])),
        "subscription": count(subscribe("subscribe", &[names::SUBSCRIBE_ADDED])),
        "sub_renew": count(subscribe("subscribe", &[names::SUBSCRIBE_UPDATED])),
        "notifier": notifiers(s),
        "block_hash": swarm.block_hash,
        "block_height": swarm.block_height,
        "swarms": swarm.swarms,
        "snodes": swarm.snodes,
        "accounts_monitored": swarm.accounts_monitored,
        "connections": swarm.connections,
        "pending_connections": swarm.pending_connections,
        // Ours.
        "version": env!("CARGO_PKG_VERSION"),
        "unsubscription": count(subscribe("unsubscribe", names::SUBSCRIBE_SUCCESS)),
        "monitor_requests": count(s.sum(names::SWARM_MONITOR_REQUESTS, &[])),
        "swarms_connected": swarm.swarms_connected,
        "pushes_by_result": nested(s, names::PUSH_TOTAL, "result"),
        "push_failures": nested(s, names::PUSH_FAILURES, "reason"),
        "tokens_removed": nested(s, names::TOKENS_REMOVED, "reason"),
        "dedup_dropped": count(s.sum(names::DEDUP_DROPPED, &[])),
        "onion_requests": count(s.sum(names::ONION_REQUESTS, &[])),
    });
    for (service, alive) in alive(s) {
        stats[format!("alive.{service}")] = json!(alive);
    }
    stats
}

/// Upstream's per-notifier figures, per configured service: `notifies` (delivered),
/// `notify_retries` (delivered after one or more retries) and `failures` (every other final
/// outcome: failed after retries, dropped, token invalid).
fn notifiers(s: &Scrape) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (service, total) in s.by(names::PUSH_TOTAL, "service", &[]) {
        let delivered = s.sum(
            names::PUSH_TOTAL,
            &[("service", &service), ("result", names::RESULT_DELIVERED)],
        );
        let retried = s.sum(names::PUSH_RETRIED, &[("service", &service)]);
        out.insert(
            service,
            json!({
                "notifies": count(delivered),
                "notify_retries": count(retried),
                "failures": count(total - delivered),
            }),
        );
    }
    out
}

/// `alive.<service>`: upstream's "the notifier reported within the last minute". Notifiers
/// run inside this process, so a configured service is alive unless it is stopped: its
/// circuit breaker open, or halted by a configuration error.
fn alive(s: &Scrape) -> Vec<(String, bool)> {
    let stopped = |service: &str| {
        s.sum(names::BREAKER_OPEN, &[("service", service)]) > 0.0
            || s.sum(names::SERVICE_CONFIG_ERROR, &[("service", service)]) > 0.0
    };
    s.by(names::PUSH_TOTAL, "service", &[])
        .into_keys()
        .map(|service| {
            let alive = !stopped(&service);
            (service, alive)
        })
        .collect()
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
             relay_push_total{service=\"apns\",result=\"failed\"} 1\n\
             relay_push_total{service=\"firebase\",result=\"delivered\"} 0\n\
             relay_push_retried_total{service=\"apns\"} 2\n\
             relay_breaker_open{service=\"apns\"} 0\n\
             relay_breaker_open{service=\"firebase\"} 1\n\
             relay_swarm_notifications_total 6\n\
             relay_swarm_monitor_requests_total{result=\"ok\"} 8\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"added\"} 2\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"updated\"} 1\n\
             relay_subscribe_requests_total{endpoint=\"subscribe\",result=\"bad_input\"} 9\n\
             relay_subscribe_requests_total{endpoint=\"unsubscribe\",result=\"removed\"} 1\n\
             relay_push_failures_total{service=\"apns\",reason=\"BadDeviceToken\"} 1\n",
        );
        let swarm = SwarmStatus {
            swarms: 7,
            block_hash: "ab".into(),
            block_height: 12,
            ..SwarmStatus::default()
        };
        let v = counters(&s, &swarm);
        // Upstream's meanings: `pushes` in from the swarms, `notifications` out to services.
        assert_eq!(v["pushes"], 6);
        assert_eq!(v["notifications"], 5);
        assert_eq!(v["subscription"], 2);
        assert_eq!(v["sub_renew"], 1);
        assert_eq!(v["unsubscription"], 1);
        assert_eq!(v["monitor_requests"], 8);
        assert_eq!(v["swarms"], 7);
        assert_eq!(v["block_hash"], "ab");
        assert_eq!(v["block_height"], 12);
        assert_eq!(v["notifier"]["apns"]["notifies"], 4);
        assert_eq!(v["notifier"]["apns"]["notify_retries"], 2);
        assert_eq!(v["notifier"]["apns"]["failures"], 1);
        assert_eq!(v["notifier"]["firebase"]["notifies"], 0);
        assert_eq!(v["alive.apns"], true);
        assert_eq!(v["alive.firebase"], false);
        assert_eq!(v["push_failures"]["apns"]["BadDeviceToken"], 1);
        assert_eq!(v["pushes_by_result"]["apns"]["failed"], 1);
    }
}
