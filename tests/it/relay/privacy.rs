//! Issue 6 end to end: the relay's logs at debug level, through subscribes via onion requests,
//! notifications, pushes, a token removal and an unsubscribe, name no full account ID, device
//! token, enc_key or signature.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use relay::config::{LogConfig, LogFormat};
use relay::logging;
use serde_json::Value;

use super::flow::{main_flow, network};
use crate::support::logs::{spellings, Buffer};

/// The bytes of a binary request field (sent as hex or base64).
fn field_bytes(body: &Value, key: &str) -> Option<Vec<u8>> {
    let text = body.get(key)?.as_str()?;
    Some(hex::decode(text).unwrap_or_else(|_| STANDARD.decode(text).unwrap()))
}

/// Every spelling of every secret the clients sent.
fn secrets(bodies: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for body in bodies {
        for key in [
            "pubkey",
            "session_ed25519",
            "subaccount",
            "subaccount_sig",
            "signature",
            "enc_key",
        ] {
            if let Some(bytes) = field_bytes(body, key) {
                out.extend(spellings(&bytes));
            }
        }
        let token = body["service_info"]["token"].as_str().unwrap();
        out.push(token.to_string());
        out.push(token.to_ascii_uppercase());
    }
    out
}

// The relay logs from its tasks on every runtime thread and from the OxenMQ proxy thread, so
// the capture is the process-wide subscriber (no other test installs one). Tests running at
// the same time add their own lines; their secrets are not in the list below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_the_full_flow_name_no_secret() {
    let buffer = Buffer::default();
    let config = LogConfig {
        level: "debug".into(),
        format: LogFormat::Pretty,
    };
    let subscriber = logging::subscriber(&config, buffer.clone()).unwrap();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    // Callsites registered while other tests' scoped subscribers came and went may hold a
    // stale interest; recompute it now that the capture is installed.
    tracing_core::callsite::rebuild_interest_cache();

    let net = network(None).await;
    let bodies = main_flow(&net).await;
    net.shutdown().await.unwrap();

    let logs = buffer.text();
    // The capture works: the relay's own lines are there, with short prefixes.
    for expected in [
        "subscribed",
        "unsubscribed",
        "invalid token removed",
        "relay ready",
    ] {
        assert!(logs.contains(expected), "no {expected:?} in the logs");
    }
    let alice = bodies[0]["pubkey"].as_str().unwrap();
    assert!(
        logs.contains(&alice[..8]),
        "no short account prefix in the logs"
    );
    for secret in secrets(&bodies) {
        if let Some(at) = logs.find(&secret) {
            let line = logs[..at].rsplit('\n').next().unwrap_or("");
            panic!("a secret appears in the logs, after: {line}");
        }
    }
}

/// A `message` field would be a second `"message"` key beside the event's text in JSON logs
/// (`[log] format = "json"`): no tracing call in the relay or devnet names a field `message`.
#[test]
fn no_log_event_has_a_message_field() -> anyhow::Result<()> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)?;
                for (i, line) in text.lines().enumerate() {
                    let field = line.split(['(', ',']).any(|part| {
                        let part = part.trim_start();
                        part.starts_with("message = %") || part.starts_with("message = ?")
                    });
                    if field {
                        out.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
        Ok(())
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["crates/relay/src", "crates/devnet/src", "src"] {
        walk(&root.join(dir), &mut found)?;
    }
    assert!(
        found.is_empty(),
        "a `message` field in a log event: {found:#?}"
    );
    Ok(())
}
