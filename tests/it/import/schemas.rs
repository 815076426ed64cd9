//! What `import-spns` reads besides the current schema, and what it refuses: an older upstream
//! database (`subkey_tag`, no subaccount columns) into an SQLite store, a URL that is not
//! Postgres, a database that does not answer, one that is not upstream's.

use std::path::Path;

use devnet::clients::SimAccount;
use relay::crypto::{self, RelayKeys};
use relay::store;

use super::upstream::{self, assert_refused, assert_summary, Row, OLD_SCHEMA};
use crate::support::db::{self, Backend};
use crate::support::network::now;

/// A relay configuration in `dir`: SQLite, fresh keys, `firebase` of kind `log`.
fn relay_config(dir: &Path) -> String {
    let keys = dir.join("keys");
    RelayKeys::load_or_create(&keys).unwrap();
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[keys]\ndir = \"{}\"\n\n\
         [[services]]\nname = \"firebase\"\nkind = \"log\"\n",
        dir.join("relay.db").display(),
        keys.display()
    );
    let path = dir.join("relay.toml");
    std::fs::write(&path, toml).unwrap();
    path.to_str().unwrap().to_owned()
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test]
async fn an_older_upstream_schema_with_subkey_tag_imports_into_sqlite() {
    db::run(Backend::Postgres, |up| async move {
        crypto::init()?;
        let now = now();
        let alice = SimAccount::session(crypto::random_array());
        let token = format!("fcm{}", hex::encode(crypto::random_bytes(40)));
        let enc_key: [u8; 32] = crypto::random_array();
        let valid = Row::signed(&alice, "firebase", &token, enc_key, &[0, 2], true, now - 60);
        // The old group-auth scheme: cannot be verified by today's rules.
        let mut subkey = Row::signed(
            &SimAccount::session(crypto::random_array()),
            "firebase",
            &token,
            enc_key,
            &[0],
            true,
            now - 60,
        );
        subkey.subkey_tag = Some(crypto::random_array());
        // A group member's signature without the (absent) subaccount columns.
        let group = SimAccount::group_member(crypto::random_array(), crypto::random_array());
        let no_subaccount = Row::signed(&group, "firebase", &token, enc_key, &[11], true, now - 60);
        upstream::fill(up.url(), OLD_SCHEMA, &[valid, subkey, no_subaccount]).await?;

        let dir = tempfile::tempdir()?;
        let config = relay_config(dir.path());
        let args = ["--from", up.url(), "--config", config.as_str()];
        assert_summary(
            &upstream::import(&args).await,
            "added=1 updated=0 unchanged=0 expired=0 invalid=2",
        );
        assert_summary(
            &upstream::import(&[&args[..], &["--dry-run"]].concat()).await,
            "added=0 updated=0 unchanged=1 expired=0 invalid=2",
        );

        // Stored sealed, with the upstream signature, timestamp and enc_key.
        let key = RelayKeys::load_storage(&dir.path().join("keys"))?;
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let store = store::open(&url, 1, &key).await?;
        let held = store.for_account(&alice.account, now).await?;
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].sig_ts, now - 60);
        assert_eq!(
            held[0].signature.0,
            alice.monitor_signature(now - 60, true, &[0, 2])
        );
        assert_eq!(held[0].enc_key.0, enc_key);
        assert_eq!(held[0].namespaces, vec![0, 2]);
        assert_eq!(held[0].token.expose(), token);
        Ok(())
    })
    .await
    .unwrap();
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test]
async fn a_database_without_upstream_tables_is_refused() {
    db::run(Backend::Postgres, |empty| async move {
        let dir = tempfile::tempdir()?;
        let config = relay_config(dir.path());
        let output = upstream::import(&["--from", empty.url(), "--config", &config]).await;
        assert_refused(&output, "\u{0}");
        let (_, err) = upstream::texts(&output);
        assert!(err.contains("subscriptions"), "{err}");
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bad_or_unreachable_source_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = relay_config(dir.path());
    for from in [
        "mysql://root:hunter2@127.0.0.1/spns",
        "postgres://spns:hunter2@127.0.0.1:1/spns",
        "not a url",
    ] {
        let output = upstream::import(&["--from", from, "--config", &config]).await;
        assert_refused(&output, "hunter2");
    }
    // Nothing was written: the relay's database was never opened.
    assert!(!dir.path().join("relay.db").exists());
}
