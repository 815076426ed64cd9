//! A whole simulated network in this process, around the real relay: a fake oxend (CURVE),
//! fake storage servers in swarms (CURVE), a mock APNs (TLS, token auth) and a mock FCM (TLS,
//! OAuth), and [`app::serve`] on 127.0.0.1 listeners, configured through the real config loader
//! from files written to a temporary directory.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use session_push_relay::devnet::network::Network;
//! let net = Network::builder().nodes(15).swarms(3).start().await?;
//! println!("relay at {}, onion key {}", net.api_url(), hex::encode(net.onion_pubkey()));
//! net.shutdown().await
//! # }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fake_oxend::FakeOxend;
use super::fake_storage::{FakeMessage, FakeStorage};
use super::mock_apns::MockApns;
use super::mock_fcm::MockFcm;
use super::network_files::{self, Mocks};
use super::onion_client::{ClientEncType, OnionClient, OnionReply};
use crate::app;
use crate::config::Config;
use crate::crypto::{self, KeyPair, RelayKeys, StorageKey};
use crate::store::{self, Store};
use crate::subscription::AccountId;
use crate::swarm::mapping;
use crate::swarm::nodes::Node;

/// How long [`NetworkBuilder::start`] waits for the relay to greet every storage server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Settings of a [`Network`]; see [`Network::builder`].
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    nodes: usize,
    swarms: usize,
    database_url: Option<String>,
    resubscribe_secs: (u64, u64),
    dummy: bool,
}

impl Default for NetworkBuilder {
    fn default() -> Self {
        NetworkBuilder {
            nodes: 15,
            swarms: 3,
            database_url: None,
            resubscribe_secs: (5, 10),
            dummy: false,
        }
    }
}

impl NetworkBuilder {
    /// Number of fake storage servers (default 15), dealt round-robin into the swarms.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Number of swarms (default 3).
    pub fn swarms(mut self, swarms: usize) -> Self {
        self.swarms = swarms;
        self
    }

    /// The relay's `[database] url` (default: SQLite in the temporary directory).
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// `[swarm] resubscribe_min_secs` and `resubscribe_max_secs` (default 5 and 10).
    pub fn resubscribe_secs(mut self, min: u64, max: u64) -> Self {
        self.resubscribe_secs = (min, max);
        self
    }

    /// Also configure the service `dummy` of kind `log` (default off).
    pub fn dummy_service(mut self, on: bool) -> Self {
        self.dummy = on;
        self
    }

    /// Starts everything and waits until the relay has connected to every storage server.
    pub async fn start(self) -> anyhow::Result<Network> {
        if self.swarms == 0 || self.nodes < self.swarms {
            bail!("need at least one swarm and one node per swarm");
        }
        crypto::init()?;
        // The mocks' TLS servers and the harness's HTTP client use the process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::Builder::new()
            .prefix("spr-network-")
            .tempdir()
            .context("cannot create the network directory")?;
        let swarm_ids = swarm_ids(self.swarms);
        let mut nodes = Vec::with_capacity(self.nodes);
        for i in 0..self.nodes {
            nodes.push(SwarmNode {
                swarm_id: swarm_ids[i % swarm_ids.len()],
                storage: FakeStorage::start(KeyPair::generate())?,
            });
        }
        let oxend_keys = KeyPair::generate();
        let oxend = FakeOxend::start(
            "tcp://127.0.0.1:0",
            Some(&oxend_keys),
            nodes.iter().map(SwarmNode::entry).collect(),
        )?;
        let oxend_url = format!(
            "curve://{}/{}",
            oxend.endpoint().trim_start_matches("tcp://"),
            hex::encode(oxend_keys.public())
        );
        let mocks = Mocks::start().await?;

        let api = TcpListener::bind("127.0.0.1:0").await?;
        let admin = TcpListener::bind("127.0.0.1:0").await?;
        let database_url = match self.database_url {
            Some(url) => url,
            None => format!("sqlite://{}", dir.path().join("relay.db").display()),
        };
        let settings = network_files::Settings {
            api: api.local_addr()?,
            admin: admin.local_addr()?,
            database_url: &database_url,
            oxend: &oxend_url,
            resubscribe_secs: self.resubscribe_secs,
            dummy: self.dummy,
        };
        let config_path = network_files::write(dir.path(), &settings, &mocks)?;
        let text = std::fs::read_to_string(&config_path)?;
        let config = Config::load_from(Some(&text), HashMap::new())
            .context("the generated relay configuration does not load")?;
        let keys = RelayKeys::load_or_create(&config.keys.dir)?;
        let onion_pubkey = *keys.onion.public();
        let storage_key = keys.storage.clone();

        let shutdown = CancellationToken::new();
        let mut relay = tokio::spawn(app::serve(config, keys, api, admin, shutdown.clone()));
        tokio::select! {
            ended = &mut relay => match ended {
                Ok(Ok(())) => bail!("the relay stopped during start-up"),
                Ok(Err(e)) => return Err(e.context("the relay failed to start")),
                Err(e) => bail!("the relay task failed: {e}"),
            },
            connected = all_greeted(&nodes) => if !connected {
                shutdown.cancel();
                bail!("the relay did not connect to every storage server in {CONNECT_TIMEOUT:?}");
            },
        }
        Ok(Network {
            api_url: format!("http://{}", settings.api),
            admin_url: format!("http://{}", settings.admin),
            database_url,
            config_path,
            onion_pubkey,
            storage_key,
            swarm_ids,
            nodes,
            oxend,
            apns: mocks.apns,
            fcm: mocks.fcm,
            http: reqwest::Client::new(),
            shutdown,
            relay,
            dir,
        })
    }
}

