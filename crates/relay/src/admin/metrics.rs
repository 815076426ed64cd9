//! The Prometheus recorder, the names of every relay metric, and `GET /metrics`.
//!
//! Other modules emit with the `metrics` macros (`metrics::counter!(PUSH_TOTAL, "service" =>
//! name, "result" => "delivered")`); this file installs the recorder they write to, once per
//! process, and makes every name visible from the first scrape.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::{process, AdminError, AdminState};

/// `relay_subscriptions{service}`: unexpired subscriptions (gauge).
pub const SUBSCRIPTIONS: &str = "relay_subscriptions";
/// `relay_subscribe_requests_total{endpoint,result}`: `/subscribe` and `/unsubscribe` replies.
pub const SUBSCRIBE_REQUESTS: &str = "relay_subscribe_requests_total";
/// `relay_onion_requests_total{enc_type,result}`: onion v4 requests.
pub const ONION_REQUESTS: &str = "relay_onion_requests_total";
/// `relay_swarm_nodes`: usable service nodes in the node list (gauge).
pub const SWARM_NODES: &str = "relay_swarm_nodes";
/// `relay_swarm_connections{state}`: connections to storage servers by state (gauge).
pub const SWARM_CONNECTIONS: &str = "relay_swarm_connections";
/// `relay_swarm_monitor_requests_total{result}`: `monitor.messages` requests sent.
pub const SWARM_MONITOR_REQUESTS: &str = "relay_swarm_monitor_requests_total";
/// `relay_swarm_notifications_total`: valid `notify.message` messages received.
pub const SWARM_NOTIFICATIONS: &str = "relay_swarm_notifications_total";
/// `relay_dedup_dropped_total`: notifications dropped as duplicates.
pub const DEDUP_DROPPED: &str = "relay_dedup_dropped_total";
/// `relay_push_total{service,result}`: push outcomes; `result="delivered"` is success.
pub const PUSH_TOTAL: &str = "relay_push_total";
/// `relay_push_failures_total{service,reason}`: failed pushes by provider reason.
pub const PUSH_FAILURES: &str = "relay_push_failures_total";
/// `relay_push_duration_seconds{service}`: provider request latency (histogram).
pub const PUSH_DURATION: &str = "relay_push_duration_seconds";
/// `relay_push_queue_depth{service}`: pushes waiting in a service's queue (gauge).
pub const PUSH_QUEUE_DEPTH: &str = "relay_push_queue_depth";
/// `relay_push_queue_wait_seconds{service}`: time a push waited in its queue (histogram).
pub const PUSH_QUEUE_WAIT: &str = "relay_push_queue_wait_seconds";
/// `relay_end_to_end_seconds`: notify received → provider accepted (histogram).
pub const END_TO_END: &str = "relay_end_to_end_seconds";
/// `relay_tokens_removed_total{service,reason}`: device tokens deleted after a provider verdict.
pub const TOKENS_REMOVED: &str = "relay_tokens_removed_total";
/// `relay_breaker_open{service}`: 1 while a service's circuit breaker is open (gauge).
pub const BREAKER_OPEN: &str = "relay_breaker_open";
/// `relay_service_config_error{service}`: 1 while a service is stopped by a configuration
/// error such as FCM `SENDER_ID_MISMATCH` (gauge).
pub const SERVICE_CONFIG_ERROR: &str = "relay_service_config_error";
/// `relay_credential_expiry_timestamp_seconds{service}`: when credentials expire, Unix seconds;
/// 0 means unknown (gauge).
pub const CREDENTIAL_EXPIRY: &str = "relay_credential_expiry_timestamp_seconds";
/// `relay_swarms`: valid swarms in the node list (gauge, set by the admin sampler from
/// `SwarmStatus`).
pub const SWARMS: &str = "relay_swarms";
/// `relay_swarms_connected`: swarms with at least one connected member (gauge, as above).
pub const SWARMS_CONNECTED: &str = "relay_swarms_connected";
/// `relay_ready`: 1 while `/health/ready` would answer 200 (gauge, for alerts).
pub const READY: &str = "relay_ready";

/// The `result` value of [`PUSH_TOTAL`] for a push the provider accepted.
pub const RESULT_DELIVERED: &str = "delivered";
/// The `result` value of [`SWARM_MONITOR_REQUESTS`] for success.
pub const RESULT_OK: &str = "ok";
/// The `result` values of [`SUBSCRIBE_REQUESTS`] that mean success (subscribe: added or
/// updated; unsubscribe: removed or not found, both answer `success: true`).
pub const SUBSCRIBE_SUCCESS: &[&str] = &["added", "updated", "removed", "not_found"];

/// Every metric the relay exports (process metrics are in `process.rs`); the dashboard and
/// alert rules may use only these.
pub const NAMES: &[&str] = &[
    SUBSCRIPTIONS,
    SUBSCRIBE_REQUESTS,
    ONION_REQUESTS,
    SWARM_NODES,
    SWARM_CONNECTIONS,
    SWARM_MONITOR_REQUESTS,
    SWARM_NOTIFICATIONS,
    DEDUP_DROPPED,
    PUSH_TOTAL,
    PUSH_FAILURES,
    PUSH_DURATION,
    PUSH_QUEUE_DEPTH,
    PUSH_QUEUE_WAIT,
    END_TO_END,
    TOKENS_REMOVED,
    BREAKER_OPEN,
    SERVICE_CONFIG_ERROR,
    CREDENTIAL_EXPIRY,
    SWARMS,
    SWARMS_CONNECTED,
    READY,
    process::CPU_SECONDS,
    process::RESIDENT_MEMORY,
    process::OPEN_FDS,
    process::START_TIME,
];

