//! A service stopped by a configuration error (FCM `SENDER_ID_MISMATCH`: the relay's key is for
//! another project). Such an answer is never "token invalid": nothing is deleted, deliveries for
//! the service stop for [`HALT`] (answered without a request), an alert metric is raised, and
//! after the pause one push probes again; a delivered push clears the alert.

use std::sync::Mutex;

use tokio::time::{Duration, Instant};

use super::Verdict;

/// How long a service stays stopped after a configuration error before it probes again.
pub(crate) const HALT: Duration = Duration::from_secs(60);

use crate::admin::metrics::SERVICE_CONFIG_ERROR as METRIC;

/// The stop state of one service.
pub(crate) struct Halt {
    service: String,
    until: Mutex<Option<Instant>>,
}

impl Halt {
    /// A running (not stopped) service.
    pub(crate) fn new(service: &str) -> Self {
        metrics::gauge!(METRIC, "service" => service.to_owned()).set(0.0);
        Halt {
            service: service.to_owned(),
            until: Mutex::new(None),
        }
    }

    /// `Some(drop verdict)` while stopped: the caller sends nothing.
    pub(crate) fn check(&self, reason: &'static str) -> Option<Verdict> {
        let until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        until
            .filter(|t| Instant::now() < *t)
            .map(|_| Verdict::drop_alert(reason))
    }

    /// Records a send's verdict: a configuration error stops the service, a delivery clears it.
    pub(crate) fn record(&self, verdict: &Verdict, config_error: &str) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        match verdict {
            Verdict::Drop { reason, .. } if *reason == config_error => {
                if until.is_none() {
                    tracing::error!(service = %self.service, reason, "configuration error: deliveries stopped, nothing deleted");
                }
                *until = Some(Instant::now() + HALT);
                metrics::gauge!(METRIC, "service" => self.service.clone()).set(1.0);
            }
            Verdict::Delivered if until.is_some() => {
                *until = None;
                metrics::gauge!(METRIC, "service" => self.service.clone()).set(0.0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stops_for_a_minute_then_probes_and_clears_on_delivery() {
        let halt = Halt::new("firebase");
        assert_eq!(halt.check("X"), None);
        halt.record(&Verdict::drop_alert("X"), "X");
        assert_eq!(halt.check("X"), Some(Verdict::drop_alert("X")));
        tokio::time::advance(HALT).await;
        assert_eq!(halt.check("X"), None, "probe after the pause");
        halt.record(&Verdict::Delivered, "X");
        assert_eq!(halt.check("X"), None);
        halt.record(&Verdict::drop_alert("other"), "X");
        assert_eq!(halt.check("X"), None, "other drops do not stop the service");
    }
}
