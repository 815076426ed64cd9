//! Which dicts an account's subscriptions turn into (PROTOCOL §8.3 "Entries").

use std::collections::BTreeMap;

use crate::subscription::{Subscription, SUBSCRIPTION_LIFETIME_SECS};
use crate::swarm::message::MonitorEntry;
use crate::swarm::SwarmError;

/// Entries this close to expiry are no longer submitted (§13 no-resubmit margin).
const NO_RESUBMIT_MARGIN_SECS: i64 = 60;

/// One encoded dict and the signature time that bounds its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub sig_ts: i64,
    /// Held for every monitored account, so shrunk to its length (the encoder's buffer grows
    /// by doubling).
    pub dict: Vec<u8>,
}

impl Entry {
    /// Whether the entry may still be submitted at unix time `now`.
    pub fn live(&self, now: i64) -> bool {
        self.sig_ts > now - SUBSCRIPTION_LIFETIME_SECS + NO_RESUBMIT_MARGIN_SECS
    }
}

/// One entry per distinct (subaccount token, namespaces, want_data), from the row with the
/// newest `sig_ts`; identical subscriptions of several devices are sent once.
pub(crate) fn derive(subs: &[Subscription], now: i64) -> Result<Vec<Entry>, SwarmError> {
    type Key = (Option<[u8; 36]>, Vec<i16>, bool);
    let mut newest: BTreeMap<Key, &Subscription> = BTreeMap::new();
    for sub in subs {
        let key = (
            sub.subaccount.map(|s| s.token),
            sub.namespaces.clone(),
            sub.want_data,
        );
        let slot = newest.entry(key).or_insert(sub);
        if sub.sig_ts > slot.sig_ts {
            *slot = sub;
        }
    }
    let mut entries = newest
        .into_values()
        .map(|sub| {
            let mut dict = MonitorEntry::from_subscription(sub).encode()?;
            dict.shrink_to_fit();
            Ok(Entry {
                sig_ts: sub.sig_ts,
                dict,
            })
        })
        .filter(|e| e.as_ref().map_or(true, |e| e.live(now)))
        .collect::<Result<Vec<Entry>, SwarmError>>()?;
    // Collected through a filter, the `Vec` keeps room for four; most accounts have one.
    entries.shrink_to_fit();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::subscription::{AccountId, DeviceToken, EncKey, Signature};

    fn sub(token: &str, ns: &[i16], data: bool, sig_ts: i64) -> Subscription {
        Subscription {
            account: AccountId([3; 33]),
            session_ed25519: None,
            subaccount: None,
            signature: Signature([sig_ts as u8; 64]),
            sig_ts,
            namespaces: ns.to_vec(),
            want_data: data,
            service: Arc::from("apns"),
            token: DeviceToken::new(token),
            enc_key: EncKey([0; 32]),
        }
    }

    #[test]
    fn distinct_keys_newest_signature_and_expiry_margin() {
        let now = 2_000_000;
        let subs = [
            sub("a", &[0], true, now - 10),
            sub("b", &[0], true, now - 5), // same key, newer: wins
            sub("c", &[0, 1], true, now - 7),
            sub("d", &[0], false, now - 1_209_600 + 60), // inside the margin: dropped
        ];
        let entries = derive(&subs, now).unwrap();
        assert_eq!(entries.len(), 2);
        let sig_ts: Vec<i64> = entries.iter().map(|e| e.sig_ts).collect();
        assert!(sig_ts.contains(&(now - 5)) && sig_ts.contains(&(now - 7)));
        assert!(derive(&subs[3..], now).unwrap().is_empty());
        assert_eq!(derive(&subs[3..], now - 1).unwrap().len(), 1);
    }
}
