//! The copies of one notification that the other members of a swarm send (PROTOCOL §8.4:
//! every member that holds the relay's entry sends `notify.message`): the first is handed to
//! delivery, the others are dropped on the proxy thread before they cost an allocation, a slot
//! in the delivery queue and a subscriber lookup.
//!
//! Only an optimisation: delivery's de-duplication (§9 step 2) stays the rule. A copy is
//! dropped only on an exact (account, hash) match, so nothing new is ever dropped; a copy that
//! finds its slot overwritten passes and is caught by delivery.
//!
//! Memory: [`SLOTS`] slots of 136 bytes, ≈ 560 KB, allocated once.

use std::hash::BuildHasher;

use crate::subscription::AccountId;

/// Recent notifications remembered. Copies of one message arrive within milliseconds of each
/// other; at 25,000 messages/s, 4,096 slots remember the last ≈ 160 ms.
pub(crate) const SLOTS: usize = 4096;

/// Longest hash (`h` is 32…99 bytes, PROTOCOL §13).
const HASH_MAX: usize = 99;

#[derive(Clone, Copy)]
struct Slot {
    account: [u8; 33],
    len: u8,
    hash: [u8; HASH_MAX],
}

impl Slot {
    const EMPTY: Slot = Slot {
        account: [0; 33],
        len: 0,
        hash: [0; HASH_MAX],
    };

    fn holds(&self, account: &AccountId, hash: &[u8]) -> bool {
        self.len != 0
            && usize::from(self.len) == hash.len()
            && self.hash[..hash.len()] == *hash
            && self.account == account.0
    }
}

/// A direct-mapped cache of the (account, hash) pairs handed on last; owned by the intake.
pub(crate) struct RecentCopies {
    slots: Box<[Slot]>,
    hasher: std::collections::hash_map::RandomState,
}

impl RecentCopies {
    pub fn new() -> Self {
        RecentCopies {
            slots: vec![Slot::EMPTY; SLOTS].into_boxed_slice(),
            hasher: Default::default(),
        }
    }

    fn slot(&self, account: &AccountId, hash: &[u8]) -> usize {
        // SLOTS is a power of two; the truncation keeps the low bits.
        (self.hasher.hash_one((account.0, hash)) as usize) & (SLOTS - 1)
    }

    /// Whether (account, hash) was handed on recently; if not, remembers it and says `false`.
    /// A hash longer than [`HASH_MAX`] is never remembered (the parser refuses those).
    pub fn seen_or_insert(&mut self, account: &AccountId, hash: &[u8]) -> bool {
        let i = self.slot(account, hash);
        let slot = &mut self.slots[i];
        if slot.holds(account, hash) {
            return true;
        }
        if hash.is_empty() || hash.len() > HASH_MAX {
            return false;
        }
        slot.account = account.0;
        slot.len = hash.len() as u8; // at most HASH_MAX
        slot.hash[..hash.len()].copy_from_slice(hash);
        false
    }

    /// Forgets (account, hash) if it is remembered: its first copy could not be handed on, so
    /// a later copy must be.
    pub fn forget(&mut self, account: &AccountId, hash: &[u8]) {
        let i = self.slot(account, hash);
        if self.slots[i].holds(account, hash) {
            self.slots[i].len = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_copy_seen_other_hash_or_account_new_forgotten_passes_again() {
        let mut recent = RecentCopies::new();
        let (a, b) = (AccountId([5; 33]), AccountId([6; 33]));
        let h1 = [1u8; 32];
        let h2 = [2u8; 64];
        assert!(!recent.seen_or_insert(&a, &h1));
        assert!(recent.seen_or_insert(&a, &h1));
        assert!(!recent.seen_or_insert(&b, &h1));
        assert!(!recent.seen_or_insert(&a, &h2));
        assert!(
            !recent.seen_or_insert(&a, &h1[..31]),
            "a prefix is another hash"
        );
        recent.forget(&a, &h2);
        assert!(!recent.seen_or_insert(&a, &h2));
        assert!(recent.seen_or_insert(&a, &h2));
        assert!(!recent.seen_or_insert(&a, &[9u8; 100]));
        assert!(
            !recent.seen_or_insert(&a, &[9u8; 100]),
            "too long: never remembered"
        );
    }

    #[test]
    fn an_overwritten_slot_lets_the_copy_through() {
        let mut recent = RecentCopies::new();
        let a = AccountId([5; 33]);
        let first = [0u8; 32];
        assert!(!recent.seen_or_insert(&a, &first));
        // Fill until `first`'s slot is taken by another hash.
        let target = recent.slot(&a, &first);
        let mut n = 1u32;
        loop {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&n.to_le_bytes());
            if recent.slot(&a, &h) == target {
                assert!(!recent.seen_or_insert(&a, &h));
                break;
            }
            n += 1;
        }
        assert!(!recent.seen_or_insert(&a, &first));
    }
}
