//! A fake storage server (PROTOCOL §7.4, §8): ROUTER with CURVE, `HI`→`HELLO`,
//! `monitor.messages` validated as §8.1 (signatures included) with per-(route, account) state,
//! 65-minute expiry and merge semantics (§8.2), `notify.message` on demand to the subscribed
//! routes, `UNKNOWNCOMMAND` otherwise. Everything it receives is recorded; tests await records.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bendy::encoding::Encoder;
use tokio::sync::watch;

pub use super::monitor_check::CheckedItem;
use super::monitor_check::{check_body, failed};
use super::router::{Outbox, RouterServer, Service};
use relay::crypto::KeyPair;
use relay::subscription::AccountId;

/// Monitor entries live this long after their last successful submission (SS).
const ENTRY_LIFETIME: Duration = Duration::from_secs(65 * 60);
/// How long a restarted fake server waits for its old port to be released.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// One `monitor.messages` request as received.
#[derive(Clone, Debug)]
pub struct MonitorRecord {
    /// The relay's routing id.
    pub route: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// The raw data part.
    pub body: Vec<u8>,
    /// Its dicts, validated.
    pub items: Vec<CheckedItem>,
}

/// What the fake has seen, shared across restarts.
#[derive(Default)]
pub struct Recorder {
    records: Mutex<Vec<MonitorRecord>>,
    hellos: Mutex<usize>,
    changed: watch::Sender<u64>,
}

impl Recorder {
    fn push(&self, record: MonitorRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.push(record);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn hello(&self) {
        if let Ok(mut h) = self.hellos.lock() {
            *h += 1;
        }
        self.changed.send_modify(|n| *n += 1);
    }
}

#[derive(Clone, Debug)]
struct Entry {
    namespaces: BTreeSet<i16>,
    want_data: bool,
    expires: Instant,
}

struct StorageService {
    entries: HashMap<(Vec<u8>, AccountId), Entry>,
    recorder: Arc<Recorder>,
}

impl Service for StorageService {
    fn on_message(&mut self, route: &[u8], mut frames: Vec<Vec<u8>>, out: &mut Outbox) {
        let command = frames.remove(0);
        match command.as_slice() {
            b"HI" => {
                self.recorder.hello();
                out.send(route, vec![b"HELLO".to_vec()]);
            }
            b"monitor.messages" if frames.len() == 2 => {
                let tag = frames.remove(0);
                let body = frames.remove(0);
                let reply = self.monitor(route, body);
                out.send(route, vec![b"REPLY".to_vec(), tag, reply]);
            }
            b"monitor.messages" if frames.is_empty() => {
                out.send(route, vec![b"NO_REPLY_TAG".to_vec(), command]);
            }
            _ => out.send(route, vec![b"UNKNOWNCOMMAND".to_vec(), command]),
        }
    }
}

impl StorageService {
    fn monitor(&mut self, route: &[u8], body: Vec<u8>) -> Vec<u8> {
        let (items, was_list) = match check_body(&body) {
            Ok(parsed) => parsed,
            Err(()) => (vec![failed(1, "invalid request body")], false),
        };
        let now = Instant::now();
        for item in &items {
            if let (Ok(()), Some(account)) = (&item.result, item.account) {
                let entry = self
                    .entries
                    .entry((route.to_vec(), account))
                    .or_insert(Entry {
                        namespaces: BTreeSet::new(),
                        want_data: false,
                        expires: now,
                    });
                if entry.expires < now {
                    entry.namespaces.clear();
                    entry.want_data = false;
                }
                entry.namespaces.extend(item.namespaces.iter().copied());
                entry.want_data |= item.want_data;
                entry.expires = now + ENTRY_LIFETIME;
            }
        }
        let reply = encode_reply(&items, was_list);
        self.recorder.push(MonitorRecord {
            route: route.to_vec(),
            at: now,
            body,
            items,
        });
        reply
    }

