//! Typed configuration: a TOML file, then `SPR_<SECTION>__<KEY>` environment overrides.
//!
//! **Owns:** every configuration key, its default (DESIGN "Configuration (contract)") and its
//! validation. **Must not:** read files elsewhere: other modules get their own section.
//!
//! `load_from(toml, env)` is the pure core (tests pass a map instead of touching the process
//! environment); `load(path)` reads the file and the real environment.

mod error;
mod secret;
mod services;
mod sources;
mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use error::ConfigError;
pub use secret::Secret;
pub use services::{
    ApnsConfig, FcmConfig, FcmPriority, HmsConfig, LogServiceConfig, ServiceConfig, ServiceLimits,
    TooBigForm, DEFAULT_BREAKER_THRESHOLD,
};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Public listener.
    pub api: ApiConfig,
    /// Private listener for metrics, health, stats and the status page.
    pub admin: AdminConfig,
    /// Subscription store.
    pub database: DatabaseConfig,
    /// Key files.
    pub keys: KeysConfig,
    /// Swarm side (oxend, storage servers).
    pub swarm: SwarmConfig,
    /// Push services clients may name in `service`.
    pub services: Vec<ServiceConfig>,
    /// Several replicas on one Postgres database.
    pub cluster: ClusterConfig,
    /// Logging.
    pub log: LogConfig,
    /// `SPR_*` environment variables that are not `SPR_<SECTION>__<KEY>` and were ignored
    /// (Kubernetes service links such as `SPR_PORT`); logged at debug level on start.
    #[serde(skip)]
    pub ignored_env: Vec<String>,
}

/// `[api]`: the public listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of `/subscribe`, `/unsubscribe`, `/oxen/v4/lsrpc`.
    pub listen: SocketAddr,
    /// Body limit of the JSON endpoints; the onion endpoint allows this plus a fixed framing
    /// allowance (`api::onion::body_limit`).
    pub max_body_bytes: usize,
    /// A connection that has not sent a whole request header within this closes.
    pub header_read_timeout_secs: u64,
    /// A connection with no bytes either way and no request in progress for this long closes.
    pub idle_timeout_secs: u64,
    /// On SIGTERM/SIGINT the relay returns within this, whatever clients do.
    pub shutdown_grace_secs: u64,
    /// Open connections on each listener; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Request body bytes held at once, all connections together; beyond it a request is
    /// answered "retry later" at once.
    pub max_buffered_body_bytes: usize,
    /// Subscribe/unsubscribe elements accepted per account per minute.
    pub account_rate_per_minute: u32,
}

impl ApiConfig {
    /// `header_read_timeout_secs` as a duration.
    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_secs)
    }

    /// `idle_timeout_secs` as a duration.
    pub fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.idle_timeout_secs)
    }

    /// `shutdown_grace_secs` as a duration.
    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: ([127, 0, 0, 1], 8080).into(),
            max_body_bytes: 100_000,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            shutdown_grace_secs: 10,
            max_connections: 4096,
            max_buffered_body_bytes: 64 * 1024 * 1024,
            account_rate_per_minute: 30,
        }
    }
}

/// `[admin]`: the private listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of `/metrics`, `/health/*`, `/stats`, `/`.
    pub listen: SocketAddr,
    /// When non-empty, `/stats` needs `Authorization: Bearer <token>`.
    pub token: Secret<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: ([127, 0, 0, 1], 9090).into(),
            token: Secret::default(),
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (embedded default) or `postgres://user:pass@host/db`.
    pub url: Secret<String>,
    /// Pool size.
    pub max_connections: u32,
    /// How often a running relay polls for rows other processes wrote (import-spns), 1–60.
    pub changes_poll_secs: u64,
    /// Subscribes written in one transaction at most (group commit), 1–1000.
    pub batch_max: usize,
    /// How long a batch waits after its first subscribe for more, milliseconds, 0–100 (0: a
    /// batch is what queued while the previous one committed).
    pub batch_window_ms: u64,
}

impl DatabaseConfig {
    /// `changes_poll_secs` as a duration.
    pub fn changes_poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.changes_poll_secs)
    }

    /// The group-commit settings.
    pub fn batch(&self) -> crate::store::BatchSettings {
        crate::store::BatchSettings {
            max: self.batch_max,
            window: std::time::Duration::from_millis(self.batch_window_ms),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: Secret::new("sqlite://data/relay.db".into()),
            max_connections: 16,
            changes_poll_secs: 30,
            batch_max: 64,
            batch_window_ms: 0,
        }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Directory of `onion.key`, `swarm.key`, `storage.key`.
    pub dir: PathBuf,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            dir: PathBuf::from("data/keys"),
        }
    }
}

