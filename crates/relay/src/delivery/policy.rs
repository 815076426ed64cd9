//! Per-service delivery settings, taken from `[[services]]` and `[swarm]`.

use std::collections::HashMap;
use std::time::Duration;

use super::dedup::DEFAULT_SET_CAP;
use super::payload::NoDataForm;
use crate::config::{
    ApnsMetadataForm, Config, ServiceConfig, ServiceLimits, DEFAULT_BREAKER_THRESHOLD,
};

/// How long shutdown waits for queued pushes to drain.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What dispatch needs to know about one service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServicePolicy {
    /// Queue, concurrency, retry and timeout limits.
    pub limits: ServiceLimits,
    /// Share of configuration-reason invalid verdicts that opens the breaker.
    pub breaker_threshold: f64,
    /// Metadata form when the payload has no data element (PROTOCOL §10.2).
    pub no_data_form: NoDataForm,
}

impl ServicePolicy {
    /// Defaults for a provider kind (`apns` gets the dict form, PROTOCOL §10.2).
    pub fn for_kind(kind: &str) -> Self {
        ServicePolicy {
            limits: ServiceLimits::default(),
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            no_data_form: if kind == "apns" {
                NoDataForm::Dict
            } else {
                NoDataForm::Json
            },
        }
    }

    /// The settings of one `[[services]]` table.
    pub fn from_service(service: &ServiceConfig) -> Self {
        let no_data_form = match service {
            ServiceConfig::Apns(c) => match c.metadata_form {
                ApnsMetadataForm::Dict => NoDataForm::Dict,
                ApnsMetadataForm::Json => NoDataForm::Json,
            },
            _ => NoDataForm::Json,
        };
        ServicePolicy {
            limits: service.limits(),
            breaker_threshold: service.breaker_threshold(),
            no_data_form,
        }
    }
}

/// Settings of the whole delivery task.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// De-dup window (`[swarm] dedup_window_secs`).
    pub dedup_window: Duration,
    /// Filter keys per de-dup set before it rotates early.
    pub dedup_cap: usize,
    /// Settings per service name; a service missing here gets [`ServicePolicy::for_kind`].
    pub services: HashMap<String, ServicePolicy>,
    /// How long shutdown waits for queued pushes.
    pub shutdown_grace: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            dedup_window: Duration::from_secs(600),
            dedup_cap: DEFAULT_SET_CAP,
            services: HashMap::new(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl DeliveryConfig {
    /// The settings from the relay's configuration.
    pub fn from_config(config: &Config) -> Self {
        DeliveryConfig {
            dedup_window: Duration::from_secs(config.swarm.dedup_window_secs.max(1)),
            services: config
                .services
                .iter()
                .map(|s| (s.name().to_string(), ServicePolicy::from_service(s)))
                .collect(),
            ..DeliveryConfig::default()
        }
    }
}
