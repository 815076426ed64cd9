//! The per-account limit on subscribe/unsubscribe elements (`[api] account_rate_per_minute`).
//!
//! Keyed by the verified account ID, never by IP: every onion request arrives from a storage
//! server, so an IP limit would throttle whole swarms. Counted in fixed one-minute windows of
//! the API clock; the table is cleared when the window turns, and holds at most
//! [`MAX_TRACKED_ACCOUNTS`] entries (about 4 MB). Once full within a window, accounts not yet
//! in it are let through (and counted in `relay_api_rate_table_full_total`): the limit exists to
//! stop one account from churning, and failing open keeps a flood of fresh keys from locking
//! out everyone else.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::admin::metrics as names;
use crate::subscription::AccountId;

/// Accounts counted in one window at most.
pub const MAX_TRACKED_ACCOUNTS: usize = 65_536;

/// Window length, seconds.
const WINDOW_SECS: i64 = 60;

/// Per-account counters of the current window.
#[derive(Debug)]
pub struct AccountRate {
    per_window: u32,
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    index: i64,
    counts: HashMap<[u8; 33], u32>,
}

impl AccountRate {
    /// A limit of `per_minute` elements per account and minute.
    pub fn new(per_minute: u32) -> Self {
        AccountRate {
            per_window: per_minute,
            state: Mutex::new(Window::default()),
        }
    }

    /// Counts one element for `account` at unix time `now`; `false` when over the limit.
    pub fn allow(&self, account: &AccountId, now: i64) -> bool {
        let index = now.div_euclid(WINDOW_SECS);
        // A poisoned lock only means another request panicked mid-count: keep counting.
        let mut window = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if window.index != index {
            window.index = index;
            window.counts.clear();
            window.counts.shrink_to(MAX_TRACKED_ACCOUNTS / 16);
        }
        let full = window.counts.len() >= MAX_TRACKED_ACCOUNTS;
        match window.counts.get_mut(&account.0) {
            Some(count) if *count >= self.per_window => false,
            Some(count) => {
                *count += 1;
                true
            }
            None if full => {
                metrics::counter!(names::API_RATE_TABLE_FULL).increment(1);
                true
            }
            None => {
                window.counts.insert(account.0, 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u8) -> AccountId {
        let mut bytes = [0u8; 33];
        bytes[0] = 0x05;
        bytes[1] = n;
        AccountId(bytes)
    }

    #[test]
    fn limit_per_account_and_window() {
        let rate = AccountRate::new(3);
        let (a, b) = (account(1), account(2));
        let t = 1_700_000_040; // 0 s into a window
        assert!((0..3).all(|_| rate.allow(&a, t)));
        assert!(!rate.allow(&a, t + 59));
        // Another account has its own count.
        assert!(rate.allow(&b, t + 59));
        // The next window starts afresh.
        assert!(rate.allow(&a, t + 60));
    }

    #[test]
    fn table_is_bounded_and_fails_open() {
        let rate = AccountRate::new(1);
        let t = 1_700_000_040;
        for i in 0..MAX_TRACKED_ACCOUNTS {
            let mut bytes = [0u8; 33];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            assert!(rate.allow(&AccountId(bytes), t));
        }
        let mut late = account(200);
        late.0[20] = 1; // outside the bytes the loop varies
        assert!(rate.allow(&late, t));
        assert!(rate.allow(&late, t)); // not tracked: let through
        assert_eq!(
            rate.state.lock().unwrap().counts.len(),
            MAX_TRACKED_ACCOUNTS
        );
    }
}
