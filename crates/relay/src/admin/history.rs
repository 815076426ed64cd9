//! The sampler: every few seconds it runs the recorder's upkeep, re-checks readiness (the
//! `relay_ready` gauge), copies swarm connectivity into `relay_swarms` and
//! `relay_swarms_connected`, and keeps a short history of scrapes for the status page.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::health::{self, Readiness};
use super::metrics as names;
use super::scrape::Scrape;
use super::AdminState;
use crate::swarm::SwarmStatus;

/// How often the sampler runs in production (the status page's resolution).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

/// Points kept: five minutes at [`SAMPLE_INTERVAL`].
const HISTORY_LEN: usize = 150;

/// The series the status page reads; the rest of each scrape is not kept.
const KEPT: &[&str] = &[
    names::PUSH_TOTAL,
    names::PUSH_FAILURES,
    names::PUSH_QUEUE_DEPTH,
    "relay_end_to_end_seconds_bucket",
    "relay_push_queue_wait_seconds_bucket",
    names::TOKENS_REMOVED,
    names::BREAKER_OPEN,
    names::CREDENTIAL_EXPIRY,
    names::SWARM_CONNECTIONS,
    names::SWARM_NOTIFICATIONS,
    names::DEDUP_DROPPED,
];

/// One sample of the relay.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// Seconds since the admin state was created.
    pub at: f64,
    /// The kept series of the recorder.
    pub scrape: Scrape,
    /// The swarm snapshot, when a swarm source is configured.
    pub swarm: Option<SwarmStatus>,
    /// The readiness checks at that moment.
    pub readiness: Readiness,
}

/// The last [`HISTORY_LEN`] points, oldest first; shared by the sampler and the handlers.
#[derive(Debug, Default)]
pub struct History {
    points: Mutex<VecDeque<Point>>,
}

impl History {
    /// A copy of the points, oldest first.
    pub(crate) fn points(&self) -> Vec<Point> {
        let points = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        points.iter().cloned().collect()
    }

    fn push(&self, point: Point) {
        let mut points = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        if points.len() == HISTORY_LEN {
            points.pop_front();
        }
        points.push_back(point);
    }
}

/// The long-running sampler task; `app` spawns [`Sampler::run`].
pub struct Sampler {
    state: AdminState,
    interval: Duration,
}

impl Sampler {
    /// A sampler over `state` that ticks every `interval` ([`SAMPLE_INTERVAL`] in production).
    pub fn new(state: &AdminState, interval: Duration) -> Self {
        Sampler {
            state: state.clone(),
            interval,
        }
    }

    /// Samples until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                _ = tick.tick() => self.sample().await,
            }
        }
    }

    /// Takes one sample now.
    pub async fn sample(&self) {
        let state = &self.state;
        // Drains histogram samples into buckets; the exporter leaves this to its owner.
        state.prometheus.run_upkeep();
        let readiness = health::check(
            state.store.as_ref(),
            state.swarm.as_ref(),
            state.push_services,
        )
        .await;
        metrics::gauge!(names::READY).set(if readiness.ready() { 1.0 } else { 0.0 });
        let swarm = state.swarm.as_ref().map(|rx| rx.borrow().clone());
        if let Some(s) = &swarm {
            // The connectivity ratio of the readiness rule, for the swarm alert.
            metrics::gauge!(names::SWARMS).set(s.swarms as f64);
            metrics::gauge!(names::SWARMS_CONNECTED).set(s.swarms_connected as f64);
        }
        let scrape = Scrape::parse(&state.prometheus.render()).retain(KEPT);
        state.history.push(Point {
            at: state.started.elapsed().as_secs_f64(),
            scrape,
            swarm,
            readiness,
        });
    }
}

/// A fresh, empty history.
pub(crate) fn new_history() -> Arc<History> {
    Arc::new(History::default())
}
