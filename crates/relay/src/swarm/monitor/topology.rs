//! Applying node lists (PROTOCOL §5.3) and placing accounts on their swarm's nodes (§6).

use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;

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
            self.set_swarm_ids(list.swarm_ids.clone());
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

    /// Maps every account onto the swarms of a new list.
    pub(super) fn set_swarm_ids(&mut self, ids: Vec<u64>) {
        self.swarm_ids = ids;
        self.by_swarm.clear();
        for (account, state) in self.accounts.iter_mut() {
            state.swarm = swarm_of(account, &self.swarm_ids);
            if let Some(swarm) = state.swarm {
                self.by_swarm.entry(swarm).or_default().insert(*account);
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

    /// Makes every node's `known` set equal its swarm's accounts (none for a swarm the gate
    /// does not let this replica monitor): newcomers are due now (§5.3), leavers are no longer
    /// renewed there.
    pub(super) fn sync_node_accounts(&mut self, now: Instant) {
        let gate = self.gate.clone();
        let empty = HashSet::new();
        for state in self.nodes.values_mut() {
            let swarm = state.node.swarm_id;
            let monitored = gate.as_ref().is_none_or(|g| g.monitors(swarm));
            let wanted = match self.by_swarm.get(&swarm) {
                Some(accounts) if monitored => accounts,
                _ => &empty,
            };
            let gone: Vec<AccountId> = state.known.difference(wanted).copied().collect();
            for account in gone {
                state.known.remove(&account);
                state.queue.remove(&account);
            }
            for account in wanted {
                if state.known.insert(*account) {
                    state.queue.set(*account, now);
                }
            }
        }
    }

    /// A newly monitored account: due now on every member of its swarm.
    pub(super) fn place_account(&mut self, account: AccountId, swarm: Option<u64>, now: Instant) {
        let Some(swarm) = swarm else { return };
        self.by_swarm.entry(swarm).or_default().insert(account);
        if !self.monitors(swarm) {
            return; // submitted if this replica gains the swarm (`sync_node_accounts`)
        }
        for state in self.nodes.values_mut() {
            if state.node.swarm_id == swarm {
                state.known.insert(account);
                state.queue.set(account, now);
            }
        }
    }

    /// An account whose monitored subscription changed: due now on its swarm (§8.3).
    pub(super) fn due_on_swarm(&mut self, account: &AccountId, swarm: Option<u64>, now: Instant) {
        let Some(swarm) = swarm else { return };
        for state in self.nodes.values_mut() {
            if state.node.swarm_id == swarm && state.known.contains(account) {
                state.queue.set(*account, now);
            }
        }
    }

    /// No entries left: the account is no longer submitted anywhere.
    pub(super) fn forget_account(&mut self, account: &AccountId) {
        let Some(state) = self.accounts.remove(account) else {
            return;
        };
        if let Some(swarm) = state.swarm {
            if let Some(set) = self.by_swarm.get_mut(&swarm) {
                set.remove(account);
            }
        }
        for node in self.nodes.values_mut() {
            node.known.remove(account);
            node.queue.remove(account);
        }
    }
}
