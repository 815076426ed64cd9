//! The service-node list (PROTOCOL §5): parsing `get_service_nodes` replies with the validity
//! filter and de-duplication of §5.1, and the difference between two lists (§5.3).

use std::collections::HashMap;

use serde_json::Value;

use super::mapping::INVALID_SWARM_ID;
use super::SwarmError;

/// The request JSON of §5.1 (SPNS `hivemind.hpp`).
pub fn get_service_nodes_request() -> Value {
    serde_json::json!({
        "active_only": true,
        "fields": {"pubkey_x25519": true, "public_ip": true, "storage_lmq_port": true,
                   "swarm_id": true, "block_hash": true, "height": true}
    })
}

/// A usable storage server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// OxenMQ CURVE public key; identifies the node.
    pub pubkey_x25519: [u8; 32],
    /// IPv4 address.
    pub ip: String,
    /// OxenMQ TCP port.
    pub port: u16,
    /// Swarm (never `INVALID_SWARM_ID`).
    pub swarm_id: u64,
}

impl Node {
    /// The libzmq endpoint.
    pub fn endpoint(&self) -> String {
        format!("tcp://{}:{}", self.ip, self.port)
    }

    /// A short printable id (key prefix).
    pub fn short(&self) -> String {
        hex::encode(&self.pubkey_x25519[..4])
    }
}

/// A parsed node list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeList {
    /// Usable nodes, first occurrence of each key kept, in reply order.
    pub nodes: Vec<Node>,
    /// Sorted, de-duplicated swarm ids of those nodes.
    pub swarm_ids: Vec<u64>,
    /// The reply's `block_hash` (empty if absent).
    pub block_hash: String,
    /// The reply's `height` (0 if absent).
    pub height: u64,
}

/// Parses the reply JSON `{"service_node_states": [...], "block_hash": …}`.
pub fn parse_service_nodes(reply: &Value) -> Result<NodeList, SwarmError> {
    let states = reply
        .get("service_node_states")
        .and_then(Value::as_array)
        .ok_or_else(|| SwarmError::BadNodeList("no service_node_states list".into()))?;
    let mut nodes: Vec<Node> = Vec::with_capacity(states.len());
    let mut seen = std::collections::HashSet::new();
    for state in states {
        if let Some(node) = parse_node(state) {
            if seen.insert(node.pubkey_x25519) {
                nodes.push(node);
            }
        }
    }
    let mut swarm_ids: Vec<u64> = nodes.iter().map(|n| n.swarm_id).collect();
    swarm_ids.sort_unstable();
    swarm_ids.dedup();
    let block_hash = reply
        .get("block_hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let height = reply.get("height").and_then(Value::as_u64).unwrap_or(0);
    Ok(NodeList {
        nodes,
        swarm_ids,
        block_hash,
        height,
    })
}

/// One node, if every field passes §5.1's filter.
fn parse_node(state: &Value) -> Option<Node> {
    let key_hex = state.get("pubkey_x25519")?.as_str()?;
    let mut pubkey_x25519 = [0u8; 32];
    if key_hex.len() != 64 {
        return None;
    }
    hex::decode_to_slice(key_hex, &mut pubkey_x25519).ok()?;
    let ip = state.get("public_ip")?.as_str()?;
    if ip.is_empty() || ip == "0.0.0.0" {
        return None;
    }
    let port = u16::try_from(state.get("storage_lmq_port")?.as_u64()?).ok()?;
    // Swarm ids may exceed 2^53: serde_json keeps integers as u64 exactly.
    let swarm_id = state.get("swarm_id")?.as_u64()?;
    if port == 0 || swarm_id == INVALID_SWARM_ID {
        return None;
    }
    Some(Node {
        pubkey_x25519,
        ip: ip.to_string(),
        port,
        swarm_id,
    })
}

/// What changed between two lists (§5.3).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NodeDiff {
    /// New keys: connect.
    pub added: Vec<Node>,
    /// Gone keys: disconnect.
    pub removed: Vec<[u8; 32]>,
    /// Same key, new address: reconnect as a new node.
    pub readdressed: Vec<Node>,
    /// Same key and address, new swarm: keeps its connection.
    pub moved: Vec<Node>,
}

