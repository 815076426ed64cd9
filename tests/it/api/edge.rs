//! The public edge under attack (issue 16): slow bodies, slowloris, the body budget, shutdown
//! with a stuck client, the per-account rate and long service names.

use std::time::Duration;

use relay::config::ApiConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::with;
use crate::support::server::{added, error, updated, TestServer};
use crate::support::vectors;

/// Longest any single wait in these tests may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(10);

fn addr(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// A connection that sent `head` (and maybe part of a body) and then stalls.
async fn stalled(server: &TestServer, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr(server)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(HANG, stream.read_to_end(&mut seen))
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&seen).into_owned()
}

fn empty_list() -> serde_json::Value {
    error(1, "Invalid request: subscribe list cannot be empty")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_do_not_take_the_processing_slots() {
    let server = TestServer::with_config(ApiConfig {
        header_read_timeout_secs: 60,
        ..ApiConfig::default()
    })
    .await;
    // More stalled bodies than there are processing slots, on both kinds of route.
    let mut held = Vec::new();
    for i in 0..relay::api::MAX_CONCURRENT_REQUESTS + 88 {
        let path = if i % 2 == 0 {
            "/subscribe"
        } else {
            "/oxen/v4/lsrpc"
        };
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[");
        held.push(stalled(&server, &head).await);
    }
    // A normal client is still served, at once and by the handler (not shed with error 3).
    let reply = tokio::time::timeout(HANG, server.subscribe(&serde_json::json!([])))
        .await
        .expect("served while bodies stall");
    assert_eq!(reply, empty_list());
    drop(held);
}

#[tokio::test]
async fn a_full_body_budget_answers_retry_later_at_once() {
    let server = TestServer::with_config(ApiConfig {
        max_body_bytes: 100_000,
        max_buffered_body_bytes: 120_000,
        header_read_timeout_secs: 60,
        ..ApiConfig::default()
    })
    .await;
    // One body declares 100 000 bytes and holds them of the 120 000-byte budget.
    let _big = stalled(
        &server,
        "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n[",
    )
    .await;
    // The holder's headers are parsed before the next request is answered: poll until the
    // budget is seen as spent (each reply is immediate either way).
    let body = format!("[{}]", " ".repeat(50_000));
    let mut reply = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, _, text) = server.post_raw("/subscribe", body.clone()).await;
        assert_eq!(status, 200);
        reply = serde_json::from_str(&text).unwrap();
        if reply["error"] == 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(reply["error"], 3, "{reply}");
    // A small request still fits in what is left.
    assert_eq!(server.subscribe(&serde_json::json!([])).await, empty_list());
    // The onion route cannot encrypt to an unread body: a plain 503 with Retry-After.
    let (status, _, _) = server.post_raw("/oxen/v4/lsrpc", vec![0u8; 50_000]).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn an_unfinished_header_is_closed_after_the_header_timeout() {
    let server = TestServer::with_config(ApiConfig {
        header_read_timeout_secs: 1,
        ..ApiConfig::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut slow = stalled(&server, "POST /subscribe HTTP/1.1\r\nHost: x\r\n").await;
    until_closed(&mut slow).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Others are served meanwhile and after.
    assert_eq!(server.subscribe(&serde_json::json!([])).await, empty_list());
}

#[tokio::test]
async fn an_unfinished_body_is_refused_after_the_body_timeout() {
    let server = TestServer::with_config(ApiConfig {
        header_read_timeout_secs: 1,
        ..ApiConfig::default()
    })
    .await;
    let mut slow = stalled(
        &server,
        "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n[",
    )
    .await;
    let seen = until_closed(&mut slow).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains(r#""error":3"#), "{seen}");
}

#[tokio::test]
async fn shutdown_returns_within_the_grace_period_despite_a_stuck_client() {
    let mut server = TestServer::with_config(ApiConfig {
        header_read_timeout_secs: 600,
        idle_timeout_secs: 600,
        shutdown_grace_secs: 1,
        ..ApiConfig::default()
    })
    .await;
    let mut stuck = stalled(&server, "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-").await;
    let mut body_stuck = stalled(
        &server,
        "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n[",
    )
    .await;
    assert_eq!(server.subscribe(&serde_json::json!([])).await, empty_list());
    let started = tokio::time::Instant::now();
    tokio::time::timeout(HANG, server.stop())
        .await
        .expect("shutdown ends whatever clients do");
    assert!(started.elapsed() < Duration::from_secs(3));
    until_closed(&mut stuck).await;
    until_closed(&mut body_stuck).await;
    // The listener is closed.
    assert!(TcpStream::connect(addr(&server)).await.is_err());
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let server = TestServer::with_config(ApiConfig {
        header_read_timeout_secs: 600,
        idle_timeout_secs: 1,
        ..ApiConfig::default()
    })
    .await;
    let mut idle = TcpStream::connect(addr(&server)).await.unwrap();
    until_closed(&mut idle).await;
}

#[tokio::test]
async fn each_account_has_a_rate_per_minute() {
    let server = TestServer::with_config(ApiConfig {
        account_rate_per_minute: 2,
        ..ApiConfig::default()
    })
    .await;
    let request = vectors::subscribe_05();
    assert_eq!(server.subscribe(&request).await, added());
    assert_eq!(server.subscribe(&request).await, updated());
    let refused = server.subscribe(&request).await;
    assert_eq!(refused["error"], 4, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("Too many"),
        "{refused}"
    );
    // The next minute starts afresh.
    server.set_now(vectors::VECTOR_NOW + 60);
    assert_eq!(server.subscribe(&request).await, updated());
}

#[tokio::test]
async fn service_names_are_at_most_64_bytes() {
    let server = TestServer::start().await;
    let request = with(
        &vectors::subscribe_05(),
        "service",
        "x\nforged log line ".repeat(8).into(),
    );
    let reply = server.subscribe(&request).await;
    assert_eq!(reply, error(1, "Invalid service: longer than 64 bytes"));
}
