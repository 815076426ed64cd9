//! Reads every request the mock providers received and hands it to the [`Ledger`].
//!
//! The mocks keep a bounded backlog of unread requests, so these readers run for the whole
//! message phase; each request is opened as the matching app would open it (APNs → iOS,
//! FCM → Android).

use tokio_util::sync::CancellationToken;

use super::ledger::{Ledger, Receipt};
use crate::mock_apns::MockApns;
use crate::mock_fcm::MockFcm;

/// Feeds APNs requests to `ledger` until `stop` is cancelled.
pub async fn apns(mock: &MockApns, ledger: &Ledger, stop: &CancellationToken) {
    loop {
        let request = tokio::select! {
            () = stop.cancelled() => return,
            request = mock.next_request() => request,
        };
        let Some(r) = request else { return };
        ledger.receive(Receipt {
            token: &r.token,
            enc_payload: r.body["enc_payload"].as_str(),
            accepted: r.problems.is_empty(),
            at: r.received,
        });
    }
}

/// Feeds FCM `messages:send` requests to `ledger` until `stop` is cancelled.
pub async fn fcm(mock: &MockFcm, ledger: &Ledger, stop: &CancellationToken) {
    loop {
        let request = tokio::select! {
            () = stop.cancelled() => return,
            request = mock.next_request() => request,
        };
        let Some(r) = request else { return };
        ledger.receive(Receipt {
            token: &r.token,
            enc_payload: r.body["message"]["data"]["enc_payload"].as_str(),
            accepted: r.problems.is_empty(),
            at: r.received,
        });
    }
}
