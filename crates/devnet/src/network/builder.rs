//! Building a [`Network`]: the fakes and mocks first, then the configuration files, then the
//! relay, then waiting until it has greeted every storage server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::files::{self, Mocks};
use super::replicas::{self, Replicas};
use super::{Network, RelayProcess, RelayRun, SwarmNode};
use crate::fake_oxend::FakeOxend;
use crate::fake_storage::FakeStorage;
use crate::synthetic;
use relay::app;
use relay::config::Config;
use relay::crypto::{self, KeyPair, RelayKeys};

/// How long [`NetworkBuilder::start`] waits for the relay to greet every storage server, plus
/// [`CONNECT_PER_NODE`] per node (2,000 nodes at 500 connects in flight take a while).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_PER_NODE: Duration = Duration::from_millis(20);
/// Upserts in flight (and pooled connections) while preloading the database.
const PRELOAD_CONCURRENCY: u32 = 32;

/// Settings of a [`Network`]; see [`Network::builder`].
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    nodes: usize,
    swarms: usize,
    database_url: Option<String>,
    resubscribe_secs: (u64, u64),
    dummy: bool,
    log_services: Vec<String>,
    changes_poll_secs: Option<u64>,
    relay_binary: Option<PathBuf>,
    replicas: usize,
    lease_secs: Option<u64>,
    replica_database_urls: HashMap<usize, String>,
    preload: u64,
}

