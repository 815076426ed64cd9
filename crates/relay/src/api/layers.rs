//! The tower stack of the public listener, and the per-route body limit (DESIGN, style §2.5).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use futures::StreamExt;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use super::error::ApiError;

/// Answer before the last storage-server hop gives up at 25 s (PROTOCOL §2.1, §13).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Requests handled at once; beyond this new requests are shed at once instead of queueing.
const MAX_CONCURRENT_REQUESTS: usize = 512;

/// Wraps every route of `router` in the shared stack, outermost first.
pub(super) fn apply(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            // One span per request with the method and the route template only: no body,
            // no query, no client address.
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("http", method = %req.method(), route)
            }))
            // Timeout and overload become the spec's JSON reply, still HTTP 200.
            .layer(HandleErrorLayer::new(rescue))
            .timeout(REQUEST_TIMEOUT)
            // Fail fast when every slot is busy rather than queue without bound.
            .load_shed()
            // One semaphore shared by every route (a plain ConcurrencyLimit is per route).
            .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS)),
    )
}

async fn rescue(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() || err.is::<tower::load_shed::error::Overloaded>()
    {
        ApiError::timeout().into_response()
    } else {
        tracing::error!(error = %err, "request failed in the middleware stack");
        ApiError::internal().into_response()
    }
}

/// Per-route middleware (state: the limit in bytes): buffers the body up to the limit and
/// answers a larger one with the §2.2 `request too large` reply, by `Content-Length` or
/// while reading, so a huge body is never held in memory.
pub(super) async fn limit_json_body(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::too_large().into_response();
    }
    match read_limited(body, limit).await {
        Ok(Some(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(None) => ApiError::too_large().into_response(),
        Err(e) => {
            tracing::debug!(error = %e, "request body could not be read");
            ApiError::body_missing().into_response()
        }
    }
}

/// The whole body, or `None` as soon as it passes `limit` bytes.
async fn read_limited(body: Body, limit: usize) -> Result<Option<Bytes>, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > limit {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(Bytes::from(buf)))
}
