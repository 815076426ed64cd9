//! `session-push-relay devnet`: the whole network in one process, a subscribe phase, a message
//! phase at a fixed rate, and a verdict on every push.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;

/// What `devnet` was asked for (DESIGN "Command line").
#[derive(Clone, Debug)]
pub struct Options {
    /// Fake storage nodes.
    pub nodes: usize,
    /// Swarms they form.
    pub swarms: usize,
    /// Simulated accounts.
    pub accounts: usize,
    /// Messages offered per second.
    pub rate: u32,
    /// How long messages are offered.
    pub duration: Duration,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
}

impl Options {
    /// A one-line error naming the flag when the numbers cannot make a network.
    pub fn validate(&self) -> Result<(), String> {
        if self.swarms == 0 {
            return Err("--swarms: at least 1".into());
        }
        if self.nodes < self.swarms {
            return Err(format!("--nodes: at least one per swarm ({})", self.swarms));
        }
        if self.accounts == 0 {
            return Err("--accounts: at least 1".into());
        }
        if self.rate == 0 {
            return Err("--rate: at least 1 message per second".into());
        }
        Ok(())
    }
}

/// Parses `--duration`: whole seconds, `10` or `10s`.
pub fn parse_secs(text: &str) -> Result<u64, String> {
    let digits = text.strip_suffix('s').unwrap_or(text);
    digits
        .parse()
        .map_err(|_| format!("expected whole seconds such as 10 or 10s, not {text:?}"))
}

/// Runs devnet with the relay settings of `config`; `Ok(true)` when every push checked out.
pub async fn run(config: Config, options: Options) -> anyhow::Result<bool> {
    let _ = (config, options);
    anyhow::bail!("not yet")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            nodes: 10,
            swarms: 2,
            accounts: 100,
            rate: 100,
            duration: Duration::from_secs(10),
            report: None,
        }
    }

    #[test]
    fn duration_takes_plain_seconds_or_an_s_suffix() {
        assert_eq!(parse_secs("10"), Ok(10));
        assert_eq!(parse_secs("5s"), Ok(5));
        assert!(parse_secs("5m").is_err());
        assert!(parse_secs("").is_err());
        assert!(parse_secs("-1").is_err());
    }

    #[test]
    fn options_that_cannot_make_a_network_name_the_flag() {
        assert_eq!(options().validate(), Ok(()));
        let bad = |o: Options| o.validate().unwrap_err();
        assert!(bad(Options {
            swarms: 0,
            ..options()
        })
        .starts_with("--swarms"));
        assert!(bad(Options {
            nodes: 1,
            ..options()
        })
        .starts_with("--nodes"));
        assert!(bad(Options {
            accounts: 0,
            ..options()
        })
        .starts_with("--accounts"));
        assert!(bad(Options {
            rate: 0,
            ..options()
        })
        .starts_with("--rate"));
    }
}