/// One fake storage server and its swarm.
pub struct SwarmNode {
    /// The swarm id oxend reports for it.
    pub swarm_id: u64,
    /// The server.
    pub storage: FakeStorage,
}

impl SwarmNode {
    fn entry(&self) -> Node {
        Node {
            pubkey_x25519: self.storage.pubkey(),
            ip: "127.0.0.1".into(),
            port: self.storage.port(),
            swarm_id: self.swarm_id,
        }
    }
}

/// A running network; stop it with [`Network::shutdown`].
pub struct Network {
    api_url: String,
    admin_url: String,
    database_url: String,
    config_path: PathBuf,
    onion_pubkey: [u8; 32],
    storage_key: StorageKey,
    swarm_ids: Vec<u64>,
    nodes: Vec<SwarmNode>,
    oxend: FakeOxend,
    apns: MockApns,
    fcm: MockFcm,
    http: reqwest::Client,
    shutdown: CancellationToken,
    relay: JoinHandle<anyhow::Result<()>>,
    // Last: removed once everything that uses its files has stopped.
    dir: tempfile::TempDir,
}

impl Network {
    /// A builder with the defaults: 15 nodes in 3 swarms, SQLite, renewal every 5–10 s.
    pub fn builder() -> NetworkBuilder {
        NetworkBuilder::default()
    }

    /// The public listener, `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The admin listener, `http://127.0.0.1:PORT`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The relay's onion public key (what clients are configured with).
    pub fn onion_pubkey(&self) -> [u8; 32] {
        self.onion_pubkey
    }

    /// The relay's `[database] url`.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The temporary directory holding the configuration, keys, CA files and SQLite database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The relay configuration file the relay was started with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The swarm ids, ascending.
    pub fn swarm_ids(&self) -> &[u64] {
        &self.swarm_ids
    }

    /// Every storage server.
    pub fn nodes(&self) -> &[SwarmNode] {
        &self.nodes
    }

    /// The storage servers of `swarm_id`.
    pub fn members(&self, swarm_id: u64) -> impl Iterator<Item = &FakeStorage> {
        self.nodes
            .iter()
            .filter(move |n| n.swarm_id == swarm_id)
            .map(|n| &n.storage)
    }

    /// The swarm `account` belongs to (PROTOCOL §6).
    pub fn swarm_of(&self, account: &AccountId) -> u64 {
        // The id list is never empty (checked at start).
        mapping::swarm_of(account, &self.swarm_ids).unwrap_or(self.swarm_ids[0])
    }

    /// The fake oxend.
    pub fn oxend(&self) -> &FakeOxend {
        &self.oxend
    }

