//! The status page (`GET /`, one self-contained HTML file embedded in the binary) and the JSON
//! it draws from (`GET /status.json`), computed from the sampler's history.
//!
//! Rates come from consecutive points; latency quantiles from each interval's histogram
//! buckets. The page answers the on-call questions: are pushes getting out, how fast, which
//! provider fails and why, is the swarm side healthy.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::response::Html;
use axum::Json;
use serde::Serialize;

use super::health::Readiness;
use super::history::Point;
use super::metrics as names;
use super::scrape::{bucket_delta, quantile, Scrape};
use super::AdminState;
use crate::swarm::SwarmStatus;

const PAGE: &str = include_str!("status.html");

/// What the page draws: series have one value per interval between consecutive points.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    /// Seconds before the last point at which each interval ends.
    ago: Vec<f64>,
    /// Pushes per second by service, every result.
    pushes: BTreeMap<String, Vec<f64>>,
    /// Pushes per second by service that were not delivered.
    failed: BTreeMap<String, Vec<f64>>,
    /// End-to-end latency (notify received → provider accepted), seconds; null when idle.
    latency_p50: Vec<Option<f64>>,
    latency_p99: Vec<Option<f64>>,
    /// Queue depth by service at the end of each interval.
    queue_depth: BTreeMap<String, Vec<f64>>,
    /// 99th percentile of the time pushes waited in queue, seconds.
    queue_wait_p99: Vec<Option<f64>>,
    /// Percentage of swarms with a connected member; null without a swarm source.
    swarm_connected_pct: Option<Vec<f64>>,
    /// The state now, and totals over the whole window.
    now: Now,
}

#[derive(Debug, Default, Serialize)]
struct Now {
    ready: bool,
    checks: Option<Readiness>,
    window_secs: f64,
    services: Vec<ServiceRow>,
    /// Failures over the window by (service, reason), most frequent first.
    failures: Vec<Count>,
    /// Token removals over the window by (service, reason).
    tokens_removed: Vec<Count>,
    notifications_per_sec: f64,
    dedup_dropped_per_sec: f64,
    swarm: Option<SwarmStatus>,
    /// `[cluster]` only: this replica's share of the swarms.
    cluster: Option<crate::cluster::ClusterShare>,
}

