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
mod framing;
mod inner;
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

use super::{handle_json, ApiState};
use crate::admin::metrics as names;

/// The route of the onion endpoint.
pub const PATH: &str = "/oxen/v4/lsrpc";

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
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadRequest => "bad_request",
            Outcome::InnerError => "inner_error",
            Outcome::NotFound => "not_found",
        }
    }
}

/// The axum handler; reads at most [`MAX_BODY`] bytes itself, so the limit is this route's own.
pub(crate) async fn lsrpc(State(state): State<ApiState>, body: Body) -> Response {
    match axum::body::to_bytes(body, MAX_BODY).await {
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
    let json = handle_json(state, endpoint, request.body).await;
    (
        reply::encode(200, reply::JSON, json.as_bytes()),
        Outcome::Ok,
    )
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
