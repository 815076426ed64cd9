//! The `devnet` sub-command (cargo feature `devnet`, on by default): the flags, and the hand-over
//! to the simulated network in `crates/devnet`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use devnet::run::{self as network, parse_secs};
use relay::config::Config;
use relay::logging;

use super::{config_failure, runtime};

/// `session-push-relay devnet` flags (DESIGN "Command line").
#[derive(Args)]
pub struct DevnetArgs {
    /// TOML configuration whose relay settings (e.g. `[database] url`) devnet uses;
    /// services, swarm source and listeners are devnet's own.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Fake storage nodes.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Swarms the nodes form.
    #[arg(long, default_value_t = 2)]
    swarms: usize,
    /// Simulated accounts (05 accounts and 03 groups).
    #[arg(long, default_value_t = 100)]
    accounts: usize,
    /// Messages offered per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of message load (`10` or `10s`).
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    duration: u64,
    /// Write a JSON report of the run to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Relay replicas sharing the --config Postgres database ([cluster]); with more than one,
    /// one is killed halfway through and the report counts lost and duplicate pushes.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// With --replicas: kill none of them, so the report's relay CPU per push (summed over
    /// the replicas) compares cleanly across replica counts.
    #[arg(long, requires = "replicas")]
    no_kill: bool,
}

/// Runs the simulated network around the real relay; exit 0 only if every push was verified.
pub fn run(args: DevnetArgs) -> ExitCode {
    let options = network::Options {
        nodes: args.nodes,
        swarms: args.swarms,
        accounts: args.accounts,
        rate: args.rate,
        duration: Duration::from_secs(args.duration),
        report: args.report,
        relay_binary: None,
        idle: Duration::ZERO,
        replicas: args.replicas,
        kill_midway: !args.no_kill,
        preload: 0,
    };
    let path = args.config;
    let mut config = match Config::load(path.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    if let Err(e) = options.validate() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let mut options = options;
    if options.replicas > 1 {
        let url = config.database.url.expose();
        if path.is_none() || url.starts_with("sqlite:") {
            eprintln!(
                "--replicas: several replicas share one Postgres database: give --config with a \
                 postgres:// [database] url (SQLite is one process's file)"
            );
            return ExitCode::from(2);
        }
        // Replicas are separate processes of this binary.
        match std::env::current_exe() {
            Ok(exe) => options.relay_binary = Some(exe),
            Err(e) => {
                eprintln!("error: cannot find this binary to start replicas: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if path.is_none() {
        // The live lines are the output; the relay's own logs only when something is wrong.
        config.log.level = "warn".into();
    }
    if let Err(e) = logging::init(&config.log) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let relay = path.is_some().then_some(config);
    match runtime.block_on(network::run(relay, options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