/// `[swarm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwarmConfig {
    /// "" = no swarm side; `tcp://`, `ipc://`, `curve://h:p/PUBKEY` or `http(s)://…/json_rpc`.
    pub oxend: String,
    /// Lower bound of the renewal interval, seconds.
    pub resubscribe_min_secs: u64,
    /// Upper bound of the renewal interval, seconds.
    pub resubscribe_max_secs: u64,
    /// Connection attempts in flight at once.
    pub max_pending_connects: usize,
    /// De-duplication window, seconds.
    pub dedup_window_secs: u64,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            oxend: String::new(),
            resubscribe_min_secs: 2700,
            resubscribe_max_secs: 3300,
            max_pending_connects: 500,
            dedup_window_secs: 600,
        }
    }
}

/// `[cluster]`: several replicas sharing one Postgres database split the swarms between them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Off: this process is the only relay and owns every swarm (the single-replica relay).
    pub enabled: bool,
    /// Unique per replica; empty = the host name (the pod name in Kubernetes), resolved by
    /// [`ClusterConfig::resolved_node_id`].
    pub node_id: String,
    /// A replica that stops renewing its leases loses its swarms after this long.
    pub lease_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            node_id: String::new(),
            lease_secs: 15,
        }
    }
}

impl ClusterConfig {
    /// `lease_secs` as a duration.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    /// `node_id`, or when empty the host name: `HOSTNAME` from `env`, else
    /// `/proc/sys/kernel/hostname`. `None` when neither gives a usable name.
    pub fn resolved_node_id(&self, env: &HashMap<String, String>) -> Option<String> {
        if !self.node_id.is_empty() {
            return Some(self.node_id.clone());
        }
        let from_env = env.get("HOSTNAME").map(|h| h.trim().to_owned());
        let name = match from_env.filter(|h| !h.is_empty()) {
            Some(h) => h,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()?
                .trim()
                .to_owned(),
        };
        validate::node_id_ok(&name).then_some(name)
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `relay=debug,info`, …
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Loads `path` (if given) and the process environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                ConfigError::new("--config", format!("cannot read {}: {e}", p.display()))
            })?),
            None => None,
        };
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SPR_") || k == "HOSTNAME")
            .collect();
        Self::load_from(text.as_deref(), env)
    }

    /// The pure core of `load`: TOML text plus an environment map.
    pub fn load_from(
        toml: Option<&str>,
        env: HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        sources::check_key_names(toml, &env)?;
        let mut builder = config::Config::builder();
        if let Some(text) = toml {
            builder = builder.add_source(config::File::from_str(text, config::FileFormat::Toml));
        }
        let host_env: HashMap<String, String> = env
            .get("HOSTNAME")
            .map(|h| ("HOSTNAME".to_owned(), h.clone()))
            .into_iter()
            .collect();
        let (env, ignored_env) = sources::split_env(env);
        builder = builder.add_source(
            config::Environment::with_prefix("SPR")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let raw = builder.build().map_err(ConfigError::from_config)?;
        validate::known_keys(&raw)?;
        let top = config::Source::collect(&raw).map_err(ConfigError::from_config)?;
        let resolved = sources::resolve_secret_files(top)?;
        let mut config: Config = resolved
            .try_deserialize()
            .map_err(ConfigError::from_config)?;
        config.validate()?;
        if config.cluster.enabled && config.cluster.node_id.is_empty() {
            config.cluster.node_id =
                config
                    .cluster
                    .resolved_node_id(&host_env)
                    .ok_or_else(|| {
                        ConfigError::new(
                            "cluster.node_id",
                            "empty and no usable host name (HOSTNAME or /proc/sys/kernel/hostname): set it",
                        )
                    })?;
        }
        config.ignored_env = ignored_env;
        Ok(config)
    }

    /// Checks values that types alone cannot: credentials present, names unique, URLs sane.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::config(self)
    }

    /// Every key the relay accepts, one per line: `section.key`, and `services[].key` for the
    /// keys of `[[services]]` tables (of any kind). Secrets also accept `key_file`.
    pub fn keys() -> Vec<String> {
        validate::all_keys()
    }

    /// The configured service with this name.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests;
