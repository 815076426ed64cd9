//! The Prometheus recorder, the names of every relay metric, and `GET /metrics`.
//!
//! Every metric name lives here, once, in [`METRICS`] (the `metric_table!` below): other modules
//! emit with the `metrics` macros and these constants (`metrics::counter!(PUSH_TOTAL, "service"
//! => name, "result" => "delivered")`), never a string literal. This file also installs the
//! recorder they write to, once per process.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::{process, AdminError, AdminState};

/// What kind of series a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count (seconds).
    Histogram,
}

/// When a metric's series first appear in `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Unlabelled, at 0 from the first scrape.
    Zero,
    /// One series per configured service ([`init_services`]); `relay_push_total` with
    /// `result="delivered"`.
    PerService,
    /// When first emitted (its labels come from a closed set seen at run time).
    OnEmit,
    /// Only while the value is known (absent = unknown).
    WhenKnown,
    /// Constant 1, from the first scrape.
    Info,
    /// Read from `/proc` at each scrape (Linux).
    Scrape,
}

/// One metric the relay exports.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Full name.
    pub name: &'static str,
    /// Series type.
    pub kind: Kind,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// When its series appear.
    pub init: Init,
    /// `# HELP` text and the README's "meaning".
    pub help: &'static str,
}

/// Declares every metric once: the name constant, and its row in [`METRICS`] and [`NAMES`].
macro_rules! metric_table {
    ($( $(#[$doc:meta])* $id:ident = $name:expr, $kind:ident, [$($label:literal),*], $init:ident,
        $help:literal; )*) => {
        $( $(#[$doc])* pub const $id: &str = $name; )*

        /// Every metric the relay exports: the one list that emit sites, `/metrics`, the README
        /// table, the dashboard and the alert rules are checked against.
        pub const METRICS: &[Metric] = &[$(
            Metric { name: $id, kind: Kind::$kind, labels: &[$($label),*], init: Init::$init,
                help: $help },
        )*];

        /// The names of [`METRICS`].
        pub const NAMES: &[&str] = &[$($id,)*];
    };
}

metric_table! {
    /// `relay_build_info{version}`: constant 1; the version label is the relay's.
    BUILD_INFO = "relay_build_info", Gauge, ["version"], Info,
        "Constant 1; the version label is the running relay's version.";
    /// `relay_subscriptions{service}`: unexpired subscriptions (gauge).
    SUBSCRIPTIONS = "relay_subscriptions", Gauge, ["service"], PerService,
        "Unexpired subscriptions per service.";
    /// `relay_subscribe_requests_total{endpoint,result}`: `/subscribe` and `/unsubscribe` replies.
    SUBSCRIBE_REQUESTS = "relay_subscribe_requests_total", Counter, ["endpoint", "result"], OnEmit,
        "Subscribe and unsubscribe replies; success is result added, updated, removed or not_found.";
    /// `relay_onion_requests_total{enc_type,result}`: onion v4 requests.
    ONION_REQUESTS = "relay_onion_requests_total", Counter, ["enc_type", "result"], OnEmit,
        "Onion v4 requests by encryption type and result.";
    /// `relay_api_body_refused_total{reason}`: request bodies refused before a slot (budget full,
    /// too slow, too large).
    API_BODY_REFUSED = "relay_api_body_refused_total", Counter, ["reason"], OnEmit,
        "Request bodies refused on the public listener before processing, by reason.";
    /// `relay_api_shed_total{reason}`: requests answered "retry later" (no slot, timeout).
    API_SHED = "relay_api_shed_total", Counter, ["reason"], OnEmit,
        "Requests answered retry later for lack of a processing slot or time, by reason.";
    /// `relay_api_rate_limited_total`: subscribes/unsubscribes over the per-account rate.
    API_RATE_LIMITED = "relay_api_rate_limited_total", Counter, [], Zero,
        "Subscribe and unsubscribe elements refused by the per-account rate limit.";
    /// `relay_api_rate_table_full_total`: accounts let through because the rate table was full.
    API_RATE_TABLE_FULL = "relay_api_rate_table_full_total", Counter, [], Zero,
        "Accounts let through unlimited because the per-account rate table was full.";
    /// `relay_swarm_nodes`: usable service nodes in the node list (gauge).
    SWARM_NODES = "relay_swarm_nodes", Gauge, [], Zero,
        "Usable service nodes in the node list.";
    /// `relay_swarm_connections{state}`: connections to storage servers by state (gauge).
    SWARM_CONNECTIONS = "relay_swarm_connections", Gauge, ["state"], OnEmit,
        "Connections to storage servers by state (connected, connecting, cooldown).";
    /// `relay_swarm_monitor_requests_total{result}`: `monitor.messages` requests sent.
    SWARM_MONITOR_REQUESTS = "relay_swarm_monitor_requests_total", Counter, ["result"], OnEmit,
        "monitor.messages requests sent, by result.";
    /// `relay_swarm_monitor_item_failures_total{errcode}`: accounts a storage server refused in
    /// a `monitor.messages` reply.
    SWARM_MONITOR_ITEM_FAILURES = "relay_swarm_monitor_item_failures_total", Counter, ["errcode"],
        OnEmit, "Accounts a storage server refused in a monitor.messages reply, by error code.";
    /// `relay_swarm_notifications_total`: valid `notify.message` messages received.
    SWARM_NOTIFICATIONS = "relay_swarm_notifications_total", Counter, [], Zero,
        "Valid notify.message messages received.";
    /// `relay_swarm_notifications_dropped_total{reason}`: notifications dropped on intake.
    SWARM_NOTIFICATIONS_DROPPED = "relay_swarm_notifications_dropped_total", Counter, ["reason"],
        OnEmit, "Notifications dropped on intake (malformed, queue_full, not_owner).";
    /// `relay_swarms`: valid swarms in the node list (gauge, set by the admin sampler).
    SWARMS = "relay_swarms", Gauge, [], Zero,
        "Valid swarms in the node list.";
    /// `relay_swarms_connected`: swarms with at least one connected member (gauge).
    SWARMS_CONNECTED = "relay_swarms_connected", Gauge, [], Zero,
        "Swarms with at least one connected member.";
    /// `relay_delivery_notifications_total`: notifications the delivery task took from its
    /// queue, each looked up in the index and fanned out to its devices' queues.
    DELIVERY_NOTIFICATIONS = "relay_delivery_notifications_total", Counter, [], Zero,
        "Notifications the delivery task took from its queue (intake's drops and swarm copies excluded).";
    /// `relay_dedup_dropped_total`: notifications dropped as duplicates.
    DEDUP_DROPPED = "relay_dedup_dropped_total", Counter, [], Zero,
        "Notifications dropped as duplicates.";
    /// `relay_push_total{service,result}`: push outcomes; `result="delivered"` is success.
    PUSH_TOTAL = "relay_push_total", Counter, ["service", "result"], PerService,
        "Push outcomes per service; result delivered is success.";
    /// `relay_push_retried_total{service}`: pushes delivered after one or more retries.
    PUSH_RETRIED = "relay_push_retried_total", Counter, ["service"], OnEmit,
        "Pushes delivered after one or more retries (upstream notify_retries).";
    /// `relay_push_failures_total{service,reason}`: failed pushes by provider reason.
    PUSH_FAILURES = "relay_push_failures_total", Counter, ["service", "reason"], OnEmit,
        "Failed pushes per service and provider reason.";
    /// `relay_push_duration_seconds{service}`: provider request latency (histogram).
    PUSH_DURATION = "relay_push_duration_seconds", Histogram, ["service"], PerService,
        "Provider request latency.";
    /// `relay_push_queue_depth{service}`: pushes waiting in a service's queue (gauge).
    PUSH_QUEUE_DEPTH = "relay_push_queue_depth", Gauge, ["service"], PerService,
        "Pushes waiting in a service's queue.";
    /// `relay_push_queue_wait_seconds{service}`: time a push waited in its queue (histogram).
    PUSH_QUEUE_WAIT = "relay_push_queue_wait_seconds", Histogram, ["service"], PerService,
        "Time pushes waited in their service's queue.";
    /// `relay_end_to_end_seconds`: notify received → provider accepted (histogram).
    END_TO_END = "relay_end_to_end_seconds", Histogram, [], Zero,
        "Notify received to provider accepted.";
    /// `relay_tokens_removed_total{service,reason}`: device tokens deleted after a verdict.
    TOKENS_REMOVED = "relay_tokens_removed_total", Counter, ["service", "reason"], OnEmit,
        "Device tokens deleted after a provider verdict.";
    /// `relay_breaker_open{service}`: 1 while a service's circuit breaker is open (gauge).
    BREAKER_OPEN = "relay_breaker_open", Gauge, ["service"], PerService,
        "1 while a service's circuit breaker is open.";
    /// `relay_service_config_error{service}`: 1 while a service is stopped by a configuration
    /// error such as FCM `SENDER_ID_MISMATCH` (gauge).
    SERVICE_CONFIG_ERROR = "relay_service_config_error", Gauge, ["service"], PerService,
        "1 while a service is stopped by a configuration error (FCM SENDER_ID_MISMATCH).";
    /// `relay_credential_expiry_timestamp_seconds{service}`: when the long-lived credential
    /// expires (an APNs certificate's notAfter), Unix seconds; absent when it has no known
    /// expiry (APNs .p8 key, FCM service-account key, HMS app secret).
    CREDENTIAL_EXPIRY = "relay_credential_expiry_timestamp_seconds", Gauge, ["service"], WhenKnown,
        "When a service's long-lived credential expires (certificate notAfter), Unix seconds; absent when unknown.";
    /// `relay_oauth_token_expiry_timestamp_seconds{service}`: when the current OAuth access
    /// token (FCM, HMS; renewed about hourly) expires, Unix seconds.
    OAUTH_TOKEN_EXPIRY = "relay_oauth_token_expiry_timestamp_seconds", Gauge, ["service"],
        WhenKnown, "When the current OAuth access token (renewed automatically) expires, Unix seconds.";
    /// `relay_cluster_replicas`: live replicas this replica sees in the database (gauge;
    /// `[cluster] enabled` only).
    CLUSTER_REPLICAS = "relay_cluster_replicas", Gauge, [], OnEmit,
        "Live replicas sharing the database, as this replica last saw them ([cluster] only).";
    /// `relay_cluster_swarms_owned`: swarms whose lease this replica holds (gauge).
    CLUSTER_SWARMS_OWNED = "relay_cluster_swarms_owned", Gauge, [], OnEmit,
        "Swarms whose lease this replica holds ([cluster] only).";
    /// `relay_cluster_handovers_total{reason}`: swarms gained or lost by this replica.
    CLUSTER_HANDOVERS = "relay_cluster_handovers_total", Counter, ["reason"], OnEmit,
        "Swarm leases gained (new, expired, handed_over) or given up (released, lost) by this replica.";
    /// `relay_cluster_overlap_notifications_total`: notification copies this replica forwarded
    /// for a swarm it was taking over, before the old owner let go (an upper bound of the
    /// duplicates a graceful handover may cause).
    CLUSTER_OVERLAP_NOTIFICATIONS = "relay_cluster_overlap_notifications_total", Counter, [],
        OnEmit, "Notification copies forwarded for a swarm being taken over before the old owner let go (upper bound of handover duplicates).";
    /// `relay_ready`: 1 while `/health/ready` would answer 200 (gauge, for alerts).
    READY = "relay_ready", Gauge, [], Zero,
        "1 while the relay is ready (database, swarm, a push service).";
    /// `process_cpu_seconds_total`.
    CPU_SECONDS = process::CPU_SECONDS, Counter, [], Scrape,
        "User and system CPU time, seconds.";
    /// `process_resident_memory_bytes`.
    RESIDENT_MEMORY = process::RESIDENT_MEMORY, Gauge, [], Scrape,
        "Resident memory, bytes.";
    /// `process_open_fds`.
    OPEN_FDS = process::OPEN_FDS, Gauge, [], Scrape,
        "Open file descriptors.";
    /// `process_start_time_seconds`.
    START_TIME = process::START_TIME, Gauge, [], Scrape,
        "Process start, Unix seconds.";
}

/// The `result` value of [`PUSH_TOTAL`] for a push the provider accepted.
pub const RESULT_DELIVERED: &str = "delivered";
/// The `result` value of [`SWARM_MONITOR_REQUESTS`] for success.
pub const RESULT_OK: &str = "ok";
/// The `result` values of [`SUBSCRIBE_REQUESTS`] that mean success (subscribe: added or
/// updated; unsubscribe: removed or not found, both answer `success: true`).
pub const SUBSCRIBE_SUCCESS: &[&str] = &["added", "updated", "removed", "not_found"];
/// The subscribe result of a new row (upstream `subscription`).
pub const SUBSCRIBE_ADDED: &str = "added";
/// The subscribe result of a renewed row (upstream `sub_renew`).
pub const SUBSCRIBE_UPDATED: &str = "updated";

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

/// Creates the unlabelled series ([`Init::Zero`]) at 0 and `relay_build_info`. Labelled
/// series never get an unlabelled twin: they appear per service ([`init_services`]) or when
/// first emitted.
fn register() {
    for m in METRICS {
        match (m.init, m.kind) {
            (Init::Zero, Kind::Counter) => metrics::counter!(m.name).absolute(0),
            (Init::Zero, Kind::Gauge) => metrics::gauge!(m.name).set(0.0),
            // Registering the handle is enough: the exporter renders empty buckets.
            (Init::Zero, Kind::Histogram) => drop(metrics::histogram!(m.name)),
            _ => {}
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Creates the [`Init::PerService`] series of every configured service at 0, so rates and
/// alerts see each service from the first scrape (`app` calls it at start).
pub fn init_services<'a>(services: impl IntoIterator<Item = &'a str>) {
    for service in services {
        for m in METRICS.iter().filter(|m| m.init == Init::PerService) {
            let service = service.to_owned();
            match (m.kind, m.name) {
                (Kind::Counter, PUSH_TOTAL) => {
                    metrics::counter!(m.name, "service" => service, "result" => RESULT_DELIVERED)
                        .absolute(0)
                }
                (Kind::Counter, _) => metrics::counter!(m.name, "service" => service).absolute(0),
                (Kind::Gauge, _) => metrics::gauge!(m.name, "service" => service).set(0.0),
                (Kind::Histogram, _) => drop(metrics::histogram!(m.name, "service" => service)),
            }
        }
    }
}

fn describe() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => describe_counter!(m.name, m.help),
            Kind::Gauge => describe_gauge!(m.name, m.help),
            Kind::Histogram => describe_histogram!(m.name, Unit::Seconds, m.help),
        }
    }
}

/// The README's metrics table (section "Metrics" under "Observability"), generated from
/// [`METRICS`]; a test keeps the README equal to it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| metric | type | labels | from the first scrape | meaning |\n|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let kind = match m.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let labels: Vec<String> = m.labels.iter().map(|l| format!("`{l}`")).collect();
        let init = match m.init {
            Init::Zero => "0",
            Init::PerService => "0 per configured service",
            Init::OnEmit => "when first emitted",
            Init::WhenKnown => "only while known",
            Init::Info => "1",
            Init::Scrape => "read from /proc (Linux)",
        };
        out.push_str(&format!(
            "| `{}` | {kind} | {} | {init} | {} |\n",
            m.name,
            labels.join(", "),
            m.help
        ));
    }
    out
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
