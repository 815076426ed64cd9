//! Checks that serde cannot express: unknown keys with their full path, credential files that
//! exist, unique service names, URL schemes.

use std::path::Path;

use config::{Value, ValueKind};

use super::{Config, ConfigError, ServiceConfig};

const SECTIONS: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "listen",
            "max_body_bytes",
            "header_read_timeout_secs",
            "idle_timeout_secs",
            "shutdown_grace_secs",
            "max_connections",
            "max_buffered_body_bytes",
            "account_rate_per_minute",
        ],
    ),
    ("admin", &["listen", "token", "token_file"]),
    (
        "database",
        &[
            "url",
            "url_file",
            "max_connections",
            "changes_poll_secs",
            "batch_max",
            "batch_window_ms",
        ],
    ),
    ("keys", &["dir"]),
    (
        "swarm",
        &[
            "oxend",
            "resubscribe_min_secs",
            "resubscribe_max_secs",
            "max_pending_connects",
            "dedup_window_secs",
        ],
    ),
    ("cluster", &["enabled", "node_id", "lease_secs"]),
    ("log", &["level", "format"]),
];

const LIMIT_KEYS: &[&str] = &[
    "queue_capacity",
    "concurrency",
    "max_retries",
    "request_timeout_secs",
    "breaker_threshold",
    "too_big_form",
    // The APNs-only name of `too_big_form` in earlier releases, still accepted (any kind).
    "metadata_form",
];

fn service_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "apns" => &[
            "topic",
            "sandbox",
            "endpoint",
            "ca_file",
            "key_file",
            "key_id",
            "team_id",
            "certificate_file",
            "certificate_password",
            "certificate_password_file",
            "expiration_secs",
        ],
        "fcm" => &[
            "service_account_file",
            "project_id",
            "endpoint",
            "ca_file",
            "priority",
        ],
        "hms" => &[
            "app_id",
            "app_secret",
            "app_secret_file",
            "endpoint",
            "token_endpoint",
            "ca_file",
        ],
        "log" => &[],
        _ => return None,
    })
}

/// Every key the relay accepts (see [`super::Config::keys`]), sorted.
pub(super) fn all_keys() -> Vec<String> {
    let mut keys = std::collections::BTreeSet::new();
    for (section, names) in SECTIONS {
        keys.extend(names.iter().map(|k| format!("{section}.{k}")));
    }
    let per_kind = ["apns", "fcm", "hms", "log"]
        .into_iter()
        .filter_map(service_keys)
        .flatten();
    for k in ["kind", "name"].iter().chain(LIMIT_KEYS).chain(per_kind) {
        keys.insert(format!("services[].{k}"));
    }
    keys.into_iter().collect()
}

/// Rejects any key the relay does not know, naming it with its full path.
pub(super) fn known_keys(raw: &config::Config) -> Result<(), ConfigError> {
    let Ok(top) = raw
        .clone()
        .try_deserialize::<std::collections::HashMap<String, Value>>()
    else {
        return Ok(()); // an empty configuration
    };
    for (section, value) in &top {
        if section == "services" {
            check_services(value)?;
            continue;
        }
        let Some((_, keys)) = SECTIONS.iter().find(|(name, _)| name == section) else {
            return Err(ConfigError::new(section.as_str(), "unknown section"));
        };
        let ValueKind::Table(table) = &value.kind else {
            return Err(ConfigError::new(section.as_str(), "expected a table"));
        };
        for key in table.keys() {
            if !keys.contains(&key.as_str()) {
                return Err(ConfigError::new(format!("{section}.{key}"), "unknown key"));
            }
        }
    }
    Ok(())
}

fn check_services(value: &Value) -> Result<(), ConfigError> {
    let ValueKind::Array(items) = &value.kind else {
        return Err(ConfigError::new(
            "services",
            "expected an array of tables ([[services]])",
        ));
    };
    for (i, item) in items.iter().enumerate() {
        let ValueKind::Table(table) = &item.kind else {
            return Err(ConfigError::new(
                format!("services[{i}]"),
                "expected a table",
            ));
        };
        let kind = match table.get("kind").map(|v| &v.kind) {
            Some(ValueKind::String(k)) => k.clone(),
            Some(_) => {
                return Err(ConfigError::new(
                    format!("services[{i}].kind"),
                    "expected a string",
                ))
            }
            None => {
                return Err(ConfigError::new(
                    format!("services[{i}].kind"),
                    "missing (apns, fcm, hms or log)",
                ))
            }
        };
        let Some(allowed) = service_keys(&kind) else {
            return Err(ConfigError::new(
                format!("services[{i}].kind"),
                format!("unknown kind {kind:?} (expected apns, fcm, hms or log)"),
            ));
        };
        if !table.contains_key("name") {
            return Err(ConfigError::new(format!("services[{i}].name"), "missing"));
        }
        for key in table.keys() {
            let known = key == "kind"
                || key == "name"
                || allowed.contains(&key.as_str())
                || LIMIT_KEYS.contains(&key.as_str());
            if !known {
                return Err(ConfigError::new(
                    format!("services[{i}].{key}"),
                    "unknown key",
                ));
            }
        }
    }
    Ok(())
}