impl Default for NetworkBuilder {
    fn default() -> Self {
        NetworkBuilder {
            nodes: 15,
            swarms: 3,
            database_url: None,
            resubscribe_secs: (5, 10),
            dummy: false,
            log_services: Vec::new(),
            changes_poll_secs: None,
            relay_binary: None,
            replicas: 1,
            lease_secs: None,
            replica_database_urls: HashMap::new(),
            preload: 0,
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

    /// Also configure these services, each of kind `log` (e.g. `huawei`, `apns-sandbox`).
    pub fn log_services(mut self, names: &[&str]) -> Self {
        self.log_services = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// `[database] changes_poll_secs` (default: the relay's, 30 s).
    pub fn changes_poll_secs(mut self, secs: u64) -> Self {
        self.changes_poll_secs = Some(secs);
        self
    }

    /// Write `count` synthetic subscriptions ([`crate::synthetic`]) into the relay's database
    /// before it starts, so it loads them as after a restart (default 0).
    pub fn preload(mut self, count: u64) -> Self {
        self.preload = count;
        self
    }

    /// Run the relay as a separate process, `BINARY serve --config <generated file>`, instead
    /// of in this process (default: in-process). Its CPU and memory are then its own
    /// ([`Network::relay_pid`]); its log goes to `relay.log` in the network's directory.
    pub fn relay_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.relay_binary = Some(binary.into());
        self
    }

    /// Runs `n` relays as a `[cluster]` on the network's Postgres database (needs
    /// [`NetworkBuilder::relay_binary`] and a `postgres://` [`NetworkBuilder::database_url`]);
    /// they are `relay-0` … `relay-{n-1}`, replica 0 being the network's own relay.
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n.max(1);
        self
    }

    /// `[cluster] lease_secs` of the replicas (default 15); setting it enables `[cluster]`
    /// even with one replica.
    pub fn lease_secs(mut self, secs: u64) -> Self {
        self.lease_secs = Some(secs);
        self
    }

    /// Replica `i` reaches the database at `url` instead (e.g. through a proxy a test cuts).
    pub fn replica_database_url(mut self, i: usize, url: impl Into<String>) -> Self {
        self.replica_database_urls.insert(i, url.into());
        self
    }

    /// Starts everything and waits until the relay has connected to every storage server.
    pub async fn start(self) -> anyhow::Result<Network> {
        if self.swarms == 0 || self.nodes < self.swarms {
            bail!("need at least one swarm and one node per swarm");
        }
        let cluster = self.replicas > 1 || self.lease_secs.is_some();
        if cluster {
            if self.relay_binary.is_none() {
                bail!("several replicas run as separate processes: set relay_binary");
            }
            if !self
                .database_url
                .as_deref()
                .is_some_and(|u| u.starts_with("postgres"))
            {
                bail!(
                    "several replicas need a postgres:// database (cluster.enabled needs Postgres)"
                );
            }
        }
        let lease_secs = self.lease_secs.unwrap_or(15);
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
        let settings = files::Settings {
            api: api.local_addr()?,
            admin: admin.local_addr()?,
            database_url: &database_url,
            oxend: &oxend_url,
            resubscribe_secs: self.resubscribe_secs,
            dummy: self.dummy,
            log_services: &self.log_services,
            changes_poll_secs: self.changes_poll_secs,
        };
        let config_path = files::write(dir.path(), &settings, &mocks)?;
        let text = std::fs::read_to_string(&config_path)?;
        let config = Config::load_from(Some(&text), HashMap::new())
            .context("the generated relay configuration does not load")?;
        let keys = RelayKeys::load_or_create(&config.keys.dir)?;
        let onion_pubkey = *keys.onion.public();
        let storage_key = keys.storage.clone();
        if self.preload > 0 {
            let store =
                relay::store::open(&database_url, PRELOAD_CONCURRENCY, &storage_key).await?;
            let started = std::time::Instant::now();
            let now = relay::clock::unix_now();
            synthetic::fill(
                store.as_ref(),
                self.preload,
                now,
                PRELOAD_CONCURRENCY as usize,
            )
            .await
            .context("preloading the database")?;
            println!(
                "preloaded {} subscriptions in {:.1} s",
                self.preload,
                started.elapsed().as_secs_f64()
            );
        }

        let shutdown = CancellationToken::new();
        let limit = CONNECT_TIMEOUT + CONNECT_PER_NODE * self.nodes as u32;
        let mut replica_set = Replicas::default();
        let relay = match &self.relay_binary {
            None => {
                let mut task = tokio::spawn(app::serve(config, keys, api, admin, shutdown.clone()));
                tokio::select! {
                    ended = &mut task => match ended {
                        Ok(Ok(())) => bail!("the relay stopped during start-up"),
                        Ok(Err(e)) => return Err(e.context("the relay failed to start")),
                        Err(e) => bail!("the relay task failed: {e}"),
                    },
                    connected = all_greeted(&nodes, limit, 1) => if !connected {
                        shutdown.cancel();
                        bail!("the relay did not connect to every storage server in {limit:?}");
                    },
                }
                RelayRun::Task(task)
            }
            Some(binary) => {
                // The child binds the same addresses: free them first.
                let swarm_key = keys.swarm.clone();
                drop((api, admin, keys));
                let mut child = if cluster {
                    let env = replicas::cluster_env(
                        0,
                        lease_secs,
                        self.replica_database_urls.get(&0).map(String::as_str),
                    );
                    replica_set =
                        Replicas::new(binary, &config_path, dir.path(), lease_secs, swarm_key);
                    for i in 1..self.replicas {
                        replica_set
                            .spawn_next(self.replica_database_urls.get(&i).map(String::as_str))?;
                    }
                    RelayProcess::spawn_with(
                        binary,
                        &config_path,
                        &dir.path().join("relay.log"),
                        &env,
                    )?
                } else {
                    RelayProcess::spawn(binary, &config_path, dir.path())?
                };
                let limit = limit + CONNECT_PER_NODE * (self.nodes * (self.replicas - 1)) as u32;
                tokio::select! {
                    status = child.wait() => {
                        bail!("the relay process exited during start-up ({status:?}); see {}",
                            dir.path().join("relay.log").display())
                    }
                    connected = all_greeted(&nodes, limit, self.replicas) => if !connected {
                        child.stop().await;
                        replica_set.stop_all().await;
                        bail!("the relay did not connect to every storage server in {limit:?}");
                    },
                }
                RelayRun::Process(child)
            }
        };
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
            replicas: replica_set,
            dir,
        })
    }
}

/// `count` swarm ids spread evenly over the u64 space, ascending.
fn swarm_ids(count: usize) -> Vec<u64> {
    let step = u64::MAX / (count as u64 + 1);
    (1..=count as u64).map(|i| i * step).collect()
}

/// Whether every node answered `relays` `HI`s (one per relay) within `limit`.
async fn all_greeted(nodes: &[SwarmNode], limit: Duration, relays: usize) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    for node in nodes {
        let storage = &node.storage;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !storage.wait_for(left, |_| storage.hellos() >= relays).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay::swarm::mapping;

    #[test]
    fn swarm_ids_are_ascending_distinct_and_valid() {
        for count in 1..10 {
            let ids = swarm_ids(count);
            assert_eq!(ids.len(), count);
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            assert!(!ids.contains(&mapping::INVALID_SWARM_ID));
        }
    }
}
