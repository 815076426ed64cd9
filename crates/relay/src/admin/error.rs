use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::BuildError;

/// A failure of the admin listener or of its set-up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    /// The Prometheus recorder could not be installed (another recorder is already set).
    #[error("cannot install the metrics recorder")]
    Recorder(#[source] Arc<BuildError>),
    /// `[admin] token` is set and the request did not carry it.
    #[error("missing or wrong bearer token")]
    Unauthorized,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "unauthorized\n",
            )
                .into_response(),
            AdminError::Recorder(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
            }
        }
    }
}
