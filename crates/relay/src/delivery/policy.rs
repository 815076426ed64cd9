//! Per-service delivery settings, taken from `[[services]]` and `[swarm]`.

use std::collections::HashMap;
use std::time::Duration;

use super::dedup::DEFAULT_SET_CAP;
use super::payload::NoDataForm;
use crate::config::{Config, ServiceConfig, ServiceLimits, TooBigForm, DEFAULT_BREAKER_THRESHOLD};

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
    /// Defaults for a provider kind: the dict form for every real provider, JSON for `log`
    /// (see [`ServiceConfig::too_big_form`]).
    pub fn for_kind(kind: &str) -> Self {
        ServicePolicy {
            limits: ServiceLimits::default(),
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            no_data_form: match kind {
                "apns" | "fcm" | "hms" => NoDataForm::Dict,
                _ => NoDataForm::Json,
            },
        }
    }

    /// The settings of one `[[services]]` table.
    pub fn from_service(service: &ServiceConfig) -> Self {
        let no_data_form = match service.too_big_form() {
            TooBigForm::Dict => NoDataForm::Dict,
            TooBigForm::Json => NoDataForm::Json,
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn policies(toml: &str) -> HashMap<String, ServicePolicy> {
        let config = Config::load_from(Some(toml), HashMap::new()).unwrap();
        DeliveryConfig::from_config(&config).services
    }

    #[test]
    fn every_real_provider_defaults_to_the_dict_form_and_each_can_choose() {
        for kind in ["apns", "fcm", "hms"] {
            assert_eq!(ServicePolicy::for_kind(kind).no_data_form, NoDataForm::Dict);
        }
        assert_eq!(
            ServicePolicy::for_kind("log").no_data_form,
            NoDataForm::Json
        );
        let p = policies(
            "[[services]]\nname = \"a\"\nkind = \"log\"\ntoo_big_form = \"dict\"\n\n\
             [[services]]\nname = \"b\"\nkind = \"log\"\n",
        );
        assert_eq!(p["a"].no_data_form, NoDataForm::Dict);
        assert_eq!(p["b"].no_data_form, NoDataForm::Json);
    }
}
