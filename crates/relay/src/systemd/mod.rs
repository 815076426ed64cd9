//! The systemd service protocol (`Type=notify`, `WatchdogSec=`), spoken without libsystemd.
//!
//! **Owns:** reading `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, and sending `READY=1`,
//! `WATCHDOG=1` and `STOPPING=1` datagrams to the notify socket (sd_notify(3)).
//! **Must not:** decide when the relay is ready or stopping: [`crate::app`] says so, and the
//! watchdog only proves the runtime still schedules tasks.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) everything here is a no-op. A failed send is logged,
//! never fatal: the relay serves the same with or without a service manager watching.

mod error;

use std::collections::HashMap;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use error::SystemdError;

/// The environment variables this module reads (sd_notify(3), sd_watchdog_enabled(3)).
const ENV_KEYS: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// A handle on the service manager's notify socket.
#[derive(Debug, Clone)]
pub struct SdNotify {
    addr: SocketAddr,
    watchdog: Option<Duration>,
}

impl SdNotify {
    /// Reads the process environment; `Ok(None)` when not started by systemd with `Type=notify`.
    pub fn from_env() -> Result<Option<SdNotify>, SystemdError> {
        let env: HashMap<String, String> = ENV_KEYS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        Self::from_env_map(&env)
    }

    /// The pure core of [`SdNotify::from_env`]: the same rules over a map (tests pass their own).
    ///
    /// The watchdog is enabled when `WATCHDOG_USEC` is set and `WATCHDOG_PID` is absent or names
    /// this process (a forked child must not inherit its parent's watchdog).
    pub fn from_env_map(env: &HashMap<String, String>) -> Result<Option<SdNotify>, SystemdError> {
        let Some(socket) = env.get("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let addr = socket_addr(socket)?;
        let for_us = env
            .get("WATCHDOG_PID")
            .is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = match env.get("WATCHDOG_USEC") {
            Some(usec) if for_us => Some(watchdog_period(usec)?),
            _ => None,
        };
        Ok(Some(SdNotify { addr, watchdog }))
    }

    /// How often [`SdNotify::supervise`] pings: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    /// recommends. `None` when systemd asked for no watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|period| period / 2)
    }

    /// Sends one state string (`"READY=1"`, `"STATUS=…"`; several may be joined with `\n`).
    pub fn notify(&self, state: &str) -> Result<(), SystemdError> {
        // A fresh unbound socket per message, as libsystemd does: nothing to keep open, and a
        // restarted manager (daemon-reexec) is reached at the same address.
        let socket = UnixDatagram::unbound().map_err(SystemdError::Send)?;
        socket.set_nonblocking(true).map_err(SystemdError::Send)?;
        socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map_err(SystemdError::Send)?;
        Ok(())
    }

    /// Tells systemd that start-up is complete: the listeners are bound and the store is open.
    pub fn ready(&self) -> Result<(), SystemdError> {
        self.notify("READY=1\nSTATUS=serving")
    }

    /// Tells systemd that a graceful shutdown has begun.
    pub fn stopping(&self) -> Result<(), SystemdError> {
        self.notify("STOPPING=1\nSTATUS=shutting down")
    }

    /// Sends `WATCHDOG=1` every [`SdNotify::watchdog_interval`] until `shutdown`, then
    /// `STOPPING=1`. The pings come from a task on the relay's runtime, so a runtime that stops
    /// scheduling tasks stops pinging and systemd restarts the service.
    pub async fn supervise(self, shutdown: CancellationToken) {
        match self.watchdog_interval() {
            Some(every) => {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        _ = ticks.tick() => log_failure(self.notify("WATCHDOG=1"), "WATCHDOG=1"),
                    }
                }
            }
            None => shutdown.cancelled().await,
        }
        log_failure(self.stopping(), "STOPPING=1");
    }
}

/// For [`crate::app`]: when run by systemd, sends `READY=1` now and spawns
/// [`SdNotify::supervise`]; otherwise does nothing. Call it once start-up is complete.
pub fn announce_ready(shutdown: &CancellationToken) {
    let sd = match SdNotify::from_env() {
        Ok(Some(sd)) => sd,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "systemd notification disabled");
            return;
        }
    };
    log_failure(sd.ready(), "READY=1");
    tracing::info!(watchdog = ?sd.watchdog_interval(), "told systemd we are ready");
    tokio::spawn(
        sd.supervise(shutdown.clone())
            .instrument(tracing::info_span!("systemd")),
    );
}

fn log_failure(result: Result<(), SystemdError>, what: &'static str) {
    if let Err(e) = result {
        tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "systemd {what} not sent");
    }
}

/// `/run/systemd/notify` is a path; `@name` is a Linux abstract-namespace name (sd_notify(3)).
fn socket_addr(socket: &str) -> Result<SocketAddr, SystemdError> {
    if socket.starts_with('/') {
        return SocketAddr::from_pathname(socket).map_err(SystemdError::BadSocketAddress);
    }
    match socket.strip_prefix('@') {
        Some(name) => abstract_addr(name),
        None => Err(SystemdError::UnsupportedSocket),
    }
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &str) -> Result<SocketAddr, SystemdError> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name).map_err(SystemdError::BadSocketAddress)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_name: &str) -> Result<SocketAddr, SystemdError> {
    Err(SystemdError::UnsupportedSocket)
}

fn watchdog_period(usec: &str) -> Result<Duration, SystemdError> {
    match usec.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_micros(n)),
        _ => Err(SystemdError::BadWatchdogUsec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::env;

    #[test]
    fn absent_or_empty_socket_means_not_under_systemd() {
        assert!(SdNotify::from_env_map(&env(&[])).unwrap().is_none());
        let empty = env(&[("NOTIFY_SOCKET", ""), ("WATCHDOG_USEC", "1")]);
        assert!(SdNotify::from_env_map(&empty).unwrap().is_none());
    }

    #[test]
    fn relative_and_vsock_sockets_are_rejected() {
        for bad in ["run/notify", "vsock:2:1234"] {
            let result = SdNotify::from_env_map(&env(&[("NOTIFY_SOCKET", bad)]));
            assert!(
                matches!(result, Err(SystemdError::UnsupportedSocket)),
                "{bad}"
            );
        }
    }

    #[test]
    fn watchdog_interval_is_half_of_watchdog_usec() {
        let sd = SdNotify::from_env_map(&env(&[
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("WATCHDOG_USEC", "30000000"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(sd.watchdog_interval(), Some(Duration::from_secs(15)));
    }

    #[test]
    fn watchdog_for_another_pid_is_ignored() {
        let other = (std::process::id() + 1).to_string();
        let ours = std::process::id().to_string();
        let sd = |pid: &str| {
            SdNotify::from_env_map(&env(&[
                ("NOTIFY_SOCKET", "@relay-test"),
                ("WATCHDOG_USEC", "1000000"),
                ("WATCHDOG_PID", pid),
            ]))
            .unwrap()
            .unwrap()
        };
        assert_eq!(sd(&other).watchdog_interval(), None);
        assert_eq!(
            sd(&ours).watchdog_interval(),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn bad_watchdog_usec_is_an_error() {
        for bad in ["0", "-5", "soon"] {
            let result = SdNotify::from_env_map(&env(&[
                ("NOTIFY_SOCKET", "/run/systemd/notify"),
                ("WATCHDOG_USEC", bad),
            ]));
            assert!(
                matches!(result, Err(SystemdError::BadWatchdogUsec)),
                "{bad}"
            );
        }
    }
}
