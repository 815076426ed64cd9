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
    until_stopped(
        stop,
        || mock.next_request(),
        |r| {
            let enc_payload = r.body["enc_payload"].as_str();
            ledger.receive(Receipt::new(&r.token, enc_payload, &r.problems, r.received));
        },
    )
    .await;
}

/// Feeds FCM `messages:send` requests to `ledger` until `stop` is cancelled.
pub async fn fcm(mock: &MockFcm, ledger: &Ledger, stop: &CancellationToken) {
    until_stopped(
        stop,
        || mock.next_request(),
        |r| {
            let enc_payload = r.body["message"]["data"]["enc_payload"].as_str();
            ledger.receive(Receipt::new(&r.token, enc_payload, &r.problems, r.received));
        },
    )
    .await;
}

/// Takes each request `next` yields until `stop` is cancelled or the mock is gone.
async fn until_stopped<T, F>(
    stop: &CancellationToken,
    mut next: impl FnMut() -> F,
    mut take: impl FnMut(T),
) where
    F: std::future::Future<Output = Option<T>>,
{
    loop {
        let request = tokio::select! {
            () = stop.cancelled() => return,
            request = next() => request,
        };
        let Some(request) = request else { return };
        take(request);
    }
}
