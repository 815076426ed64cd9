//! Helpers shared by the measurement examples: synthetic subscriptions and the process's RSS.

pub use devnet::synthetic::subscription as synthetic;

/// The process's resident set size in bytes (`VmRSS` of `/proc/self/status`).
pub fn vm_rss() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS line in /proc/self/status"))?;
    Ok(kib * 1024)
}
