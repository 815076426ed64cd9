//! `[[services]]` tables: one per service name clients may send, tagged by `kind`.

use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

/// One configured push service.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ServiceConfig {
    /// Apple Push Notification service (HTTP/2).
    Apns(ApnsConfig),
    /// Firebase Cloud Messaging HTTP v1.
    Fcm(FcmConfig),
    /// Huawei Push Kit.
    Hms(HmsConfig),
    /// Records pushes instead of sending them (devnet, tests).
    Log(LogServiceConfig),
}

/// Queue and retry limits every service has (DESIGN bulkheads, PROTOCOL §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Pushes waiting for this service; beyond it pushes are dropped and counted.
    pub queue_capacity: usize,
    /// Requests in flight to the provider at once.
    pub concurrency: usize,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Per-request timeout, seconds.
    pub request_timeout_secs: u64,
}

impl Default for ServiceLimits {
    /// The defaults of a `[[services]]` table that sets none of the limit keys.
    fn default() -> Self {
        ServiceLimits {
            queue_capacity: default_queue_capacity(),
            concurrency: default_concurrency(),
            max_retries: default_max_retries(),
            request_timeout_secs: default_timeout(),
        }
    }
}

/// Default `breaker_threshold` (20 %, PROTOCOL §11).
pub const DEFAULT_BREAKER_THRESHOLD: f64 = 0.2;

fn default_queue_capacity() -> usize {
    10_000
}
fn default_concurrency() -> usize {
    256
}
fn default_max_retries() -> u32 {
    10
}
fn default_timeout() -> u64 {
    10
}
fn default_topic() -> String {
    "com.loki-project.loki-messenger".into()
}
fn default_expiration() -> u64 {
    86_400
}
fn default_breaker_threshold() -> f64 {
    DEFAULT_BREAKER_THRESHOLD
}

macro_rules! limits_fields {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            /// See [`ServiceLimits::queue_capacity`].
            #[serde(default = "default_queue_capacity")]
            pub queue_capacity: usize,
            /// See [`ServiceLimits::concurrency`].
            #[serde(default = "default_concurrency")]
            pub concurrency: usize,
            /// See [`ServiceLimits::max_retries`].
            #[serde(default = "default_max_retries")]
            pub max_retries: u32,
            /// See [`ServiceLimits::request_timeout_secs`].
            #[serde(default = "default_timeout")]
            pub request_timeout_secs: u64,
            /// Share of invalid-token verdicts with a configuration reason that opens the breaker.
            #[serde(default = "default_breaker_threshold")]
            pub breaker_threshold: f64,
            /// Metadata form of a push without a data element (data over 2,500 bytes, or
            /// not wanted); `None`: the kind's default ([`ServiceConfig::too_big_form`]).
            /// `metadata_form`, the APNs-only name of earlier releases, is accepted for it.
            #[serde(default, alias = "metadata_form")]
            pub too_big_form: Option<TooBigForm>,
        }

        impl $name {
            fn limits(&self) -> ServiceLimits {
                ServiceLimits {
                    queue_capacity: self.queue_capacity,
                    concurrency: self.concurrency,
                    max_retries: self.max_retries,
                    request_timeout_secs: self.request_timeout_secs,
                }
            }
        }
    };
}

limits_fields! {
    /// `kind = "apns"`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ApnsConfig {
        /// The `service` value clients send.
        pub name: String,
        /// `apns-topic`: the app's bundle id.
        #[serde(default = "default_topic")]
        pub topic: String,
        /// Use `api.sandbox.push.apple.com`.
        #[serde(default)]
        pub sandbox: bool,
        /// Base URL override, `scheme://host[:port]`; `http://` means h2c.
        #[serde(default)]
        pub endpoint: String,
        /// Extra trusted root certificate (PEM) for the endpoint.
        #[serde(default)]
        pub ca_file: PathBuf,
        /// Token auth: the `.p8` key.
        #[serde(default)]
        pub key_file: PathBuf,
        /// Token auth: 10-character key id.
        #[serde(default)]
        pub key_id: String,
        /// Token auth: 10-character team id.
        #[serde(default)]
        pub team_id: String,
        /// Certificate auth: the `.p12` file.
        #[serde(default)]
        pub certificate_file: PathBuf,
        /// Certificate auth: its password.
        #[serde(default)]
        pub certificate_password: Secret<String>,
        /// `apns-expiration` = now + this many seconds.
        #[serde(default = "default_expiration")]
        pub expiration_secs: u64,
    }
}

