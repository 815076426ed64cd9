//! One node's renewal queue: when each of its accounts is next due (PROTOCOL §8.3 "When").
//!
//! Memory (issue 12): an entry is an account number and a [`Tick`], 8 bytes in the ordered
//! set and 8 in the map (was 56 + 56 with `Instant` and the 33-byte `AccountId`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::time::Instant;

/// Milliseconds since the monitor's [`Clock`] epoch: fine enough for the 100 ms `COALESCE`,
/// and half the size of an `Instant`.
pub(crate) type Tick = u32;

/// Once the clock reads this many ticks (~24.8 days), the epoch moves forward, so that every
/// due time (at most ~55 min ahead) stays far from `u32::MAX`.
const REBASE_AT: Tick = 1 << 31;

/// How far before "now" the epoch is set: `now − COALESCE` is never before it, so a time
/// that early does not read as the epoch itself.
const EPOCH_LEAD: Duration = Duration::from_secs(1);

/// Converts between `Instant`s and [`Tick`]s; times are floored to the millisecond, which
/// keeps their order (two times within one millisecond may tie).
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose epoch is just before `now`.
    pub fn new(now: Instant) -> Self {
        Clock {
            epoch: now.checked_sub(EPOCH_LEAD).unwrap_or(now),
        }
    }

    /// `at` in ticks (0 for times before the epoch).
    pub fn tick(&self, at: Instant) -> Tick {
        let ms = at.saturating_duration_since(self.epoch).as_millis();
        Tick::try_from(ms).unwrap_or(Tick::MAX)
    }

    /// The instant of `tick` (at most 1 ms before any time that reads as `tick`).
    pub fn instant(&self, tick: Tick) -> Instant {
        self.epoch + Duration::from_millis(u64::from(tick))
    }

    /// Moves the epoch forward when `now` gets near the end of the range; returns by how many
    /// ticks, which every queue must then [`DueQueue::rebase`] by.
    pub fn rebase(&mut self, now: Instant) -> Option<Tick> {
        let now = self.tick(now);
        if now < REBASE_AT {
            return None;
        }
        // "now" then reads as EPOCH_LEAD again.
        let shift = now - EPOCH_LEAD.as_millis() as Tick;
        self.epoch += Duration::from_millis(u64::from(shift));
        Some(shift)
    }
}

/// Due times per account number, ordered.
#[derive(Default)]
pub(crate) struct DueQueue {
    /// `(tick << 32) | account`: ordered by due time, then number.
    order: BTreeSet<u64>,
    at: HashMap<u32, Tick>,
}

fn key(when: Tick, account: u32) -> u64 {
    (u64::from(when) << 32) | u64::from(account)
}

impl DueQueue {
    /// (Re)schedules `account` at `when`.
    pub fn set(&mut self, account: u32, when: Tick) {
        if let Some(old) = self.at.insert(account, when) {
            self.order.remove(&key(old, account));
        }
        self.order.insert(key(when, account));
    }

    /// Schedules `account` at `when`, unless it is already queued at or before `when`.
    pub fn set_unless_earlier(&mut self, account: u32, when: Tick) {
        if self.at.get(&account).is_none_or(|&queued| queued > when) {
            self.set(account, when);
        }
    }

    /// Forgets `account`.
    pub fn remove(&mut self, account: u32) {
        if let Some(old) = self.at.remove(&account) {
            self.order.remove(&key(old, account));
        }
    }

    /// Forgets every account.
    pub fn clear(&mut self) {
        self.order = BTreeSet::new();
        self.at = HashMap::new();
    }

    /// Takes the earliest account due at or before `now`.
    pub fn pop_due(&mut self, now: Tick) -> Option<u32> {
        let &first = self.order.first()?;
        if (first >> 32) as Tick > now {
            return None;
        }
        self.order.pop_first();
        let account = first as u32;
        self.at.remove(&account);
        Some(account)
    }

    /// When the earliest account is due.
    pub fn first_due(&self) -> Option<Tick> {
        self.order.first().map(|k| (k >> 32) as Tick)
    }

    /// Whether something is due at or before `now`.
    pub fn has_due(&self, now: Tick) -> bool {
        self.first_due().is_some_and(|when| when <= now)
    }

    /// Whether `account` is queued.
    #[cfg(test)]
    pub fn contains(&self, account: u32) -> bool {
        self.at.contains_key(&account)
    }

    /// How many accounts are queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Moves every due time `shift` ticks earlier (the clock's epoch moved that far forward);
    /// times already past stay due (floored at 0).
    pub fn rebase(&mut self, shift: Tick) {
        for when in self.at.values_mut() {
            *when = when.saturating_sub(shift);
        }
        self.order = self.at.iter().map(|(&a, &when)| key(when, a)).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_rescheduling_replaces() {
        let now = 1_000;
        let (a, b) = (7, 3);
        let mut q = DueQueue::default();
        q.set(a, now + 5_000);
        q.set(b, now);
        assert!(q.has_due(now));
        assert_eq!(q.pop_due(now), Some(b));
        assert_eq!(q.pop_due(now), None);
        q.set(a, now); // moved earlier
        assert_eq!(q.pop_due(now), Some(a));
        q.set(a, now);
        q.set_unless_earlier(a, now + 60_000); // already due sooner: kept
        assert_eq!(q.first_due(), Some(now));
        q.set_unless_earlier(b, now + 60_000); // not queued: scheduled
        assert_eq!(q.len(), 2);
        q.remove(b);
        q.remove(a);
        assert!(!q.has_due(now + 60_000));
        // Ties go by number; times order across the 32-bit boundary of the key.
        q.set(9, Tick::MAX);
        q.set(u32::MAX, 2);
        q.set(1, 2);
        assert_eq!(q.first_due(), Some(2));
        assert_eq!(q.pop_due(2), Some(1));
        assert_eq!(q.pop_due(2), Some(u32::MAX));
        assert_eq!(q.pop_due(Tick::MAX - 1), None);
        assert_eq!(q.pop_due(Tick::MAX), Some(9));
    }

    #[test]
    fn rebasing_keeps_order_and_what_is_due() {
        let mut q = DueQueue::default();
        q.set(1, 100); // long overdue: stays due
        q.set(2, 5_000);
        q.set(3, 9_000);
        q.rebase(4_000);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_due(0), Some(1));
        assert!(!q.has_due(999));
        assert_eq!(q.pop_due(1_000), Some(2));
        assert_eq!(q.first_due(), Some(5_000));
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_keeps_milliseconds_and_rebases_before_overflowing() {
        let start = Instant::now();
        let mut clock = Clock::new(start);
        let t = clock.tick(start);
        assert_eq!(clock.tick(start + Duration::from_millis(20)), t + 20);
        assert_eq!(clock.tick(start + Duration::from_micros(20_999)), t + 20);
        assert!(clock.instant(t) <= start);
        assert!(clock.rebase(start + Duration::from_secs(3_600)).is_none());

        // 25 days on: the epoch moves, and "now" reads as just after it again.
        let later = start + Duration::from_secs(25 * 86_400);
        let before = clock.tick(later);
        assert!(before >= REBASE_AT);
        let shift = clock.rebase(later).unwrap();
        assert_eq!(clock.tick(later), before - shift);
        assert_eq!(clock.tick(later), EPOCH_LEAD.as_millis() as Tick);
        assert!(clock.rebase(later).is_none());
    }
}
