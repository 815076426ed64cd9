//! Where values come from besides the TOML file: which environment variables are configuration,
//! and secrets given as files (`x_file` beside `x`).

use std::collections::HashMap;
use std::path::Path;

use config::{Map, Value, ValueKind};

use super::ConfigError;

/// Splits the `SPR_*` environment into configuration (`SPR_<SECTION>__<KEY>`, with a double
/// underscore) and the rest, which is not ours: Kubernetes injects `SPR_PORT`,
/// `SPR_SERVICE_HOST`, … for a Service named `spr`. Returns (configuration, ignored names).
pub(super) fn split_env(env: HashMap<String, String>) -> (HashMap<String, String>, Vec<String>) {
    let mut ignored = Vec::new();
    let config = env
        .into_iter()
        .filter(|(name, _)| {
            let Some(rest) = name.strip_prefix("SPR_") else {
                return false; // not configuration (HOSTNAME, the default cluster.node_id)
            };
            let is_config = rest.contains("__");
            if !is_config {
                ignored.push(name.clone());
            }
            is_config
        })
        .collect();
    ignored.sort();
    (config, ignored)
}

/// Refuses any configuration name that is not plain letters, digits and `_` (every real key
/// is), in the TOML (quoted keys too) and in the `SPR_*` names. The `config` crate reads a name
/// such as `x[-86129333770760283033]` as an array index and grows a vector up to it: a panic or
/// gigabytes of memory from one line of a config file (found by the `config_toml` fuzz target).
/// A TOML syntax error is left to `config`, which names the line.
pub(super) fn check_key_names(
    toml: Option<&str>,
    env: &HashMap<String, String>,
) -> Result<(), ConfigError> {
    if let Some(Ok(table)) = toml.map(str::parse::<toml::Table>) {
        check_table("", &table)?;
    }
    // Only our names: the rest of the environment is not configuration.
    let mut ours = env.keys().filter(|name| name.starts_with("SPR_"));
    match ours.find(|name| !is_plain(name)) {
        Some(name) => Err(not_a_key(name)),
        None => Ok(()),
    }
}

fn check_table(prefix: &str, table: &toml::Table) -> Result<(), ConfigError> {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if !is_plain(key) {
            return Err(not_a_key(&path));
        }
        match value {
            toml::Value::Table(inner) => check_table(&path, inner)?,
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        check_table(&format!("{path}[{i}]"), inner)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_plain(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn not_a_key(name: &str) -> ConfigError {
    ConfigError::new(
        name.escape_default().to_string(),
        "not a configuration key (names are letters, digits and _)",
    )
}

/// Secrets that may also be given as a file: the section (`services` = every `[[services]]`
/// table) and the key; `<key>_file` names the file whose content is the value.
pub(super) const SECRET_KEYS: &[(&str, &str)] = &[
    ("database", "url"),
    ("admin", "token"),
    ("services", "certificate_password"),
    ("services", "app_secret"),
];

/// Replaces every `x_file` by `x` = the file's content (one trailing newline trimmed).
/// Setting both is an error naming the key; the content never appears in an error.
pub(super) fn resolve_secret_files(mut top: Map<String, Value>) -> Result<Value, ConfigError> {
    for (section, key) in SECRET_KEYS {
        let Some(value) = top.get_mut(*section) else {
            continue;
        };
        match &mut value.kind {
            ValueKind::Table(table) => resolve_in(table, section, key)?,
            ValueKind::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let ValueKind::Table(table) = &mut item.kind {
                        resolve_in(table, &format!("{section}[{i}]"), key)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Value::new(None, ValueKind::Table(top)))
}

fn resolve_in(table: &mut Map<String, Value>, prefix: &str, key: &str) -> Result<(), ConfigError> {
    let file_key = format!("{key}_file");
    let Some(path) = table.remove(&file_key) else {
        return Ok(());
    };
    let name = format!("{prefix}.{file_key}");
    if table.contains_key(key) {
        return Err(ConfigError::new(
            name,
            format!("set either {key} or {file_key}, not both"),
        ));
    }
    let ValueKind::String(path) = path.kind else {
        return Err(ConfigError::new(name, "expected a file path"));
    };
    let secret = read_secret(&name, Path::new(&path))?;
    table.insert(key.to_owned(), Value::new(None, ValueKind::String(secret)));
    Ok(())
}

/// Reads a secret file; errors name the key and the path, never the content.
fn read_secret(name: &str, path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::new(name, format!("cannot read {}: {e}", path.display())))?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(ConfigError::new(
            name,
            format!("{} is not UTF-8 text", path.display()),
        ));
    };
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.is_empty() {
        return Err(ConfigError::new(
            name,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(text.to_owned())
}
