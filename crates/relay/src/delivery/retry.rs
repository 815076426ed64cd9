//! Retry delays (PROTOCOL §11 common rules): the k-th retry waits `2^k s × U(0.75, 1.25)`,
//! capped at 300 s, and never less than the provider's `Retry-After`.

use std::time::Duration;

use rand::Rng as _;

/// Longest computed back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest `Retry-After` honoured; a larger value is treated as this (a provider bug).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// The wait before retry number `k` (0-based), given the provider's `Retry-After`.
pub fn delay(k: u32, after: Option<Duration>) -> Duration {
    let jitter = rand::thread_rng().gen_range(0.75..=1.25);
    delay_with_jitter(k, after, jitter)
}

fn delay_with_jitter(k: u32, after: Option<Duration>, jitter: f64) -> Duration {
    let base = 2f64.powi(k.min(16) as i32) * jitter;
    let backoff = Duration::from_secs_f64(base).min(MAX_BACKOFF);
    after.map_or(backoff, |a| backoff.max(a.min(MAX_RETRY_AFTER)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_with_cap() {
        assert_eq!(delay_with_jitter(0, None, 1.0), Duration::from_secs(1));
        assert_eq!(delay_with_jitter(3, None, 1.0), Duration::from_secs(8));
        assert_eq!(delay_with_jitter(3, None, 0.75), Duration::from_secs(6));
        assert_eq!(delay_with_jitter(9, None, 1.0), MAX_BACKOFF);
        assert_eq!(delay_with_jitter(40, None, 1.25), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let a = Some(Duration::from_secs(60));
        assert_eq!(delay_with_jitter(0, a, 1.0), Duration::from_secs(60));
        assert_eq!(delay_with_jitter(8, a, 1.0), Duration::from_secs(256));
        let huge = Some(Duration::from_secs(86_400));
        assert_eq!(delay_with_jitter(0, huge, 1.0), MAX_RETRY_AFTER);
    }

    #[test]
    fn jitter_stays_in_range() {
        for k in 0..8 {
            let d = delay(k, None).as_secs_f64();
            let base = 2f64.powi(k as i32);
            assert!(
                d >= base * 0.75 - 1e-9 && d <= base * 1.25 + 1e-9,
                "k={k}: {d}"
            );
        }
    }
}
