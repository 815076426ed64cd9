//! The renewal scheduler of PROTOCOL §8.3: which `monitor.messages` dicts go to which node,
//! and when.
//!
//! **Owns:** the monitored accounts, interned as dense numbers (`accounts.rs`), their entries
//! (`entries.rs`), per-node due queues (`queue.rs`), the node set and account placement
//! (`topology.rs`), batching, the monitor-wide bound on request bytes in flight, and replies
//! (`batch.rs`).
//! **Must not:** touch sockets (it asks [`OxenMq`]) or the store (it reads [`MonitorSource`]).
//!
//! Input: node lists (watch), dirty accounts (the [`Dirty`] set + `Notify`, fed by
//! `SwarmHandle`'s `Changes`), link events, request completions and a 1 s tick.
//! Output: requests through `OxenMq` and a [`SwarmStatus`] on a watch channel.

mod accounts;
mod batch;
mod entries;
mod queue;
#[cfg(test)]
mod tests;
mod topology;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::accounts::Accounts;
use self::batch::Completion;
use self::entries::Entry;
use self::queue::{Clock, DueQueue};
use super::nodes::{Node, NodeList};
use super::oxenmq::{ConnId, LinkEvent, OxenMq};
use super::{MonitorSource, SwarmGate, SwarmStatus};
use crate::clock::unix_now;
use crate::subscription::AccountId;

/// How often due entries are looked for (§8.3: at least every 10 s).
const TICK: Duration = Duration::from_secs(1);

/// Accounts whose subscriptions changed, with whether the change must reach the swarm now.
#[derive(Default)]
pub(crate) struct Dirty {
    accounts: Mutex<HashMap<AccountId, bool>>,
    pub notify: Notify,
}

impl Dirty {
    /// Marks `account`; `urgent` ones are submitted to their swarm at once (§8.3).
    pub fn mark(&self, account: AccountId, urgent: bool) {
        if let Ok(mut map) = self.accounts.lock() {
            *map.entry(account).or_insert(false) |= urgent;
        }
        self.notify.notify_one();
    }

    fn take(&self) -> HashMap<AccountId, bool> {
        self.accounts
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// Renewal interval bounds, seconds (`[swarm] resubscribe_min_secs`/`max_secs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Renewal {
    pub min_secs: u64,
    pub max_secs: u64,
}

struct NodeState {
    node: Node,
    conn: ConnId,
    up: bool,
    outstanding: usize,
    /// The swarm whose accounts (`Monitor::by_swarm`) this node is responsible for, queued or
    /// in flight: its own if monitored, as of the last `sync_node_accounts`; `None`: nothing.
    /// Swarms are disjoint, so this one number replaces a per-node set of accounts.
    serves: Option<u64>,
    /// The monitor's `turn` when this node last sent: the least recently served node goes
    /// first when the in-flight bound leaves room for only some.
    last_turn: u64,
    queue: DueQueue,
}

impl NodeState {
    /// A node not yet connected, responsible for nothing yet.
    fn new(node: Node, conn: ConnId) -> Self {
        NodeState {
            node,
            conn,
            up: false,
            outstanding: 0,
            serves: None,
            last_turn: 0,
            queue: DueQueue::default(),
        }
    }
}

/// The scheduler; `run` consumes it.
pub(crate) struct Monitor {
    mq: OxenMq,
    source: Arc<dyn MonitorSource>,
    dirty: Arc<Dirty>,
    status: watch::Sender<SwarmStatus>,
    renewal: Renewal,
    loaded: bool,
    /// `block_hash` and height of the node list in use (`/stats`).
    block: (String, u64),
    swarm_ids: Vec<u64>,
    nodes: HashMap<[u8; 32], NodeState>,
    by_conn: HashMap<ConnId, [u8; 32]>,
    next_conn: u64,
    accounts: Accounts,
    /// Account numbers per swarm (every swarm, monitored or not).
    by_swarm: HashMap<u64, HashSet<u32>>,
    /// Due times in the queues are ticks of this clock.
    clock: Clock,
    /// Body bytes of the `monitor.messages` requests in flight, all nodes together.
    in_flight_bytes: usize,
    /// At most this many (`batch::MAX_IN_FLIGHT_BYTES`; smaller in tests).
    max_in_flight_bytes: usize,
    /// Counts batches sent (`NodeState::last_turn`).
    turn: u64,
    /// `None`: every swarm is monitored (the single relay).
    gate: Option<Arc<dyn SwarmGate>>,
    /// Where the swarm ids of each applied node list are published (the gate's owner and the
    /// notify intake read them).
    ids_out: Option<watch::Sender<Arc<Vec<u64>>>>,
}

impl Monitor {
    pub fn new(
        mq: OxenMq,
        source: Arc<dyn MonitorSource>,
        dirty: Arc<Dirty>,
        status: watch::Sender<SwarmStatus>,
        renewal: Renewal,
    ) -> Self {
        Monitor {
            mq,
            source,
            dirty,
            status,
            renewal,
            loaded: false,
            block: (String::new(), 0),
            swarm_ids: Vec::new(),
            nodes: HashMap::new(),
            by_conn: HashMap::new(),
            next_conn: 0,
            accounts: Accounts::default(),
            by_swarm: HashMap::new(),
            clock: Clock::new(Instant::now()),
            in_flight_bytes: 0,
            max_in_flight_bytes: batch::MAX_IN_FLIGHT_BYTES,
            turn: 0,
            gate: None,
            ids_out: None,
        }
    }

