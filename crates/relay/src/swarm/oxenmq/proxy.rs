//! The proxy thread: owns every DEALER (and its socket-monitor PAIR), runs `zmq_poll` over
//! them and the wake-up pipe, and applies §7.1–§7.3: socket options, `HI` after each completed
//! handshake, `HELLO` within 10 s, cooldowns, the pending-connect limit, request tags and
//! timeouts.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::backoff::cooldown;
use super::link::{open_sockets, Link, State};
use super::{Cmd, CommandHandler, ConnId, LinkCounts, LinkEvent, LinkEvents, Options};
use crate::admin::metrics as names;
use crate::crypto::KeyPair;
use crate::swarm::SwarmError;
use zmq::{classify, Incoming};
use zmq::{consts, poll, Context, Pollable};

/// No `HELLO` this long after opening (or re-handshaking) is a failed attempt (§7.3).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `zmq_poll` wait, so a dropped handle is noticed even without a wake-up.
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

pub(super) struct Proxy {
    ctx: Context,
    keys: KeyPair,
    options: Options,
    commands: mpsc::Receiver<Cmd>,
    wake_rx: UnixStream,
    events: Arc<LinkEvents>,
    counts: Arc<LinkCounts>,
    handler: CommandHandler,
    links: HashMap<ConnId, Link>,
    pending: HashMap<Vec<u8>, Pending>,
    next_tag: u64,
    next_monitor: u64,
}

impl Proxy {
    pub(super) fn new(
        keys: KeyPair,
        options: Options,
        commands: mpsc::Receiver<Cmd>,
        wake_rx: UnixStream,
        events: Arc<LinkEvents>,
        counts: Arc<LinkCounts>,
        handler: CommandHandler,
    ) -> Result<Self, SwarmError> {
        Ok(Proxy {
            ctx: Context::new(MAX_SOCKETS)?,
            keys,
            options,
            commands,
            wake_rx,
            events,
            counts,
            handler,
            links: HashMap::new(),
            pending: HashMap::new(),
            next_tag: 0,
            next_monitor: 0,
        })
    }

    pub(super) fn run(mut self) {
        loop {
            if !self.drain_commands() {
                break;
            }
            let now = Instant::now();
            self.on_timers(now);
            self.publish_counts(now);
            let wait = self.next_wait(now);
            let ids: Vec<ConnId> = self
                .links
                .iter()
                .filter(|(_, l)| l.sockets.is_some())
                .map(|(id, _)| *id)
                .collect();
            let ready = {
                let mut items = vec![Pollable::Fd(self.wake_rx.as_raw_fd())];
                for id in &ids {
                    if let Some(s) = self.links.get(id).and_then(|l| l.sockets.as_ref()) {
                        items.push(Pollable::Socket(&s.dealer));
                        items.push(Pollable::Socket(&s.monitor));
                    }
                }
                match poll(&items, wait.as_millis() as i64) {
                    Ok(ready) => ready,
                    Err(e) => {
                        tracing::error!(error = %e, "zmq_poll failed");
                        std::thread::sleep(MAX_POLL_WAIT);
                        continue;
                    }
                }
            };
            if ready[0] {
                let mut buf = [0u8; 256];
                while matches!((&self.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
            }
            for (i, id) in ids.iter().enumerate() {
                if ready.get(1 + 2 * i) == Some(&true) {
                    self.read_dealer(*id);
                }
                if ready.get(2 + 2 * i) == Some(&true) {
                    self.read_monitor(*id);
                }
            }
        }
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(SwarmError::ProxyStopped));
        }
        self.links.clear();
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
        match sockets.dealer.send(&frames) {
            Ok(true) => {
                let deadline = Instant::now() + timeout;
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
        if self.links.remove(&id).is_some() {
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
        link.sockets = None;
        link.failures += 1;
        let wait = cooldown(link.failures);
        link.state = State::Waiting { until: now + wait };
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
        match open_sockets(&self.ctx, &self.keys, &link.remote, &monitor_endpoint) {
            Ok(sockets) => {
                if let Some(link) = self.links.get_mut(&id) {
                    link.sockets = Some(sockets);
                    link.state = State::Connecting {
                        deadline: now + HELLO_TIMEOUT,
                    };
                }
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

    fn read_dealer(&mut self, id: ConnId) {
        for _ in 0..READ_BURST {
            let Some(sockets) = self.links.get(&id).and_then(|l| l.sockets.as_ref()) else {
                return;
            };
            match sockets.dealer.recv() {
                Ok(Some(frames)) => self.on_message(id, frames),
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(conn = id.0, error = %e, "receive failed");
                    return;
                }
            }
        }
    }

    fn on_message(&mut self, id: ConnId, frames: Vec<Vec<u8>>) {
        match classify(frames) {
            Incoming::Hello => {
                if let Some(link) = self.links.get_mut(&id) {
                    if matches!(link.state, State::Connecting { .. }) {
                        link.state = State::Ready;
                        link.failures = 0;
                        self.events.post(id, LinkEvent::Up);
                    }
                }
            }
            Incoming::Bye => self.fail(id, Instant::now()),
            Incoming::Reply { tag, parts } => {
                if let Some(p) = self.pending.remove(&tag) {
                    let _ = p.reply.send(Ok(parts));
                }
            }
            Incoming::Refused { reason, tag } => {
                if let Some(p) = self.pending.remove(&tag) {
                    let _ = p.reply.send(Err(SwarmError::Refused(reason)));
                }
            }
            Incoming::UnknownCommand(name) => {
                tracing::warn!(conn = id.0, command = %name, "remote does not know the command");
            }
            Incoming::NoReplyTag(name) => {
                tracing::warn!(conn = id.0, command = %name, "remote says a request had no tag");
            }
            Incoming::Command { name, parts } => (self.handler)(id, &name, parts),
            Incoming::Malformed => tracing::debug!(conn = id.0, "malformed message dropped"),
        }
    }

    fn read_monitor(&mut self, id: ConnId) {
        for _ in 0..READ_BURST {
            let Some(sockets) = self.links.get(&id).and_then(|l| l.sockets.as_ref()) else {
                return;
            };
            let frames = match sockets.monitor.recv() {
                Ok(Some(frames)) => frames,
                _ => return,
            };
            let Some(event) = frames
                .first()
                .and_then(|f| f.get(..2))
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
            else {
                continue;
            };
            self.on_socket_event(id, event);
        }
    }

    fn on_socket_event(&mut self, id: ConnId, event: u16) {
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        match event {
            consts::ZMQ_EVENT_HANDSHAKE_SUCCEEDED => {
                // §7.3: after every completed handshake say HI and wait for HELLO again.
                if let Some(s) = &link.sockets {
                    if let Err(e) = s.dealer.send(&[b"HI"]) {
                        tracing::warn!(conn = id.0, error = %e, "cannot send HI");
                    }
                }
                if !matches!(link.state, State::Connecting { .. }) {
                    link.state = State::Connecting {
                        deadline: Instant::now() + HELLO_TIMEOUT,
                    };
                }
            }
            consts::ZMQ_EVENT_DISCONNECTED => {
                if matches!(link.state, State::Ready) {
                    link.state = State::Reconnecting;
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
