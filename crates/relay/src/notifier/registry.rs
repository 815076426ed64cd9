//! Builds the configured services once at startup (app.rs calls [`build_services`]).

use std::sync::Arc;

use super::{Apns, Fcm, Hms, LogNotifier, Notifier, NotifyError, Provider, Services};
use crate::config::ServiceConfig;
use crate::subscription::{DeviceToken, ServiceCatalog};

/// One notifier per `[[services]]` table, credentials loaded and checked now: a bad key file
/// is an error naming the service and the file, not a failure at the first push.
pub async fn build_services(configs: &[ServiceConfig]) -> Result<Services, NotifyError> {
    let mut services = Services::new();
    for config in configs {
        let notifier: Arc<dyn Notifier> = match config {
            ServiceConfig::Apns(c) => Arc::new(Provider::Apns(Apns::new(c)?)),
            ServiceConfig::Fcm(c) => Arc::new(Provider::Fcm(Fcm::new(c)?)),
            ServiceConfig::Hms(c) => Arc::new(Provider::Hms(Hms::new(c)?)),
            ServiceConfig::Log(c) => Arc::new(LogNotifier::new(&c.name)),
        };
        services.insert(config.name(), notifier);
    }
    Ok(services)
}

/// Requests name a service and carry a token; each service's notifier knows its token rule.
impl ServiceCatalog for Services {
    fn service(&self, name: &str) -> Option<Arc<str>> {
        self.get(name).map(|(name, _)| name.clone())
    }

    fn validate_token(&self, service: &str, token: &str) -> Result<DeviceToken, String> {
        match self.get(service) {
            Some((_, notifier)) => notifier.validate(token),
            None => Err(format!(
                "{service} notification service not currently available"
            )),
        }
    }
}
