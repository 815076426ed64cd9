//! The message phase: waits until the swarms monitor every subscribed account, then offers
//! messages at a fixed rate, each entered in the ledger and then stored on its account's swarm
//! (every member sends `notify.message`, PROTOCOL §8.4).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::ledger::Ledger;
use super::message::message;
use crate::fake_storage::MonitorRecord;
use crate::network::Network;
use crate::synthetic;
use relay::subscription::AccountId;

/// How often the offering loop wakes up to catch up with the rate.
const TICK: Duration = Duration::from_millis(5);

/// Waits (at most `limit`) until every member of each swarm accepted a `monitor.messages`
/// entry for every account of that swarm in `accounts`; the accounts still unmonitored.
pub async fn wait_monitored(net: &Network, accounts: &[AccountId], limit: Duration) -> usize {
    let members = net.nodes().iter().map(|node| {
        let wanted: HashSet<AccountId> = accounts
            .iter()
            .filter(|a| net.swarm_of(a) == node.swarm_id)
            .copied()
            .collect();
        let seen = Mutex::new((0usize, HashSet::new()));
        async move {
            let covered = |records: &[MonitorRecord]| {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                let (read, accepted) = &mut *seen;
                for record in &records[(*read).min(records.len())..] {
                    let ok = record.items.iter().filter(|i| i.result.is_ok());
                    accepted.extend(ok.filter_map(|i| i.account));
                }
                *read = records.len();
                wanted.iter().all(|a| accepted.contains(a))
            };
            node.storage.wait_for(limit, covered).await;
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            wanted.iter().filter(|a| !seen.1.contains(a)).count()
        }
    });
    futures::future::join_all(members).await.into_iter().sum()
}

/// Waits (at most `limit`) until every node received a `monitor.messages` item (accepted or
/// refused: the synthetic signatures are refused) for each preloaded account of its swarm;
/// the nodes still short.
pub async fn wait_preload_monitored(net: &Network, preload: u64, limit: Duration) -> usize {
    let mut per_swarm: HashMap<u64, usize> = HashMap::new();
    for i in 0..preload {
        *per_swarm
            .entry(net.swarm_of(&synthetic::account(i)))
            .or_default() += 1;
    }
    let members = net.nodes().iter().map(|node| {
        let wanted = per_swarm.get(&node.swarm_id).copied().unwrap_or(0);
        async move {
            let received = |records: &[MonitorRecord]| {
                records.iter().map(|r| r.items.len()).sum::<usize>() >= wanted
            };
            node.storage.wait_for(limit, received).await
        }
    });
    let reached = futures::future::join_all(members).await;
    reached.into_iter().filter(|done| !done).count()
}

/// How many messages are due `elapsed` into the phase at `rate` per second.
fn due(elapsed: Duration, rate: u32) -> u64 {
    (elapsed.as_secs_f64() * f64::from(rate)) as u64
}

/// What the offering phase did.
pub struct Offered {
    /// Messages offered.
    pub messages: u64,
    /// `notify.message` copies the fake storage servers sent for them.
    pub copies: u64,
    /// How long offering took.
    pub elapsed: Duration,
}

/// Offers `rate` messages per second for `duration`, round-robin over `targets` (account
/// indices into `accounts`, each with a subscribed device).
pub async fn offer(
    net: &Network,
    ledger: &Ledger,
    accounts: &[(AccountId, i16)],
    targets: &[usize],
    rate: u32,
    duration: Duration,
) -> Offered {
    let total = due(duration, rate);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut storing = FuturesUnordered::new();
    let started = Instant::now();
    let mut offered = 0u64;
    let mut copies = 0u64;
    while offered < total || !storing.is_empty() {
        tokio::select! {
            _ = tick.tick(), if offered < total => {
                let now = due(started.elapsed(), rate).min(total);
                while offered < now {
                    let account = targets[offered as usize % targets.len()];
                    let seq = ledger.offer(account);
                    let (id, namespace) = accounts[account];
                    let stored = message(seq, id, namespace);
                    storing.push(async move { (seq, net.store_message(&stored).await) });
                    offered += 1;
                }
            }
            Some((seq, stored)) = storing.next(), if !storing.is_empty() => {
                match stored {
                    Ok(sent) => copies += sent as u64,
                    Err(e) => ledger.store_failed(seq, &e.to_string()),
                }
            }
        }
    }
    Offered {
        messages: offered,
        copies,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fall_due_at_the_rate() {
        assert_eq!(due(Duration::ZERO, 100), 0);
        assert_eq!(due(Duration::from_millis(5), 100), 0);
        assert_eq!(due(Duration::from_millis(10), 100), 1);
        assert_eq!(due(Duration::from_secs(10), 100), 1000);
        assert_eq!(due(Duration::from_secs(5), 50), 250);
    }
}