    /// The mock APNs behind the service `apns`.
    pub fn apns(&self) -> &MockApns {
        &self.apns
    }

    /// The mock FCM behind the service `firebase`.
    pub fn fcm(&self) -> &MockFcm {
        &self.fcm
    }

    /// "Stores" `message`: every member of its account's swarm sends `notify.message` to the
    /// relay, as a real swarm does. Returns how many messages were sent.
    pub async fn store_message(&self, message: &FakeMessage) -> anyhow::Result<usize> {
        let swarm = self.swarm_of(&message.account);
        let mut sent = 0;
        for node in self.members(swarm) {
            sent += node.notify(message.clone()).await?;
        }
        Ok(sent)
    }

    /// A second handle on the relay's database (same sealing key), to inspect what it holds.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(store::open(&self.database_url, 2, &self.storage_key).await?)
    }

    /// A v4 onion client for this relay.
    pub fn onion_client(&self) -> OnionClient {
        OnionClient::new(self.onion_pubkey)
    }

    /// POSTs `body` to `endpoint` through `/oxen/v4/lsrpc`, as the last service node of an
    /// onion path does, and opens the reply.
    pub async fn onion(
        &self,
        enc: ClientEncType,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<OnionReply> {
        let json = serde_json::to_vec(body)?;
        let request = self
            .onion_client()
            .request(enc, "POST", endpoint, Some(&json))?;
        let response = self
            .http
            .post(format!("{}/oxen/v4/lsrpc", self.api_url))
            .body(request.body().to_vec())
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("onion request answered {status}");
        }
        request.open_reply(&bytes)
    }

    /// POSTs `body` as JSON to `path` of the public listener; the HTTP status and JSON reply.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_url))
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// `GET` of `path` on the admin listener: the HTTP status and body.
    pub async fn admin_get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .http
            .get(format!("{}{path}", self.admin_url))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Probes `/health/ready` as an orchestrator does (every 50 ms) until it answers 200, or
    /// fails after `timeout` with the last answer.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, body) = self.admin_get("/health/ready").await?;
            if status == 200 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("not ready after {timeout:?}: {status} {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the relay (as SIGTERM would) and waits for it, then stops the fakes and mocks.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.relay.await {
            Ok(result) => result,
            Err(e) => bail!("the relay task failed: {e}"),
        }
    }
}

/// `count` swarm ids spread evenly over the u64 space, ascending.
fn swarm_ids(count: usize) -> Vec<u64> {
    let step = u64::MAX / (count as u64 + 1);
    (1..=count as u64).map(|i| i * step).collect()
}

/// Whether every node answered a `HI` within [`CONNECT_TIMEOUT`].
async fn all_greeted(nodes: &[SwarmNode]) -> bool {
    for node in nodes {
        let storage = &node.storage;
        if !storage
            .wait_for(CONNECT_TIMEOUT, |_| storage.hellos() > 0)
            .await
        {
            return false;
        }
    }
    true
}

/// A message for `account` in `namespace` with `data`, a fresh 43-character hash, stored now
/// and expiring in 14 days.
pub fn message(account: AccountId, namespace: i16, data: &[u8]) -> FakeMessage {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD_NO_PAD.encode(crypto::random_bytes(32));
    let now_ms = store::unix_now().saturating_mul(1000);
    FakeMessage {
        account,
        hash: hash.into_bytes(),
        namespace,
        timestamp_ms: now_ms,
        expiry_ms: now_ms + 14 * 86_400_000,
        data: data.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_ids_are_ascending_distinct_and_valid() {
        for count in 1..10 {
            let ids = swarm_ids(count);
            assert_eq!(ids.len(), count);
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            assert!(!ids.contains(&mapping::INVALID_SWARM_ID));
        }
    }

    #[test]
    fn messages_have_fresh_hashes_of_43_characters() {
        crypto::init().unwrap();
        let account = AccountId([5; 33]);
        let (a, b) = (message(account, 0, b"x"), message(account, 0, b"x"));
        assert_eq!(a.hash.len(), 43);
        assert_ne!(a.hash, b.hash);
        assert!(a.expiry_ms > a.timestamp_ms);
    }
}
