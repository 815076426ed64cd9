/// A configuration problem, printed as one line naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {key}: {reason}")]
pub struct ConfigError {
    /// The offending key, e.g. `api.listen` or `services[0].key_file`.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Converts an error of the `config` crate, keeping the key it names when it names one.
    pub(super) fn from_config(err: config::ConfigError) -> Self {
        let text = err.to_string();
        // The config crate ends type errors with "for key `a.b`"; keep that key up front.
        if let Some(start) = text.find("for key `") {
            let rest = &text[start + 9..];
            if let Some(end) = rest.find('`') {
                let key = rest[..end].to_string();
                let reason = text[..start].trim_end().to_string();
                return ConfigError::new(key, reason);
            }
        }
        if let Some(field) = text
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            return ConfigError::new(field, "missing");
        }
        ConfigError::new("config", text)
    }
}
