//! The import loop: stream upstream rows, classify each, compare with what the relay holds,
//! write what is new or changed, count everything.

use std::fmt;
use std::sync::Arc;

use futures::StreamExt as _;

use super::{classify, Class, ImportError, Progress};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::RelayKeys;
use crate::notifier;
use crate::store::spns::SpnsSource;
use crate::store::{self, Store};
use crate::subscription::{AccountId, Subscription};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The upstream database, `postgres://…`.
    pub from: String,
    /// Count what would happen, write nothing.
    pub dry_run: bool,
}

/// The figures of one import, printed as its last line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Valid rows the relay did not hold.
    pub added: u64,
    /// Valid rows the relay held with other fields (key, signature, namespaces…).
    pub updated: u64,
    /// Valid rows the relay held already, identical or newer (a later `/subscribe` wins).
    pub unchanged: u64,
    /// Rows whose signature is 14 days old or older.
    pub expired: u64,
    /// Rows a `/subscribe` would refuse, or for a service not configured here.
    pub invalid: u64,
}

impl Summary {
    /// Rows read in total.
    pub fn read(&self) -> u64 {
        self.added + self.updated + self.unchanged + self.expired + self.invalid
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "added={} updated={} unchanged={} expired={} invalid={}",
            self.added, self.updated, self.unchanged, self.expired, self.invalid
        )
    }
}

/// What to do with a valid row, given what the relay holds for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Update,
    Keep,
}

fn action(held: Option<&Subscription>, row: &Subscription) -> Action {
    match held {
        None => Action::Add,
        // The relay's row is newer (the app re-registered here already): keep it.
        Some(held) if held.sig_ts > row.sig_ts => Action::Keep,
        Some(held) if held == row => Action::Keep,
        Some(_) => Action::Update,
    }
}

/// The relay's subscriptions of the account being imported: upstream rows come ordered by
/// account, so each account's rows are read from the store once.
struct Held {
    account: Option<AccountId>,
    subs: Vec<Subscription>,
}

impl Held {
    async fn get(
        &mut self,
        store: &dyn Store,
        sub: &Subscription,
        now: i64,
    ) -> Result<Option<&Subscription>, ImportError> {
        if self.account != Some(sub.account) {
            self.subs = store.for_account(&sub.account, now).await?;
            self.account = Some(sub.account);
        }
        Ok(self
            .subs
            .iter()
            .find(|h| h.service == sub.service && h.token == sub.token))
    }

    /// Records a write, so a second upstream row with the same normalised token compares
    /// against it.
    fn put(&mut self, sub: &Subscription) {
        self.subs
            .retain(|h| !(h.service == sub.service && h.token == sub.token));
        self.subs.push(sub.clone());
    }
}

/// Runs an import with `config`'s store, keys and services.
pub async fn run(
    options: &ImportOptions,
    config: &Config,
    clock: Clock,
    progress: &mut Progress,
) -> Result<Summary, ImportError> {
    crate::crypto::init()?;
    // Upstream first: a wrong URL fails before anything of the relay's is touched.
    let mut upstream = SpnsSource::connect(&options.from).await?;
    let storage_key = RelayKeys::load_storage(&config.keys.dir)?;
    let services = Arc::new(notifier::build_services(&config.services).await?);
    let store = store::open(
        config.database.url.expose(),
        config.database.max_connections,
        &storage_key,
    )
    .await?;
    let mut summary = Summary::default();
    let mut held = Held {
        account: None,
        subs: Vec::new(),
    };
    let mut rows = upstream.rows();
    while let Some(row) = rows.next().await {
        let row = row?;
        let now = clock.now();
        match classify(&row, now, services.as_ref()) {
            Class::Expired => summary.expired += 1,
            Class::Invalid(reason) => {
                tracing::debug!(row = row.id, service = %row.service, %reason, "invalid row");
                summary.invalid += 1;
            }
            Class::Valid(sub) => {
                let action = action(held.get(store.as_ref(), &sub, now).await?, &sub);
                match action {
                    Action::Keep => summary.unchanged += 1,
                    Action::Add => summary.added += 1,
                    Action::Update => summary.updated += 1,
                }
                if action != Action::Keep && !options.dry_run {
                    store.upsert(&sub, now).await?;
                    held.put(&sub);
                }
            }
        }
        progress.tick(summary.read());
    }
    drop(rows);
    upstream.close().await;
    progress.finish(summary.read());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::{DeviceToken, EncKey, Signature};

    fn sub(sig_ts: i64, enc: u8) -> Subscription {
        Subscription {
            account: AccountId([5; 33]),
            session_ed25519: Some([1; 32]),
            subaccount: None,
            signature: Signature([2; 64]),
            sig_ts,
            namespaces: vec![0],
            want_data: true,
            service: "apns".into(),
            token: DeviceToken::new("ab".repeat(32)),
            enc_key: EncKey([enc; 32]),
        }
    }

    #[test]
    fn actions_by_what_the_relay_holds() {
        assert_eq!(action(None, &sub(10, 1)), Action::Add);
        assert_eq!(action(Some(&sub(10, 1)), &sub(10, 1)), Action::Keep);
        assert_eq!(action(Some(&sub(10, 1)), &sub(10, 2)), Action::Update);
        assert_eq!(action(Some(&sub(10, 1)), &sub(11, 1)), Action::Update);
        assert_eq!(action(Some(&sub(12, 1)), &sub(11, 2)), Action::Keep);
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            added: 1,
            updated: 2,
            unchanged: 3,
            expired: 4,
            invalid: 5,
        };
        assert_eq!(
            s.to_string(),
            "added=1 updated=2 unchanged=3 expired=4 invalid=5"
        );
        assert_eq!(s.read(), 15);
    }
}