    /// Monitors only the swarms `gate` allows (when given), and publishes swarm ids on `ids`.
    pub fn gated(
        mut self,
        gate: Option<Arc<dyn SwarmGate>>,
        ids: watch::Sender<Arc<Vec<u64>>>,
    ) -> Self {
        self.gate = gate;
        self.ids_out = Some(ids);
        self
    }

    /// Runs until `shutdown`; node lists arrive on `lists`.
    pub async fn run(
        mut self,
        mut lists: watch::Receiver<Option<Arc<NodeList>>>,
        shutdown: CancellationToken,
    ) {
        for account in self.source.accounts() {
            self.dirty.mark(account, true);
        }
        let mq = self.mq.clone();
        let dirty = self.dirty.clone();
        let mut in_flight: FuturesUnordered<futures::future::BoxFuture<'static, Completion>> =
            FuturesUnordered::new();
        let mut tick = tokio::time::interval(TICK);
        let mut lists_open = true;
        let mut gate_changes = self.gate.as_ref().map(|g| g.changes());
        let mut next_send = None;
        loop {
            // Whether what `/health` and `/stats` show may have changed: sends and replies
            // do not change it, and they are most turns at scale (renewals come due one
            // account at a time, ~30 a second for 100,000 account-members).
            let refresh_status = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(Ok(())) = async {
                    match gate_changes.as_mut() {
                        Some(rx) => Some(rx.changed().await),
                        None => None,
                    }
                } => {
                    self.sync_node_accounts(Instant::now());
                    true
                }
                changed = lists.changed(), if lists_open => {
                    match changed {
                        Ok(()) => {
                            let list = lists.borrow_and_update().clone();
                            if let Some(list) = list {
                                self.apply_list(&list).await;
                            }
                        }
                        Err(_) => lists_open = false,
                    }
                    true
                }
                () = mq.events_posted() => {
                    self.apply_link_events();
                    true
                }
                () = dirty.notify.notified() => {
                    self.apply_dirty();
                    true
                }
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    self.complete(done);
                    false
                }
                _ = tick.tick() => true,
                () = async {
                    match next_send {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => false,
            };
            self.rebase_clock(Instant::now());
            self.dispatch(Instant::now(), &mut in_flight);
            next_send = self.next_send();
            self.report_warm(Instant::now());
            if refresh_status {
                self.publish_status();
            }
        }
    }

