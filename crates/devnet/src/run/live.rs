//! What devnet prints while it runs: a line each second from the relay's `/metrics` and the
//! ledger, and the summary at the end.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::ledger::Ledger;
use super::report::{Counters, Latency, Report};
use super::verdict::{Progress, Verdict};

/// Reads the relay's admin `/metrics`.
#[derive(Clone)]
pub struct MetricsReader {
    client: reqwest::Client,
    url: String,
}

impl MetricsReader {
    /// A reader of `admin_url` + `/metrics`.
    pub fn new(admin_url: &str) -> anyhow::Result<Self> {
        Ok(MetricsReader {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            url: format!("{}/metrics", admin_url.trim_end_matches('/')),
        })
    }

    /// The Prometheus text.
    pub async fn fetch(&self) -> anyhow::Result<String> {
        let response = self.client.get(&self.url).send().await?;
        Ok(response.error_for_status()?.text().await?)
    }

    /// The Prometheus text once the relay counts at least `pushes` delivered pushes and
    /// `copies` notifications taken in (the last copy of a message can trail its push), or the
    /// last reading after `limit`. A mock records a push before the relay reads its answer,
    /// so the relay's counter trails the ledger by the pushes in flight; no signal crosses the
    /// HTTP boundary, hence the short polling.
    pub async fn settled(
        &self,
        pushes: u64,
        copies: u64,
        limit: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + limit;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tick.tick().await;
            let text = self.fetch().await?;
            let counters = Counters::from_metrics(&text);
            let counted: f64 = counters.delivered().values().sum();
            let settled = counted >= pushes as f64 && counters.notifications >= copies as f64;
            if settled || Instant::now() >= deadline {
                return Ok(text);
            }
        }
    }
}

/// The relay's `/metrics` is read for the live line this often, not every second: a scrape
/// costs the relay CPU (it counts its descriptors, ≈ 4,000 at 2,000 nodes: ≈ 3 % of its
/// samples at one scrape a second), and push_load measures that CPU.
const SCRAPE_EVERY_SECS: u64 = 5;

/// Prints a live line each second (relay counters as of the last scrape) until `stop` is
/// cancelled.
pub async fn run(
    metrics: &MetricsReader,
    ledger: &Ledger,
    started: Instant,
    stop: &CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The first tick is immediate; the first line comes a second in.
    tick.tick().await;
    let mut counters = Counters::default();
    for second in 0u64.. {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if second % SCRAPE_EVERY_SECS == 0 {
            match metrics.fetch().await {
                Ok(text) => counters = Counters::from_metrics(&text),
                Err(e) => println!("metrics unavailable: {e}"),
            }
        }
        let mut window = ledger.take_window();
        window.sort_unstable();
        let line = line(
            started.elapsed(),
            &counters,
            &ledger.progress(),
            &Latency::of(&window),
        );
        println!("{line}");
    }
}

/// One live line.
pub fn line(elapsed: Duration, c: &Counters, p: &Progress, window: &Latency) -> String {
    let pushes: Vec<String> = p
        .by_service
        .iter()
        .map(|(service, n)| format!("{service} {n}"))
        .collect();
    let pushes = if pushes.is_empty() {
        "0".to_string()
    } else {
        pushes.join(" ")
    };
    let e2e = if window.samples == 0 {
        "-".to_string()
    } else {
        format!("p50 {:.1} ms p99 {:.1} ms", window.p50_ms, window.p99_ms)
    };
    format!(
        "{:>4}s  subscriptions {}  notifications {}  pushes {pushes}  e2e {e2e}  errors {}",
        elapsed.as_secs(),
        c.subscriptions,
        c.notifications,
        p.errors + c.failed() as u64,
    )
}

/// The summary printed at the end.
pub fn summary(report: &Report, verdict: &Verdict) -> String {
    let r = report;
    let mut out = format!(
        "\nsummary\n\
         \x20 subscribe   {} accepted, {} failed, {:.0}/s\n\
         \x20 offered     {} messages ({:.1}/s) → {} pushes expected\n\
         \x20 delivered   {} pushes verified ({:.1}/s), {} missing, {} duplicated\n\
         \x20 end-to-end  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n\
         \x20 relay       {} notifications, {} dedup drops, {} push failures\n",
        r.subscribe.accepted,
        r.subscribe.failed,
        r.subscribe.per_second,
        r.offered.messages,
        r.offered.messages_per_second,
        r.offered.pushes_expected,
        r.achieved.pushes,
        r.achieved.pushes_per_second,
        verdict.missing,
        verdict.duplicated,
        r.latency.p50_ms,
        r.latency.p90_ms,
        r.latency.p99_ms,
        r.latency.max_ms,
        r.counters.notifications,
        r.counters.dedup_dropped,
        r.counters.failed(),
    );
    if let Some(p) = &r.relay_process {
        out.push_str(&format!(
            "  relay pid   {} CPU {:.3} s (user {:.3}, system {:.3}) = {:.1} µs per push; \
             idle {:.4} cores; RSS {} MiB, {:.0} B more per subscription ({:.0} B whole process)\n",
            p.pid,
            p.message_phase_cpu_seconds,
            p.message_phase_user_seconds,
            p.message_phase_system_seconds,
            p.cpu_us_per_push.unwrap_or(f64::NAN),
            p.idle_cores,
            p.rss_monitored_bytes >> 20,
            p.rss_growth_per_subscription_bytes.unwrap_or(f64::NAN),
            p.rss_whole_process_per_subscription_bytes
                .unwrap_or(f64::NAN),
        ));
    }
    for (kind, n) in &verdict.faults {
        out.push_str(&format!("  fault       {n} × {kind}\n"));
    }
    for example in &verdict.examples {
        out.push_str(&format!("  e.g.        {example}\n"));
    }
    out.push_str(if r.outcome.passed {
        "PASS: every message reached every subscribed device exactly once, every payload verified"
    } else {
        "FAIL: see above"
    });
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_live_line_names_each_figure() {
        let counters = Counters {
            subscriptions: 150.0,
            notifications: 1203.0,
            ..Counters::default()
        };
        let progress = Progress {
            by_service: BTreeMap::from([("apns", 120), ("firebase", 60)]),
            errors: 1,
            ..Progress::default()
        };
        let window = Latency {
            samples: 10,
            p50_ms: 1.3,
            p99_ms: 4.0,
            ..Latency::default()
        };
        let line = line(Duration::from_secs(3), &counters, &progress, &window);
        assert_eq!(
            line,
            "   3s  subscriptions 150  notifications 1203  pushes apns 120 firebase 60  \
             e2e p50 1.3 ms p99 4.0 ms  errors 1"
        );
        let quiet = super::line(
            Duration::ZERO,
            &Counters::default(),
            &Progress::default(),
            &Latency::default(),
        );
        assert!(quiet.contains("pushes 0  e2e -"), "{quiet}");
    }
}
