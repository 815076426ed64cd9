//! The devnet run's figures: latency percentiles, the relay's counters read back from its
//! `/metrics`, process readings, and the `--report FILE` JSON built from them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::verdict::Verdict;
use relay::admin::metrics as names;
use relay::admin::scrape::Scrape;

/// Printed in the report: CPU and memory are the whole process's.
pub const NOTE: &str = "devnet runs the relay, fake oxend, fake storage nodes, mock providers and \
                    simulated clients in one process: CPU and memory figures include all of them";

/// Printed in the report when the relay ran as its own process.
pub const NOTE_PROCESS: &str = "the relay ran as its own process: cpu_seconds (from its /metrics) and \
                    relay_process (from /proc/PID) are the relay's alone; peak_rss_bytes is the load generator's";

/// `process_cpu_seconds_total`, rendered on `/metrics` by the admin module.
const CPU_SECONDS: &str = "process_cpu_seconds_total";

/// What the run was asked to do.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Storage nodes.
    pub nodes: usize,
    /// Swarms they form.
    pub swarms: usize,
    /// Simulated accounts.
    pub accounts: usize,
    /// Devices subscribed for them.
    pub devices: usize,
    /// Offered messages per second.
    pub rate: u32,
    /// Seconds of offering.
    pub duration_secs: u64,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// Nearest-rank percentiles of end-to-end latency, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Measured first deliveries.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of `sorted` (ascending); zeros when empty.
    pub fn of(sorted: &[Duration]) -> Latency {
        let Some(max) = sorted.last() else {
            return Latency::default();
        };
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| {
            let rank = (q * sorted.len() as f64).ceil() as usize;
            ms(&sorted[rank.clamp(1, sorted.len()) - 1])
        };
        Latency {
            samples: sorted.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: ms(max),
        }
    }
}

/// The subscribe phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SubscribePhase {
    /// Subscribes the relay accepted.
    pub accepted: usize,
    /// Subscribes that failed (transport, onion or relay error).
    pub failed: usize,
    /// How long the phase took, seconds.
    pub seconds: f64,
    /// Accepted subscribes per second.
    pub per_second: f64,
}

/// The relay's per-stage counters, from its `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counters {
    /// `relay_swarm_notifications_total`: notifications accepted from storage nodes.
    pub notifications: f64,
    /// `relay_swarm_notifications_dropped_total` by reason.
    pub notifications_dropped: BTreeMap<String, f64>,
    /// `relay_dedup_dropped_total`: copies from other swarm members.
    pub dedup_dropped: f64,
    /// `relay_push_total` by service, then result.
    pub pushes: BTreeMap<String, BTreeMap<String, f64>>,
    /// `relay_push_failures_total` by service, then reason.
    pub failures: BTreeMap<String, BTreeMap<String, f64>>,
    /// `relay_tokens_removed_total`.
    pub tokens_removed: f64,
    /// `relay_subscriptions`, summed over services.
    pub subscriptions: f64,
}

impl Counters {
    /// Reads the counters out of a `/metrics` text.
    pub fn from_metrics(text: &str) -> Counters {
        let scrape = Scrape::parse(text);
        Counters {
            notifications: scrape.sum(names::SWARM_NOTIFICATIONS, &[]),
            notifications_dropped: scrape.by(
                "relay_swarm_notifications_dropped_total",
                "reason",
                &[],
            ),
            dedup_dropped: scrape.sum(names::DEDUP_DROPPED, &[]),
            pushes: nest(scrape.by2(names::PUSH_TOTAL, "service", "result")),
            failures: nest(scrape.by2(names::PUSH_FAILURES, "service", "reason")),
            tokens_removed: scrape.sum(names::TOKENS_REMOVED, &[]),
            subscriptions: scrape.sum(names::SUBSCRIPTIONS, &[]),
        }
    }

    /// Pushes the relay counted as delivered, by service.
    pub fn delivered(&self) -> BTreeMap<&str, f64> {
        self.pushes
            .iter()
            .map(|(service, results)| {
                let n = results.get(names::RESULT_DELIVERED).copied().unwrap_or(0.0);
                (service.as_str(), n)
            })
            .collect()
    }

    /// Every push failure the relay counted.
    pub fn failed(&self) -> f64 {
        // A fold from 0.0: an empty f64 sum is -0.0, which would print as "-0".
        self.failures
            .values()
            .flat_map(|r| r.values())
            .fold(0.0, |a, b| a + b)
    }
}

