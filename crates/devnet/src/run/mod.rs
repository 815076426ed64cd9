//! `session-push-relay devnet`: the whole network in one process, a subscribe phase, a message
//! phase at a fixed rate, and a verdict on every push.
//!
//! **Owns:** the simulated users (`population.rs`), the offered load (`load.rs`, `message.rs`),
//! the delivery ledger (`ledger.rs`, `verdict.rs`, fed by `collect.rs`), the live line and
//! summary (`live.rs`) and the `--report` JSON (`report.rs`).
//! **Must not:** start a second harness (the network is [`Network`]'s) or print an account ID,
//! device token or key: faults name messages and devices by number.
//!
//! Flow: start the [`Network`] → subscribe every device through onion requests → wait until
//! every swarm member monitors its accounts → offer messages at `--rate` while the mock readers
//! feed the ledger → wait (bounded) for stragglers → summary, report, exit status.

mod cluster_cpu;
mod collect;
mod ledger;
mod live;
mod load;
mod message;
mod population;
pub mod process;
mod report;
mod verdict;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use self::cluster_cpu::ClusterCpu;
use self::live::MetricsReader;
pub use self::load::wait_monitored;
use self::load::wait_preload_monitored;
use self::population::{subscribe_all, Population};
use self::process::{Probe, RelayProcessFigures};
use self::report::{Achieved, Counters, Latency, Offered, Outcome, Report, Settings};
use crate::network::Network;
use relay::config::Config;
use relay::subscription::AccountId;

/// How long the subscriptions get to reach every member of their swarm.
const MONITOR_WAIT: Duration = Duration::from_secs(30);
/// How long, after the last message is offered, the last pushes get to arrive.
const STRAGGLER_WAIT: Duration = Duration::from_secs(15);
/// How long preloaded subscriptions get to reach every member of their swarm.
const PRELOAD_MONITOR_WAIT: Duration = Duration::from_secs(1800);
/// How long the relay's counters get to catch up with what the mocks received.
const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// What `devnet` was asked for (DESIGN "Command line").
#[derive(Clone, Debug)]
pub struct Options {
    /// Fake storage nodes.
    pub nodes: usize,
    /// Swarms they form.
    pub swarms: usize,
    /// Simulated accounts.
    pub accounts: usize,
    /// Messages offered per second.
    pub rate: u32,
    /// How long messages are offered.
    pub duration: Duration,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
    /// Run the relay as a separate process from this binary (`serve --config …`) and report
    /// its own CPU and memory from `/proc` (default: in this process).
    pub relay_binary: Option<PathBuf>,
    /// With `relay_binary`: seconds of rest, every account monitored, before the message phase,
    /// to measure the relay's idle CPU.
    pub idle: Duration,
    /// Relay replicas (`[cluster]`, Postgres, `relay_binary`); with more than one, the last is
    /// killed (SIGKILL) halfway through the message phase and the report counts what was lost
    /// or pushed twice across the cluster.
    pub replicas: usize,
    /// With several replicas: SIGKILL the last one halfway through (`false`: `--no-kill`,
    /// every replica runs to the end, for comparing relay CPU per push across replica counts).
    pub kill_midway: bool,
    /// Synthetic subscriptions written into the database before the relay starts
    /// ([`crate::synthetic`]); the relay's VmRSS is read once every one of them reached every
    /// member of its swarm.
    pub preload: u64,
}

impl Options {
    /// A one-line error naming the flag when the numbers cannot make a network.
    pub fn validate(&self) -> Result<(), String> {
        if self.swarms == 0 {
            return Err("--swarms: at least 1".into());
        }
        if self.nodes < self.swarms {
            return Err(format!("--nodes: at least one per swarm ({})", self.swarms));
        }
        if self.accounts == 0 {
            return Err("--accounts: at least 1".into());
        }
        if self.rate == 0 {
            return Err("--rate: at least 1 message per second".into());
        }
        if self.replicas == 0 {
            return Err("--replicas: at least 1".into());
        }
        Ok(())
    }
}

