//! A fake oxend (PROTOCOL §5.1, §7.4): ROUTER (plain or CURVE), `HI`/`HELLO`,
//! `rpc.get_service_nodes` → `["200", json]` from a settable node list, `sub.block` → `OK`,
//! `ping.ping` → `pong`, and `notify.block` on demand to the routes that subscribed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::router::{Outbox, RouterServer, Service};
use relay::crypto::KeyPair;
use relay::swarm::nodes::Node;

struct OxendService {
    nodes: Vec<Node>,
    height: u64,
    block_subscribers: HashSet<Vec<u8>>,
    fetches: Arc<AtomicUsize>,
}

/// The `get_service_nodes` reply JSON for `nodes` at block `height` (PROTOCOL §5.1), as oxend
/// answers it over OxenMQ and inside a JSON-RPC `result`.
pub fn service_nodes_json(nodes: &[Node], height: u64) -> serde_json::Value {
    let states: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            serde_json::json!({"pubkey_x25519": hex::encode(n.pubkey_x25519),
                "public_ip": n.ip, "storage_lmq_port": n.port, "swarm_id": n.swarm_id})
        })
        .collect();
    serde_json::json!({"height": height, "block_hash": format!("{height:064x}"),
                       "status": "OK", "service_node_states": states})
}

impl OxendService {
    fn reply_json(&self) -> Vec<u8> {
        service_nodes_json(&self.nodes, self.height)
            .to_string()
            .into_bytes()
    }
}

impl Service for OxendService {
    fn on_message(&mut self, route: &[u8], mut frames: Vec<Vec<u8>>, out: &mut Outbox) {
        let command = frames.remove(0);
        let tag = frames.first().cloned();
        let reply = |parts: Vec<Vec<u8>>| {
            let mut all = vec![b"REPLY".to_vec(), tag.clone().unwrap_or_default()];
            all.extend(parts);
            all
        };
        match (command.as_slice(), &tag) {
            (b"HI", _) => out.send(route, vec![b"HELLO".to_vec()]),
            (b"ping.ping", Some(_)) => out.send(route, reply(vec![b"pong".to_vec()])),
            (b"sub.block", Some(_)) => {
                let first = self.block_subscribers.insert(route.to_vec());
                let answer = if first { "OK" } else { "ALREADY" };
                out.send(route, reply(vec![answer.as_bytes().to_vec()]));
            }
            (b"rpc.get_service_nodes", Some(_)) => {
                self.fetches.fetch_add(1, Ordering::Relaxed);
                out.send(route, reply(vec![b"200".to_vec(), self.reply_json()]));
            }
            (b"ping.ping" | b"sub.block" | b"rpc.get_service_nodes", None) => {
                out.send(route, vec![b"NO_REPLY_TAG".to_vec(), command]);
            }
            _ => out.send(route, vec![b"UNKNOWNCOMMAND".to_vec(), command]),
        }
    }
}

/// A running fake oxend.
pub struct FakeOxend {
    server: RouterServer<OxendService>,
    fetches: Arc<AtomicUsize>,
}

impl FakeOxend {
    /// Starts on `bind` (e.g. `tcp://127.0.0.1:0`), as a CURVE server when `curve` is given.
    pub fn start(bind: &str, curve: Option<&KeyPair>, nodes: Vec<Node>) -> anyhow::Result<Self> {
        let fetches = Arc::new(AtomicUsize::new(0));
        let server = RouterServer::start(
            bind,
            curve.map(|k| *k.secret()),
            OxendService {
                nodes,
                height: 1,
                block_subscribers: HashSet::new(),
                fetches: fetches.clone(),
            },
        )?;
        Ok(FakeOxend { server, fetches })
    }

    /// The bound endpoint, `tcp://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        self.server.endpoint()
    }

    /// How many `rpc.get_service_nodes` requests were answered.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Replaces the node list (served from the next request on).
    pub async fn set_nodes(&self, nodes: Vec<Node>) -> anyhow::Result<()> {
        self.server.call(move |s, _| s.nodes = nodes).await
    }

    /// Advances the height and sends `["notify.block", height, hash]` to every `sub.block`
    /// subscriber; returns how many.
    pub async fn notify_block(&self) -> anyhow::Result<usize> {
        self.server
            .call(|s, out| {
                s.height += 1;
                let hash = [s.height as u8; 32].to_vec();
                for route in &s.block_subscribers {
                    let frames = vec![
                        b"notify.block".to_vec(),
                        s.height.to_string().into_bytes(),
                        hash.clone(),
                    ];
                    out.send(route, frames);
                }
                s.block_subscribers.len()
            })
            .await
    }
}
