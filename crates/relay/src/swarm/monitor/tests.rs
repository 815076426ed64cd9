//! Monitor-level tests on a monitor whose nodes are set up in place (no storage servers), and
//! the in-process memory measurement of the monitor's state (issue 12).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::batch::{Completion, COALESCE, MAX_BYTES};
use super::entries::{self, Entry};
use super::{Dirty, Monitor, NodeState, Renewal};
use crate::clock::unix_now;
use crate::crypto::{self, KeyPair};
use crate::delivery::tests_support::subscription;
use crate::subscription::{AccountId, Subscription};
use crate::swarm::nodes::Node;
use crate::swarm::oxenmq::{ConnId, Options, OxenMq};
use crate::swarm::{MonitorSource, SwarmStatus};

/// The monitor reads nothing from here: tests hand it entries directly.
struct NoSource;

impl MonitorSource for NoSource {
    fn accounts(&self) -> Vec<AccountId> {
        Vec::new()
    }

    fn subscriptions(&self, _: &AccountId, _: i64) -> Vec<Subscription> {
        Vec::new()
    }
}

fn monitor() -> Monitor {
    crypto::init().unwrap();
    let mq = OxenMq::start(
        &KeyPair::from_secret([7; 32]),
        Options {
            max_pending_connects: 1,
            connection_metrics: false,
        },
        Box::new(|_, _, _| {}),
    )
    .unwrap();
    Monitor::new(
        mq,
        Arc::new(NoSource),
        Arc::new(Dirty::default()),
        watch::channel(SwarmStatus::default()).0,
        Renewal {
            min_secs: 2700,
            max_secs: 3300,
        },
    )
}

/// Adds `swarms` swarms of `members` connected nodes each (never asking the proxy to connect)
/// and returns the swarm ids, sorted.
fn add_nodes(m: &mut Monitor, swarms: u64, members: u64) -> Vec<u64> {
    let ids: Vec<u64> = (1..=swarms)
        .map(|s| s * (u64::MAX / (swarms + 1)))
        .collect();
    for (s, &swarm_id) in (0u64..).zip(&ids) {
        for n in 0..members {
            let k = s * members + n;
            let mut key = [0; 32];
            key[..8].copy_from_slice(&k.to_le_bytes());
            let node = Node {
                pubkey_x25519: key,
                ip: "127.0.0.1".into(),
                port: 1,
                swarm_id,
            };
            let conn = ConnId(k + 1);
            let mut state = NodeState::new(node, conn);
            state.up = true;
            m.by_conn.insert(conn, key);
            m.nodes.insert(key, state);
        }
    }
    ids
}

/// Account `i` of a synthetic population (a 05 account).
fn account(i: u64) -> AccountId {
    let mut account = [0x05; 33];
    account[1..].copy_from_slice(&crypto::blake2b::<32>(&[&[1], &i.to_le_bytes()]));
    AccountId(account)
}

/// The entries of account `i`: one subscription, of the sizes a real one has.
fn entries_of(i: u64, sig_ts: i64) -> Vec<Entry> {
    let sub = Subscription {
        account: account(i),
        sig_ts,
        ..subscription(0, "apns", "token", &[0])
    };
    entries::derive(&[sub], sig_ts).unwrap()
}