/// Parses `--duration`: whole seconds, `10` or `10s`.
pub fn parse_secs(text: &str) -> Result<u64, String> {
    let digits = text.strip_suffix('s').unwrap_or(text);
    digits
        .parse()
        .map_err(|_| format!("expected whole seconds such as 10 or 10s, not {text:?}"))
}

/// Runs devnet, with the relay settings (database, renewal) of `relay` when given;
/// `Ok(true)` when every message reached every subscribed device once and every payload
/// verified.
pub async fn run(relay: Option<Config>, options: Options) -> anyhow::Result<bool> {
    let config = relay.clone().unwrap_or_default();
    let mut builder = Network::builder()
        .nodes(options.nodes)
        .swarms(options.swarms)
        .resubscribe_secs(
            config.swarm.resubscribe_min_secs,
            config.swarm.resubscribe_max_secs,
        );
    if let Some(binary) = &options.relay_binary {
        builder = builder.relay_binary(binary);
    }
    builder = builder.preload(options.preload);
    if options.replicas > 1 {
        builder = builder
            .replicas(options.replicas)
            .lease_secs(config.cluster.lease_secs);
    }
    // Without --config, the harness's fresh SQLite file.
    let database = match &relay {
        Some(c) => {
            builder = builder.database_url(c.database.url.expose());
            database_kind(c.database.url.expose())
        }
        None => "sqlite",
    };
    println!(
        "devnet: fake oxend, {} storage nodes in {} swarms, mock APNs and FCM, the relay on {database}",
        options.nodes, options.swarms
    );
    let net = builder.start().await?;
    println!("status page: {}/", net.admin_url());
    let settings = Settings {
        nodes: options.nodes,
        swarms: options.swarms,
        accounts: options.accounts,
        devices: 0,
        rate: options.rate,
        duration_secs: options.duration.as_secs(),
        database: database.into(),
    };
    let result = phases(&net, &options, settings).await;
    if let Err(e) = net.shutdown().await {
        println!("the relay did not stop cleanly: {e:#}");
    }
    result
}

fn database_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

