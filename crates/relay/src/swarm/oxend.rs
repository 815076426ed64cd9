//! The service-node source chosen by `[swarm] oxend` (PROTOCOL §5): oxend over OxenMQ
//! (`tcp://`, `ipc://`, `curve://host:port/PUBKEY`) with `ping.ping`, `sub.block` renewal and
//! `rpc.get_service_nodes` on every `notify.block` and every 10 min; or JSON-RPC
//! `http(s)://…/json_rpc` polled every 30 s. Failures retry with backoff; the list is
//! published on a watch channel only when it changed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::nodes::{get_service_nodes_request, parse_service_nodes, NodeList};
use super::oxenmq::{ConnId, LinkEvent, Options, OxenMq, Remote};
use super::SwarmError;
use crate::crypto::KeyPair;

/// Renew `sub.block` this often (it lapses after 30 min; §5.1 asks ≤ 25 min).
const SUB_BLOCK_RENEWAL: Duration = Duration::from_secs(20 * 60);
/// Refetch the node list this often even without `notify.block`.
const REFRESH: Duration = Duration::from_secs(10 * 60);
/// JSON-RPC poll interval.
const JSON_RPC_POLL: Duration = Duration::from_secs(30);
/// Request timeout towards oxend (OxenMQ default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Retry backoff bounds after a failed request.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Where node lists come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OxendSource {
    /// oxend's OxenMQ port.
    Omq(Remote),
    /// oxend's JSON-RPC URL.
    JsonRpc(String),
}

/// Parses `[swarm] oxend`; `""` means no swarm side.
pub(crate) fn parse_oxend(value: &str) -> Result<Option<OxendSource>, SwarmError> {
    let bad = |reason| SwarmError::InvalidOxend {
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Ok(None);
    }
    if value.starts_with("tcp://") || value.starts_with("ipc://") {
        return Ok(Some(OxendSource::Omq(Remote {
            endpoint: value.to_string(),
            server_key: None,
        })));
    }
    if let Some(rest) = value.strip_prefix("curve://") {
        let (addr, key_hex) = rest
            .rsplit_once('/')
            .ok_or_else(|| bad("expected curve://host:port/PUBKEY"))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(key_hex, &mut key)
            .map_err(|_| bad("PUBKEY must be 64 hex characters"))?;
        if !addr.contains(':') {
            return Err(bad("expected curve://host:port/PUBKEY"));
        }
        return Ok(Some(OxendSource::Omq(Remote {
            endpoint: format!("tcp://{addr}"),
            server_key: Some(key),
        })));
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        return Ok(Some(OxendSource::JsonRpc(value.to_string())));
    }
    Err(bad(
        "expected tcp://, ipc://, curve://, http:// or https://",
    ))
}

/// Publishes `list` if it differs from the current one.
fn publish(tx: &watch::Sender<Option<Arc<NodeList>>>, list: NodeList) {
    tx.send_if_modified(|current| {
        if current.as_deref() == Some(&list) {
            return false;
        }
        *current = Some(Arc::new(list));
        true
    });
}

