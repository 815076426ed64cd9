//! A scripted [`Notifier`] that records every push it is handed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use relay::notifier::{Notifier, Push, Verdict};
use relay::subscription::DeviceToken;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// Decides the verdict of the n-th call (0-based).
pub type Script = Box<dyn Fn(&Push, u32) -> Verdict + Send + Sync>;

/// A push as the fake provider received it.
pub struct Sent {
    /// The push.
    pub push: Push,
    /// When `send` was called.
    pub at: Instant,
}

/// How `send` behaves before answering.
enum Mode {
    Answer,
    /// Waits for a permit of the semaphore (taken for good) before answering.
    Gated(Arc<Semaphore>),
    /// Never answers.
    Hang,
}

/// The fake provider.
pub struct FakeNotifier {
    kind: &'static str,
    script: Script,
    mode: Mode,
    calls: AtomicU32,
    sent: mpsc::Sender<Sent>,
}

impl FakeNotifier {
    /// Answers every call with `script`; the receiver sees each push.
    pub fn new(kind: &'static str, script: Script) -> (Arc<Self>, mpsc::Receiver<Sent>) {
        Self::build(kind, script, Mode::Answer)
    }

    /// Delivers every push.
    pub fn delivering(kind: &'static str) -> (Arc<Self>, mpsc::Receiver<Sent>) {
        Self::new(kind, Box::new(|_, _| Verdict::Delivered))
    }

    /// Delivers, but each call first waits for a permit of `gate`.
    pub fn gated(kind: &'static str, gate: Arc<Semaphore>) -> (Arc<Self>, mpsc::Receiver<Sent>) {
        Self::build(kind, Box::new(|_, _| Verdict::Delivered), Mode::Gated(gate))
    }

    /// Never answers (a stalled provider).
    pub fn hanging(kind: &'static str) -> (Arc<Self>, mpsc::Receiver<Sent>) {
        Self::build(kind, Box::new(|_, _| Verdict::Delivered), Mode::Hang)
    }

    fn build(kind: &'static str, script: Script, mode: Mode) -> (Arc<Self>, mpsc::Receiver<Sent>) {
        let (sent, rx) = mpsc::channel(100_000);
        let fake = FakeNotifier {
            kind,
            script,
            mode,
            calls: AtomicU32::new(0),
            sent,
        };
        (Arc::new(fake), rx)
    }

    /// Calls of `send` so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn validate(&self, token: &str) -> Result<DeviceToken, String> {
        Ok(DeviceToken::new(token))
    }

    async fn send(&self, push: &Push) -> Verdict {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.sent.try_send(Sent {
            push: push.clone(),
            at: Instant::now(),
        });
        match &self.mode {
            Mode::Answer => {}
            Mode::Gated(gate) => {
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
            }
            Mode::Hang => std::future::pending::<()>().await,
        }
        (self.script)(push, n)
    }
}