/// The difference from `old` to `new`.
pub fn diff(old: &[Node], new: &[Node]) -> NodeDiff {
    let before: HashMap<[u8; 32], &Node> = old.iter().map(|n| (n.pubkey_x25519, n)).collect();
    let after: HashMap<[u8; 32], &Node> = new.iter().map(|n| (n.pubkey_x25519, n)).collect();
    let mut d = NodeDiff::default();
    for node in new {
        match before.get(&node.pubkey_x25519) {
            None => d.added.push(node.clone()),
            Some(prev) if prev.ip != node.ip || prev.port != node.port => {
                d.readdressed.push(node.clone())
            }
            Some(prev) if prev.swarm_id != node.swarm_id => d.moved.push(node.clone()),
            Some(_) => {}
        }
    }
    d.removed = old
        .iter()
        .filter(|n| !after.contains_key(&n.pubkey_x25519))
        .map(|n| n.pubkey_x25519)
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(key: u8, ip: &str, port: u64, swarm: Value) -> Value {
        serde_json::json!({"pubkey_x25519": hex::encode([key; 32]), "public_ip": ip,
                           "storage_lmq_port": port, "swarm_id": swarm})
    }

    #[test]
    fn filter_dedup_and_big_swarm_ids() {
        let big: u64 = 18_446_744_073_709_551_596;
        let reply = serde_json::json!({"block_hash": "ab", "service_node_states": [
            state(1, "10.0.0.1", 22021, serde_json::json!(big)),
            state(1, "10.0.0.9", 22021, serde_json::json!(5)),          // duplicate key: first kept
            state(2, "0.0.0.0", 22021, serde_json::json!(5)),           // no address yet
            state(3, "", 22021, serde_json::json!(5)),
            state(4, "10.0.0.4", 0, serde_json::json!(5)),              // bad port
            state(5, "10.0.0.5", 70000, serde_json::json!(5)),
            state(6, "10.0.0.6", 1, serde_json::json!(u64::MAX)),       // no swarm
            {"pubkey_x25519": "abcd", "public_ip": "10.0.0.7", "storage_lmq_port": 1, "swarm_id": 5},
            {"public_ip": "10.0.0.8"},
            state(9, "10.0.0.9", 65535, serde_json::json!(5)),
        ]});
        let list = parse_service_nodes(&reply).unwrap();
        let keys: Vec<u8> = list.nodes.iter().map(|n| n.pubkey_x25519[0]).collect();
        assert_eq!(keys, [1, 9]);
        assert_eq!(list.nodes[0].ip, "10.0.0.1");
        assert_eq!(list.nodes[0].swarm_id, big);
        assert_eq!(list.swarm_ids, vec![5, big]);
        assert_eq!(list.block_hash, "ab");
        assert!(parse_service_nodes(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn diff_classifies_changes() {
        let n = |k: u8, ip: &str, swarm: u64| Node {
            pubkey_x25519: [k; 32],
            ip: ip.into(),
            port: 1,
            swarm_id: swarm,
        };
        let old = vec![n(1, "a", 1), n(2, "b", 1), n(3, "c", 1)];
        let new = vec![n(1, "a", 1), n(2, "b2", 1), n(3, "c", 2), n(4, "d", 2)];
        let d = diff(&old, &new);
        assert_eq!(d.added, vec![n(4, "d", 2)]);
        assert_eq!(d.readdressed, vec![n(2, "b2", 1)]);
        assert_eq!(d.moved, vec![n(3, "c", 2)]);
        assert!(d.removed.is_empty());
        assert_eq!(diff(&new, &old[..1]).removed.len(), 3);
    }
}
