//! The proxy thread: owns every DEALER (and its socket-monitor PAIR) and applies §7.1–§7.3:
//! socket options, `HI` after each completed handshake, `HELLO` within 10 s, cooldowns, the
//! pending-connect limit, request tags and timeouts.
//!
//! Readiness: each socket's `ZMQ_FD` is registered with epoll (mio, edge-triggered). An edge
//! only says "`ZMQ_EVENTS` may have changed", so a signalled socket is drained until `EAGAIN`
//! (at most [`READ_BURST`] messages, then it is queued again for the next round), and a socket
//! we send on is queued too (a send can consume the signal of a message that arrived). A round
//! touches only queued sockets, so an idle connection costs nothing but libzmq's heartbeats;
//! the connection-wide timer scan runs only when a deadline is due or a link changed state,
//! at least every [`MAX_POLL_WAIT`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::backoff::cooldown;
use super::link::{open_sockets, Link, Sockets, State};
use super::{
    Cmd, Commands, ConnId, Inner, LinkCounts, LinkEvent, LinkEvents, Options, COMMAND_QUEUE,
};
use crate::admin::metrics as names;
use crate::crypto::KeyPair;
use crate::swarm::SwarmError;
use zmq::{classify_frames, consts, Context, IncomingRef, Multipart};

/// The token of the wake-up eventfd (command queue); socket tokens are `2 × seq + kind`.
const WAKE: Token = Token(usize::MAX);
/// epoll events taken per `poll` call.
const EVENT_CAPACITY: usize = 1024;

/// No `HELLO` this long after opening (or re-handshaking) is a failed attempt (§7.3).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait, so a dropped handle is noticed even without a wake-up.
const MAX_POLL_WAIT: Duration = Duration::from_millis(500);
/// Messages read from one socket per poll round, so one chatty remote cannot starve others.
const READ_BURST: usize = 256;
/// Enough libzmq sockets for ~8 000 remotes (a DEALER and a monitor PAIR each).
const MAX_SOCKETS: i32 = 16_384;

struct Pending {
    id: ConnId,
    command: String,
    deadline: Instant,
    reply: oneshot::Sender<Result<Vec<Vec<u8>>, SwarmError>>,
}

/// Which socket of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dealer = 0,
    Monitor = 1,
}

pub(super) struct Proxy {
    ctx: Context,
    keys: KeyPair,
    options: Options,
    commands: mpsc::Receiver<Cmd>,
    poll: Poll,
    events: Arc<LinkEvents>,
    counts: Arc<LinkCounts>,
    handler: Box<dyn Commands>,
    links: HashMap<ConnId, Link>,
    /// Socket pair sequence number → its link (stale tokens of closed sockets find nothing).
    tokens: HashMap<usize, ConnId>,
    next_seq: usize,
    /// Sockets to drain this round: (link, pair sequence, socket).
    ready: VecDeque<(ConnId, usize, Kind)>,
    /// The one receive buffer.
    buf: Multipart,
    pending: HashMap<Vec<u8>, Pending>,
    next_tag: u64,
    next_monitor: u64,
    /// A link changed state: scan the timers this round.
    dirty: bool,
    /// When the timers are next due.
    next_scan: Instant,
}

