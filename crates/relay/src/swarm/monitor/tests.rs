//! Monitor-level tests on a monitor whose nodes are set up in place (no storage servers), and
//! the in-process memory measurement of the monitor's state (issue 12).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use super::entries::{self, Entry};
use super::{Dirty, Monitor, NodeState, Renewal};
use crate::clock::unix_now;
use crate::crypto::{self, KeyPair};
use crate::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};
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
    let ids: Vec<u64> = (1..=swarms).map(|s| s * (u64::MAX / (swarms + 1))).collect();
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

/// The entries of account `i`: one subscription, as the synthetic population has.
fn entries_of(i: u64, sig_ts: i64) -> Vec<Entry> {
    let bytes = |role: u8| crypto::blake2b::<32>(&[&[role], &i.to_le_bytes()]);
    let mut signature = [0; 64];
    signature[..32].copy_from_slice(&bytes(2));
    signature[32..].copy_from_slice(&bytes(3));
    let sub = Subscription {
        account: account(i),
        session_ed25519: Some(bytes(6)),
        subaccount: None,
        signature: Signature(signature),
        sig_ts,
        namespaces: vec![0],
        want_data: true,
        service: Arc::from("apns"),
        token: DeviceToken::new(hex::encode(bytes(4))),
        enc_key: EncKey(bytes(7)),
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
    m.set_swarm_ids(ids);
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
             (account, node) placed (queues, node sets, swarm sets), {} B per account in all",
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