fn require_file(key: String, path: &Path) -> Result<(), ConfigError> {
    if path.as_os_str().is_empty() {
        return Err(ConfigError::new(key, "required"));
    }
    if !path.is_file() {
        return Err(ConfigError::new(
            key,
            format!("file not found: {}", path.display()),
        ));
    }
    Ok(())
}

fn optional_file(key: String, path: &Path) -> Result<(), ConfigError> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    require_file(key, path)
}

fn check_endpoint(key: String, endpoint: &str) -> Result<(), ConfigError> {
    if endpoint.is_empty() || endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return Ok(());
    }
    Err(ConfigError::new(
        key,
        "expected http://host[:port] or https://host[:port]",
    ))
}

fn api(a: &super::ApiConfig) -> Result<(), ConfigError> {
    let at_least_one = [
        ("api.max_body_bytes", a.max_body_bytes as u64),
        ("api.header_read_timeout_secs", a.header_read_timeout_secs),
        ("api.idle_timeout_secs", a.idle_timeout_secs),
        ("api.shutdown_grace_secs", a.shutdown_grace_secs),
        ("api.max_connections", a.max_connections as u64),
        (
            "api.account_rate_per_minute",
            u64::from(a.account_rate_per_minute),
        ),
    ];
    for (key, value) in at_least_one {
        if value == 0 {
            return Err(ConfigError::new(key, "must be at least 1"));
        }
    }
    // One hour: anything longer is a typo, and Duration arithmetic stays far from overflow.
    for (key, value) in [
        ("api.header_read_timeout_secs", a.header_read_timeout_secs),
        ("api.idle_timeout_secs", a.idle_timeout_secs),
        ("api.shutdown_grace_secs", a.shutdown_grace_secs),
    ] {
        if value > 3600 {
            return Err(ConfigError::new(key, "must be at most 3600"));
        }
    }
    if a.max_connections > 1_000_000 {
        return Err(ConfigError::new(
            "api.max_connections",
            "must be at most 1000000",
        ));
    }
    if a.max_buffered_body_bytes < a.max_body_bytes + crate::api::onion::FRAMING_ALLOWANCE {
        return Err(ConfigError::new(
            "api.max_buffered_body_bytes",
            "must hold at least one onion body (max_body_bytes + 16384)",
        ));
    }
    Ok(())
}

/// A node id: 1–128 characters of `[A-Za-z0-9._-]` (a host or pod name fits), so it can go
/// into the database, a metric-free log line and the derived storage-server key as it is.
pub(super) fn node_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn cluster(c: &Config) -> Result<(), ConfigError> {
    let k = &c.cluster;
    if !(2..=3600).contains(&k.lease_secs) {
        return Err(ConfigError::new(
            "cluster.lease_secs",
            "must be between 2 and 3600",
        ));
    }
    if !k.node_id.is_empty() && !node_id_ok(&k.node_id) {
        return Err(ConfigError::new(
            "cluster.node_id",
            "expected 1-128 characters of A-Z a-z 0-9 . _ -",
        ));
    }
    if k.enabled && c.database.url.expose().starts_with("sqlite:") {
        return Err(ConfigError::new(
            "cluster.enabled",
            "needs a postgres:// database.url (replicas share one Postgres database; SQLite is one process's file)",
        ));
    }
    Ok(())
}