    /// Sends `notify.message` to every route whose live entry covers the namespace.
    fn notify(&self, message: &FakeMessage, out: &mut Outbox) -> usize {
        let now = Instant::now();
        let mut sent = 0;
        for ((route, account), entry) in &self.entries {
            if *account != message.account
                || entry.expires < now
                || !entry.namespaces.contains(&message.namespace)
            {
                continue;
            }
            let body = message.encode(entry.want_data);
            out.send(route, vec![b"notify.message".to_vec(), body]);
            sent += 1;
        }
        sent
    }
}

fn encode_reply(items: &[CheckedItem], as_list: bool) -> Vec<u8> {
    let dicts: Vec<Vec<u8>> = items
        .iter()
        .map(|item| {
            let mut e = Encoder::new();
            let _ = match &item.result {
                Ok(()) => e.emit_dict(|mut d| d.emit_pair(b"success", 1)),
                Err((code, text)) => e.emit_dict(|mut d| {
                    d.emit_pair(b"errcode", *code)?;
                    d.emit_pair_with(b"error", |v| v.emit_str(text))
                }),
            };
            e.get_output().unwrap_or_default()
        })
        .collect();
    if as_list {
        relay::swarm::message::encode_list(&dicts)
    } else {
        dicts.into_iter().next().unwrap_or_default()
    }
}

/// A message to announce with `notify.message`.
#[derive(Clone, Debug)]
pub struct FakeMessage {
    /// `@`.
    pub account: AccountId,
    /// `h`.
    pub hash: Vec<u8>,
    /// `n`.
    pub namespace: i16,
    /// `t`, ms.
    pub timestamp_ms: i64,
    /// `z`, ms.
    pub expiry_ms: i64,
    /// `~` (sent only to entries that want data).
    pub data: Vec<u8>,
}

impl FakeMessage {
    /// The bencoded dict, as SS `service_node.cpp` builds it.
    pub fn encode(&self, with_data: bool) -> Vec<u8> {
        let mut e = Encoder::new();
        let _ = e.emit_dict(|mut d| {
            d.emit_pair_with(b"@", |v| v.emit_bytes(self.account.as_bytes()))?;
            d.emit_pair_with(b"h", |v| v.emit_bytes(&self.hash))?;
            d.emit_pair(b"n", self.namespace)?;
            d.emit_pair(b"t", self.timestamp_ms)?;
            d.emit_pair(b"z", self.expiry_ms)?;
            if with_data {
                d.emit_pair_with(b"~", |v| v.emit_bytes(&self.data))?;
            }
            Ok(())
        });
        e.get_output().unwrap_or_default()
    }
}

/// A running fake storage server; `restart` keeps its key and port but loses its state.
pub struct FakeStorage {
    keys: KeyPair,
    endpoint: String,
    server: Option<RouterServer<StorageService>>,
    recorder: Arc<Recorder>,
}

impl FakeStorage {
    /// Starts on a free port of 127.0.0.1.
    pub fn start(keys: KeyPair) -> anyhow::Result<Self> {
        Self::start_at(keys, "tcp://127.0.0.1:0")
    }

    /// Starts on `bind`.
    pub fn start_at(keys: KeyPair, bind: &str) -> anyhow::Result<Self> {
        let recorder = Arc::new(Recorder::default());
        let server = RouterServer::start(
            bind,
            Some(*keys.secret()),
            StorageService {
                entries: HashMap::new(),
                recorder: recorder.clone(),
            },
        )?;
        Ok(FakeStorage {
            keys,
            endpoint: server.endpoint().to_string(),
            server: Some(server),
            recorder,
        })
    }

    /// The CURVE public key (the node's `pubkey_x25519`).
    pub fn pubkey(&self) -> [u8; 32] {
        *self.keys.public()
    }

    /// `tcp://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The TCP port (the node's `storage_lmq_port`).
    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Every request received so far (across restarts).
    pub fn records(&self) -> Vec<MonitorRecord> {
        self.recorder
            .records
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many `HI`s were answered.
    pub fn hellos(&self) -> usize {
        self.recorder.hellos.lock().map(|h| *h).unwrap_or(0)
    }

    /// Waits until `done(records)` holds, or `timeout` passes (then `false`).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[MonitorRecord]) -> bool,
    ) -> bool {
        let mut changed = self.recorder.changed.subscribe();
        let check = || {
            self.recorder
                .records
                .lock()
                .map(|r| done(&r))
                .unwrap_or(false)
        };
        tokio::time::timeout(timeout, async {
            loop {
                if check() {
                    return;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Sends `notify.message` for `message` to every subscribed route; returns how many.
    pub async fn notify(&self, message: FakeMessage) -> anyhow::Result<usize> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("stopped"))?;
        server.call(move |s, out| s.notify(&message, out)).await
    }

    /// Closes the socket (like a crashed server).
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop();
        }
    }

    /// Stops, then starts again on the same endpoint with empty state (a restart).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        // The fake servers share one libzmq context, whose I/O thread closes the old listener
        // a moment after the socket is dropped: until then the port is still in use.
        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            let service = StorageService {
                entries: HashMap::new(),
                recorder: self.recorder.clone(),
            };
            match RouterServer::start(&self.endpoint, Some(*self.keys.secret()), service) {
                Ok(server) => {
                    self.server = Some(server);
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "fake storage server: port not free yet");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
