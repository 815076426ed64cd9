//! Connection-attempt pacing (PROTOCOL §7.3): cooldowns after failed attempts and the limit on
//! attempts in flight.

use std::time::Duration;

/// Cooldowns after the 1st, 2nd, 3rd and every further consecutive failure (SPNS
/// `CONNECT_COOLDOWN`).
const COOLDOWNS_SECS: [u64; 4] = [10, 30, 60, 120];

/// The wait before the next attempt after `failures` consecutive failed attempts (≥ 1).
pub(crate) fn cooldown(failures: u32) -> Duration {
    let index = (failures.max(1) as usize - 1).min(COOLDOWNS_SECS.len() - 1);
    Duration::from_secs(COOLDOWNS_SECS[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldowns_are_10_30_60_then_120() {
        let secs: Vec<u64> = (1..=6).map(|n| cooldown(n).as_secs()).collect();
        assert_eq!(secs, [10, 30, 60, 120, 120, 120]);
    }
}
