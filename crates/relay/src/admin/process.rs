//! Process metrics read from `/proc` at scrape time (Linux; elsewhere nothing is rendered).
//!
//! A small reader rather than `metrics-process`: four numbers, no extra dependency tree.

use std::fmt::Write;

/// `process_cpu_seconds_total`: user + system CPU time.
pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`: resident set size.
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// `process_open_fds`: open file descriptors.
pub const OPEN_FDS: &str = "process_open_fds";
/// `process_start_time_seconds`: process start, Unix seconds.
pub const START_TIME: &str = "process_start_time_seconds";

/// `USER_HZ`: /proc reports CPU times in these ticks; the kernel fixes it at 100 for userspace
/// on every architecture Linux exports /proc for.
const TICKS_PER_SECOND: f64 = 100.0;

/// What /proc says about this process now.
#[derive(Debug, Default, PartialEq)]
struct Process {
    cpu_seconds: f64,
    start_time: Option<f64>,
    resident_bytes: Option<u64>,
    open_fds: Option<usize>,
}

/// Prometheus text for the process metrics, or "" when `/proc/self/stat` is unreadable.
pub(super) fn render() -> String {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return String::new();
    };
    let Some(mut process) = parse_stat(&stat) else {
        return String::new();
    };
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_boot_time(&s));
    process.start_time = process.start_time.zip(boot_time).map(|(s, b)| s + b);
    process.resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_rss(&s));
    process.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count());
    format_text(&process)
}

/// Reads utime + stime and the start time (seconds after boot) from `/proc/self/stat`.
fn parse_stat(stat: &str) -> Option<Process> {
    // The command name is in parentheses and may itself contain spaces and ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // proc(5) numbers fields from 1; field 3 (state) is fields[0] here.
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    Some(Process {
        cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
        start_time: field(22).map(|t| t / TICKS_PER_SECOND),
        ..Process::default()
    })
}

fn parse_boot_time(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line["btime ".len()..].trim().parse().ok()
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line["VmRSS:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn format_text(p: &Process) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    };
    metric(
        CPU_SECONDS,
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpu_seconds.to_string(),
    );
    if let Some(v) = p.resident_bytes {
        metric(
            RESIDENT_MEMORY,
            "gauge",
            "Resident memory size in bytes.",
            v.to_string(),
        );
    }
    if let Some(v) = p.open_fds {
        metric(
            OPEN_FDS,
            "gauge",
            "Number of open file descriptors.",
            v.to_string(),
        );
    }
    if let Some(v) = p.start_time {
        metric(
            START_TIME,
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            v.to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_tricky_command_name() {
        // 52 fields; utime=250, stime=50, starttime=12345 ticks.
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 \
                    12345 100000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let p = parse_stat(stat).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.start_time, Some(123.45));
    }

    #[test]
    fn parses_boot_time_and_rss() {
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1764547200\nprocesses 9\n"),
            Some(1764547200.0)
        );
        assert_eq!(
            parse_rss("Name:\trelay\nVmRSS:\t   2048 kB\nThreads: 4\n"),
            Some(2048 * 1024)
        );
    }

    #[test]
    fn live_render_has_all_four_metrics_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            eprintln!("no /proc: skipping");
            return;
        }
        let text = render();
        for name in [CPU_SECONDS, RESIDENT_MEMORY, OPEN_FDS, START_TIME] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
