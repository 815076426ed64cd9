//! No full identifier in the logs of subscribes and unsubscribes, even at debug level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use super::with;
use crate::support::memory_store::Failure;
use crate::support::server::TestServer;
use crate::support::vectors::{self, text};

/// A `MakeWriter` appending into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every way a secret value of the vectors could be spelled in a log line.
fn spellings(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        let bytes = hex::decode(value).unwrap_or_else(|_| STANDARD.decode(value).unwrap());
        out.push(hex::encode(&bytes));
        out.push(hex::encode_upper(&bytes));
        out.push(STANDARD_NO_PAD.encode(&bytes));
        // The account without its prefix byte is the whole key too.
        if bytes.len() == 33 {
            out.push(hex::encode(&bytes[1..]));
        }
    }
    out
}

/// Subscribes, renews, unsubscribes, and has one element refused and one store failure.
async fn exercise() {
    let server = TestServer::start().await;
    let s05 = vectors::subscribe_05();
    let u05 = vectors::unsubscribe_05();
    server.subscribe(&s05).await;
    server
        .subscribe(&json!([s05, vectors::subscribe_03()]))
        .await;
    server.unsubscribe(&u05).await;
    server.unsubscribe(&u05).await;
    server.subscribe(&with(&s05, "sig_ts", json!(1))).await;
    server.store.fail_with(Some(Failure::Internal));
    server.subscribe(&s05).await;
}

// Current-thread runtime: the server task runs on this thread, under the scoped subscriber.
#[tokio::test]
async fn logs_carry_no_full_identifier() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A callsite that another test thread is registering while this subscriber is installed
    // can keep a stale "never" interest (tracing caches interest per callsite). Register every
    // callsite the API uses first, then recompute the cache, then capture for real.
    exercise().await;
    tracing_core::callsite::rebuild_interest_cache();
    buffer.0.lock().unwrap().clear();
    exercise().await;

    let s05 = vectors::subscribe_05();
    let s03 = vectors::subscribe_03();
    let u05 = vectors::unsubscribe_05();
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // The capture works: the API's own debug lines are there, with short prefixes.
    for expected in [
        "subscribed",
        "unsubscribed",
        "element refused",
        "store operation failed",
    ] {
        assert!(logs.contains(expected), "no {expected:?} in:\n{logs}");
    }
    assert!(logs.contains("054a3807"), "{logs}");

    let mut secrets = Vec::new();
    for request in [&s05, &s03] {
        for key in [
            "pubkey",
            "session_ed25519",
            "subaccount",
            "subaccount_sig",
            "signature",
            "enc_key",
        ] {
            if request.get(key).is_some() {
                secrets.push(text(request, key));
            }
        }
    }
    secrets.push(text(&u05, "signature"));
    let mut forbidden = spellings(&secrets);
    for request in [&s05, &s03] {
        forbidden.push(text(&request["service_info"], "token"));
        forbidden.push(text(request, "signature"));
        forbidden.push(text(request, "enc_key"));
    }
    for secret in &forbidden {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret} appears in the logs:\n{logs}"
        );
    }
}
