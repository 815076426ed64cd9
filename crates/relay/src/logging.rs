//! Logs: the tracing subscriber built from `[log]`, and the request span both listeners use.
//!
//! **Owns:** the log format (`pretty` or `json`), the level filter, and what a request span
//! records. **Must not:** record identifiers: a span names the matched route, never the raw
//! path or query, so nothing a client puts in a URL reaches a log line.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `[log] level` is not a valid filter.
    #[error("log.level: invalid filter")]
    Filter(#[source] tracing_subscriber::filter::ParseError),
    /// A global subscriber was already installed.
    #[error("a log subscriber is already installed")]
    AlreadySet(#[source] tracing::subscriber::SetGlobalDefaultError),
}

/// Installs the process-wide subscriber writing to stderr (called once, from `main`).
pub fn init(config: &LogConfig) -> Result<(), LoggingError> {
    use std::io::IsTerminal;
    let subscriber = build(config, std::io::stderr, std::io::stderr().is_terminal())?;
    tracing::subscriber::set_global_default(subscriber).map_err(LoggingError::AlreadySet)
}

/// The subscriber of `config` writing to `writer`, without colours (tests capture logs with
/// their own writer).
pub fn subscriber<W>(
    config: &LogConfig,
    writer: W,
) -> Result<Box<dyn Subscriber + Send + Sync>, LoggingError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(config, writer, false)
}

/// `ansi` colours the pretty format (only for a terminal).
fn build<W>(
    config: &LogConfig,
    writer: W,
    ansi: bool,
) -> Result<Box<dyn Subscriber + Send + Sync>, LoggingError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .parse(&config.level)
        .map_err(LoggingError::Filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    Ok(match config.format {
        LogFormat::Pretty => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().finish()),
    })
}

/// Axum middleware: one `request` span per request with method, route, status and latency;
/// a `debug` event when it finishes (a `warn` on 5xx).
pub async fn request_span(request: Request, next: Next) -> Response {
    // The route template (`/subscribe`), not the path a client sent.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        status = Empty,
        latency_ms = Empty,
    );
    let start = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("status", status.as_u16());
    span.record("latency_ms", start.elapsed().as_secs_f64() * 1000.0);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!("request failed");
        } else {
            tracing::debug!("request finished");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// Collects everything written, for assertions.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Capture {
        type Writer = Capture;
        fn make_writer(&'w self) -> Capture {
            self.clone()
        }
    }

    fn config(level: &str, format: LogFormat) -> LogConfig {
        LogConfig {
            level: level.into(),
            format,
        }
    }

    /// Captures what a subscriber of `level` and `format` writes while the guard lives.
    fn capture(level: &str, format: LogFormat) -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let sub = subscriber(&config(level, format), capture.clone()).unwrap();
        (capture, tracing::subscriber::set_default(sub))
    }

    async fn request(uri: &str) {
        let app = Router::new()
            .route("/item/{id}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(request_span));
        let req = axum::http::Request::get(uri).body(Body::empty()).unwrap();
        let _ = app.oneshot(req).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn json_request_span_names_the_route_not_the_path() {
        let (capture, _guard) = capture("debug", LogFormat::Json);
        request("/item/05deadbeefcafe?token=secret").await;
        request("/nowhere/05deadbeefcafe").await;
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let span = &lines[0]["span"];
        assert_eq!(span["route"], "/item/{id}");
        assert_eq!(span["method"], "GET");
        assert_eq!(span["status"], 200);
        assert!(span["latency_ms"].is_number());
        assert_eq!(lines[1]["span"]["route"], "unmatched");
        assert_eq!(lines[1]["span"]["status"], 404);
        assert!(!text.contains("deadbeef") && !text.contains("secret"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn info_level_hides_per_request_events() {
        let (capture, _guard) = capture("info", LogFormat::Pretty);
        request("/item/1").await;
        assert!(capture.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_bad_level_is_a_filter_error() {
        let err = subscriber(&config("info,=[", LogFormat::Pretty), Capture::default());
        assert!(matches!(err, Err(LoggingError::Filter(_))));
    }
}