/// The process's resident set size in bytes, if readable.
fn vm_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// Issue 12: the monitor's state for N accounts on the real network's shape (2,000 nodes in
/// 400 swarms), built the way a relay starts (accounts first, then the node list), as VmRSS
/// growth. For a figure, run it alone (other tests would share the process):
/// `MONITOR_MEMORY_ACCOUNTS=200000 cargo test -p relay --lib monitor_state_memory -- --nocapture`
#[test]
fn monitor_state_memory() {
    let count: u64 = std::env::var("MONITOR_MEMORY_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (swarms, members) = (400, 5);
    let mut m = monitor();
    let ids = add_nodes(&mut m, swarms, members);
    let (now, sig_ts) = (Instant::now(), unix_now());
    let before = vm_rss();
    for i in 0..count {
        m.upsert_account(account(i), entries_of(i, sig_ts), true, now);
    }
    let held = vm_rss();
    m.set_swarm_ids(ids, now);
    m.sync_node_accounts(now);
    let placed = vm_rss();

    // Every account is due on each member of its swarm, and nowhere else.
    let pairs: usize = m.nodes.values().map(|n| n.queue.len()).sum();
    assert_eq!(pairs as u64, count * members);
    if let (Some(before), Some(held), Some(placed)) = (before, held, placed) {
        let pairs = count * members;
        println!(
            "monitor_state_memory: {count} accounts on {} nodes / {swarms} swarms: VmRSS \
             {:.1} -> {:.1} -> {:.1} MiB; {} B per account held (entries + index), {} B per \
             (account, node) placed (due queues, swarm sets), {} B per account in all",
            m.nodes.len(),
            before as f64 / 1048576.0,
            held as f64 / 1048576.0,
            placed as f64 / 1048576.0,
            held.saturating_sub(before) / count.max(1),
            placed.saturating_sub(held) / pairs.max(1),
            placed.saturating_sub(before) / count.max(1),
        );
    }
}

type InFlight = FuturesUnordered<BoxFuture<'static, Completion>>;

/// A monitor with `swarms` × `members` connected nodes, every swarm monitored.
fn placed_monitor(swarms: u64, members: u64) -> (Monitor, Vec<u64>) {
    let mut m = monitor();
    let ids = add_nodes(&mut m, swarms, members);
    let now = Instant::now();
    m.set_swarm_ids(ids.clone(), now);
    m.sync_node_accounts(now);
    (m, ids)
}

/// One swarm of two members with account 1 subscribed (due now on both): the monitor, the
/// account's number, its `sig_ts` and the time it was subscribed.
fn account_1_due_on_two_members() -> (Monitor, u32, i64, Instant) {
    let (mut m, _) = placed_monitor(1, 2);
    let sig_ts = unix_now();
    let now = Instant::now();
    m.upsert_account(account(1), entries_of(1, sig_ts), true, now);
    let id = m.accounts.id(&account(1)).unwrap();
    (m, id, sig_ts, now)
}

/// Whether any node queue holds `id`.
fn queued_anywhere(m: &Monitor, id: u32) -> bool {
    m.nodes.values().any(|n| n.queue.contains(id))
}

#[tokio::test]
async fn a_forgotten_number_reaches_no_queue_even_when_reused() {
    let (mut m, id, sig_ts, now) = account_1_due_on_two_members();
    let old = m.accounts.tag(id);
    assert!(m.nodes.values().all(|n| n.queue.contains(id)));

    // Both members send it; while the requests are out, the account goes and another one
    // takes its number.
    let mut in_flight = InFlight::new();
    m.dispatch(now + COALESCE, &mut in_flight);
    assert_eq!(in_flight.len(), 2);
    m.upsert_account(account(1), Vec::new(), false, now);
    assert!(!queued_anywhere(&m, id));
    assert!(m.by_swarm.values().all(|s| !s.contains(&id)));
    m.upsert_account(account(2), entries_of(2, sig_ts), true, now);
    assert_eq!(m.accounts.id(&account(2)), Some(id));
    assert!(m.nodes.values().all(|n| n.queue.contains(id)));

    // The new account goes too, so no node queues the number; the replies for the old one
    // (failures: these nodes are not connected) must not queue it again.
    m.dispatch(now + COALESCE, &mut in_flight);
    assert_eq!(in_flight.len(), 4);
    assert!(!queued_anywhere(&m, id));
    let mut new = Vec::new();
    while let Some(done) = in_flight.next().await {
        if done.accounts == [old] {
            m.complete(done);
            assert!(!queued_anywhere(&m, id));
        } else {
            new.push(done);
        }
    }
    // Its own replies do.
    assert_eq!(new.len(), 2);
    for done in new {
        m.complete(done);
    }
    assert!(m.nodes.values().all(|n| n.queue.contains(id)));
    assert_eq!(m.in_flight_bytes, 0);
}

#[tokio::test]
async fn batches_beyond_the_in_flight_bound_wait_for_replies() {
    let (mut m, swarm_ids) = placed_monitor(3, 2);
    // Room for one full-size body: one request in flight at a time, monitor-wide.
    m.max_in_flight_bytes = MAX_BYTES + 1;
    let sig_ts = unix_now();
    let now = Instant::now();
    let mut wanted: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
    for i in 0..30 {
        m.upsert_account(account(i), entries_of(i, sig_ts), true, now);
        let id = m.accounts.id(&account(i)).unwrap();
        let swarm = m.accounts.swarm(id).unwrap();
        for (key, n) in &m.nodes {
            if n.node.swarm_id == swarm {
                wanted.entry(*key).or_default().push(id);
            }
        }
    }
    assert!(swarm_ids
        .iter()
        .all(|s| m.by_swarm.get(s).is_some_and(|a| !a.is_empty())));

    let mut in_flight = InFlight::new();
    let mut sent: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
    m.dispatch(now + COALESCE, &mut in_flight);
    while let Some(done) = in_flight.next().await {
        // Nothing else went meanwhile, and the loop would not spin waiting for room.
        assert!(in_flight.is_empty());
        assert!(m.in_flight_bytes > 0 && m.in_flight_bytes == done.bytes);
        assert_eq!(m.next_send(), None);
        sent.entry(done.node)
            .or_default()
            .extend(done.accounts.iter().map(|a| a.id));
        m.complete(done);
        assert_eq!(m.in_flight_bytes, 0);
        m.dispatch(now + COALESCE, &mut in_flight);
    }
    // Every node got every one of its accounts, once.
    for ids in wanted.values_mut().chain(sent.values_mut()) {
        ids.sort_unstable();
    }
    assert_eq!(sent, wanted);
    assert_eq!(sent.len(), 6);

    // With room again, every node's due accounts go at once.
    m.max_in_flight_bytes = super::batch::MAX_IN_FLIGHT_BYTES;
    for i in 0..30 {
        let id = m.accounts.id(&account(i)).unwrap();
        m.due_on_swarm(id, m.accounts.swarm(id), m.clock.tick(now));
    }
    m.dispatch(now + COALESCE + Duration::from_millis(1), &mut in_flight);
    assert_eq!(in_flight.len(), 6);
}

/// §8.3: a change reaches the swarm within 1 s even when a request with the account's old
/// entries is out at that moment (its reply used to push the account to the next renewal).
#[tokio::test]
async fn a_change_while_the_account_is_in_flight_stays_due() {
    let (mut m, id, sig_ts, now) = account_1_due_on_two_members();
    let mut in_flight = InFlight::new();
    m.dispatch(now + COALESCE, &mut in_flight);
    assert_eq!(in_flight.len(), 2);
    assert!(!queued_anywhere(&m, id));

    m.upsert_account(account(1), entries_of(1, sig_ts + 1), true, now);
    while let Some(done) = in_flight.next().await {
        m.complete(done);
    }
    let due = m.clock.tick(now);
    assert!(m.nodes.values().all(|n| n.queue.first_due() == Some(due)));
}