/// Runs the OxenMQ source until `shutdown`.
pub(crate) async fn run_omq(
    remote: Remote,
    keys: KeyPair,
    lists: watch::Sender<Option<Arc<NodeList>>>,
    shutdown: CancellationToken,
) -> Result<(), SwarmError> {
    let new_block = Arc::new(Notify::new());
    let on_block = new_block.clone();
    let mq = OxenMq::start(
        &keys,
        Options {
            max_pending_connects: 1,
            connection_metrics: false,
        },
        Box::new(move |_, name, _| {
            if name == "notify.block" {
                on_block.notify_one();
            }
        }),
    )?;
    let id = ConnId(0);
    mq.connect(id, remote).await?;
    let (mut up, mut pinged) = (false, false);
    let (mut sub_due, mut fetch_due) = (Instant::now(), Instant::now());
    let mut backoff = BACKOFF_MIN;
    loop {
        for (_, event) in mq.take_events() {
            up = event == LinkEvent::Up;
            if up {
                (sub_due, fetch_due) = (Instant::now(), Instant::now());
            }
        }
        if up {
            let now = Instant::now();
            if !pinged {
                pinged = true;
                match mq.request(id, "ping.ping", vec![], REQUEST_TIMEOUT).await {
                    Ok(_) => tracing::info!("oxend answered ping"),
                    Err(e) => tracing::warn!(error = %e, "oxend ping failed"),
                }
            }
            if now >= sub_due {
                sub_due = match mq.request(id, "sub.block", vec![], REQUEST_TIMEOUT).await {
                    Ok(_) => now + SUB_BLOCK_RENEWAL,
                    Err(e) => {
                        tracing::warn!(error = %e, "sub.block failed");
                        now + backoff
                    }
                };
            }
            if now >= fetch_due {
                match fetch_omq(&mq, id).await {
                    Ok(list) => {
                        publish(&lists, list);
                        fetch_due = now + REFRESH;
                        backoff = BACKOFF_MIN;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_secs = backoff.as_secs(), "cannot fetch the node list");
                        fetch_due = now + backoff;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        }
        let next = if up {
            sub_due.min(fetch_due)
        } else {
            Instant::now() + REFRESH
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = mq.events_posted() => {}
            () = new_block.notified() => fetch_due = Instant::now(),
            () = tokio::time::sleep_until(next) => {}
        }
    }
}

async fn fetch_omq(mq: &OxenMq, id: ConnId) -> Result<NodeList, SwarmError> {
    let request = get_service_nodes_request().to_string().into_bytes();
    let reply = mq
        .request(id, "rpc.get_service_nodes", vec![request], REQUEST_TIMEOUT)
        .await?;
    match reply.as_slice() {
        [code, json] if code == b"200" => {
            let value: serde_json::Value =
                serde_json::from_slice(json).map_err(|e| SwarmError::BadNodeList(e.to_string()))?;
            parse_service_nodes(&value)
        }
        [code, ..] => Err(SwarmError::BadNodeList(format!(
            "status {}",
            String::from_utf8_lossy(code)
        ))),
        [] => Err(SwarmError::BadNodeList("empty reply".into())),
    }
}

/// Runs the JSON-RPC source until `shutdown`.
pub(crate) async fn run_json_rpc(
    url: String,
    lists: watch::Sender<Option<Arc<NodeList>>>,
    shutdown: CancellationToken,
) -> Result<(), SwarmError> {
    // reqwest is built without a default TLS provider (DESIGN: ring only); installing it twice
    // is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(SwarmError::Http)?;
    let mut backoff = BACKOFF_MIN;
    loop {
        let wait = match fetch_json_rpc(&client, &url).await {
            Ok(list) => {
                publish(&lists, list);
                backoff = BACKOFF_MIN;
                JSON_RPC_POLL
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_secs = backoff.as_secs(), "cannot fetch the node list");
                let wait = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                wait
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn fetch_json_rpc(client: &reqwest::Client, url: &str) -> Result<NodeList, SwarmError> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": "0", "method": "get_service_nodes",
                                  "params": get_service_nodes_request()});
    let reply: serde_json::Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(SwarmError::Http)?
        .json()
        .await
        .map_err(SwarmError::Http)?;
    let result = reply
        .get("result")
        .ok_or_else(|| SwarmError::BadNodeList("no result".into()))?;
    parse_service_nodes(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oxend_forms() {
        assert_eq!(parse_oxend("").unwrap(), None);
        assert!(matches!(
            parse_oxend("tcp://127.0.0.1:22029").unwrap(),
            Some(OxendSource::Omq(Remote {
                server_key: None,
                ..
            }))
        ));
        assert!(matches!(
            parse_oxend("ipc:///run/oxend.sock").unwrap(),
            Some(OxendSource::Omq(_))
        ));
        let key = "ab".repeat(32);
        let Some(OxendSource::Omq(r)) =
            parse_oxend(&format!("curve://10.0.0.1:22029/{key}")).unwrap()
        else {
            panic!("curve form not parsed");
        };
        assert_eq!(r.endpoint, "tcp://10.0.0.1:22029");
        assert_eq!(r.server_key, Some([0xab; 32]));
        assert!(matches!(
            parse_oxend("http://h:1/json_rpc").unwrap(),
            Some(OxendSource::JsonRpc(_))
        ));
        for bad in [
            "udp://x".to_string(),
            "curve://h:1/zz".into(),
            "curve://h:1".into(),
            format!("curve://h/{key}"),
        ] {
            assert!(parse_oxend(&bad).is_err(), "{bad}");
        }
    }
}
