//! Group commit of subscribes (issue 13): [`GroupCommit::upsert`] queues the subscription for
//! one writer task, which writes everything queued together with [`Store::upsert_many`] (one
//! transaction) and only then answers each caller. Only the API's subscribes go this way;
//! everything else calls the [`Store`] directly.
//!
//! Batches form by themselves: while one commits, the next subscribes queue up, so an idle relay
//! commits each subscribe at once and a loaded one commits many per transaction (at most
//! `batch_max`; `batch_window` > 0 also waits that long for more after the first).
//!
//! A failed batch answers nobody wrongly: a busy or unreachable database
//! ([`StoreError::is_timeout`]) answers every caller with that error; any other failure retries
//! each row alone, so one bad row fails only its own caller.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Store, StoreError, Upsert};
use crate::subscription::Subscription;

/// Subscribes waiting for the writer, at most. Filled by request handlers, drained by the writer
/// a batch at a time; full means the database is behind, and callers wait [`QUEUE_WAIT`].
const QUEUE: usize = 4_096;
/// How long a subscribe waits for room in a full queue before it is answered "unavailable".
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// How long a caller waits for its row to be committed (the pool's own acquire timeout is 5 s;
/// this bounds a batch stuck behind a slow database).
const COMMIT_WAIT: Duration = Duration::from_secs(30);

/// Group-commit settings (`[database] batch_max`, `batch_window_ms`).
#[derive(Clone, Copy, Debug)]
pub struct BatchSettings {
    /// Subscribes per transaction, at most.
    pub max: usize,
    /// How long the writer waits after a batch's first subscribe for more (0: takes only what
    /// is already queued).
    pub window: Duration,
}

/// One queued subscribe and where its outcome goes.
struct Pending {
    sub: Subscription,
    now: i64,
    /// The caller's end; dropped unanswered only if the writer stops mid-batch.
    reply: oneshot::Sender<Result<Upsert, StoreError>>,
}

/// Where subscribes are written: hands each to the writer and waits for its commit. Cheap to
/// clone; the writer ends once every clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

/// The writer: owns the receiving end; [`Writer::run`] ends when every [`GroupCommit`] is
/// dropped.
pub struct Writer {
    inner: Arc<dyn Store>,
    queue: mpsc::Receiver<Pending>,
    settings: BatchSettings,
}

/// Group commit of subscribes into `store`, and the writer task to spawn.
pub fn group_commit(store: Arc<dyn Store>, settings: BatchSettings) -> (GroupCommit, Writer) {
    let (queue, rx) = mpsc::channel(QUEUE);
    let settings = BatchSettings {
        max: settings.max.max(1),
        ..settings
    };
    let writer = Writer {
        inner: store,
        queue: rx,
        settings,
    };
    (GroupCommit { queue }, writer)
}

// === impl Writer ===

impl Writer {
    /// Commits batches until every handle is dropped, so subscribes accepted during shutdown are
    /// still written (the HTTP listener drains before the handles go).
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.settings.max);
        while let Some(first) = self.queue.recv().await {
            batch.push(first);
            self.fill(&mut batch).await;
            commit(self.inner.as_ref(), std::mem::take(&mut batch)).await;
        }
    }

    /// Adds what is queued (and, with a window, what arrives within it) up to `max`.
    async fn fill(&mut self, batch: &mut Vec<Pending>) {
        while batch.len() < self.settings.max {
            match self.queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        if self.settings.window.is_zero() {
            return;
        }
        let deadline = Instant::now() + self.settings.window;
        while batch.len() < self.settings.max {
            match tokio::time::timeout_at(deadline, self.queue.recv()).await {
                Ok(Some(p)) => batch.push(p),
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// Writes `batch` in one transaction and answers each caller; on failure see the module doc.
async fn commit(store: &dyn Store, batch: Vec<Pending>) {
    if batch.len() == 1 {
        // One statement in autocommit: no BEGIN/COMMIT round trips for a lone subscribe.
        return one_by_one(store, batch).await;
    }
    let rows: Vec<(&Subscription, i64)> = batch.iter().map(|p| (&p.sub, p.now)).collect();
    let result = store.upsert_many(&rows).await;
    drop(rows);
    match result {
        Ok(outcomes) if outcomes.len() == batch.len() => {
            for (p, outcome) in batch.into_iter().zip(outcomes) {
                let _ = p.reply.send(Ok(outcome));
            }
        }
        Ok(_) => {
            tracing::error!("batch upsert returned the wrong number of outcomes; retrying per row");
            one_by_one(store, batch).await;
        }
        Err(e) if e.is_timeout() => {
            // Retrying row by row would only wait the pool's timeout once per row.
            tracing::debug!(error = %e, rows = batch.len(), "batch upsert failed");
            let mut batch = batch.into_iter();
            if let Some(last) = batch.next_back() {
                for p in batch {
                    // `sqlx::Error` is not `Clone`; the API needs only the class (timeout).
                    let _ = p
                        .reply
                        .send(Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)));
                }
                let _ = last.reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, rows = batch.len(), "batch upsert failed; retrying per row");
            one_by_one(store, batch).await;
        }
    }
}

async fn one_by_one(store: &dyn Store, batch: Vec<Pending>) {
    for p in batch {
        let result = store.upsert(&p.sub, p.now).await;
        let _ = p.reply.send(result);
    }
}

// === impl GroupCommit ===

impl GroupCommit {
    /// Inserts or replaces `sub` as [`Store::upsert`] does, answering once its batch is
    /// committed.
    pub async fn upsert(&self, sub: &Subscription, now: i64) -> Result<Upsert, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            sub: sub.clone(),
            now,
            reply,
        };
        self.queue
            .send_timeout(pending, QUEUE_WAIT)
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut))?;
        match tokio::time::timeout(COMMIT_WAIT, answer).await {
            Ok(Ok(result)) => result,
            // The writer stopped, or the commit outlasted COMMIT_WAIT: busy, not broken.
            Ok(Err(_)) => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }
}

#[cfg(test)]
mod tests;
