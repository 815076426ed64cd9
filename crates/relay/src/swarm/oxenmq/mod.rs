//! The OxenMQ client subset of PROTOCOL §7: one DEALER per remote, CURVE, `HI`/`HELLO`, tagged
//! requests with timeouts, commands, the error frames, reconnect detection, connect pacing.
//!
//! **Owns:** every libzmq socket of the relay, on ONE proxy thread (`proxy.rs`) that waits on
//! epoll (mio) for the `ZMQ_FD` of each socket, edge-triggered, plus a wake-up eventfd, and
//! touches only the sockets that signalled. **Must not:** block the tokio runtime.
//!
//! Data enters as [`OxenMq`] calls (bounded command channel + wake-up byte). Replies leave on
//! oneshot channels, remote commands through the [`CommandHandler`] (called on the proxy
//! thread; it must not block), and link changes as coalesced [`LinkEvent`]s (a map + `Notify`,
//! so no event is lost and memory stays bounded by the number of connections).

mod backoff;
mod link;
mod proxy;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::crypto::KeyPair;
use crate::swarm::SwarmError;

/// Commands queued for the proxy thread; filled by `connect`/`request`/`disconnect` callers,
/// drained on every wake-up.
const COMMAND_QUEUE: usize = 4096;

/// Identifies one connection (one DEALER) for its whole life; chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// A libzmq endpoint: `tcp://1.2.3.4:22021`, `ipc:///path`.
    pub endpoint: String,
    /// The remote's X25519 key for CURVE; `None` = plain (oxend over `tcp://`/`ipc://`).
    pub server_key: Option<[u8; 32]>,
}

/// A change of a connection's usability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// `HELLO` arrived after a (re)handshake: everything for this remote is due again (§7.3).
    Up,
    /// Lost, refused, closed by `BYE` or timed out; pending requests have failed.
    Down,
}

/// Called on the proxy thread for every command a remote sends (`notify.message`, …).
pub type CommandHandler = Box<dyn FnMut(ConnId, &str, Vec<Vec<u8>>) + Send>;

/// The allocation-free form of [`CommandHandler`]: commands arrive as borrowed frames, and
/// `flush` is called once per proxy round, after every ready socket was drained, so that a
/// handler can hand its work on in one batch (one wake-up of the consumer, not one per message).
pub trait Commands: Send + 'static {
    /// One command from `id`; must not block.
    fn command(&mut self, id: ConnId, name: &str, parts: &[&[u8]]);
    /// End of a round.
    fn flush(&mut self) {}
}

/// Adapts a [`CommandHandler`] closure (owned frames).
struct Owned(CommandHandler);

impl Commands for Owned {
    fn command(&mut self, id: ConnId, name: &str, parts: &[&[u8]]) {
        (self.0)(id, name, parts.iter().map(|p| p.to_vec()).collect());
    }
}

/// Proxy settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// At most this many connection attempts in flight (§7.3, `[swarm] max_pending_connects`).
    pub max_pending_connects: usize,
    /// Publish `relay_swarm_connections{state}` (storage servers; not the oxend link).
    pub connection_metrics: bool,
}

/// Connection counts published by the proxy thread.
#[derive(Debug, Default)]
pub(crate) struct LinkCounts {
    pub connected: AtomicUsize,
    pub connecting: AtomicUsize,
}

/// Coalesced link events: the latest per connection.
#[derive(Default)]
pub(crate) struct LinkEvents {
    latest: Mutex<HashMap<ConnId, LinkEvent>>,
    notify: Notify,
}

impl LinkEvents {
    fn post(&self, id: ConnId, event: LinkEvent) {
        if let Ok(mut map) = self.latest.lock() {
            map.insert(id, event);
        }
        self.notify.notify_one();
    }
}

pub(crate) enum Cmd {
    Connect {
        id: ConnId,
        remote: Remote,
    },
    Disconnect {
        id: ConnId,
    },
    Request {
        id: ConnId,
        command: String,
        parts: Vec<Vec<u8>>,
        timeout: Duration,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SwarmError>>,
    },
}

struct Inner {
    commands: mpsc::Sender<Cmd>,
    waker: mio::Waker,
    events: Arc<LinkEvents>,
    counts: Arc<LinkCounts>,
}

impl Inner {
    fn wake(&self) {
        // An eventfd that cannot be written already holds a pending wake-up: nothing is lost.
        let _ = self.waker.wake();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake();
    }
}

/// A cheap cloneable handle to one OxenMQ proxy thread; the thread stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct OxenMq {
    inner: Arc<Inner>,
}

impl OxenMq {
    /// Starts a proxy thread whose DEALERs identify with `keys` (routing id `L` ‖ public key).
    pub fn start(
        keys: &KeyPair,
        options: Options,
        handler: CommandHandler,
    ) -> Result<Self, SwarmError> {
        Self::start_with(keys, options, Box::new(Owned(handler)))
    }

    /// [`OxenMq::start`] with a batching, borrowed-frame [`Commands`] handler.
    pub fn start_with(
        keys: &KeyPair,
        options: Options,
        handler: Box<dyn Commands>,
    ) -> Result<Self, SwarmError> {
        let (proxy, inner) = proxy::Proxy::with_handle(keys.clone(), options, handler)?;
        std::thread::Builder::new()
            .name("oxenmq-proxy".into())
            .spawn(move || proxy.run())
            .map_err(SwarmError::Thread)?;
        Ok(OxenMq {
            inner: Arc::new(inner),
        })
    }

    async fn send(&self, cmd: Cmd) -> Result<(), SwarmError> {
        self.inner
            .commands
            .send(cmd)
            .await
            .map_err(|_| SwarmError::ProxyStopped)?;
        self.inner.wake();
        Ok(())
    }

    /// Keeps a connection to `remote` under `id` until `disconnect(id)`: attempts are paced
    /// (cooldowns, pending limit) and every (re)established link is reported as `Up`.
    pub async fn connect(&self, id: ConnId, remote: Remote) -> Result<(), SwarmError> {
        self.send(Cmd::Connect { id, remote }).await
    }

    /// Closes the connection `id` and forgets it.
    pub async fn disconnect(&self, id: ConnId) -> Result<(), SwarmError> {
        self.send(Cmd::Disconnect { id }).await
    }

    /// Sends the request `[command, TAG, parts…]` and waits for its `REPLY` data parts.
    pub async fn request(
        &self,
        id: ConnId,
        command: &str,
        parts: Vec<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, SwarmError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Request {
            id,
            command: command.to_string(),
            parts,
            timeout,
            reply,
        })
        .await?;
        rx.await.map_err(|_| SwarmError::ProxyStopped)?
    }

    /// Link events since the last call (the latest per connection).
    pub fn take_events(&self) -> Vec<(ConnId, LinkEvent)> {
        match self.inner.events.latest.lock() {
            Ok(mut map) => map.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Resolves when events may be waiting (a wake-up posted before the call counts).
    pub async fn events_posted(&self) {
        self.inner.events.notify.notified().await;
    }

    /// (established connections, attempts in flight).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.inner.counts.connected.load(Ordering::Relaxed),
            self.inner.counts.connecting.load(Ordering::Relaxed),
        )
    }
}
