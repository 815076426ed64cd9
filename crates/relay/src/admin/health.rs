//! `GET /health/live` and `GET /health/ready` (DESIGN "HTTP surface").
//!
//! Ready means: the database answers within [`DB_TIMEOUT`] and, when a swarm source is
//! configured, the node list is loaded and more than half of the swarms have a connected
//! member. The 503 body names each failing check.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::watch;

use super::AdminState;
use crate::store::Store;
use crate::swarm::SwarmStatus;

/// How long `/health/ready` waits for `Store::ping`: an orchestrator probe times out soon after.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of each readiness check: `"ok"` or why it failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// `Store::ping`.
    pub database: String,
    /// Node list and swarm connectivity; absent when no swarm source is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<String>,
    /// At least one push service configured; absent when not checked (tests of other parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
}

const OK: &str = "ok";

impl Readiness {
    /// Whether every check passed.
    pub fn ready(&self) -> bool {
        self.database == OK
            && self.swarm.as_deref().is_none_or(|s| s == OK)
            && self.services.as_deref().is_none_or(|s| s == OK)
    }
}

/// Runs every readiness check now.
pub(crate) async fn check(
    store: &dyn Store,
    swarm: Option<&watch::Receiver<SwarmStatus>>,
    push_services: Option<usize>,
) -> Readiness {
    let database = match tokio::time::timeout(DB_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => OK.to_string(),
        Ok(Err(e)) => format!("failing: {e}"),
        Err(_) => format!("failing: no answer within {} s", DB_TIMEOUT.as_secs()),
    };
    let swarm = swarm.map(|rx| swarm_check(&rx.borrow()));
    let services = push_services.map(|n| match n {
        0 => "failing: no push service configured ([[services]])".to_string(),
        _ => OK.to_string(),
    });
    Readiness {
        database,
        swarm,
        services,
    }
}

fn swarm_check(status: &SwarmStatus) -> String {
    if !status.node_list_loaded {
        return "failing: node list not loaded".to_string();
    }
    // "most swarms have a connected member": strictly more than half.
    if status.swarms == 0 || status.swarms_connected * 2 <= status.swarms {
        return format!(
            "failing: {} of {} swarms have a connected member",
            status.swarms_connected, status.swarms
        );
    }
    OK.to_string()
}

/// `GET /health/live`: the process is up and serving.
pub(super) async fn live() -> &'static str {
    "ok\n"
}

/// `GET /health/ready`: 200 with every check "ok", else 503 with the same JSON.
pub(super) async fn ready(State(state): State<AdminState>) -> Response {
    let readiness = check(
        state.store.as_ref(),
        state.swarm.as_ref(),
        state.push_services,
    )
    .await;
    let status = if readiness.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(loaded: bool, swarms: usize, connected: usize) -> SwarmStatus {
        SwarmStatus {
            node_list_loaded: loaded,
            swarms,
            swarms_connected: connected,
            ..SwarmStatus::default()
        }
    }

    #[test]
    fn swarm_rule_needs_the_node_list_and_a_majority() {
        assert!(swarm_check(&status(false, 10, 10)).contains("node list not loaded"));
        assert_eq!(swarm_check(&status(true, 10, 6)), OK);
        assert!(swarm_check(&status(true, 10, 5)).contains("5 of 10"));
        assert!(swarm_check(&status(true, 0, 0)).starts_with("failing"));
        assert_eq!(swarm_check(&status(true, 1, 1)), OK);
    }

    #[test]
    fn ready_only_when_every_check_is_ok() {
        let mut r = Readiness {
            database: OK.into(),
            swarm: None,
            services: None,
        };
        assert!(r.ready());
        r.services = Some("failing: no push service configured ([[services]])".into());
        assert!(!r.ready());
        r.services = Some(OK.into());
        assert!(r.ready());
        r.swarm = Some("failing: node list not loaded".into());
        assert!(!r.ready());
        r.swarm = Some(OK.into());
        r.database = "failing: database unavailable".into();
        assert!(!r.ready());
    }
}
