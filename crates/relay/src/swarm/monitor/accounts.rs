//! The monitored accounts, interned: each gets a dense `u32` number for as long as it is
//! monitored, and every per-node structure (due queues, swarm sets) holds that number instead of
//! the 33-byte [`AccountId`] (issue 12: per-(account, node) state was ~235 B of the relay's
//! 3,982 B per subscription at 2,000 nodes).
//!
//! Memory: one 72-byte [`Slot`] per account, which holds the account ID once, and a 4-byte
//! number in a hash table keyed by that ID (a `HashMap<AccountId, u32>` would hold it twice).
//! Freed slots are reused (a free list), so the slots never outnumber the most accounts held
//! at once.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::entries::Entry;
use crate::subscription::AccountId;
use crate::swarm::mapping::INVALID_SWARM_ID;

/// An account's number together with the slot generation it was read at; a reply naming a
/// number whose account was forgotten since (and whose slot may hold another account now) no
/// longer matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct AccountRef {
    pub id: u32,
    gen: u32,
}

/// One account's state, or a free slot (no entries).
struct Slot {
    account: AccountId,
    /// What is submitted; never empty while the slot is in use (an account without entries
    /// is forgotten).
    entries: Vec<Entry>,
    /// The account's swarm under the current node list, `INVALID_SWARM_ID` for none (no node
    /// list yet): oxend never reports it for a usable node (§13).
    swarm: u64,
    /// Bumped each time the slot is freed.
    gen: u32,
}

/// Account numbers and the state behind them.
#[derive(Default)]
pub(super) struct Accounts {
    /// Numbers of the accounts held, hashed by their slot's account ID.
    ids: HashTable<u32>,
    hasher: RandomState,
    slots: Vec<Slot>,
    /// Numbers of free slots, reused last-freed first.
    free: Vec<u32>,
}

impl Accounts {
    /// Holds `entries` (not empty) and `swarm` for `account`: its number, and whether it is new.
    pub fn upsert(
        &mut self,
        account: AccountId,
        swarm: Option<u64>,
        entries: Vec<Entry>,
    ) -> (u32, bool) {
        let swarm = swarm.unwrap_or(INVALID_SWARM_ID);
        if let Some(id) = self.id(&account) {
            let slot = &mut self.slots[id as usize];
            slot.entries = entries;
            slot.swarm = swarm;
            return (id, false);
        }
        let id = match self.free.pop() {
            Some(id) => {
                let slot = &mut self.slots[id as usize];
                slot.account = account;
                slot.entries = entries;
                slot.swarm = swarm;
                id
            }
            None => {
                // u32::MAX accounts would take some 300 GB; the count cannot get there.
                let id = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(Slot {
                    account,
                    entries,
                    swarm,
                    gen: 0,
                });
                id
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.ids.insert_unique(hasher.hash_one(account), id, |&id| {
            hasher.hash_one(slots[id as usize].account)
        });
        (id, true)
    }

    /// Forgets `account`: its number (and its swarm then) if it was held. The number may be
    /// given to another account from now on.
    pub fn remove(&mut self, account: &AccountId) -> Option<(u32, Option<u64>)> {
        let slots = &self.slots;
        let found = self.ids.find_entry(self.hasher.hash_one(account), |&id| {
            slots[id as usize].account == *account
        });
        let (id, _) = found.ok()?.remove();
        let slot = &mut self.slots[id as usize];
        let swarm = swarm_of_slot(slot);
        slot.entries = Vec::new();
        slot.swarm = INVALID_SWARM_ID;
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(id);
        Some((id, swarm))
    }

    /// The number of `account`, if held.
    pub fn id(&self, account: &AccountId) -> Option<u32> {
        self.ids
            .find(self.hasher.hash_one(account), |&id| {
                self.slots[id as usize].account == *account
            })
            .copied()
    }

    /// The account behind `id`, if held.
    pub fn account(&self, id: u32) -> Option<AccountId> {
        self.slots
            .get(id as usize)
            .filter(|s| !s.entries.is_empty())
            .map(|s| s.account)
    }

    /// `id` with its current generation, for a request that will name it in its reply.
    pub fn tag(&self, id: u32) -> AccountRef {
        let gen = self.slots.get(id as usize).map_or(0, |s| s.gen);
        AccountRef { id, gen }
    }

    /// Whether `account` still names the account it was tagged for.
    pub fn current(&self, account: AccountRef) -> bool {
        self.slots
            .get(account.id as usize)
            .is_some_and(|s| s.gen == account.gen && !s.entries.is_empty())
    }

    /// The entries of `id` (empty for a free slot).
    pub fn entries(&self, id: u32) -> &[Entry] {
        self.slots.get(id as usize).map_or(&[], |s| &s.entries)
    }

    /// The swarm of `id` under the current node list.
    pub fn swarm(&self, id: u32) -> Option<u64> {
        self.slots.get(id as usize).and_then(swarm_of_slot)
    }

    /// Sets the swarm of `id` (a new node list).
    pub fn set_swarm(&mut self, id: u32, swarm: Option<u64>) {
        if let Some(slot) = self.slots.get_mut(id as usize) {
            slot.swarm = swarm.unwrap_or(INVALID_SWARM_ID);
        }
    }

    /// Every held account with its number.
    pub fn iter(&self) -> impl Iterator<Item = (&AccountId, u32)> {
        self.ids
            .iter()
            .map(|&id| (&self.slots[id as usize].account, id))
    }

    /// How many accounts are held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

fn swarm_of_slot(slot: &Slot) -> Option<u64> {
    (slot.swarm != INVALID_SWARM_ID).then_some(slot.swarm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Vec<Entry> {
        vec![Entry {
            sig_ts: 1,
            dict: vec![n],
        }]
    }

    #[test]
    fn numbers_are_dense_and_reused_after_forgetting() {
        let (a, b, c) = (AccountId([1; 33]), AccountId([2; 33]), AccountId([3; 33]));
        let mut accounts = Accounts::default();
        assert_eq!(accounts.upsert(a, Some(7), entry(1)), (0, true));
        assert_eq!(accounts.upsert(b, None, entry(2)), (1, true));
        assert_eq!(accounts.upsert(a, Some(8), entry(3)), (0, false));
        assert_eq!((accounts.swarm(0), accounts.swarm(1)), (Some(8), None));
        assert_eq!(accounts.entries(0), &entry(3)[..]);

        let tagged = accounts.tag(0);
        assert!(accounts.current(tagged));
        assert_eq!(accounts.remove(&a), Some((0, Some(8))));
        assert_eq!(accounts.remove(&a), None);
        assert!(!accounts.current(tagged));
        assert!(accounts.entries(0).is_empty());
        assert_eq!(accounts.id(&a), None);
        assert_eq!(accounts.account(0), None);

        // The freed number goes to the next new account; the old tag does not name it.
        assert_eq!(accounts.upsert(c, Some(9), entry(4)), (0, true));
        assert_eq!(accounts.id(&c), Some(0));
        assert_eq!(accounts.account(0), Some(c));
        assert_eq!(accounts.id(&b), Some(1));
        assert!(!accounts.current(tagged));
        assert!(accounts.current(accounts.tag(0)));
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts.slots.len(), 2);
    }
}