/// How the metadata travels when a push carries no data element (PROTOCOL §10.2): the data is
/// over 2,500 bytes, or the subscription does not want it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TooBigForm {
    /// A bencoded dict with `B` as the integer 1: iOS shows its "too long" notification; the
    /// current Android app fails to decode it and shows its generic "new message"
    /// notification (what upstream's released server sends to every service).
    Dict,
    /// A string holding the metadata JSON with `"B": true`, as PROTOCOL §10.1 writes it: the
    /// current Android app shows nothing for it, iOS fails to decode it.
    Json,
}

limits_fields! {
    /// `kind = "fcm"`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FcmConfig {
        /// The `service` value clients send.
        pub name: String,
        /// Google service-account JSON key file.
        #[serde(default)]
        pub service_account_file: PathBuf,
        /// Default: the service account's `project_id`.
        #[serde(default)]
        pub project_id: String,
        /// Base URL override.
        #[serde(default)]
        pub endpoint: String,
        /// Extra trusted root certificate (PEM).
        #[serde(default)]
        pub ca_file: PathBuf,
        /// Android priority rule (PROTOCOL §11.2).
        #[serde(default)]
        pub priority: FcmPriority,
    }
}

/// FCM Android priority rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FcmPriority {
    /// `high` iff data is included and the namespace is 0 or 11.
    #[default]
    Auto,
    /// Always `high`.
    High,
    /// Always `normal`.
    Normal,
}

limits_fields! {
    /// `kind = "hms"`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HmsConfig {
        /// The `service` value clients send.
        pub name: String,
        /// Huawei app id.
        #[serde(default)]
        pub app_id: String,
        /// Huawei app secret.
        #[serde(default)]
        pub app_secret: Secret<String>,
        /// Push API base override.
        #[serde(default)]
        pub endpoint: String,
        /// OAuth token URL override.
        #[serde(default)]
        pub token_endpoint: String,
        /// Extra trusted root certificate (PEM).
        #[serde(default)]
        pub ca_file: PathBuf,
    }
}

limits_fields! {
    /// `kind = "log"`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LogServiceConfig {
        /// The `service` value clients send.
        pub name: String,
    }
}

impl ServiceConfig {
    /// The `service` name clients send.
    pub fn name(&self) -> &str {
        match self {
            ServiceConfig::Apns(c) => &c.name,
            ServiceConfig::Fcm(c) => &c.name,
            ServiceConfig::Hms(c) => &c.name,
            ServiceConfig::Log(c) => &c.name,
        }
    }

    /// The provider kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceConfig::Apns(_) => "apns",
            ServiceConfig::Fcm(_) => "fcm",
            ServiceConfig::Hms(_) => "hms",
            ServiceConfig::Log(_) => "log",
        }
    }

    /// Queue and retry limits.
    pub fn limits(&self) -> ServiceLimits {
        match self {
            ServiceConfig::Apns(c) => c.limits(),
            ServiceConfig::Fcm(c) => c.limits(),
            ServiceConfig::Hms(c) => c.limits(),
            ServiceConfig::Log(c) => c.limits(),
        }
    }

    /// The metadata form of a push without data: the configured `too_big_form`, else the
    /// kind's default. Every real provider defaults to `dict`, the form after which a current
    /// phone still shows a notification (iOS: "too long"; Android: its generic one, issue 15);
    /// `log` records pushes for tests and keeps the spec's JSON form.
    pub fn too_big_form(&self) -> TooBigForm {
        let (set, default) = match self {
            ServiceConfig::Apns(c) => (c.too_big_form, TooBigForm::Dict),
            ServiceConfig::Fcm(c) => (c.too_big_form, TooBigForm::Dict),
            ServiceConfig::Hms(c) => (c.too_big_form, TooBigForm::Dict),
            ServiceConfig::Log(c) => (c.too_big_form, TooBigForm::Json),
        };
        set.unwrap_or(default)
    }

    /// Breaker threshold (share of configuration-type invalid verdicts).
    pub fn breaker_threshold(&self) -> f64 {
        match self {
            ServiceConfig::Apns(c) => c.breaker_threshold,
            ServiceConfig::Fcm(c) => c.breaker_threshold,
            ServiceConfig::Hms(c) => c.breaker_threshold,
            ServiceConfig::Log(c) => c.breaker_threshold,
        }
    }
}
