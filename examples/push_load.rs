//! Push-path load against a relay running as its **own process**: the simulated network of
//! `devnet` (fake oxend, `--nodes` fake storage servers in `--swarms` swarms over OxenMQ/CURVE,
//! mock APNs and FCM, the simulated clients and their ledger) runs in this process, and
//! `target/release/session-push-relay serve --config <generated>` runs as a child, so its CPU
//! and memory are read from `/proc/PID` alone, without the simulation's.
//!
//! ```text
//! cargo build --release --bin session-push-relay --example push_load
//! ulimit -n 65536   # 2,000 nodes need ~10,000 descriptors here and ~6,000 in the relay
//! ./target/release/examples/push_load --nodes 2000 --swarms 400 --accounts 20000 \
//!     --rate 1000 --duration 20 --report push-2000-1000.json
//! ```
//!
//! Phases: start the network and the relay, wait until every node got `HI`/`HELLO`; read the
//! relay's VmRSS; subscribe every device by onion request; wait until every swarm member
//! monitors its accounts; read VmRSS again and measure `--idle` seconds of rest (cores in use
//! with every node connected and 0 pushes/s); offer `--rate` messages/s for `--duration`
//! seconds (every swarm member sends `notify.message`; ≈ 1.25 pushes per message); wait for the
//! last push. Prints relay CPU µs per delivered push (utime + stime of `/proc/PID/stat` over the
//! message phase), delivered / missing / duplicated, end-to-end p50/p99 (from storing the
//! message to the mock provider's receipt) and RSS per subscription. Exit status 0 only if
//! every push arrived exactly once and verified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use devnet::run::{self, parse_secs};
use relay::config::Config;

#[derive(Parser)]
struct Args {
    /// Fake storage servers.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Swarms they form (round-robin).
    #[arg(long, default_value_t = 10)]
    swarms: usize,
    /// Simulated accounts (≈ 1.25 devices each).
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Messages offered per second (≈ 1.25 pushes each).
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of message load.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    duration: u64,
    /// Seconds of rest before the message phase, to measure idle CPU.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    idle: u64,
    /// The relay binary to start.
    #[arg(long, default_value = "target/release/session-push-relay")]
    relay: PathBuf,
    /// Synthetic subscriptions written into the relay's database before it starts (memory at
    /// scale: VmRSS is read once each reached every member of its swarm).
    #[arg(long, default_value_t = 0)]
    preload: u64,
    /// The relay's database (default: a fresh SQLite file); a `postgres://` URL preloads
    /// several times faster.
    #[arg(long)]
    database: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Relay settings (`[database] url`, `[swarm]`, `[cluster] lease_secs`), as for `devnet
    /// --config`; default: a fresh SQLite file and the defaults.
    #[arg(long, conflicts_with = "database")]
    config: Option<PathBuf>,
    /// Relay replicas on the `--config` Postgres database (`[cluster]`), none killed: the
    /// report sums their CPU (`cluster_cpu_us_per_push`) to compare with one relay.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = run::Options {
        nodes: args.nodes,
        swarms: args.swarms,
        accounts: args.accounts,
        rate: args.rate,
        duration: Duration::from_secs(args.duration),
        report: args.report,
        relay_binary: Some(args.relay),
        idle: Duration::from_secs(args.idle),
        replicas: args.replicas,
        kill_midway: false,
        preload: args.preload,
    };
    let relay = match relay_config(args.config.as_deref(), args.database.as_deref()) {
        Ok(relay) => relay,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = options.validate() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let postgres = relay
        .as_ref()
        .is_some_and(|c| c.database.url.expose().starts_with("postgres"));
    if args.replicas > 1 && !postgres {
        eprintln!("--replicas: several replicas share one Postgres database: give --config or --database with a postgres:// URL");
        return ExitCode::from(2);
    }
    match runtime.block_on(run::run(relay, options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The relay settings of `--config`, or of `--database` alone, or `None` (the defaults).
fn relay_config(config: Option<&Path>, database: Option<&str>) -> anyhow::Result<Option<Config>> {
    match (config, database) {
        (Some(path), _) => Ok(Some(
            Config::load(Some(path)).map_err(|e| anyhow::anyhow!("--config: {e}"))?,
        )),
        (None, Some(url)) => Ok(Some(
            database_config(url).map_err(|e| e.context("--database"))?,
        )),
        (None, None) => Ok(None),
    }
}

/// A relay configuration that differs from the default only in `[database] url`.
fn database_config(url: &str) -> anyhow::Result<Config> {
    // A JSON string is a valid TOML basic string.
    let toml = format!("[database]\nurl = {}\n", serde_json::Value::from(url));
    Ok(Config::load_from(Some(&toml), HashMap::new())?)
}
