//! Probes the optional prerequisites of the integration tests (`tests/it`) and sets one `cfg` per
//! prerequisite that is present, so a test whose prerequisite is missing is compiled with
//! `#[ignore = "needs …"]` and shows as *ignored, with its reason*, in `cargo test`'s own summary
//! (a runtime notice would be swallowed by the output capture). Under `CI=true` every flag is set:
//! the tests run and fail if their prerequisite is missing.
//!
//! Cargo re-runs this script when `TEST_POSTGRES_URL`, `CI` or `PATH` change; after installing
//! pyzmq or Chromium, `touch build.rs` (or change one of those variables) to re-probe.

use std::path::Path;
use std::process::Command;

const FLAGS: &[&str] = &[
    "prereq_postgres",
    "prereq_pyzmq",
    "prereq_chromium",
    "prereq_chart_keys",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=helm/session-push-relay");
    for var in ["TEST_POSTGRES_URL", "CI", "PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    for flag in FLAGS {
        println!("cargo:rustc-check-cfg=cfg({flag})");
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let postgres = std::env::var("TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    let pyzmq = Command::new("python3")
        .args(["-c", "import zmq, nacl"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let chromium = Path::new("/usr/bin/chromium").exists();
    // Not a prerequisite CI can install: the chart's key list comes with the Helm chart.
    let chart_keys = Path::new("helm/session-push-relay/config-keys.txt").exists();
    for (flag, present) in [
        ("prereq_postgres", ci || postgres),
        ("prereq_pyzmq", ci || pyzmq),
        ("prereq_chromium", ci || chromium),
        ("prereq_chart_keys", chart_keys),
    ] {
        if present {
            println!("cargo:rustc-cfg={flag}");
        }
    }
}
