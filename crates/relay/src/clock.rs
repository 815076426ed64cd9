//! Wall-clock time, in unix seconds (`i64`), read in this one place: signature windows
//! (PROTOCOL §14), subscription expiry, JWT `iat`, OAuth token lifetimes, `/stats`.
//!
//! Code that tests need to steer takes a [`Clock`] (the API's signature window, the expiry task);
//! the rest calls [`unix_now`]. Durations and timeouts use `tokio::time`, never this.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of unix time in seconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock (the relay's clock must be NTP-synchronised, §3.6).
    pub fn system() -> Self {
        Clock(Arc::new(unix_now))
    }

    /// A clock stopped at `now` (test vectors use 1 700 000 000).
    pub fn fixed(now: i64) -> Self {
        Clock(Arc::new(move || now))
    }

    /// A clock reading `f` (tests that move time).
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The current unix time, seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// The system's wall clock in unix seconds (0 before 1970, saturating far in the future).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now={})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_system() {
        assert_eq!(Clock::fixed(42).now(), 42);
        // 2023-11-14: any machine running these tests is later than the vectors' time.
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
