//! `notify.message` intake (PROTOCOL §8.4): strict parse, then a bounded hand-off to delivery.
//! Runs on the OxenMQ proxy thread, so it never blocks: a full queue drops and counts.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::copies::RecentCopies;
use super::mapping::swarm_of;
use super::message::parse_notify_ref;
use super::oxenmq::{Commands, ConnId};
use super::{Notification, NotifyRef, SwarmGate};
use crate::admin::metrics as names;

/// The current swarm ids (sorted), published by the monitor.
type SwarmIds = watch::Receiver<Arc<Vec<u64>>>;

/// Notifications held for one hand-off at most; a longer round hands off early.
const BATCH: usize = 1024;

/// Turns storage-server commands into [`Notification`]s for delivery, handed on once per
/// proxy round (one wake-up of delivery per batch) and counted once per batch.
pub(crate) struct Intake {
    delivery: mpsc::Sender<Notification>,
    batch: Vec<Notification>,
    /// Copies of notifications already in `batch` or handed on.
    recent: RecentCopies,
    malformed: u64,
    not_owner: u64,
    /// Copies dropped by `recent` since the last flush.
    copies: u64,
    /// A `[cluster]` replica pushes only for the swarms its gate allows (by the account's
    /// swarm among the current ids); `None` pushes everything.
    gate: Option<(Arc<dyn SwarmGate>, SwarmIds)>,
}

impl Intake {
    pub fn new(delivery: mpsc::Sender<Notification>) -> Self {
        Intake {
            delivery,
            batch: Vec::with_capacity(BATCH),
            recent: RecentCopies::new(),
            malformed: 0,
            not_owner: 0,
            copies: 0,
            gate: None,
        }
    }

    /// Hands on only notifications for swarms `gate` pushes for.
    pub fn gated(
        mut self,
        gate: Arc<dyn SwarmGate>,
        swarm_ids: watch::Receiver<Arc<Vec<u64>>>,
    ) -> Self {
        self.gate = Some((gate, swarm_ids));
        self
    }

    fn allowed(&self, n: &NotifyRef<'_>) -> bool {
        let Some((gate, ids)) = &self.gate else {
            return true;
        };
        let ids = ids.borrow();
        swarm_of(&n.account, &ids).is_some_and(|swarm| gate.pushes(swarm))
    }
}

impl Commands for Intake {
    /// One command from a storage server (any connected node is accepted, §8.4).
    fn command(&mut self, _id: ConnId, name: &str, parts: &[&[u8]]) {
        if name != "notify.message" {
            tracing::debug!(command = %name, "ignored storage server command");
            return;
        }
        match parse_notify_ref(parts) {
            Ok(n) if !self.allowed(&n) => self.not_owner += 1,
            // Another swarm member's copy of a notification in hand (see `copies.rs`).
            Ok(n) if self.recent.seen_or_insert(&n.account, n.hash) => self.copies += 1,
            Ok(n) => self.batch.push(n.into_owned(Instant::now())),
            Err(e) => {
                self.malformed += 1;
                tracing::debug!(error = %e, "notify.message dropped");
            }
        }
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.malformed > 0 {
            metrics::counter!(names::SWARM_NOTIFICATIONS_DROPPED, "reason" => "malformed")
                .increment(std::mem::take(&mut self.malformed));
        }
        if self.not_owner > 0 {
            metrics::counter!(names::SWARM_NOTIFICATIONS_DROPPED, "reason" => "not_owner")
                .increment(std::mem::take(&mut self.not_owner));
        }
        if self.copies > 0 {
            // Counted as delivery's de-duplication would have counted them (once per copy).
            let copies = std::mem::take(&mut self.copies);
            metrics::counter!(names::SWARM_NOTIFICATIONS).increment(copies);
            metrics::counter!(names::DEDUP_DROPPED).increment(copies);
        }
        if self.batch.is_empty() {
            return;
        }
        metrics::counter!(names::SWARM_NOTIFICATIONS).increment(self.batch.len() as u64);
        let mut full = 0u64;
        for n in self.batch.drain(..) {
            if let Err(mpsc::error::TrySendError::Full(n)) = self.delivery.try_send(n) {
                // Let a later copy of it through.
                self.recent.forget(&n.account, &n.hash);
                full += 1;
            }
        }
        if full > 0 {
            metrics::counter!(names::SWARM_NOTIFICATIONS_DROPPED, "reason" => "queue_full")
                .increment(full);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(ns: &str, hash: u8) -> Vec<Vec<u8>> {
        let mut b = b"d1:@33:".to_vec();
        b.extend_from_slice(&[5; 33]);
        b.extend_from_slice(b"1:h32:");
        b.extend_from_slice(&[hash; 32]);
        b.extend_from_slice(format!("1:n{ns}1:ti1e1:zi2ee").as_bytes());
        vec![b]
    }

    fn send(intake: &mut Intake, name: &str, parts: Vec<Vec<u8>>) {
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        intake.command(ConnId(1), name, &parts);
    }

    #[tokio::test]
    async fn valid_forwarded_malformed_and_overflow_dropped() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut intake = Intake::new(tx);
        send(&mut intake, "notify.message", body("i3e", 1));
        send(&mut intake, "notify.message", body("2:xx", 2)); // malformed
        send(&mut intake, "notify.message", body("i4e", 3)); // queue full
        send(&mut intake, "other.thing", body("i5e", 4));
        // Nothing is handed on before the end of the round.
        assert!(rx.try_recv().is_err());
        intake.flush();
        assert_eq!(rx.recv().await.unwrap().namespace, 3);
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn other_members_copies_dropped_unless_the_first_was_not_handed_on() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut intake = Intake::new(tx);
        send(&mut intake, "notify.message", body("i3e", 1));
        send(&mut intake, "notify.message", body("i3e", 1)); // another member's copy
        send(&mut intake, "notify.message", body("i4e", 2)); // queue full: forgotten
        intake.flush();
        assert_eq!(rx.recv().await.unwrap().namespace, 3);
        assert!(rx.try_recv().is_err());
        send(&mut intake, "notify.message", body("i3e", 1)); // a late copy: still dropped
        send(&mut intake, "notify.message", body("i4e", 2)); // its first copy was lost
        intake.flush();
        assert_eq!(rx.recv().await.unwrap().namespace, 4);
        assert!(rx.try_recv().is_err());
    }
}
