//! Building `monitor.messages` batches and handling their replies (PROTOCOL §8.3
//! "Batching", §8.2).

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rand::Rng;
use tokio::time::Instant;

use super::accounts::AccountRef;
use super::queue::Tick;
use super::Monitor;
use crate::admin::metrics as names;
use crate::clock::unix_now;
use crate::swarm::message::{encode_list, parse_monitor_reply, ItemResult};
use crate::swarm::oxenmq::ConnId;
use crate::swarm::SwarmError;

/// At most this many dicts per request (SPNS `SUBS_REQUEST_LIMIT`).
const MAX_DICTS: usize = 2_000;
/// At most this many bytes per request body.
pub(super) const MAX_BYTES: usize = 5_000_000;
/// Requests in flight per node.
const MAX_OUTSTANDING: usize = 2;
/// Request body bytes in flight, all nodes together (issue 12). Without it, the first full
/// submission (start-up, or a new node list: every node has all of its accounts due at once)
/// built up to 2 bodies per node at once, and glibc kept the ~2.4 GB peak at 2,000 nodes. A
/// batch is built only while a full one ([`MAX_BYTES`]) still fits, so the bodies held never
/// exceed this; the rest stay due and go, least recently served node first, as replies free
/// room. 64 MiB is ~13 full-size bodies, or ~200 of the ~300 kB ones 2,000 typical dicts
/// make: about 1 Gbit/s at a 0.5 s reply time, a relay's uplink, so the bulk submission is
/// hardly slowed; renewals (small bodies) are held up only while one is under way.
pub(super) const MAX_IN_FLIGHT_BYTES: usize = 64 << 20;
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
    pub(super) node: [u8; 32],
    conn: ConnId,
    pub(super) accounts: Vec<AccountRef>,
    /// The body's length, counted in `Monitor::in_flight_bytes` until this completes.
    pub(super) bytes: usize,
    result: Result<Vec<Vec<u8>>, SwarmError>,
}

impl Monitor {
    /// Sends every batch that may go now: nodes that are up, with fewer than two requests
    /// outstanding, whose earliest due account has waited [`COALESCE`], while the bodies in
    /// flight leave room for a full one ([`MAX_IN_FLIGHT_BYTES`]).
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        in_flight: &mut FuturesUnordered<BoxFuture<'static, Completion>>,
    ) {
        let now_unix = unix_now();
        // The clock's epoch is before `now - COALESCE` (`queue::EPOCH_LEAD`).
        let ripe = self.clock.tick(now.checked_sub(COALESCE).unwrap_or(now));
        let now = self.clock.tick(now);
        let mut keys: Vec<(u64, [u8; 32])> = self
            .nodes
            .iter()
            .filter(|(_, s)| s.up && s.outstanding < MAX_OUTSTANDING && s.queue.has_due(ripe))
            .map(|(k, s)| (s.last_turn, *k))
            .collect();
        keys.sort_unstable();
        for (_, key) in keys {
            while self.has_room() {
                let Some((accounts, body)) = self.next_batch(&key, now, now_unix) else {
                    break;
                };
                let Some(state) = self.nodes.get_mut(&key) else {
                    break;
                };
                state.outstanding += 1;
                self.turn += 1;
                state.last_turn = self.turn;
                let bytes = body.len();
                self.in_flight_bytes += bytes;
                let (mq, conn) = (self.mq.clone(), state.conn);
                in_flight.push(Box::pin(async move {
                    let result = mq
                        .request(conn, "monitor.messages", vec![body], REQUEST_TIMEOUT)
                        .await;
                    Completion {
                        node: key,
                        conn,
                        accounts,
                        bytes,
                        result,
                    }
                }));
                if state.outstanding >= MAX_OUTSTANDING {
                    break;
                }
            }
        }
    }

    /// Whether a full-size body fits under [`MAX_IN_FLIGHT_BYTES`] (a reply frees room).
    fn has_room(&self) -> bool {
        self.in_flight_bytes + MAX_BYTES <= self.max_in_flight_bytes
    }

    /// When [`Monitor::dispatch`] next has something to send, if any node could send (with no
    /// room in flight, none can until a reply, which wakes the loop itself).
    pub(super) fn next_send(&self) -> Option<Instant> {
        if !self.has_room() {
            return None;
        }
        self.nodes
            .values()
            .filter(|s| s.up && s.outstanding < MAX_OUTSTANDING)
            .filter_map(|s| s.queue.first_due())
            .min()
            .map(|due| self.clock.instant(due) + COALESCE)
    }

    /// Pops due accounts of one node into a body of ≤ 2 000 dicts and ≤ 5 MB.
    fn next_batch(
        &mut self,
        key: &[u8; 32],
        now: Tick,
        now_unix: i64,
    ) -> Option<(Vec<AccountRef>, Vec<u8>)> {
        let state = self.nodes.get_mut(key)?;
        let (mut accounts, mut dicts, mut bytes) = (Vec::new(), Vec::new(), 2usize);
        let mut expired = Vec::new();
        while let Some(id) = state.queue.pop_due(now) {
            let live: Vec<&Vec<u8>> = self
                .accounts
                .entries(id)
                .iter()
                .filter(|e| e.live(now_unix))
                .map(|e| &e.dict)
                .collect();
            if live.is_empty() {
                // Every entry expired (a free slot has none, but no queue holds its number).
                expired.push(id);
                continue;
            }
            let size: usize = live.iter().map(|d| d.len()).sum();
            let fits = dicts.len() + live.len() <= MAX_DICTS && bytes + size <= MAX_BYTES;
            if !fits && !dicts.is_empty() {
                state.queue.set(id, now);
                break;
            }
            bytes += size;
            dicts.extend(live);
            accounts.push(self.accounts.tag(id));
        }
        let body = (!dicts.is_empty()).then(|| encode_list(&dicts));
        for id in expired {
            self.forget_expired(id);
        }
        Some((accounts, body?))
    }

    pub(super) fn complete(&mut self, done: Completion) {
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(done.bytes);
        let now = self.clock.tick(Instant::now());
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
            // Forgotten since (its number may be another account's now), or no longer this
            // node's to renew.
            if !self.accounts.current(account)
                || state.serves.is_none()
                || state.serves != self.accounts.swarm(account.id)
            {
                continue;
            }
            let wait = if outcome == "ok" {
                Duration::from_secs(rng.gen_range(min..=max))
            } else {
                RETRY_AFTER
            };
            let wait = Tick::try_from(wait.as_millis()).unwrap_or(Tick::MAX);
            // Made due again while this request was out (a change of its subscriptions, §8.3;
            // a reconnect, §7.3): the request carried the old state, so that stays due.
            state
                .queue
                .set_unless_earlier(account.id, now.saturating_add(wait));
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
