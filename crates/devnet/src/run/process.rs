//! Readings of the relay when it runs as its own process (`Options::relay_binary`): CPU from
//! `/proc/PID/stat` (utime + stime), memory from `/proc/PID/status` (VmRSS, VmHWM), so that
//! the figures are the relay's alone, not the simulation's.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The relay process's figures in the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RelayProcessFigures {
    /// The child's process id.
    pub pid: u32,
    /// Clock ticks per second used to convert `/proc/PID/stat` (`getconf CLK_TCK`).
    pub clk_tck: u64,
    /// VmRSS with every node connected, before any subscription.
    pub rss_connected_bytes: u64,
    /// Synthetic subscriptions the relay loaded from its database at start-up.
    pub preloaded: u64,
    /// VmRSS once every preloaded subscription reached every member of its swarm (before the
    /// onion subscribes).
    pub rss_preloaded_bytes: u64,
    /// VmRSS once every subscription was monitored on its swarm.
    pub rss_monitored_bytes: u64,
    /// Subscriptions (devices) the relay accepted.
    pub subscriptions: usize,
    /// (rss_monitored − rss_connected) ÷ subscriptions.
    pub rss_growth_per_subscription_bytes: Option<f64>,
    /// rss_monitored ÷ subscriptions (the whole process, connections included).
    pub rss_whole_process_per_subscription_bytes: Option<f64>,
    /// Length of the idle window (every node connected, every account monitored, 0 pushes/s).
    pub idle_seconds: f64,
    /// CPU seconds ÷ wall seconds over the idle window: cores in use at rest.
    pub idle_cores: f64,
    /// Relay CPU seconds (user + system) over the message phase, until the last push arrived.
    pub message_phase_cpu_seconds: f64,
    /// User part of it.
    pub message_phase_user_seconds: f64,
    /// System part of it.
    pub message_phase_system_seconds: f64,
    /// `message_phase_cpu_seconds` ÷ delivered pushes, in microseconds.
    pub cpu_us_per_push: Option<f64>,
    /// VmHWM at the end of the run.
    pub peak_rss_bytes: u64,
    /// With several replicas: each replica's CPU seconds over the message phase (replica 0
    /// first; a killed replica's up to its kill). Empty with one relay.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replica_cpu_seconds: Vec<f64>,
    /// With several replicas: all replicas' CPU ÷ delivered pushes, in microseconds: the
    /// figure that must not grow with the replica count (issue 14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_cpu_us_per_push: Option<f64>,
}

/// CPU time of a process, seconds: (user, system).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub user: f64,
    pub system: f64,
}

impl Cpu {
    pub fn total(self) -> f64 {
        self.user + self.system
    }
}

/// The `/proc` reader of one process.
pub struct Probe {
    pub pid: u32,
    pub clk_tck: u64,
}

impl Probe {
    /// A probe of `pid`; the tick rate from `getconf CLK_TCK` (100 if that fails, Linux's usual).
    pub fn new(pid: u32) -> Probe {
        let clk_tck = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(100);
        Probe { pid, clk_tck }
    }

    /// utime and stime of `/proc/PID/stat`, in seconds.
    pub fn cpu(&self) -> anyhow::Result<Cpu> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        let (user, system) =
            parse_stat_times(&stat).ok_or_else(|| anyhow::anyhow!("unreadable /proc/PID/stat"))?;
        let tck = self.clk_tck as f64;
        Ok(Cpu {
            user: user as f64 / tck,
            system: system as f64 / tck,
        })
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
    pub fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        parse_status_kb(&status, field)
            .map(|kb| kb * 1024)
            .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/PID/status"))
    }

    /// Cores used over `window` of rest: (seconds measured, cores).
    pub async fn idle(&self, window: Duration) -> anyhow::Result<(f64, f64)> {
        let (before, started) = (self.cpu()?, Instant::now());
        tokio::time::sleep(window).await;
        let (after, wall) = (self.cpu()?, started.elapsed().as_secs_f64());
        Ok((
            wall,
            (after.total() - before.total()) / wall.max(f64::EPSILON),
        ))
    }
}

/// (utime, stime) in ticks: fields 14 and 15, counted after the `)` closing the command name.
fn parse_stat_times(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_fields_14_and_15() {
        let stat = "4242 (session push) S 1 4242 4242 0 -1 4194560 5000 0 0 0 123 45 0 0 20 0 9 0";
        assert_eq!(parse_stat_times(stat), Some((123, 45)));
        assert_eq!(parse_stat_times("garbage"), None);
    }

    #[test]
    fn status_fields_in_kb() {
        let status = "Name:\trelay\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(1000));
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(1234));
        assert_eq!(parse_status_kb(status, "Vm"), None);
    }

    #[test]
    fn this_process_can_be_probed() {
        let probe = Probe::new(std::process::id());
        assert!(probe.cpu().is_ok());
        assert!(probe.status_bytes("VmRSS").unwrap() > 0);
    }
}
