//! One service's bulkhead: a bounded queue, a worker pool under a concurrency limit, and
//! what each verdict causes (PROTOCOL §11 common rules).
//!
//! A stalled provider fills only its own queue; further pushes for it are counted drops.
//! Retries wait in their own tasks holding no permit, then re-enter the queue.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::breaker::{Breaker, Sample};
use super::index::Index;
use super::payload::NoDataForm;
use super::policy::ServicePolicy;
use super::retry;
use crate::admin::metrics as names;
use crate::notifier::{Notifier, Push, Verdict};
use crate::store::{Changes, Store};
use crate::subscription::{DeviceToken, SubscriptionKey};

/// What every lane shares with the dispatch task.
#[derive(Clone)]
pub(super) struct Deps {
    pub store: Arc<dyn Store>,
    /// Names the accounts holding a dead token (rows are keyed per account).
    pub index: Arc<Index>,
    pub changes: Arc<dyn Changes>,
    /// Cancelled at shutdown: waiting retries give up instead of holding the drain open.
    pub retry_stop: CancellationToken,
}

/// A push waiting for its service.
struct Job {
    push: Push,
    /// Retries done so far.
    attempt: u32,
    enqueued: Instant,
    /// When the notification reached the relay (end-to-end latency).
    received: Instant,
}

/// The producer side of a lane, held by the dispatch task; dropping it (and every waiting
/// retry finishing) closes the queue, and the worker drains what is left and exits.
pub(super) struct Lane {
    /// Metadata form of this service's payloads without a data element.
    pub form: NoDataForm,
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl Lane {
    /// Starts the lane's worker in `workers` and returns the producer side.
    pub fn spawn(
        service: Arc<str>,
        notifier: Arc<dyn Notifier>,
        policy: ServicePolicy,
        deps: Deps,
        workers: &mut JoinSet<()>,
    ) -> Lane {
        let (tx, rx) = mpsc::channel(policy.limits.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            breaker: Mutex::new(Breaker::new(service.clone(), policy.breaker_threshold)),
            service,
            notifier,
            policy,
            deps,
            requeue: tx.downgrade(),
        });
        let permits = Arc::new(Semaphore::new(policy.limits.concurrency.max(1)));
        workers.spawn(work(shared.clone(), rx, permits));
        Lane {
            form: policy.no_data_form,
            tx,
            shared,
        }
    }

    /// Queues a push, or counts a `queue_full` drop.
    pub fn offer(&self, push: Push, received: Instant) {
        let now = Instant::now();
        let job = Job {
            push,
            attempt: 0,
            enqueued: now,
            received,
        };
        self.shared.enqueue(&self.tx, job);
    }
}

