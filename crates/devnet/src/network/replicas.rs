//! `[cluster]` replicas of a network (`NetworkBuilder::replicas`): relay processes sharing the
//! network's Postgres database, configuration file and keys, each with its own listeners and
//! `node_id` (`relay-0`, `relay-1`, …) through `SPR_*` overrides. Replica 0 is the network's
//! own relay; the others live here and can be killed, stopped and started by tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{Network, RelayProcess};
use relay::crypto::KeyPair;

/// A replica besides the first.
pub(super) struct Replica {
    api: SocketAddr,
    admin: SocketAddr,
    env: Vec<(String, String)>,
    /// A lock so a run can kill a replica through a shared `&Network` (held only briefly).
    process: std::sync::Mutex<Option<RelayProcess>>,
}

impl Replica {
    fn take(&self) -> Option<RelayProcess> {
        self.process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// The replicas besides the first, and what starting another one takes.
#[derive(Default)]
pub(super) struct Replicas {
    binary: PathBuf,
    config: PathBuf,
    dir: PathBuf,
    lease_secs: u64,
    /// The shared `swarm.key` (each replica shows storage servers a key derived from it).
    swarm_key: Option<KeyPair>,
    /// Replica `i` (i ≥ 1) is `list[i - 1]`.
    list: Vec<Replica>,
}

/// The `node_id` of replica `i`.
pub fn node_id(i: usize) -> String {
    format!("relay-{i}")
}

/// The `SPR_*` overrides that make a relay replica `i` of a cluster.
pub(super) fn cluster_env(
    i: usize,
    lease_secs: u64,
    database_url: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("SPR_CLUSTER__ENABLED".to_owned(), "true".to_owned()),
        ("SPR_CLUSTER__NODE_ID".to_owned(), node_id(i)),
        ("SPR_CLUSTER__LEASE_SECS".to_owned(), lease_secs.to_string()),
    ];
    if let Some(url) = database_url {
        env.push(("SPR_DATABASE__URL".to_owned(), url.to_owned()));
    }
    env
}

impl Replicas {
    pub(super) fn new(
        binary: &Path,
        config: &Path,
        dir: &Path,
        lease_secs: u64,
        swarm_key: KeyPair,
    ) -> Self {
        Replicas {
            binary: binary.to_owned(),
            config: config.to_owned(),
            dir: dir.to_owned(),
            lease_secs,
            swarm_key: Some(swarm_key),
            list: Vec::new(),
        }
    }

    /// Starts one more replica (index `1 + list.len()`), optionally on its own database URL.
    pub(super) fn spawn_next(&mut self, database_url: Option<&str>) -> anyhow::Result<usize> {
        let i = self.list.len() + 1;
        let api = free_port()?;
        let admin = free_port()?;
        let mut env = cluster_env(i, self.lease_secs, database_url);
        env.push(("SPR_API__LISTEN".to_owned(), api.to_string()));
        env.push(("SPR_ADMIN__LISTEN".to_owned(), admin.to_string()));
        let process = self.spawn(i, &env)?;
        self.list.push(Replica {
            api,
            admin,
            env,
            process: std::sync::Mutex::new(Some(process)),
        });
        Ok(i)
    }

    fn spawn(&self, i: usize, env: &[(String, String)]) -> anyhow::Result<RelayProcess> {
        let log = self.dir.join(format!("relay-{i}.log"));
        RelayProcess::spawn_with(&self.binary, &self.config, &log, env)
    }

    fn get(&self, i: usize) -> anyhow::Result<&Replica> {
        if i == 0 {
            bail!("replica 0 is the network's own relay (stop it with Network::shutdown)");
        }
        self.list
            .get(i - 1)
            .with_context(|| format!("no replica {i}"))
    }

    /// SIGTERM to every replica still running, waiting for each.
    pub(super) async fn stop_all(&mut self) {
        for replica in &self.list {
            if let Some(mut p) = replica.take() {
                p.stop().await;
            }
        }
    }
}

/// A free port on 127.0.0.1 (bound, then released for the child to bind).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

impl Network {
    /// How many replicas the network was started with or has added (1 without `[cluster]`).
    pub fn replica_count(&self) -> usize {
        1 + self.replicas.list.len()
    }

    /// The admin listener of replica `i`.
    pub fn replica_admin_url(&self, i: usize) -> anyhow::Result<String> {
        self.replica_url(i, &self.admin_url, |r| r.admin)
    }

    /// The public listener of replica `i`.
    pub fn replica_api_url(&self, i: usize) -> anyhow::Result<String> {
        self.replica_url(i, &self.api_url, |r| r.api)
    }

    /// A listener of replica `i`: `first`'s URL for replica 0 (the network's own relay), else
    /// the `listener` address of the added replica.
    fn replica_url(
        &self,
        i: usize,
        first: &str,
        listener: impl Fn(&Replica) -> SocketAddr,
    ) -> anyhow::Result<String> {
        let Some(added) = i.checked_sub(1) else {
            return Ok(first.to_owned());
        };
        let r = self
            .replicas
            .list
            .get(added)
            .with_context(|| format!("no replica {i}"))?;
        Ok(format!("http://{}", listener(r)))
    }

    /// The routing id replica `i` shows storage servers ("L" ‖ its derived public key), to
    /// tell its `monitor.messages` from the others' in the fakes' records.
    pub fn replica_route(&self, i: usize) -> anyhow::Result<Vec<u8>> {
        let key = self
            .replicas
            .swarm_key
            .as_ref()
            .context("not a cluster network")?
            .derive_replica(&node_id(i));
        let mut route = vec![b'L'];
        route.extend_from_slice(key.public());
        Ok(route)
    }

    /// `GET /stats` of replica `i`, parsed; an error while it does not answer.
    pub async fn replica_stats(&self, i: usize) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/stats", self.replica_admin_url(i)?);
        let reply = self.http.get(url).send().await?.error_for_status()?;
        Ok(reply.json().await?)
    }

    /// The process id of replica `i`, `None` once it is stopped (or when replica 0 runs in
    /// this process).
    pub fn replica_pid(&self, i: usize) -> Option<u32> {
        if i == 0 {
            return self.relay_pid();
        }
        let replica = self.replicas.get(i).ok()?;
        let process = replica
            .process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        process.as_ref().and_then(RelayProcess::pid)
    }

    /// SIGKILL to replica `i` (≥ 1): no leave, its leases run out.
    pub async fn kill_replica(&self, i: usize) -> anyhow::Result<()> {
        let replica = self.replicas.get(i)?;
        if let Some(mut p) = replica.take() {
            p.child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM to replica `i` (≥ 1) and wait; whether it exited with status 0.
    pub async fn stop_replica(&mut self, i: usize) -> anyhow::Result<bool> {
        let replica = self.replicas.get(i)?;
        Ok(match replica.take() {
            Some(mut p) => p.stop().await,
            None => false,
        })
    }

    /// Starts replica `i` (≥ 1) again after a kill or stop, with the same settings.
    pub fn restart_replica(&mut self, i: usize) -> anyhow::Result<()> {
        let env = self.replicas.get(i)?.env.clone();
        let process = self.replicas.spawn(i, &env)?;
        let replica = self.replicas.get(i)?;
        *replica
            .process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(process);
        Ok(())
    }

    /// Starts one more replica (a join); returns its index.
    pub fn add_replica(&mut self) -> anyhow::Result<usize> {
        if self.replicas.swarm_key.is_none() {
            bail!("not a cluster network (NetworkBuilder::replicas)");
        }
        self.replicas.spawn_next(None)
    }
}
