//! A whole simulated network in this process, around the real relay: a fake oxend (CURVE),
//! fake storage servers in swarms (CURVE), a mock APNs (TLS, token auth) and a mock FCM (TLS,
//! OAuth), and [`app::serve`](relay::app::serve) on 127.0.0.1 listeners, configured through the
//! real config loader from files written to a temporary directory.
//!
//! **Owns:** starting and stopping that network, its files, and the handles tests and the
//! `devnet` sub-command use to drive it. **Must not:** reach into the relay: it talks to it
//! only through its listeners, its database and its peers, as the real network would.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use devnet::network::Network;
//! let net = Network::builder().nodes(15).swarms(3).start().await?;
//! println!("relay at {}, onion key {}", net.api_url(), hex::encode(net.onion_pubkey()));
//! net.shutdown().await
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fake_oxend::FakeOxend;
use super::fake_storage::{FakeMessage, FakeStorage};
use super::mock_apns::MockApns;
use super::mock_fcm::MockFcm;
use super::onion_client::{ClientEncType, OnionClient, OnionReply};
use relay::clock;
use relay::crypto::{self, StorageKey};
use relay::store::{self, Store};
use relay::subscription::AccountId;
use relay::swarm::mapping;
use relay::swarm::nodes::Node;

mod builder;
mod files;
mod replicas;

pub use builder::NetworkBuilder;
pub use files::{APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_PROJECT};
pub use replicas::node_id as replica_node_id;

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

/// How the relay runs: a task of this process, or a child process (`NetworkBuilder::relay_binary`).
enum RelayRun {
    Task(JoinHandle<anyhow::Result<()>>),
    Process(RelayProcess),
}

/// The relay as a child process, `BINARY serve --config FILE`.
struct RelayProcess {
    child: tokio::process::Child,
}

/// How long a child relay gets to stop after SIGTERM before it is killed.
const CHILD_STOP_WAIT: Duration = Duration::from_secs(15);

impl RelayProcess {
    fn spawn(binary: &Path, config: &Path, dir: &Path) -> anyhow::Result<Self> {
        Self::spawn_with(binary, config, &dir.join("relay.log"), &[])
    }

    /// `spawn` with a log file of its own and `SPR_*` overrides (a cluster replica).
    fn spawn_with(
        binary: &Path,
        config: &Path,
        log: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log)?;
        let child = tokio::process::Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", binary.display()))?;
        Ok(RelayProcess { child })
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// SIGTERM (through `kill(1)`: this crate has no unsafe code), then SIGKILL after
    /// [`CHILD_STOP_WAIT`]; whether it exited by itself with status 0.
    async fn stop(&mut self) -> bool {
        if let Some(pid) = self.pid() {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(CHILD_STOP_WAIT, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.kill().await;
                false
            }
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
    relay: RelayRun,
    /// `[cluster]` replicas besides the first (the first is `relay`); empty otherwise.
    replicas: replicas::Replicas,
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

    /// The relay's process id when it runs as a child process ([`NetworkBuilder::relay_binary`]).
    pub fn relay_pid(&self) -> Option<u32> {
        match &self.relay {
            RelayRun::Task(_) => None,
            RelayRun::Process(p) => p.pid(),
        }
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
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.replicas.stop_all().await;
        match &mut self.relay {
            RelayRun::Task(task) => match task.await {
                Ok(result) => result,
                Err(e) => bail!("the relay task failed: {e}"),
            },
            RelayRun::Process(child) => {
                if child.stop().await {
                    Ok(())
                } else {
                    bail!("the relay process did not exit cleanly after SIGTERM")
                }
            }
        }
    }
}

impl Drop for Network {
    /// A network dropped without [`Network::shutdown`] (a failed test) still stops the relay.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A message for `account` in `namespace` with `data`, a fresh 43-character hash, stored now
/// and expiring in 14 days.
pub fn message(account: AccountId, namespace: i16, data: &[u8]) -> FakeMessage {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD_NO_PAD.encode(crypto::random_bytes(32));
    let now_ms = clock::unix_now().saturating_mul(1000);
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
    fn messages_have_fresh_hashes_of_43_characters() {
        crypto::init().unwrap();
        let account = AccountId([5; 33]);
        let (a, b) = (message(account, 0, b"x"), message(account, 0, b"x"));
        assert_eq!(a.hash.len(), 43);
        assert_ne!(a.hash, b.hash);
        assert!(a.expiry_ms > a.timestamp_ms);
    }
}