    /// Tells the gate which swarms being taken over are fully submitted: every connected
    /// member has no account of the swarm due and no request in flight, and at least one
    /// member is connected (unless the swarm has no members at all).
    fn report_warm(&self, now: Instant) {
        let Some(gate) = &self.gate else { return };
        let now = self.clock.tick(now);
        let pending = gate.pending();
        if pending.is_empty() {
            return;
        }
        let warm: Vec<u64> = pending
            .into_iter()
            .filter(|swarm| {
                let members: Vec<&NodeState> = self
                    .nodes
                    .values()
                    .filter(|n| n.node.swarm_id == *swarm)
                    .collect();
                let up: Vec<&&NodeState> = members.iter().filter(|n| n.up).collect();
                (members.is_empty() || !up.is_empty())
                    && up
                        .iter()
                        .all(|n| n.outstanding == 0 && !n.queue.has_due(now))
            })
            .collect();
        if !warm.is_empty() {
            gate.warm(warm);
        }
    }

    /// Keeps due times within the range of a `Tick` (every ~24.8 days).
    fn rebase_clock(&mut self, now: Instant) {
        if let Some(shift) = self.clock.rebase(now) {
            for state in self.nodes.values_mut() {
                state.queue.rebase(shift);
            }
        }
    }

    fn apply_link_events(&mut self) {
        let now = self.clock.tick(Instant::now());
        for (conn, event) in self.mq.take_events() {
            let Some(state) = self.by_conn.get(&conn).and_then(|k| self.nodes.get_mut(k)) else {
                continue;
            };
            match event {
                LinkEvent::Up => {
                    // §7.3: a (re)connected node may have lost everything: all due at once.
                    state.up = true;
                    let known = state.serves.and_then(|swarm| self.by_swarm.get(&swarm));
                    for &account in known.into_iter().flatten() {
                        state.queue.set(account, now);
                    }
                    tracing::debug!(node = %state.node.short(), "storage server connected");
                }
                LinkEvent::Down => {
                    state.up = false;
                    tracing::debug!(node = %state.node.short(), "storage server disconnected");
                }
            }
        }
    }

    fn apply_dirty(&mut self) {
        let now_unix = unix_now();
        let now = Instant::now();
        for (account, urgent) in self.dirty.take() {
            let subs = self.source.subscriptions(&account, now_unix);
            let entries = match entries::derive(&subs, now_unix) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::error!(%account, error = %e, "cannot encode monitor entries");
                    continue;
                }
            };
            self.upsert_account(account, entries, urgent, now);
        }
    }

    /// Holds `entries` as `account`'s (none: forgets it); a new account is due now on its
    /// swarm, a changed one too if `urgent` (§8.3).
    fn upsert_account(
        &mut self,
        account: AccountId,
        entries: Vec<Entry>,
        urgent: bool,
        now: Instant,
    ) {
        if entries.is_empty() {
            self.forget_account(&account);
            return;
        }
        let now = self.clock.tick(now);
        let swarm = super::mapping::swarm_of(&account, &self.swarm_ids);
        match self.accounts.upsert(account, swarm, entries) {
            (id, true) => self.place_account(id, swarm, now),
            (id, false) if urgent => self.due_on_swarm(id, swarm, now),
            _ => {}
        }
    }

    fn publish_status(&self) {
        let (connections, pending) = self.mq.counts();
        // One pass over the nodes (not one per swarm: 400 × 2,000 at real-network size).
        let up_swarms: HashSet<u64> = self
            .nodes
            .values()
            .filter(|n| n.up)
            .map(|n| n.node.swarm_id)
            .collect();
        let swarms_connected = self
            .swarm_ids
            .iter()
            .filter(|id| up_swarms.contains(id))
            .count();
        let status = SwarmStatus {
            node_list_loaded: self.loaded,
            swarms: self.swarm_ids.len(),
            snodes: self.nodes.len(),
            swarms_connected,
            accounts_monitored: self.accounts.len(),
            connections,
            pending_connections: pending,
            block_hash: self.block.0.clone(),
            block_height: self.block.1,
        };
        self.status.send_if_modified(|old| {
            let changed = *old != status;
            *old = status;
            changed
        });
    }
}