async fn phases(net: &Network, options: &Options, mut settings: Settings) -> anyhow::Result<bool> {
    let metrics = MetricsReader::new(net.admin_url())?;
    let probe = net.relay_pid().map(Probe::new);
    let mut figures = RelayProcessFigures::default();
    if let Some(probe) = &probe {
        figures.pid = probe.pid;
        figures.clk_tck = probe.clk_tck;
        figures.rss_connected_bytes = probe.status_bytes("VmRSS")?;
        println!(
            "relay process {}: {} MiB resident with {} nodes connected",
            probe.pid,
            figures.rss_connected_bytes >> 20,
            options.nodes
        );
        if options.preload > 0 {
            let started = Instant::now();
            let missing = wait_preload_monitored(net, options.preload, PRELOAD_MONITOR_WAIT).await;
            figures.preloaded = options.preload;
            figures.rss_preloaded_bytes = probe.status_bytes("VmRSS")?;
            println!(
                "{} preloaded subscriptions reached their swarms in {:.1} s ({missing} nodes short): \
                 {} MiB resident, {:.0} bytes per subscription (whole process)",
                options.preload,
                started.elapsed().as_secs_f64(),
                figures.rss_preloaded_bytes >> 20,
                figures.rss_preloaded_bytes as f64 / options.preload as f64
            );
        }
    }
    let population = Population::new(options.accounts);
    settings.devices = population.devices.len();
    println!(
        "subscribing {} devices of {} accounts through onion requests",
        population.devices.len(),
        population.accounts.len()
    );
    let (subscribed, subscribe) = subscribe_all(net, &population).await;
    println!(
        "subscribed {} devices in {:.2} s ({:.0}/s), {} failed",
        subscribe.accepted, subscribe.seconds, subscribe.per_second, subscribe.failed
    );
    let ledger = population.ledger(&subscribed);
    let targets: Vec<usize> = (0..population.accounts.len())
        .filter(|&a| ledger.has_devices(a))
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no device could subscribe");
    let ids: Vec<AccountId> = targets
        .iter()
        .map(|&a| population.accounts[a].account)
        .collect();
    let unmonitored = wait_monitored(net, &ids, MONITOR_WAIT).await;
    if unmonitored > 0 {
        println!("warning: {unmonitored} monitor entries still missing on storage nodes after {MONITOR_WAIT:?}");
    }
    if let Some(probe) = &probe {
        figures.subscriptions = subscribe.accepted;
        figures.rss_monitored_bytes = probe.status_bytes("VmRSS")?;
        let subs = subscribe.accepted as f64;
        let growth = figures.rss_monitored_bytes as f64 - figures.rss_connected_bytes as f64;
        figures.rss_growth_per_subscription_bytes = (subs > 0.0).then(|| growth / subs);
        figures.rss_whole_process_per_subscription_bytes =
            (subs > 0.0).then(|| figures.rss_monitored_bytes as f64 / subs);
        (figures.idle_seconds, figures.idle_cores) = probe.idle(options.idle).await?;
        println!(
            "relay at rest: {:.4} cores over {:.1} s; {} MiB resident, {:.0} bytes more per subscription",
            figures.idle_cores,
            figures.idle_seconds,
            figures.rss_monitored_bytes >> 20,
            figures.rss_growth_per_subscription_bytes.unwrap_or(0.0)
        );
    }
    let accounts: Vec<(AccountId, i16)> = population
        .accounts
        .iter()
        .zip(&population.namespaces)
        .map(|(a, &n)| (a.account, n))
        .collect();
    println!(
        "offering {} messages/s for {} s",
        options.rate,
        options.duration.as_secs()
    );
    let cpu_before = report::cpu_seconds(&metrics.fetch().await?);
    let proc_before = probe.as_ref().map(Probe::cpu).transpose()?;
    let cluster_cpu = ClusterCpu::start(net, options.replicas);
    let stop = CancellationToken::new();
    let started = Instant::now();
    let ((), (), (), (offered, complete), ()) = tokio::join!(
        collect::apns(net.apns(), &ledger, &stop),
        collect::fcm(net.fcm(), &ledger, &stop),
        live::run(&metrics, &ledger, started, &stop),
        async {
            let offered = load::offer(
                net,
                &ledger,
                &accounts,
                &targets,
                options.rate,
                options.duration,
            )
            .await;
            let complete = ledger.wait_complete(STRAGGLER_WAIT).await;
            stop.cancel();
            (offered, complete)
        },
        kill_midway(net, options, &cluster_cpu),
    );
    if !complete {
        println!("stopped waiting for the last pushes after {STRAGGLER_WAIT:?}");
    }
    let proc_after = probe.as_ref().map(Probe::cpu).transpose()?;
    let replica_cpu_seconds = cluster_cpu.finish();
    let mut verdict = ledger.verdict();
    let received = verdict.delivered + verdict.duplicated;
    // With several replicas the metrics are replica 0's alone: it takes only its swarms' copies.
    let copies = if options.replicas > 1 {
        0
    } else {
        offered.copies
    };
    let text = metrics.settled(received, copies, SETTLE_WAIT).await?;
    let counters = Counters::from_metrics(&text);
    let cpu_seconds = report::cpu_seconds(&text) - cpu_before;
    let relay_delivered: f64 = counters.delivered().values().sum();
    if relay_delivered > received as f64 {
        // A push the relay sent that no device has seen yet would be a late duplicate.
        verdict
            .faults
            .insert("relay counted more deliveries than the devices received", 1);
    }
    let elapsed = offered.elapsed.as_secs_f64().max(f64::EPSILON);
    let delivery_span = verdict
        .span
        .map_or(elapsed, |(a, b)| (b - a).as_secs_f64())
        .max(f64::EPSILON);
    let relay_process = match (&probe, proc_before, proc_after) {
        (Some(probe), Some(before), Some(after)) => {
            figures.message_phase_user_seconds = after.user - before.user;
            figures.message_phase_system_seconds = after.system - before.system;
            figures.message_phase_cpu_seconds = after.total() - before.total();
            figures.cpu_us_per_push = (verdict.delivered > 0)
                .then(|| figures.message_phase_cpu_seconds * 1e6 / verdict.delivered as f64);
            figures.peak_rss_bytes = probe.status_bytes("VmHWM")?;
            if options.replicas > 1 {
                let total: f64 = replica_cpu_seconds.iter().sum();
                figures.cluster_cpu_us_per_push =
                    (verdict.delivered > 0).then(|| total * 1e6 / verdict.delivered as f64);
                figures.replica_cpu_seconds = replica_cpu_seconds;
            }
            Some(figures)
        }
        _ => None,
    };
    let mut outcome = Outcome::from(&verdict);
    outcome.passed &= subscribe.failed == 0;
    let report = Report {
        note: if relay_process.is_some() {
            report::NOTE_PROCESS
        } else {
            report::NOTE
        },
        relay_process,
        settings,
        subscribe,
        offered: Offered {
            messages: offered.messages,
            messages_per_second: offered.messages as f64 / elapsed,
            pushes_expected: verdict.expected,
            pushes_per_second: verdict.expected as f64 / elapsed,
        },
        achieved: Achieved {
            pushes: verdict.delivered,
            pushes_per_second: verdict.delivered as f64 / delivery_span,
        },
        latency: Latency::of(&verdict.latencies),
        cpu_seconds,
        cpu_seconds_per_push: (verdict.delivered > 0)
            .then(|| cpu_seconds / verdict.delivered as f64),
        peak_rss_bytes: report::peak_rss_bytes(),
        counters,
        outcome,
    };
    println!("{}", live::summary(&report, &verdict));
    if let Some(figures) = report
        .relay_process
        .as_ref()
        .filter(|_| options.replicas > 1)
    {
        println!(
            "cluster: {} replicas used {:.2} CPU s in the message phase ({}), {:.1} µs of relay CPU per push",
            options.replicas,
            figures.replica_cpu_seconds.iter().sum::<f64>(),
            figures
                .replica_cpu_seconds
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(" + "),
            figures.cluster_cpu_us_per_push.unwrap_or(f64::NAN)
        );
    }
    if let Some(path) = &options.report {
        report::write(&report, path)?;
        println!("report written to {}", path.display());
    }
    Ok(report.outcome.passed)
}

