//! v4 onion requests at `POST /oxen/v4/lsrpc` (PROTOCOL §4).
//!
//! **Owns:** the outer framing (`framing.rs`), the layer's key derivation and ciphers
//! (`layer.rs`, over [`crate::crypto`]), the inner bencoded request (`inner.rs`) and reply
//! (`reply.rs`).
//! **Must not:** call the JSON routes over HTTP: inner requests go in-process to
//! [`crate::api::handle_json`], exactly as the direct routes do.
//!
//! Bytes enter as the body the last service node POSTs. An outer failure leaves as a plain
//! HTTP 400; everything else leaves as HTTP 200 `application/octet-stream` carrying the
//! encrypted reply list, whose inner code says what happened.

mod error;
pub(crate) mod framing;
pub(crate) mod inner;
mod layer;
mod reply;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::debug;

pub use error::OnionError;
pub use framing::MAX_BODY;
pub use layer::{EncType, Layer, NonceSource, RandomNonces};

use super::layers::Unread;
use super::{process, ApiState};
use crate::admin::metrics as names;

/// The route of the onion endpoint.
pub const PATH: &str = "/oxen/v4/lsrpc";

/// What an onion body may add around the JSON body it carries: the 4-byte prefix, the routing
/// JSON (about 300 bytes from clients), the inner meta and bencode framing (about 100 bytes)
/// and the cipher's nonce and tag (40 bytes), with ample room to spare.
pub const FRAMING_ALLOWANCE: usize = 16_384;

/// This route's body limit for a JSON limit of `max_body_bytes`: an onion body can only ever
/// succeed if the JSON body inside fits `max_body_bytes` (PROTOCOL §4.4), so anything larger is
/// refused before it is read. Clients send one subscription per request, 1–2 KB onion bodies;
/// the default (100 000 + 16 384 bytes) is far below the 10 MiB the storage servers allow.
pub fn body_limit(max_body_bytes: usize) -> usize {
    max_body_bytes
        .saturating_add(FRAMING_ALLOWANCE)
        .min(MAX_BODY)
}

/// What became of one onion request (`relay_onion_requests_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Dispatched to a JSON route.
    Ok,
    /// Refused with a plain 400: outer framing, keys or decryption.
    BadRequest,
    /// Inner framing or meta invalid, or a method other than POST.
    InnerError,
    /// An inner path that is not a JSON route.
    NotFound,
    /// Refused unread: the body budget was spent.
    Busy,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadRequest => "bad_request",
            Outcome::InnerError => "inner_error",
            Outcome::NotFound => "not_found",
            Outcome::Busy => "busy",
        }
    }
}

/// The axum handler; the body is already buffered within [`body_limit`] by the shared layer.
pub(crate) async fn lsrpc(State(state): State<ApiState>, body: Body) -> Response {
    match axum::body::to_bytes(body, state.limits.onion_body_limit).await {
        Ok(bytes) => respond(&state, &bytes, &RandomNonces).await,
        Err(_) => reject("unknown", &OnionError::TooLarge),
    }
}

/// Answers one outer body: opens the layer, dispatches the inner request, seals the reply
/// with a nonce from `nonces`.
pub async fn respond(state: &ApiState, body: &[u8], nonces: &dyn NonceSource) -> Response {
    let outer = match framing::parse(body) {
        Ok(outer) => outer,
        Err(e) => return reject("unknown", &e),
    };
    let enc_label = outer.enc_type.label();
    let opened = Layer::derive(outer.enc_type, &state.keys.onion, &outer.ephemeral_key)
        .and_then(|layer| Ok((layer.open(outer.ciphertext)?, layer)));
    let (plaintext, layer) = match opened {
        Ok(opened) => opened,
        Err(e) => return reject(enc_label, &e),
    };
    let (reply, outcome) = answer(state, &plaintext).await;
    record(enc_label, outcome);
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        layer.seal(&reply, nonces),
    )
        .into_response()
}

/// The reply plaintext for a request plaintext (PROTOCOL §4.4, §4.5).
async fn answer(state: &ApiState, plaintext: &[u8]) -> (Vec<u8>, Outcome) {
    let request = match inner::parse(plaintext) {
        Ok(request) => request,
        Err(e) => {
            debug!(error = %e, "onion request refused");
            return (reply::invalid(), Outcome::InnerError);
        }
    };
    let Some(endpoint) = request.endpoint() else {
        return (reply::not_found(), Outcome::NotFound);
    };
    if !request.is_post() {
        return (reply::method_not_allowed(), Outcome::InnerError);
    }
    let json = process(state, endpoint, request.body).await;
    (
        reply::encode(200, reply::JSON, json.as_bytes()),
        Outcome::Ok,
    )
}

/// The reply to a body that was never read whole: it cannot be decrypted, so it cannot be
/// answered encrypted. Too large or broken off is the spec's plain 400 (§4.2); a full body
/// budget is a plain 503 with `Retry-After`, the one "retry later" a client cannot read.
pub(super) fn unread_reply(unread: Unread) -> Response {
    match unread {
        Unread::TooLarge => reject("unknown", &OnionError::TooLarge),
        Unread::Slow | Unread::Broken => reject("unknown", &OnionError::Incomplete),
        Unread::Busy => {
            record("unknown", Outcome::Busy);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (header::CONTENT_TYPE, reply::TEXT),
                    (header::RETRY_AFTER, "1"),
                ],
                "Service busy, retry later",
            )
                .into_response()
        }
    }
}

fn reject(enc_label: &'static str, e: &OnionError) -> Response {
    debug!(error = %e, enc_type = enc_label, "onion request refused");
    record(enc_label, Outcome::BadRequest);
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, reply::TEXT)],
        e.to_string(),
    )
        .into_response()
}

fn record(enc_label: &'static str, outcome: Outcome) {
    metrics::counter!(
        names::ONION_REQUESTS,
        "enc_type" => enc_label,
        "result" => outcome.label()
    )
    .increment(1);
}

#[cfg(test)]
pub(crate) mod tests;
