//! Builds the configured services once at startup (app.rs calls [`build_services`]).

use std::sync::Arc;

use super::{Apns, Fcm, Hms, NotifyError, Services};
use crate::config::ServiceConfig;

/// One notifier per `[[services]]` table, credentials loaded and checked now: a bad key file
/// is an error naming the service and the file, not a failure at the first push.
pub async fn build_services(configs: &[ServiceConfig]) -> Result<Services, NotifyError> {
    let mut services = Services::new();
    for config in configs {
        match config {
            ServiceConfig::Apns(c) => services.insert(&c.name, Arc::new(Apns::new(c)?)),
            ServiceConfig::Fcm(c) => services.insert(&c.name, Arc::new(Fcm::new(c)?)),
            ServiceConfig::Hms(c) => services.insert(&c.name, Arc::new(Hms::new(c)?)),
            // TODO(providers): `LogNotifier` lives in notifier/log.rs (engineer "api"); its arm
            // is added when that file is merged.
            ServiceConfig::Log(c) => {
                tracing::warn!(service = %c.name, "log services are not built here yet");
            }
        }
    }
    Ok(services)
}