#[derive(Debug, Serialize)]
struct ServiceRow {
    service: String,
    pushes_per_sec: f64,
    delivered: f64,
    failed: f64,
    queue_depth: f64,
    breaker_open: bool,
    /// Days until the credentials expire; null when unknown.
    credential_expiry_days: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Count {
    service: String,
    reason: String,
    count: f64,
}

/// `GET /`: the status page.
pub(super) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /status.json`.
pub(super) async fn json(State(state): State<AdminState>) -> Json<Status> {
    let now = crate::clock::unix_now() as f64;
    let mut status = compute(&state.history.points(), now);
    status.now.cluster = state.cluster.as_ref().map(|c| c.share());
    Json(status)
}

/// Builds the page's data from the history; `now_unix` dates credential expiry.
pub(crate) fn compute(points: &[Point], now_unix: f64) -> Status {
    let last = points.last();
    let end = last.map_or(0.0, |p| p.at);
    let pairs: Vec<(&Point, &Point)> = points.windows(2).map(|w| (&w[0], &w[1])).collect();
    let services: BTreeSet<String> = points
        .iter()
        .flat_map(|p| p.scrape.by(names::PUSH_TOTAL, "service", &[]).into_keys())
        .chain(points.iter().flat_map(|p| {
            p.scrape
                .by(names::PUSH_QUEUE_DEPTH, "service", &[])
                .into_keys()
        }))
        .collect();
    let rate_by = |failed_only: bool| -> BTreeMap<String, Vec<f64>> {
        services
            .iter()
            .map(|svc| {
                let series = pairs
                    .iter()
                    .map(|(a, b)| {
                        let v = |p: &Point| pushes(&p.scrape, svc, failed_only);
                        rate(v(a), v(b), b.at - a.at)
                    })
                    .collect();
                (svc.clone(), series)
            })
            .collect()
    };
    let window_quantile = |metric: &str, q: f64| -> Vec<Option<f64>> {
        pairs
            .iter()
            .map(|(a, b)| {
                let d = bucket_delta(
                    &b.scrape.buckets(metric, &[]),
                    &a.scrape.buckets(metric, &[]),
                );
                quantile(q, &d)
            })
            .collect()
    };
    Status {
        ago: pairs.iter().map(|(_, b)| b.at - end).collect(),
        pushes: rate_by(false),
        failed: rate_by(true),
        latency_p50: window_quantile(names::END_TO_END, 0.5),
        latency_p99: window_quantile(names::END_TO_END, 0.99),
        queue_depth: services
            .iter()
            .map(|svc| {
                let depth = |p: &Point| {
                    p.scrape
                        .sum(names::PUSH_QUEUE_DEPTH, &[("service", svc.as_str())])
                };
                (svc.clone(), pairs.iter().map(|(_, b)| depth(b)).collect())
            })
            .collect(),
        queue_wait_p99: window_quantile(names::PUSH_QUEUE_WAIT, 0.99),
        swarm_connected_pct: last.and_then(|p| p.swarm.as_ref()).map(|_| {
            pairs
                .iter()
                .map(|(_, b)| b.swarm.as_ref().map_or(0.0, connected_pct))
                .collect()
        }),
        now: match (points.first(), last) {
            (Some(first), Some(last)) => now(first, last, &services, now_unix),
            _ => Now::default(),
        },
    }
}

fn now(first: &Point, last: &Point, services: &BTreeSet<String>, now_unix: f64) -> Now {
    let window = last.at - first.at;
    let (a, b) = (&first.scrape, &last.scrape);
    let services = services
        .iter()
        .map(|svc| {
            let filter = [("service", svc.as_str())];
            let delivered = |s: &Scrape| pushes(s, svc, false) - pushes(s, svc, true);
            let expiry = b.sum(names::CREDENTIAL_EXPIRY, &filter);
            ServiceRow {
                service: svc.clone(),
                pushes_per_sec: rate(pushes(a, svc, false), pushes(b, svc, false), window),
                delivered: increase(delivered(a), delivered(b)),
                failed: increase(pushes(a, svc, true), pushes(b, svc, true)),
                queue_depth: b.sum(names::PUSH_QUEUE_DEPTH, &filter),
                breaker_open: b.sum(names::BREAKER_OPEN, &filter) > 0.0,
                credential_expiry_days: (expiry > 0.0).then(|| (expiry - now_unix) / 86_400.0),
            }
        })
        .collect();
    let total = |name: &str| rate(a.sum(name, &[]), b.sum(name, &[]), window);
    Now {
        ready: last.readiness.ready(),
        checks: Some(last.readiness.clone()),
        window_secs: window,
        services,
        failures: counts(a, b, names::PUSH_FAILURES),
        tokens_removed: counts(a, b, names::TOKENS_REMOVED),
        notifications_per_sec: total(names::SWARM_NOTIFICATIONS),
        dedup_dropped_per_sec: total(names::DEDUP_DROPPED),
        swarm: last.swarm.clone(),
        cluster: None,
    }
}

/// Pushes of `service` so far: all of them, or only those not delivered.
fn pushes(s: &Scrape, service: &str, failed_only: bool) -> f64 {
    let all = s.sum(names::PUSH_TOTAL, &[("service", service)]);
    if failed_only {
        all - s.sum(
            names::PUSH_TOTAL,
            &[("service", service), ("result", names::RESULT_DELIVERED)],
        )
    } else {
        all
    }
}

/// Increase of a counter between two samples; a counter that went down was reset.
fn increase(before: f64, after: f64) -> f64 {
    if after >= before {
        after - before
    } else {
        after
    }
}

fn rate(before: f64, after: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        increase(before, after) / secs
    } else {
        0.0
    }
}

fn counts(a: &Scrape, b: &Scrape, name: &str) -> Vec<Count> {
    let before = a.by2(name, "service", "reason");
    let mut out: Vec<Count> = b
        .by2(name, "service", "reason")
        .into_iter()
        .filter_map(|(key, after)| {
            let count = increase(before.get(&key).copied().unwrap_or(0.0), after);
            let (service, reason) = key;
            (count > 0.0).then_some(Count {
                service,
                reason,
                count,
            })
        })
        .collect();
    out.sort_by(|x, y| y.count.total_cmp(&x.count));
    out
}

fn connected_pct(s: &SwarmStatus) -> f64 {
    if s.swarms == 0 {
        0.0
    } else {
        100.0 * s.swarms_connected as f64 / s.swarms as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: f64, text: &str, swarm: Option<SwarmStatus>) -> Point {
        Point {
            at,
            scrape: Scrape::parse(text),
            swarm,
            readiness: Readiness {
                database: "ok".into(),
                swarm: None,
                services: None,
            },
        }
    }

    #[test]
    fn rates_failures_and_latency_from_two_points() {
        let p0 = point(
            0.0,
            "relay_push_total{service=\"apns\",result=\"delivered\"} 10\n\
             relay_end_to_end_seconds_bucket{le=\"0.1\"} 0\n\
             relay_end_to_end_seconds_bucket{le=\"1\"} 0\n\
             relay_end_to_end_seconds_bucket{le=\"+Inf\"} 0\n",
            None,
        );
        let p1 = point(
            2.0,
            "relay_push_total{service=\"apns\",result=\"delivered\"} 18\n\
             relay_push_total{service=\"apns\",result=\"retry\"} 2\n\
             relay_push_failures_total{service=\"apns\",reason=\"TooManyRequests\"} 2\n\
             relay_push_queue_depth{service=\"apns\"} 4\n\
             relay_credential_expiry_timestamp_seconds{service=\"apns\"} 864000\n\
             relay_end_to_end_seconds_bucket{le=\"0.1\"} 10\n\
             relay_end_to_end_seconds_bucket{le=\"1\"} 10\n\
             relay_end_to_end_seconds_bucket{le=\"+Inf\"} 10\n",
            None,
        );
        let s = compute(&[p0, p1], 0.0);
        assert_eq!(s.pushes["apns"], vec![5.0]);
        assert_eq!(s.failed["apns"], vec![1.0]);
        assert_eq!(s.queue_depth["apns"], vec![4.0]);
        assert!(s.latency_p50[0].is_some_and(|v| v > 0.0 && v <= 0.1));
        assert!(s.swarm_connected_pct.is_none());
        let row = &s.now.services[0];
        assert_eq!((row.delivered, row.failed), (8.0, 2.0));
        assert_eq!(row.credential_expiry_days, Some(10.0));
        assert_eq!(s.now.failures[0].reason, "TooManyRequests");
    }

    #[test]
    fn idle_intervals_have_no_latency_and_swarm_pct_is_reported() {
        let swarm = SwarmStatus {
            node_list_loaded: true,
            swarms: 4,
            swarms_connected: 3,
            ..SwarmStatus::default()
        };
        let p = |at| point(at, "", Some(swarm.clone()));
        let s = compute(&[p(0.0), p(2.0), p(4.0)], 0.0);
        assert_eq!(s.latency_p99, vec![None, None]);
        assert_eq!(s.swarm_connected_pct, Some(vec![75.0, 75.0]));
        assert_eq!(s.ago, vec![-2.0, 0.0]);
    }

    #[test]
    fn an_oauth_token_expiry_is_not_a_credential_expiry() {
        // FCM: only the hourly access token's expiry is known; the page shows no expiry.
        let text = "relay_push_total{service=\"firebase\",result=\"delivered\"} 1\n\
                    relay_oauth_token_expiry_timestamp_seconds{service=\"firebase\"} 3600\n";
        let s = compute(&[point(0.0, text, None), point(2.0, text, None)], 0.0);
        let row = &s.now.services[0];
        assert_eq!(row.service, "firebase");
        assert_eq!(row.credential_expiry_days, None);
    }

    #[test]
    fn an_empty_history_is_valid() {
        let s = compute(&[], 0.0);
        assert!(s.ago.is_empty() && !s.now.ready);
    }
}