/// Takes jobs in order and runs each under a permit, so at most `concurrency` are in flight.
async fn work(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>, permits: Arc<Semaphore>) {
    let mut in_flight = JoinSet::new();
    while let Some(job) = rx.recv().await {
        shared.depth(rx.len());
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break; // the semaphore is never closed
        };
        metrics::histogram!(names::PUSH_QUEUE_WAIT, "service" => shared.service.clone())
            .record(job.enqueued.elapsed().as_secs_f64());
        let s = shared.clone();
        in_flight.spawn(async move {
            s.attempt(job).await;
            drop(permit);
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

/// State of one lane shared by its worker, its sends and its waiting retries.
struct Shared {
    service: Arc<str>,
    notifier: Arc<dyn Notifier>,
    policy: ServicePolicy,
    deps: Deps,
    breaker: Mutex<Breaker<(DeviceToken, &'static str)>>,
    /// Weak, so that waiting retries do not keep the queue open at shutdown.
    requeue: mpsc::WeakSender<Job>,
}

impl Shared {
    fn enqueue(&self, tx: &mpsc::Sender<Job>, job: Job) {
        match tx.try_send(job) {
            Ok(()) => self.depth(tx.max_capacity() - tx.capacity()),
            Err(TrySendError::Full(_)) => self.give_up("dropped", "queue_full"),
            Err(TrySendError::Closed(_)) => self.give_up("failed", "shutdown"),
        }
    }

    fn depth(&self, depth: usize) {
        metrics::gauge!(names::PUSH_QUEUE_DEPTH, "service" => self.service.clone())
            .set(depth as f64);
    }

    /// Counts a push that will not be delivered (`result` is `failed` or `dropped`).
    fn give_up(&self, result: &'static str, reason: &'static str) {
        let service = self.service.clone();
        metrics::counter!(names::PUSH_TOTAL, "service" => service.clone(), "result" => result)
            .increment(1);
        metrics::counter!(names::PUSH_FAILURES, "service" => service, "reason" => reason)
            .increment(1);
    }

    /// One provider send and what its verdict causes.
    async fn attempt(self: Arc<Self>, job: Job) {
        let limit = Duration::from_secs(self.policy.limits.request_timeout_secs.max(1));
        let started = Instant::now();
        let verdict = tokio::time::timeout(limit, self.notifier.send(&job.push))
            .await
            .unwrap_or(Verdict::Retry {
                reason: "timeout",
                after: None,
            });
        metrics::histogram!(names::PUSH_DURATION, "service" => self.service.clone())
            .record(started.elapsed().as_secs_f64());

        let sample = match &verdict {
            Verdict::TokenInvalid {
                reason,
                config_reason,
            } => Sample::Invalid {
                item: (job.push.token.clone(), *reason),
                config_reason: *config_reason,
            },
            _ => Sample::Other,
        };
        let (delete, breaker_open) = {
            let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
            (breaker.record(Instant::now(), sample), breaker.is_open())
        };

        match verdict {
            Verdict::Delivered => self.delivered(&job),
            Verdict::Retry { reason, after } => self.clone().retry(job, reason, after),
            Verdict::TokenInvalid { reason, .. } => {
                self.result("token_invalid");
                tracing::debug!(service = %self.service, token = %job.push.token, reason, breaker_open, "token invalid");
            }
            Verdict::Drop { reason, alert } => {
                self.give_up("dropped", reason);
                if alert {
                    tracing::error!(service = %self.service, reason, "provider refused a push; check the service's configuration");
                } else {
                    tracing::debug!(service = %self.service, reason, "push dropped");
                }
            }
        }
        for (token, reason) in delete {
            self.remove_token(&token, reason).await;
        }
    }

    fn result(&self, result: &'static str) {
        metrics::counter!(names::PUSH_TOTAL, "service" => self.service.clone(), "result" => result)
            .increment(1);
    }

    fn delivered(&self, job: &Job) {
        self.result("delivered");
        if job.attempt > 0 {
            metrics::counter!(names::PUSH_RETRIED, "service" => self.service.clone()).increment(1);
        }
        metrics::histogram!(names::END_TO_END).record(job.received.elapsed().as_secs_f64());
    }

    /// Schedules the next attempt in a task holding no permit, or gives up after `max_retries`.
    fn retry(self: Arc<Self>, job: Job, reason: &'static str, after: Option<Duration>) {
        if job.attempt >= self.policy.limits.max_retries {
            self.give_up("failed", reason);
            return;
        }
        let wait = retry::delay(job.attempt, after);
        tracing::debug!(service = %self.service, reason, wait_secs = wait.as_secs_f64(), "push retry scheduled");
        tokio::spawn(async move {
            tokio::select! {
                () = self.deps.retry_stop.cancelled() => self.give_up("failed", "shutdown"),
                () = tokio::time::sleep(wait) => match self.requeue.upgrade() {
                    Some(tx) => {
                        let next = Job { attempt: job.attempt + 1, enqueued: Instant::now(), ..job };
                        self.enqueue(&tx, next);
                    }
                    None => self.give_up("failed", "shutdown"),
                },
            }
        });
    }

    /// Deletes every subscription with this token (of every account the index holds it for)
    /// and tells the index and the swarm monitor.
    async fn remove_token(&self, token: &DeviceToken, reason: &'static str) {
        let accounts = self.deps.index.accounts_with(&self.service, token);
        match self
            .deps
            .store
            .remove_token(&self.service, token, &accounts)
            .await
        {
            Ok(accounts) if accounts.is_empty() => {}
            Ok(accounts) => {
                for account in accounts {
                    self.deps.changes.removed(&SubscriptionKey {
                        account,
                        service: self.service.clone(),
                        token: token.clone(),
                    });
                }
                metrics::counter!(names::TOKENS_REMOVED, "service" => self.service.clone(), "reason" => reason)
                    .increment(1);
                tracing::info!(service = %self.service, token = %token, reason, "invalid token removed");
            }
            Err(e) => {
                tracing::warn!(service = %self.service, token = %token, error = %e, "cannot remove an invalid token");
            }
        }
    }
}