fn nest(flat: BTreeMap<(String, String), f64>) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for ((a, b), v) in flat {
        out.entry(a).or_default().insert(b, v);
    }
    out
}

/// Process CPU seconds (user + system) as `/metrics` renders them.
pub fn cpu_seconds(metrics: &str) -> f64 {
    Scrape::parse(metrics).sum(CPU_SECONDS, &[])
}

/// Peak resident set size (`VmHWM` of `/proc/self/status`), bytes; `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Offered load.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Offered {
    /// Messages offered.
    pub messages: u64,
    /// Messages per second over the offering phase.
    pub messages_per_second: f64,
    /// (message, device) pushes those messages should cause.
    pub pushes_expected: u64,
    /// Expected pushes per second over the offering phase.
    pub pushes_per_second: f64,
}

/// Achieved delivery.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Achieved {
    /// Distinct (message, device) pushes delivered and verified.
    pub pushes: u64,
    /// Those per second, from the first offer to the last verified push.
    pub pushes_per_second: f64,
}

/// The ledger's account of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// Every message reached every subscribed device exactly once and every payload verified.
    pub passed: bool,
    /// Expected pairs never delivered.
    pub missing: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Pushes that did not verify, by kind.
    pub faults: BTreeMap<&'static str, u64>,
}

impl From<&Verdict> for Outcome {
    fn from(v: &Verdict) -> Self {
        Outcome {
            passed: v.passed(),
            missing: v.missing,
            duplicated: v.duplicated,
            faults: v.faults.clone(),
        }
    }
}

/// The `--report FILE` document.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What the CPU and memory figures cover.
    pub note: &'static str,
    /// The run's settings.
    pub settings: Settings,
    /// The subscribe phase.
    pub subscribe: SubscribePhase,
    /// Offered load.
    pub offered: Offered,
    /// Achieved delivery.
    pub achieved: Achieved,
    /// End-to-end latency, from storing a message to the mock provider's receipt.
    pub latency: Latency,
    /// Process CPU seconds during the message phase.
    pub cpu_seconds: f64,
    /// `cpu_seconds` per delivered push.
    pub cpu_seconds_per_push: Option<f64>,
    /// Peak resident set size of the process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// The relay's counters at the end of the run.
    pub counters: Counters,
    /// The relay process's own CPU and memory, when it ran as a child process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_process: Option<super::process::RelayProcessFigures>,
    /// The ledger's verdict.
    pub outcome: Outcome,
}

/// Writes `report` as pretty JSON to `path`.
pub fn write(report: &Report, path: &std::path::Path) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(report)?;
    std::fs::write(path, json)
        .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::of(&sorted);
        assert_eq!(l.samples, 100);
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        let one = Latency::of(&[Duration::from_millis(3)]);
        assert_eq!((one.p50_ms, one.p99_ms), (3.0, 3.0));
        assert_eq!(Latency::of(&[]), Latency::default());
    }

    #[test]
    fn counters_are_read_from_prometheus_text() {
        let text = "\
# TYPE relay_push_total counter
relay_push_total{service=\"apns\",result=\"delivered\"} 7
relay_push_total{service=\"apns\",result=\"failed\"} 1
relay_push_total{service=\"firebase\",result=\"delivered\"} 3
relay_push_failures_total{service=\"apns\",reason=\"timeout\"} 1
relay_swarm_notifications_total 30
relay_swarm_notifications_dropped_total{reason=\"queue_full\"} 2
relay_dedup_dropped_total 20
relay_subscriptions{service=\"apns\"} 4
relay_subscriptions{service=\"firebase\"} 2
process_cpu_seconds_total 1.5
";
        let c = Counters::from_metrics(text);
        assert_eq!(c.notifications, 30.0);
        assert_eq!(c.dedup_dropped, 20.0);
        assert_eq!(c.notifications_dropped["queue_full"], 2.0);
        assert_eq!(c.pushes["apns"]["failed"], 1.0);
        assert_eq!(
            c.delivered(),
            BTreeMap::from([("apns", 7.0), ("firebase", 3.0)])
        );
        assert_eq!(c.failed(), 1.0);
        assert_eq!(Counters::default().failed().to_string(), "0");
        assert_eq!(c.subscriptions, 6.0);
        assert_eq!(cpu_seconds(text), 1.5);
    }

    #[test]
    fn peak_rss_is_vm_hwm_in_bytes() {
        let status = "Name:\trelay\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
        assert!(peak_rss_bytes().is_some_and(|b| b > 0));
    }
}
