//! Applying node lists (PROTOCOL §5.3) and placing accounts on their swarm's nodes (§6).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::queue::Tick;
use super::{Monitor, NodeState};
use crate::admin::metrics as names;
use crate::subscription::AccountId;
use crate::swarm::mapping::swarm_of;
use crate::swarm::nodes::{diff, Node, NodeList};
use crate::swarm::oxenmq::{ConnId, Remote};

impl Monitor {
    pub(super) async fn apply_list(&mut self, list: &Arc<NodeList>) {
        let old: Vec<Node> = self.nodes.values().map(|s| s.node.clone()).collect();
        let d = diff(&old, &list.nodes);
        for key in &d.removed {
            self.drop_node(key).await;
        }
        for node in d.readdressed.iter().chain(&d.added) {
            self.drop_node(&node.pubkey_x25519).await;
            self.add_node(node.clone()).await;
        }
        for node in &d.moved {
            if let Some(state) = self.nodes.get_mut(&node.pubkey_x25519) {
                state.node.swarm_id = node.swarm_id;
            }
        }
        if self.swarm_ids != list.swarm_ids {
            self.set_swarm_ids(list.swarm_ids.clone(), Instant::now());
            if let Some(out) = &self.ids_out {
                out.send_replace(Arc::new(self.swarm_ids.clone()));
            }
        }
        self.sync_node_accounts(Instant::now());
        self.loaded = true;
        self.block = (list.block_hash.clone(), list.height);
        metrics::gauge!(names::SWARM_NODES).set(self.nodes.len() as f64);
        tracing::info!(
            nodes = self.nodes.len(),
            swarms = self.swarm_ids.len(),
            added = d.added.len(),
            removed = d.removed.len(),
            "node list applied"
        );
    }

    /// Maps every account onto the swarms of a new list. An account that changes swarm leaves
    /// the queues of the nodes serving its old one and is due now on those serving its new one
    /// (`sync_node_accounts` then handles the nodes whose own swarm changed).
    pub(super) fn set_swarm_ids(&mut self, ids: Vec<u64>, now: Instant) {
        self.swarm_ids = ids;
        let now = self.clock.tick(now);
        let mut serving: HashMap<u64, Vec<[u8; 32]>> = HashMap::new();
        for (key, state) in &self.nodes {
            if let Some(swarm) = state.serves {
                serving.entry(swarm).or_default().push(*key);
            }
        }
        let mut moves = Vec::new();
        self.by_swarm.clear();
        for (account, id) in self.accounts.iter() {
            let (old, new) = (self.accounts.swarm(id), swarm_of(account, &self.swarm_ids));
            if old != new {
                moves.push((id, old, new));
            }
            if let Some(swarm) = new {
                self.by_swarm.entry(swarm).or_default().insert(id);
            }
        }
        for (id, old, new) in moves {
            self.accounts.set_swarm(id, new);
            for key in old.and_then(|s| serving.get(&s)).into_iter().flatten() {
                if let Some(state) = self.nodes.get_mut(key) {
                    state.queue.remove(id);
                }
            }
            for key in new.and_then(|s| serving.get(&s)).into_iter().flatten() {
                if let Some(state) = self.nodes.get_mut(key) {
                    state.queue.set(id, now);
                }
            }
        }
    }

    async fn add_node(&mut self, node: Node) {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        let remote = Remote {
            endpoint: node.endpoint(),
            server_key: Some(node.pubkey_x25519),
        };
        if let Err(e) = self.mq.connect(conn, remote).await {
            tracing::error!(error = %e, "cannot ask the proxy to connect");
        }
        self.by_conn.insert(conn, node.pubkey_x25519);
        self.nodes
            .insert(node.pubkey_x25519, NodeState::new(node, conn));
    }

    async fn drop_node(&mut self, key: &[u8; 32]) {
        if let Some(state) = self.nodes.remove(key) {
            self.by_conn.remove(&state.conn);
            if let Err(e) = self.mq.disconnect(state.conn).await {
                tracing::error!(error = %e, "cannot ask the proxy to disconnect");
            }
        }
    }

    /// Makes every node serve its own swarm's accounts, or none for a swarm the gate does not
    /// let this replica monitor: a node that starts serving a swarm has all its accounts due
    /// now (§5.3), one that stops no longer renews the old ones.
    pub(super) fn sync_node_accounts(&mut self, now: Instant) {
        let now = self.clock.tick(now);
        for state in self.nodes.values_mut() {
            let swarm = state.node.swarm_id;
            let wanted = self
                .gate
                .as_ref()
                .is_none_or(|g| g.monitors(swarm))
                .then_some(swarm);
            if state.serves == wanted {
                continue;
            }
            // Swarms are disjoint: none of the accounts it served stays.
            state.queue.clear();
            state.serves = wanted;
            let accounts = wanted.and_then(|swarm| self.by_swarm.get(&swarm));
            for &id in accounts.into_iter().flatten() {
                state.queue.set(id, now);
            }
        }
    }

    /// A newly monitored account: due now on every node serving its swarm (none while the
    /// gate keeps the swarm from this replica: `sync_node_accounts` adds it if that changes).
    pub(super) fn place_account(&mut self, id: u32, swarm: Option<u64>, now: Tick) {
        let Some(swarm) = swarm else { return };
        self.by_swarm.entry(swarm).or_default().insert(id);
        for state in self.nodes.values_mut() {
            if state.serves == Some(swarm) {
                state.queue.set(id, now);
            }
        }
    }

    /// An account whose monitored subscription changed: due now on its swarm (§8.3).
    pub(super) fn due_on_swarm(&mut self, id: u32, swarm: Option<u64>, now: Tick) {
        let Some(swarm) = swarm else { return };
        for state in self.nodes.values_mut() {
            if state.serves == Some(swarm) {
                state.queue.set(id, now);
            }
        }
    }

    /// Every entry of `id` expired (§8.3: no longer submitted): forgotten like an account
    /// without subscriptions.
    pub(super) fn forget_expired(&mut self, id: u32) {
        if let Some(account) = self.accounts.account(id) {
            self.forget_account(&account);
        }
    }

    /// No entries left: the account is no longer submitted anywhere, and its number (free
    /// for another account from now on) is in no node's queue.
    pub(super) fn forget_account(&mut self, account: &AccountId) {
        let Some((id, swarm)) = self.accounts.remove(account) else {
            return;
        };
        let Some(swarm) = swarm else { return };
        if let Some(set) = self.by_swarm.get_mut(&swarm) {
            set.remove(&id);
        }
        for state in self.nodes.values_mut() {
            if state.serves == Some(swarm) {
                state.queue.remove(id);
            }
        }
    }
}
