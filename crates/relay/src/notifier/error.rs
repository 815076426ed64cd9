//! Why a push service could not be set up (bad settings or credential files). Send-time
//! outcomes are [`Verdict`](super::Verdict)s, not errors.

use std::path::PathBuf;

/// A service that cannot be built from its `[[services]]` table.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A key the kind needs is empty.
    #[error("service {service}: {key} must be set")]
    MissingSetting {
        /// Service name.
        service: String,
        /// The configuration key.
        key: &'static str,
    },
    /// A credential or CA file could not be read.
    #[error("service {service}: cannot read {}", path.display())]
    ReadFile {
        /// Service name.
        service: String,
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but is not what the key expects.
    #[error("service {service}: {} is not a valid {what}", path.display())]
    InvalidFile {
        /// Service name.
        service: String,
        /// The file.
        path: PathBuf,
        /// What the file should hold (".p8 key", "PEM certificate", …).
        what: &'static str,
        /// The parser's complaint.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `endpoint` (or `token_endpoint`) is not an `http://` or `https://` base URL.
    #[error("service {service}: {key} {url:?} is not an http:// or https:// URL")]
    InvalidEndpoint {
        /// Service name.
        service: String,
        /// The configuration key.
        key: &'static str,
        /// The value given.
        url: String,
    },
    /// The TLS client configuration was refused by rustls.
    #[error("service {service}: cannot set up TLS")]
    Tls {
        /// Service name.
        service: String,
        /// The rustls failure.
        #[source]
        source: rustls::Error,
    },
    /// reqwest could not build the client.
    #[error("service {service}: cannot build the HTTP client")]
    HttpClient {
        /// Service name.
        service: String,
        /// The reqwest failure.
        #[source]
        source: reqwest::Error,
    },
}
