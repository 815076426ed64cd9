//! One node's renewal queue: when each of its accounts is next due (PROTOCOL §8.3 "When").

use std::collections::{BTreeSet, HashMap};

use tokio::time::Instant;

use crate::subscription::AccountId;

/// Due times per account, ordered.
#[derive(Default)]
pub(crate) struct DueQueue {
    order: BTreeSet<(Instant, AccountId)>,
    at: HashMap<AccountId, Instant>,
}

impl DueQueue {
    /// (Re)schedules `account` at `when`.
    pub fn set(&mut self, account: AccountId, when: Instant) {
        if let Some(old) = self.at.insert(account, when) {
            self.order.remove(&(old, account));
        }
        self.order.insert((when, account));
    }

    /// Forgets `account`.
    pub fn remove(&mut self, account: &AccountId) {
        if let Some(old) = self.at.remove(account) {
            self.order.remove(&(old, *account));
        }
    }

    /// Takes the earliest account due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<AccountId> {
        let &(when, account) = self.order.first()?;
        if when > now {
            return None;
        }
        self.order.pop_first();
        self.at.remove(&account);
        Some(account)
    }

    /// When the earliest account is due.
    pub fn first_due(&self) -> Option<Instant> {
        self.order.first().map(|(when, _)| *when)
    }

    /// How many accounts are queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether something is due at or before `now`.
    pub fn has_due(&self, now: Instant) -> bool {
        self.order.first().is_some_and(|(when, _)| *when <= now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn earliest_first_and_rescheduling_replaces() {
        let now = Instant::now();
        let (a, b) = (AccountId([1; 33]), AccountId([2; 33]));
        let mut q = DueQueue::default();
        q.set(a, now + Duration::from_secs(5));
        q.set(b, now);
        assert!(q.has_due(now));
        assert_eq!(q.pop_due(now), Some(b));
        assert_eq!(q.pop_due(now), None);
        q.set(a, now); // moved earlier
        assert_eq!(q.pop_due(now), Some(a));
        q.set(a, now);
        q.remove(&a);
        assert!(!q.has_due(now + Duration::from_secs(60)));
    }
}