/// Validates the typed configuration.
pub(super) fn config(c: &Config) -> Result<(), ConfigError> {
    let url = c.database.url.expose();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(ConfigError::new(
            "database.url",
            "expected sqlite://… or postgres://…",
        ));
    }
    if c.database.max_connections == 0 {
        return Err(ConfigError::new(
            "database.max_connections",
            "must be at least 1",
        ));
    }
    if !(1..=60).contains(&c.database.changes_poll_secs) {
        return Err(ConfigError::new(
            "database.changes_poll_secs",
            "must be from 1 to 60",
        ));
    }
    if !(1..=1000).contains(&c.database.batch_max) {
        return Err(ConfigError::new(
            "database.batch_max",
            "must be from 1 to 1000",
        ));
    }
    if c.database.batch_window_ms > 100 {
        return Err(ConfigError::new(
            "database.batch_window_ms",
            "must be from 0 to 100",
        ));
    }
    api(&c.api)?;
    let s = &c.swarm;
    if s.resubscribe_min_secs < 1 {
        return Err(ConfigError::new(
            "swarm.resubscribe_min_secs",
            "must be at least 1",
        ));
    }
    if s.resubscribe_max_secs < s.resubscribe_min_secs {
        return Err(ConfigError::new(
            "swarm.resubscribe_max_secs",
            "must be >= resubscribe_min_secs",
        ));
    }
    if s.max_pending_connects == 0 {
        return Err(ConfigError::new(
            "swarm.max_pending_connects",
            "must be at least 1",
        ));
    }
    if s.dedup_window_secs == 0 {
        return Err(ConfigError::new(
            "swarm.dedup_window_secs",
            "must be at least 1",
        ));
    }
    let oxend_ok = s.oxend.is_empty()
        || ["tcp://", "ipc://", "curve://", "http://", "https://"]
            .iter()
            .any(|p| s.oxend.starts_with(p));
    if !oxend_ok {
        return Err(ConfigError::new(
            "swarm.oxend",
            "expected tcp://, ipc://, curve://h:p/PUBKEY or http(s)://…/json_rpc",
        ));
    }
    cluster(c)?;
    log_level(&c.log.level)?;
    for (i, svc) in c.services.iter().enumerate() {
        let key = |k: &str| format!("services[{i}].{k}");
        let name = svc.name();
        if name.is_empty() {
            return Err(ConfigError::new(key("name"), "must not be empty"));
        }
        if c.services[..i].iter().any(|o| o.name() == name) {
            return Err(ConfigError::new(
                key("name"),
                format!("duplicate service name {name:?}"),
            ));
        }
        let limits = svc.limits();
        if limits.queue_capacity == 0 || limits.concurrency == 0 || limits.request_timeout_secs == 0
        {
            return Err(ConfigError::new(
                key("queue_capacity"),
                "queue_capacity, concurrency and request_timeout_secs must be at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&svc.breaker_threshold()) {
            return Err(ConfigError::new(
                key("breaker_threshold"),
                "must be between 0 and 1",
            ));
        }
        match svc {
            ServiceConfig::Apns(a) => {
                check_endpoint(key("endpoint"), &a.endpoint)?;
                optional_file(key("ca_file"), &a.ca_file)?;
                let token_auth = !a.key_file.as_os_str().is_empty();
                let cert_auth = !a.certificate_file.as_os_str().is_empty();
                match (token_auth, cert_auth) {
                    (true, true) => {
                        return Err(ConfigError::new(
                            key("certificate_file"),
                            "set either key_file (token auth) or certificate_file, not both",
                        ))
                    }
                    (false, false) => {
                        return Err(ConfigError::new(
                            key("key_file"),
                            "required: key_file with key_id and team_id, or certificate_file",
                        ))
                    }
                    (true, false) => {
                        require_file(key("key_file"), &a.key_file)?;
                        if a.key_id.len() != 10 {
                            return Err(ConfigError::new(
                                key("key_id"),
                                "expected the 10-character APNs key id",
                            ));
                        }
                        if a.team_id.len() != 10 {
                            return Err(ConfigError::new(
                                key("team_id"),
                                "expected the 10-character Apple team id",
                            ));
                        }
                    }
                    (false, true) => require_file(key("certificate_file"), &a.certificate_file)?,
                }
            }
            ServiceConfig::Fcm(f) => {
                check_endpoint(key("endpoint"), &f.endpoint)?;
                optional_file(key("ca_file"), &f.ca_file)?;
                require_file(key("service_account_file"), &f.service_account_file)?;
            }
            ServiceConfig::Hms(h) => {
                check_endpoint(key("endpoint"), &h.endpoint)?;
                check_endpoint(key("token_endpoint"), &h.token_endpoint)?;
                optional_file(key("ca_file"), &h.ca_file)?;
                if h.app_id.is_empty() {
                    return Err(ConfigError::new(key("app_id"), "required"));
                }
                if h.app_secret.expose().is_empty() {
                    return Err(ConfigError::new(
                        key("app_secret"),
                        "required (app_secret or app_secret_file)",
                    ));
                }
            }
            ServiceConfig::Log(_) => {}
        }
    }
    Ok(())
}

/// `[log] level`: levels and `target=level` directives only. Span and field filters
/// (`[span{field=value}]`) are refused before `EnvFilter` sees them: it compiles field values
/// into a dense automaton, and one crafted line took 4 minutes and 2.4 GB (found by the
/// `config_toml` fuzz target).
fn log_level(level: &str) -> Result<(), ConfigError> {
    let plain = level
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_:=,.-".contains(&b));
    if !plain {
        return Err(ConfigError::new(
            "log.level",
            format!(
                "{:?}: levels and target=level directives only (letters, digits, _ : = , . -)",
                level
            ),
        ));
    }
    if tracing_subscriber::EnvFilter::try_new(level).is_err() {
        return Err(ConfigError::new(
            "log.level",
            format!("invalid filter {level:?}"),
        ));
    }
    Ok(())
}