/// Histogram buckets, seconds: push latency spans sub-millisecond mocks to 30 s timeouts.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Result<PrometheusHandle, AdminError>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (first call) and returns its handle; later
/// calls, from `app` or from many tests in one process, return the same handle.
pub fn install() -> Result<PrometheusHandle, AdminError> {
    let installed = HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .and_then(|b| b.install_recorder())
            .map_err(|e| AdminError::Recorder(Arc::new(e)))?;
        describe();
        register();
        Ok(handle)
    });
    installed.clone()
}

/// Creates every series without labels, so each name shows in `/metrics` from the start.
/// Labelled series appear when first emitted; the unlabelled one stays at 0.
fn register() {
    for name in [
        SUBSCRIBE_REQUESTS,
        ONION_REQUESTS,
        SWARM_MONITOR_REQUESTS,
        SWARM_NOTIFICATIONS,
        DEDUP_DROPPED,
        PUSH_TOTAL,
        PUSH_FAILURES,
        TOKENS_REMOVED,
    ] {
        metrics::counter!(name).absolute(0);
    }
    for name in [
        SUBSCRIPTIONS,
        SWARM_NODES,
        SWARM_CONNECTIONS,
        PUSH_QUEUE_DEPTH,
        BREAKER_OPEN,
        SERVICE_CONFIG_ERROR,
        CREDENTIAL_EXPIRY,
        SWARMS,
        SWARMS_CONNECTED,
        READY,
    ] {
        metrics::gauge!(name).set(0.0);
    }
    for name in [PUSH_DURATION, PUSH_QUEUE_WAIT, END_TO_END] {
        // Registering the handle is enough: the exporter renders empty buckets.
        let _ = metrics::histogram!(name);
    }
}

fn describe() {
    describe_gauge!(SUBSCRIPTIONS, "Unexpired subscriptions per service.");
    describe_counter!(SUBSCRIBE_REQUESTS, "Subscribe and unsubscribe replies.");
    describe_counter!(ONION_REQUESTS, "Onion v4 requests by encryption type.");
    describe_gauge!(SWARM_NODES, "Usable service nodes in the node list.");
    describe_gauge!(
        SWARM_CONNECTIONS,
        "Connections to storage servers by state."
    );
    describe_counter!(SWARM_MONITOR_REQUESTS, "monitor.messages requests sent.");
    describe_counter!(
        SWARM_NOTIFICATIONS,
        "Valid notify.message messages received."
    );
    describe_counter!(DEDUP_DROPPED, "Notifications dropped as duplicates.");
    describe_counter!(
        PUSH_TOTAL,
        "Push outcomes per service; delivered is success."
    );
    describe_counter!(
        PUSH_FAILURES,
        "Failed pushes per service and provider reason."
    );
    describe_histogram!(PUSH_DURATION, Unit::Seconds, "Provider request latency.");
    describe_gauge!(PUSH_QUEUE_DEPTH, "Pushes waiting in a service's queue.");
    describe_histogram!(
        PUSH_QUEUE_WAIT,
        Unit::Seconds,
        "Time pushes waited in queue."
    );
    describe_histogram!(
        END_TO_END,
        Unit::Seconds,
        "Notify received to provider accepted."
    );
    describe_counter!(
        TOKENS_REMOVED,
        "Device tokens deleted after a provider verdict."
    );
    describe_gauge!(BREAKER_OPEN, "1 while a service's circuit breaker is open.");
    describe_gauge!(
        SERVICE_CONFIG_ERROR,
        "1 while a service is stopped by a configuration error (FCM SENDER_ID_MISMATCH)."
    );
    describe_gauge!(
        CREDENTIAL_EXPIRY,
        "When a service's credentials expire, Unix seconds (0 = unknown)."
    );
    describe_gauge!(SWARMS, "Valid swarms in the node list.");
    describe_gauge!(
        SWARMS_CONNECTED,
        "Swarms with at least one connected member."
    );
    describe_gauge!(READY, "1 while the relay is ready (database, swarm).");
}

/// `GET /metrics`: the recorder's text plus process metrics read from /proc now.
pub(super) async fn get(State(state): State<AdminState>) -> impl IntoResponse {
    let mut body = state.prometheus.render();
    body.push_str(&process::render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for name in NAMES {
            assert!(seen.insert(name), "{name} listed twice");
            assert!(
                name.starts_with("relay_") || name.starts_with("process_"),
                "{name}"
            );
        }
    }

    #[test]
    fn buckets_span_half_a_millisecond_to_thirty_seconds() {
        assert_eq!(BUCKETS.first(), Some(&0.0005));
        assert_eq!(BUCKETS.last(), Some(&30.0));
        assert!(BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