/// With several replicas: SIGKILL to the last one halfway through the message phase (its CPU
/// is read just before, so the cluster's total still counts it).
async fn kill_midway(net: &Network, options: &Options, cpu: &ClusterCpu) {
    if options.replicas < 2 || !options.kill_midway {
        return;
    }
    tokio::time::sleep(options.duration / 2).await;
    let last = options.replicas - 1;
    cpu.freeze(last);
    match net.kill_replica(last).await {
        Ok(()) => println!(
            "killed replica {} (SIGKILL) {} s into the message phase; its swarms move to the others",
            crate::network::replica_node_id(last),
            (options.duration / 2).as_secs_f64()
        ),
        Err(e) => println!("cannot kill replica {last}: {e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            nodes: 10,
            swarms: 2,
            accounts: 100,
            rate: 100,
            duration: Duration::from_secs(10),
            report: None,
            relay_binary: None,
            idle: Duration::from_secs(10),
            replicas: 1,
            kill_midway: true,
            preload: 0,
        }
    }

    #[test]
    fn duration_takes_plain_seconds_or_an_s_suffix() {
        assert_eq!(parse_secs("10"), Ok(10));
        assert_eq!(parse_secs("5s"), Ok(5));
        assert!(parse_secs("5m").is_err());
        assert!(parse_secs("").is_err());
        assert!(parse_secs("-1").is_err());
    }

    #[test]
    fn options_that_cannot_make_a_network_name_the_flag() {
        assert_eq!(options().validate(), Ok(()));
        /// Makes valid options invalid in one way.
        type Spoil = fn(&mut Options);
        let cases: [(Spoil, &str); 4] = [
            (|o| o.swarms = 0, "--swarms"),
            (|o| o.nodes = 1, "--nodes"),
            (|o| o.accounts = 0, "--accounts"),
            (|o| o.rate = 0, "--rate"),
        ];
        for (spoil, flag) in cases {
            let mut bad = options();
            spoil(&mut bad);
            let error = bad.validate().unwrap_err();
            assert!(error.starts_with(flag), "{error}");
        }
    }
}