impl Proxy {
    /// The proxy and the handle's end of it (the command queue's sender, the wake-up eventfd,
    /// the link events and counts both sides share), made together so they cannot mismatch.
    pub(super) fn with_handle(
        keys: KeyPair,
        options: Options,
        handler: Box<dyn Commands>,
    ) -> Result<(Self, Inner), SwarmError> {
        let (sender, commands) = mpsc::channel(COMMAND_QUEUE);
        let poll = Poll::new().map_err(SwarmError::Thread)?;
        let waker = mio::Waker::new(poll.registry(), WAKE).map_err(SwarmError::Thread)?;
        let events = Arc::new(LinkEvents::default());
        let counts = Arc::new(LinkCounts::default());
        let inner = Inner {
            commands: sender,
            waker,
            events: events.clone(),
            counts: counts.clone(),
        };
        let proxy = Proxy {
            ctx: Context::new(MAX_SOCKETS)?,
            keys,
            options,
            commands,
            poll,
            events,
            counts,
            handler,
            links: HashMap::new(),
            tokens: HashMap::new(),
            next_seq: 0,
            ready: VecDeque::new(),
            buf: Multipart::new(),
            pending: HashMap::new(),
            next_tag: 0,
            next_monitor: 0,
            dirty: true,
            next_scan: Instant::now(),
        };
        Ok((proxy, inner))
    }

    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(EVENT_CAPACITY);
        loop {
            if !self.drain_commands() {
                break;
            }
            let now = Instant::now();
            if self.dirty || now >= self.next_scan {
                self.dirty = false;
                self.on_timers(now);
                self.publish_counts(now);
                self.next_scan = now + self.next_wait(now);
            }
            let wait = if self.ready.is_empty() {
                self.next_scan.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "epoll_wait failed");
                    std::thread::sleep(MAX_POLL_WAIT);
                }
                continue;
            }
            for event in events.iter() {
                let token = event.token();
                if token == WAKE {
                    continue;
                }
                let (seq, kind) = (token.0 >> 1, token.0 & 1);
                if let Some(&id) = self.tokens.get(&seq) {
                    let kind = if kind == 0 {
                        Kind::Dealer
                    } else {
                        Kind::Monitor
                    };
                    self.queue(id, seq, kind);
                }
            }
            // Only what was queued before this round: a socket requeued by its burst limit
            // waits for the next round, behind the others.
            for _ in 0..self.ready.len() {
                let Some((id, seq, kind)) = self.ready.pop_front() else {
                    break;
                };
                let Some(sockets) = self.sockets_of(id, seq) else {
                    continue;
                };
                sockets.queued[kind as usize] = false;
                match kind {
                    Kind::Dealer => self.read_dealer(id, seq),
                    Kind::Monitor => self.read_monitor(id, seq),
                }
            }
            self.handler.flush();
        }
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(SwarmError::ProxyStopped));
        }
        let links: Vec<Link> = self.links.drain().map(|(_, l)| l).collect();
        for link in links {
            if let Some(sockets) = link.sockets {
                self.release(sockets);
            }
        }
    }

    /// The live sockets of link `id` if they are still the pair `seq`.
    fn sockets_of(&mut self, id: ConnId, seq: usize) -> Option<&mut Sockets> {
        self.links
            .get_mut(&id)
            .and_then(|l| l.sockets.as_mut())
            .filter(|s| s.seq == seq)
    }

    /// Puts a socket on this round's list (once).
    fn queue(&mut self, id: ConnId, seq: usize, kind: Kind) {
        if let Some(sockets) = self.sockets_of(id, seq) {
            if !sockets.queued[kind as usize] {
                sockets.queued[kind as usize] = true;
                self.ready.push_back((id, seq, kind));
            }
        }
    }

    /// Registers a new pair's `ZMQ_FD`s; both are queued, since an edge may have passed.
    fn register(&mut self, id: ConnId, sockets: &mut Sockets) -> Result<(), SwarmError> {
        self.next_seq += 1;
        let seq = self.next_seq;
        sockets.seq = seq;
        let registry = self.poll.registry();
        let dealer_fd = sockets.dealer.fd()?;
        let monitor_fd = sockets.monitor.fd()?;
        registry
            .register(
                &mut SourceFd(&dealer_fd),
                Token(seq << 1),
                Interest::READABLE,
            )
            .map_err(SwarmError::Thread)?;
        if let Err(e) = registry.register(
            &mut SourceFd(&monitor_fd),
            Token((seq << 1) | 1),
            Interest::READABLE,
        ) {
            let _ = registry.deregister(&mut SourceFd(&dealer_fd));
            return Err(SwarmError::Thread(e));
        }
        self.tokens.insert(seq, id);
        Ok(())
    }

    /// Deregisters and closes a pair.
    fn release(&mut self, sockets: Sockets) {
        let registry = self.poll.registry();
        for socket in [&sockets.dealer, &sockets.monitor] {
            if let Ok(fd) = socket.fd() {
                let _ = registry.deregister(&mut SourceFd(&fd));
            }
        }
        self.tokens.remove(&sockets.seq);
    }

    /// Applies queued commands; `false` once every handle is gone.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => self.apply(cmd),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn apply(&mut self, cmd: Cmd) {
        if !matches!(cmd, Cmd::Request { .. }) {
            self.dirty = true;
        }
        match cmd {
            Cmd::Connect { id, remote } => {
                self.close(id);
                self.links.insert(
                    id,
                    Link {
                        remote,
                        failures: 0,
                        state: State::Waiting {
                            until: Instant::now(),
                        },
                        sockets: None,
                    },
                );
            }
            Cmd::Disconnect { id } => self.close(id),
            Cmd::Request {
                id,
                command,
                parts,
                timeout,
                reply,
            } => self.request(id, command, parts, timeout, reply),
        }
    }

    fn request(
        &mut self,
        id: ConnId,
        command: String,
        parts: Vec<Vec<u8>>,
        timeout: Duration,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SwarmError>>,
    ) {
        let Some(Link {
            state: State::Ready,
            sockets: Some(sockets),
            ..
        }) = self.links.get(&id)
        else {
            let _ = reply.send(Err(SwarmError::NotConnected));
            return;
        };
        self.next_tag += 1;
        let tag = self.next_tag.to_be_bytes().to_vec();
        let mut frames: Vec<&[u8]> = vec![command.as_bytes(), &tag];
        frames.extend(parts.iter().map(Vec::as_slice));
        let sent = sockets.dealer.send(&frames);
        let seq = sockets.seq;
        // A send can consume the fd's edge for a message that arrived meanwhile.
        self.queue(id, seq, Kind::Dealer);
        match sent {
            Ok(true) => {
                let deadline = Instant::now() + timeout;
                self.next_scan = self.next_scan.min(deadline);
                self.pending.insert(
                    tag,
                    Pending {
                        id,
                        command,
                        deadline,
                        reply,
                    },
                );
            }
            Ok(false) => {
                let _ = reply.send(Err(SwarmError::NotConnected));
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// Drops a link and fails its pending requests.
    fn close(&mut self, id: ConnId) {
        if let Some(link) = self.links.remove(&id) {
            if let Some(sockets) = link.sockets {
                self.release(sockets);
            }
            self.fail_pending(id);
        }
    }

    fn fail_pending(&mut self, id: ConnId) {
        let tags: Vec<Vec<u8>> = self
            .pending
            .iter()
            .filter(|(_, p)| p.id == id)
            .map(|(t, _)| t.clone())
            .collect();
        for tag in tags {
            if let Some(p) = self.pending.remove(&tag) {
                let _ = p.reply.send(Err(SwarmError::NotConnected));
            }
        }
    }

    /// A failed attempt or a closed link: close the sockets and cool down (§7.3).
    fn fail(&mut self, id: ConnId, now: Instant) {
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        let was_ready = matches!(link.state, State::Ready);
        let sockets = link.sockets.take();
        link.failures += 1;
        let wait = cooldown(link.failures);
        link.state = State::Waiting { until: now + wait };
        self.dirty = true;
        if let Some(sockets) = sockets {
            self.release(sockets);
        }
        tracing::debug!(
            conn = id.0,
            was_ready,
            cooldown_secs = wait.as_secs(),
            "connection attempt failed"
        );
        self.fail_pending(id);
        self.events.post(id, LinkEvent::Down);
    }

    fn on_timers(&mut self, now: Instant) {
        let expired: Vec<ConnId> = self
            .links
            .iter()
            .filter(|(_, l)| matches!(l.state, State::Connecting { deadline } if deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.fail(id, now);
        }
        let room = self
            .options
            .max_pending_connects
            .saturating_sub(self.connecting());
        let due: Vec<ConnId> = self
            .links
            .iter()
            .filter(|(_, l)| matches!(l.state, State::Waiting { until } if until <= now))
            .map(|(id, _)| *id)
            .take(room)
            .collect();
        for id in due {
            self.open(id, now);
        }
        let timed_out: Vec<Vec<u8>> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(t, _)| t.clone())
            .collect();
        for tag in timed_out {
            if let Some(p) = self.pending.remove(&tag) {
                let _ = p
                    .reply
                    .send(Err(SwarmError::Timeout { command: p.command }));
            }
        }
    }

    fn connecting(&self) -> usize {
        self.links
            .values()
            .filter(|l| matches!(l.state, State::Connecting { .. }))
            .count()
    }

    fn open(&mut self, id: ConnId, now: Instant) {
        self.next_monitor += 1;
        let monitor_endpoint = format!("inproc://oxenmq-monitor-{}", self.next_monitor);
        let Some(link) = self.links.get(&id) else {
            return;
        };
        let opened = open_sockets(&self.ctx, &self.keys, &link.remote, &monitor_endpoint).and_then(
            |mut sockets| {
                self.register(id, &mut sockets)?;
                Ok(sockets)
            },
        );
        match opened {
            Ok(sockets) => {
                let seq = sockets.seq;
                if let Some(link) = self.links.get_mut(&id) {
                    link.sockets = Some(sockets);
                    link.state = State::Connecting {
                        deadline: now + HELLO_TIMEOUT,
                    };
                }
                self.queue(id, seq, Kind::Dealer);
                self.queue(id, seq, Kind::Monitor);
            }
            Err(e) => {
                tracing::warn!(conn = id.0, error = %e, "cannot open a connection");
                self.fail(id, now);
            }
        }
    }

    fn next_wait(&self, now: Instant) -> Duration {
        let can_open = self.connecting() < self.options.max_pending_connects;
        let link_times = self.links.values().filter_map(|l| match l.state {
            State::Connecting { deadline } => Some(deadline),
            State::Waiting { until } if can_open => Some(until),
            _ => None,
        });
        let request_times = self.pending.values().map(|p| p.deadline);
        link_times
            .chain(request_times)
            .min()
            .map_or(MAX_POLL_WAIT, |t| t.saturating_duration_since(now))
            .min(MAX_POLL_WAIT)
    }

    fn read_dealer(&mut self, id: ConnId, seq: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..READ_BURST {
            let Some(sockets) = self.sockets_of(id, seq) else {
                break;
            };
            match sockets.dealer.recv_into(&mut buf) {
                Ok(true) => buf.with_frames(|frames| self.on_message(id, frames)),
                Ok(false) => {
                    self.buf = buf;
                    return;
                }
                Err(e) => {
                    tracing::warn!(conn = id.0, error = %e, "receive failed");
                    self.buf = buf;
                    return;
                }
            }
        }
        self.buf = buf;
        // Burst used up: more may be waiting, and no new edge will say so.
        self.queue(id, seq, Kind::Dealer);
    }

    fn on_message(&mut self, id: ConnId, frames: &[&[u8]]) {
        match classify_frames(frames) {
            IncomingRef::Hello => {
                if let Some(link) = self.links.get_mut(&id) {
                    if matches!(link.state, State::Connecting { .. }) {
                        link.state = State::Ready;
                        link.failures = 0;
                        self.dirty = true;
                        self.events.post(id, LinkEvent::Up);
                    }
                }
            }
            IncomingRef::Bye => self.fail(id, Instant::now()),
            IncomingRef::Reply { tag, parts } => {
                if let Some(p) = self.pending.remove(tag) {
                    let _ = p.reply.send(Ok(parts.iter().map(|p| p.to_vec()).collect()));
                }
            }
            IncomingRef::Refused { reason, tag } => {
                if let Some(p) = self.pending.remove(tag) {
                    let _ = p.reply.send(Err(SwarmError::Refused(reason.to_string())));
                }
            }
            IncomingRef::UnknownCommand(name) => {
                let name = String::from_utf8_lossy(name);
                tracing::warn!(conn = id.0, command = %name, "remote does not know the command");
            }
            IncomingRef::NoReplyTag(name) => {
                let name = String::from_utf8_lossy(name);
                tracing::warn!(conn = id.0, command = %name, "remote says a request had no tag");
            }
            IncomingRef::Command { name, parts } => self.handler.command(id, name, parts),
            IncomingRef::Malformed => tracing::debug!(conn = id.0, "malformed message dropped"),
        }
    }

    fn read_monitor(&mut self, id: ConnId, seq: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut exhausted = true;
        for _ in 0..READ_BURST {
            let Some(sockets) = self.sockets_of(id, seq) else {
                exhausted = false;
                break;
            };
            if !matches!(sockets.monitor.recv_into(&mut buf), Ok(true)) {
                exhausted = false;
                break;
            }
            let Some(event) = buf
                .frame(0)
                .and_then(|f| f.get(..2))
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
            else {
                continue;
            };
            self.on_socket_event(id, event);
        }
        self.buf = buf;
        if exhausted {
            self.queue(id, seq, Kind::Monitor);
        }
    }

    fn on_socket_event(&mut self, id: ConnId, event: u16) {
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        match event {
            consts::ZMQ_EVENT_HANDSHAKE_SUCCEEDED => {
                // §7.3: after every completed handshake say HI and wait for HELLO again.
                let mut sent_on = None;
                if let Some(s) = &link.sockets {
                    if let Err(e) = s.dealer.send(&[b"HI"]) {
                        tracing::warn!(conn = id.0, error = %e, "cannot send HI");
                    }
                    sent_on = Some(s.seq);
                }
                if !matches!(link.state, State::Connecting { .. }) {
                    link.state = State::Connecting {
                        deadline: Instant::now() + HELLO_TIMEOUT,
                    };
                }
                self.dirty = true;
                if let Some(seq) = sent_on {
                    self.queue(id, seq, Kind::Dealer);
                }
            }
            consts::ZMQ_EVENT_DISCONNECTED => {
                if matches!(link.state, State::Ready) {
                    link.state = State::Reconnecting;
                    self.dirty = true;
                    self.fail_pending(id);
                    self.events.post(id, LinkEvent::Down);
                }
            }
            _ => tracing::debug!(conn = id.0, event, "socket event"),
        }
    }

    fn publish_counts(&self, now: Instant) {
        let (mut connected, mut connecting, mut cooling) = (0usize, 0usize, 0usize);
        for link in self.links.values() {
            match link.state {
                State::Ready => connected += 1,
                State::Connecting { .. } | State::Reconnecting => connecting += 1,
                State::Waiting { until } if until > now => cooling += 1,
                State::Waiting { .. } => connecting += 1,
            }
        }
        self.counts.connected.store(connected, Ordering::Relaxed);
        self.counts.connecting.store(connecting, Ordering::Relaxed);
        if self.options.connection_metrics {
            metrics::gauge!(names::SWARM_CONNECTIONS, "state" => "connected").set(connected as f64);
            metrics::gauge!(names::SWARM_CONNECTIONS, "state" => "connecting")
                .set(connecting as f64);
            metrics::gauge!(names::SWARM_CONNECTIONS, "state" => "cooldown").set(cooling as f64);
        }
    }
}
