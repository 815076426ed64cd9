//! `session-push-relay devnet` as a user runs it: the real binary in its own process (so its
//! metrics are its own), a short run, its exit code, its output and its `--report` JSON.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::db::{self, Backend};

const BINARY: &str = env!("CARGO_BIN_EXE_session-push-relay");

/// 4 nodes in 2 swarms (2 members each), 12 accounts (15 devices), 40 messages/s for 2 s.
const SMALL: &[&str] = &[
    "devnet",
    "--nodes",
    "4",
    "--swarms",
    "2",
    "--accounts",
    "12",
    "--rate",
    "40",
    "--duration",
    "2s",
];

fn devnet(extra: &[&str]) -> Output {
    Command::new(BINARY)
        .args(SMALL)
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs devnet with a report and checks what a passing run prints and reports.
fn passing_run(dir: &Path, extra: &[&str]) -> Value {
    let report = dir.join("report.json");
    let report_arg = report.to_str().unwrap();
    let output = devnet(&[&["--report", report_arg], extra].concat());
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "devnet failed:\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("status page: http://127.0.0.1:"), "{out}");
    assert!(out.contains("subscriptions 15  notifications"), "{out}");
    assert!(
        out.contains("PASS: every message reached every subscribed device"),
        "{out}"
    );
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

fn check_report(r: &Value, database: &str) {
    assert_eq!(r["settings"]["database"], database);
    assert_eq!(r["settings"]["devices"], 15);
    assert_eq!(r["subscribe"]["accepted"], 15);
    assert_eq!(r["subscribe"]["failed"], 0);
    assert_eq!(r["offered"]["messages"], 80);
    let expected = r["offered"]["pushes_expected"].as_u64().unwrap();
    assert!(expected >= 80, "every offered account has a device");
    assert_eq!(r["achieved"]["pushes"], expected);
    assert_eq!(r["latency"]["samples"], expected);
    let (p50, p99, max) = (
        r["latency"]["p50_ms"].as_f64().unwrap(),
        r["latency"]["p99_ms"].as_f64().unwrap(),
        r["latency"]["max_ms"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{}", r["latency"]);
    // Both members of a swarm announce each message; the relay pushes once per device. The
    // second copy is dropped at intake (counted once) or, if it got past, by delivery's
    // de-duplication (counted once per device).
    assert_eq!(r["counters"]["notifications"], 160.0);
    let dropped = r["counters"]["dedup_dropped"].as_f64().unwrap();
    assert!(
        (80.0..=expected as f64).contains(&dropped),
        "{dropped} copies dropped"
    );
    let delivered: f64 = ["apns", "firebase"]
        .iter()
        .map(|s| r["counters"]["pushes"][s]["delivered"].as_f64().unwrap())
        .sum();
    assert_eq!(delivered, expected as f64);
    assert!(r["cpu_seconds_per_push"].as_f64().unwrap() > 0.0);
    assert!(r["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert_eq!(r["outcome"]["passed"], true);
    assert!(r["note"].as_str().unwrap().contains("one process"));
}

#[test]
fn a_short_run_delivers_every_message_once_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = passing_run(dir.path(), &[]);
    check_report(&report, "sqlite");
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test]
async fn with_config_it_uses_the_postgres_database_of_the_file() {
    db::run(Backend::Postgres, |db| async move {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("relay.toml");
        std::fs::write(&config, format!("[database]\nurl = \"{}\"\n", db.url())).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let dir_path = dir.path().to_owned();
        let report =
            tokio::task::spawn_blocking(move || passing_run(&dir_path, &["--config", &config]))
                .await?;
        check_report(&report, "postgres");
        Ok(())
    })
    .await
    .unwrap();
}

#[test]
fn flags_that_cannot_make_a_network_exit_2_naming_the_flag() {
    let output = Command::new(BINARY)
        .args(["devnet", "--nodes", "1", "--swarms", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("--nodes"));
    let output = Command::new(BINARY)
        .args(["devnet", "--duration", "ten"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "clap rejects the value");
}

#[test]
fn several_replicas_on_sqlite_exit_2_naming_the_flag() {
    let output = devnet(&["--replicas", "3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("--replicas"));
}

/// Three replicas, the last killed halfway: the run reports what was lost and duplicated
/// across the kill (it may fail: pushes for the killed replica's swarms are lost until the
/// survivors take them over), with every swarm still covered at the end.
#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test]
async fn three_replicas_report_lost_and_duplicate_pushes_across_a_kill() {
    db::run(Backend::Postgres, |db| async move {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("relay.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{}\"\n[cluster]\nlease_secs = 2\n",
                db.url()
            ),
        )
        .unwrap();
        let report = dir.path().join("report.json");
        let args: Vec<String> = [
            "--config",
            config.to_str().unwrap(),
            "--replicas",
            "3",
            "--report",
            report.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        let output = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            devnet(&args)
        })
        .await?;
        let out = stdout(&output);
        assert!(
            out.contains("killed replica relay-2 (SIGKILL)"),
            "{out}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let r: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
        let outcome = &r["outcome"];
        // The report counts both, whatever the run's luck with the kill's timing.
        assert!(
            outcome["missing"].is_u64() && outcome["duplicated"].is_u64(),
            "{outcome}"
        );
        eprintln!("{out}");
        Ok(())
    })
    .await
    .unwrap();
}
