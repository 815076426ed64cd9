//! §2.1–2.2 through HTTP: routes, status codes, content types and the body checks.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::server::{added, error, TestServer};
use crate::support::vectors;

const PATHS: [&str; 2] = ["/subscribe", "/unsubscribe"];

async fn post_text(server: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> Value {
    let (status, content_type, text) = server.post_raw(path, body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "application/json");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn body_checks_for_both_endpoints() {
    let server = TestServer::start().await;
    let not_object = error(1, "Invalid JSON: expected object or array of objects");
    for path in PATHS {
        let missing = error(1, "Invalid request: request body missing");
        assert_eq!(post_text(&server, path, "").await, missing);
        for bad in ["{", "subscribe", "{\"a\":1}x", "\u{feff}{}"] {
            assert_eq!(
                post_text(&server, path, bad).await,
                error(1, "Invalid JSON"),
                "{bad}"
            );
        }
        for scalar in ["5", "\"x\"", "null", "true"] {
            assert_eq!(
                post_text(&server, path, scalar).await,
                not_object,
                "{scalar}"
            );
        }
        let name = &path[1..];
        let empty = error(1, &format!("Invalid request: {name} list cannot be empty"));
        assert_eq!(post_text(&server, path, " [ ] ").await, empty);
    }
    assert!(server.store.rows().is_empty());
}

#[tokio::test]
async fn body_limit_is_exact() {
    let server = TestServer::start().await;
    let too_large = error(1, "Invalid request: request too large");
    for path in PATHS {
        // Exactly 100 000 bytes is allowed: the vector padded with spaces still subscribes.
        let request = vectors::subscribe_05().to_string();
        let padded = format!("{request}{}", " ".repeat(100_000 - request.len()));
        let reply = post_text(&server, path, padded.clone()).await;
        assert_ne!(reply, too_large);
        let over = format!("{padded} ");
        assert_eq!(post_text(&server, path, over).await, too_large);
        assert_eq!(
            post_text(&server, path, vec![b'['; 5_000_000]).await,
            too_large
        );
    }
    assert_eq!(server.store.rows().len(), 1);
}

/// Sends a chunked request (no `Content-Length`) by hand and returns the raw response.
async fn chunked(server: &TestServer, path: &str, chunks: &[&[u8]]) -> String {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        let size = format!("{:x}\r\n", chunk.len());
        // The server may answer and close before the whole body is sent.
        if stream.write_all(size.as_bytes()).await.is_err()
            || stream.write_all(chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused_while_reading() {
    let server = TestServer::with_limit(1_000).await;
    let part = [b' '; 600];
    let response = chunked(&server, "/subscribe", &[&part, &part, b"{}"]).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"error":1,"message":"Invalid request: request too large"}"#),
        "{response}"
    );
    let response = chunked(&server, "/subscribe", &[&part, b"5"]).await;
    assert!(
        response.contains("expected object or array of objects"),
        "{response}"
    );
}

#[tokio::test]
async fn any_content_type_is_accepted() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    for content_type in ["application/json", "application/octet-stream", "text/plain"] {
        let reply: Value = client
            .post(format!("{}/unsubscribe", server.url))
            .header("content-type", content_type)
            .body(vectors::unsubscribe_05().to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["success"], json!(true), "{content_type}");
    }
    // And none at all.
    let reply: Value = client
        .post(format!("{}/subscribe", server.url))
        .body(vectors::subscribe_05().to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply, added());
}

#[tokio::test]
async fn other_methods_and_paths() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("session-push-relay "), "{body}");
    for path in PATHS {
        assert_eq!(server.get(path).await.0, 405);
    }
    let (status, body) = server.get("/nope").await;
    assert_eq!((status, body.as_str()), (404, "not found\n"));
    let (status, _, _) = server.post_raw("/subscribe/extra", "{}").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_configured_limit_above_axum_default_is_honoured() {
    // axum's own extractor limit is 2 MB; the route must use `max_body_bytes` instead.
    let server = TestServer::with_limit(3_000_000).await;
    let body = format!("{}{}", " ".repeat(2_500_000), vectors::subscribe_05());
    assert_eq!(post_text(&server, "/subscribe", body).await, added());
}
