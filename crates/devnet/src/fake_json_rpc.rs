//! A fake oxend JSON-RPC endpoint (PROTOCOL §5.2): `POST /json_rpc` with
//! `{"method":"get_service_nodes",…}` answers `{"jsonrpc":"2.0","id":"0","result":…}` from a
//! settable node list; anything else is a JSON-RPC error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::fake_oxend::service_nodes_json;
use relay::swarm::nodes::Node;

#[derive(Default)]
struct Shared {
    nodes: Mutex<Vec<Node>>,
    fetches: AtomicUsize,
}

/// A running fake JSON-RPC oxend on 127.0.0.1; stops when dropped.
pub struct FakeJsonRpc {
    url: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl FakeJsonRpc {
    /// Starts serving `nodes`.
    pub async fn start(nodes: Vec<Node>) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            nodes: Mutex::new(nodes),
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/json_rpc", listener.local_addr()?);
        let app = Router::new()
            .route("/json_rpc", post(answer))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until)
                .await;
        });
        Ok(FakeJsonRpc { url, shared, stop })
    }

    /// The `[swarm] oxend` value that reaches this endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `get_service_nodes` requests answered so far.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    /// Replaces the node list served from now on.
    pub fn set_nodes(&self, nodes: Vec<Node>) {
        *self.shared.nodes.lock().unwrap_or_else(|e| e.into_inner()) = nodes;
    }
}

impl Drop for FakeJsonRpc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn answer(State(shared): State<Arc<Shared>>, Json(request): Json<Value>) -> Json<Value> {
    if request["method"] != "get_service_nodes" {
        return Json(json!({"jsonrpc": "2.0", "id": request["id"],
                           "error": {"code": -32601, "message": "Method not found"}}));
    }
    shared.fetches.fetch_add(1, Ordering::Relaxed);
    let nodes = shared
        .nodes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(json!({"jsonrpc": "2.0", "id": "0", "result": service_nodes_json(&nodes, 1)}))
}
