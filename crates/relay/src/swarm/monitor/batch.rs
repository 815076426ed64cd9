//! Building `monitor.messages` batches and handling their replies (PROTOCOL §8.3
//! "Batching", §8.2).

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rand::Rng;
use tokio::time::Instant;

use super::Monitor;
use crate::admin::metrics as names;
use crate::clock::unix_now;
use crate::subscription::AccountId;
use crate::swarm::message::{encode_list, parse_monitor_reply, ItemResult};
use crate::swarm::oxenmq::ConnId;
use crate::swarm::SwarmError;

/// At most this many dicts per request (SPNS `SUBS_REQUEST_LIMIT`).
const MAX_DICTS: usize = 2_000;
/// At most this many bytes per request body.
const MAX_BYTES: usize = 5_000_000;
/// Requests in flight per node.
const MAX_OUTSTANDING: usize = 2;
/// `monitor.messages` reply timeout (§13).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A failed batch's accounts are due again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// How long a node's earliest due account waits for others before a request goes, so that
/// accounts subscribed close together share one `monitor.messages` (issue 13: one request per
/// subscribe was a third of the relay's CPU). Well inside §8.3's 1 s for a change to reach the
/// swarm.
pub(super) const COALESCE: Duration = Duration::from_millis(100);

/// A finished request.
pub(crate) struct Completion {
    node: [u8; 32],
    conn: ConnId,
    accounts: Vec<AccountId>,
    result: Result<Vec<Vec<u8>>, SwarmError>,
}

impl Monitor {
    /// Sends every batch that may go now: nodes that are up, with fewer than two requests
    /// outstanding, whose earliest due account has waited [`COALESCE`].
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        in_flight: &mut FuturesUnordered<BoxFuture<'static, Completion>>,
    ) {
        let now_unix = unix_now();
        let ripe = now.checked_sub(COALESCE).unwrap_or(now);
        let keys: Vec<[u8; 32]> = self
            .nodes
            .iter()
            .filter(|(_, s)| s.up && s.outstanding < MAX_OUTSTANDING && s.queue.has_due(ripe))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            while let Some((accounts, body)) = self.next_batch(&key, now, now_unix) {
                let Some(state) = self.nodes.get_mut(&key) else {
                    break;
                };
                state.outstanding += 1;
                let (mq, conn) = (self.mq.clone(), state.conn);
                in_flight.push(Box::pin(async move {
                    let result = mq
                        .request(conn, "monitor.messages", vec![body], REQUEST_TIMEOUT)
                        .await;
                    Completion {
                        node: key,
                        conn,
                        accounts,
                        result,
                    }
                }));
                if state.outstanding >= MAX_OUTSTANDING {
                    break;
                }
            }
        }
    }

    /// When [`Monitor::dispatch`] next has something to send, if any node could send.
    pub(super) fn next_send(&self) -> Option<Instant> {
        self.nodes
            .values()
            .filter(|s| s.up && s.outstanding < MAX_OUTSTANDING)
            .filter_map(|s| s.queue.first_due())
            .min()
            .map(|due| due + COALESCE)
    }

    /// Pops due accounts of one node into a body of ≤ 2 000 dicts and ≤ 5 MB.
    fn next_batch(
        &mut self,
        key: &[u8; 32],
        now: Instant,
        now_unix: i64,
    ) -> Option<(Vec<AccountId>, Vec<u8>)> {
        let state = self.nodes.get_mut(key)?;
        let (mut accounts, mut dicts, mut bytes) = (Vec::new(), Vec::new(), 2usize);
        let mut expired = Vec::new();
        while let Some(account) = state.queue.pop_due(now) {
            let Some(entry_state) = self.accounts.get(&account) else {
                state.known.remove(&account);
                continue;
            };
            let live: Vec<&Vec<u8>> = entry_state
                .entries
                .iter()
                .filter(|e| e.live(now_unix))
                .map(|e| &e.dict)
                .collect();
            if live.is_empty() {
                expired.push(account);
                continue;
            }
            let size: usize = live.iter().map(|d| d.len()).sum();
            let fits = dicts.len() + live.len() <= MAX_DICTS && bytes + size <= MAX_BYTES;
            if !fits && !dicts.is_empty() {
                state.queue.set(account, now);
                break;
            }
            bytes += size;
            dicts.extend(live);
            accounts.push(account);
        }
        let body = (!dicts.is_empty()).then(|| encode_list(&dicts));
        for account in expired {
            self.forget_account(&account);
        }
        Some((accounts, body?))
    }

    pub(super) fn complete(&mut self, done: Completion) {
        let now = Instant::now();
        let Some(state) = self.nodes.get_mut(&done.node) else {
            return;
        };
        if state.conn != done.conn {
            return; // reply for a connection replaced since
        }
        state.outstanding = state.outstanding.saturating_sub(1);
        let outcome = match &done.result {
            Ok(parts) => match parts.first().map(|p| parse_monitor_reply(p)) {
                Some(Ok(items)) => {
                    count_item_failures(&items);
                    "ok"
                }
                _ => "error",
            },
            Err(SwarmError::Timeout { .. }) => "timeout",
            Err(_) => "error",
        };
        metrics::counter!(names::SWARM_MONITOR_REQUESTS, "result" => outcome).increment(1);
        let (min, max) = (
            self.renewal.min_secs,
            self.renewal.max_secs.max(self.renewal.min_secs),
        );
        let mut rng = rand::thread_rng();
        for account in done.accounts {
            if !state.known.contains(&account) {
                continue;
            }
            let next = if outcome == "ok" {
                now + Duration::from_secs(rng.gen_range(min..=max))
            } else {
                now + RETRY_AFTER
            };
            state.queue.set(account, next);
        }
        if outcome != "ok" {
            tracing::warn!(node = %state.node.short(), result = outcome, "monitor request failed");
        }
    }
}

/// Item failures are counted, never acted on: clocks may differ between machines (§8.2).
fn count_item_failures(items: &[ItemResult]) {
    for item in items {
        if let ItemResult::Failed { errcode, error } = item {
            let label = match errcode {
                1 => "1",
                2 => "2",
                3 => "3",
                4 => "4",
                5 => "5",
                6 => "6",
                _ => "other",
            };
            metrics::counter!(names::SWARM_MONITOR_ITEM_FAILURES, "errcode" => label).increment(1);
            tracing::debug!(errcode, error = %error, "monitor item refused");
        }
    }
}
