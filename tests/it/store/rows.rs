//! The row key (account, service, token) (issue 16): rows written under the old key of
//! (service, token) are re-keyed once at start, and two accounts on one device share no
//! device-derived column value.

use std::path::Path;
use std::str::FromStr;

use relay::crypto::{self, StorageKey};
use relay::store::Sealer;
use relay::subscription::Subscription;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::PgPool;

use super::{contains, KEY};
use crate::support::db::{Backend, TestDb};
use crate::support::fixtures::{account, apns_token, subscription, NOW};

/// Runs `$body` with `$pool` bound to a pool of `$db`'s backend (the statements are written once
/// and type-check against each backend's pool).
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.backend() {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str($db.url())?.create_if_missing(true);
                let $pool = SqlitePool::connect_with(options).await?;
                let out = $body;
                $pool.close().await;
                out
            }
            Backend::Postgres => {
                let $pool = PgPool::connect($db.url()).await?;
                let out = $body;
                $pool.close().await;
                out
            }
        }
    };
}

/// The row key before migration 0002: a keyed BLAKE2b of (service, token) only, as
/// `Sealer::token_hash` computed it then.
fn old_token_hash(key: &StorageKey, service: &str, token: &str) -> [u8; 32] {
    let hash_key: [u8; 32] = crypto::blake2b_keyed(&key.0, &[b"session-push-relay token lookup"]);
    let len = (service.len() as u32).to_le_bytes();
    crypto::blake2b_keyed(&hash_key, &[&len, service.as_bytes(), token.as_bytes()])
}

/// A directory holding only migration 0001 of `backend` (same file, so same checksum).
fn first_migration_only(backend: Backend) -> anyhow::Result<tempfile::TempDir> {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = tempfile::tempdir()?;
    let file = "0001_subscriptions.sql";
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(name);
    std::fs::copy(source.join(file), dir.path().join(file))?;
    Ok(dir)
}

const INSERT_OLD_ROW: &str = "INSERT INTO subscriptions (account, service, token_hash, \
     token_sealed, enc_key_sealed, signature, sig_ts, want_data, namespaces) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Every row's (account, token_hash), as [`ROW_KEYS`] returns them.
type RowKeys = Vec<(Vec<u8>, Vec<u8>)>;

/// Every row's (account, token_hash).
const ROW_KEYS: &str = "SELECT account, token_hash FROM subscriptions ORDER BY account";

pub(super) async fn old_rows_are_rekeyed_once(db: TestDb) -> anyhow::Result<()> {
    // A database as the relay left it before migration 0002: one device on three accounts,
    // all three rows with the same token_hash.
    let sealer = Sealer::new(&KEY);
    let token = apns_token(1);
    let subs: Vec<Subscription> = (1..=3)
        .map(|n| subscription(account(n), "apns", &token))
        .collect();
    let migrations = first_migration_only(db.backend())?;
    with_pool!(db, |pool| {
        sqlx::migrate::Migrator::new(migrations.path())
            .await?
            .run(&pool)
            .await?;
        for sub in &subs {
            sqlx::query(INSERT_OLD_ROW)
                .bind(sub.account.as_bytes().as_slice())
                .bind(&*sub.service)
                .bind(old_token_hash(&KEY, &sub.service, token.expose()).as_slice())
                .bind(sealer.seal(token.expose()))
                .bind(sealer.seal_bytes(sub.enc_key.expose()))
                .bind(sub.signature.expose().as_slice())
                .bind(sub.sig_ts)
                .bind(sub.want_data)
                .bind([0u8, 0, 0, 1].as_slice())
                .execute(&pool)
                .await?;
        }
    });

    // First start: migration 0002 and the re-keying.
    let store = db.open(&KEY).await?;
    let (keys, version): (RowKeys, i64) = with_pool!(db, |pool| {
        let keys = sqlx::query_as(ROW_KEYS).fetch_all(&pool).await?;
        let version =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE name = 'row_key_version'")
                .fetch_one(&pool)
                .await?;
        (keys, version)
    });
    assert_eq!(version, 2);
    assert_eq!(keys.len(), 3);
    for (sub, (stored_account, stored_hash)) in subs.iter().zip(&keys) {
        assert_eq!(stored_account.as_slice(), sub.account.as_bytes());
        let expected = sealer.token_hash(&sub.account, "apns", token.expose());
        assert_eq!(stored_hash.as_slice(), expected.as_slice(), "re-keyed");
    }
    // Still found: read back, and removable under the new key.
    for sub in &subs {
        let back = store.for_account(&sub.account, NOW).await?;
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].token, token);
        assert_eq!(back[0].enc_key, sub.enc_key);
    }
    assert!(store.remove(&subs[0].key()).await?);
    drop(store);

    // Second start: nothing is re-keyed again. A row set back to its old key stays so (were
    // the re-keying run again, it would be rewritten).
    let old = old_token_hash(&KEY, "apns", token.expose());
    let second = subs[1].account;
    with_pool!(db, |pool| {
        sqlx::query("UPDATE subscriptions SET token_hash = $1 WHERE account = $2")
            .bind(old.as_slice())
            .bind(second.as_bytes().as_slice())
            .execute(&pool)
            .await?;
    });
    let store = db.open(&KEY).await?;
    let keys: RowKeys = with_pool!(db, |pool| sqlx::query_as(ROW_KEYS).fetch_all(&pool).await?);
    let stored = keys
        .iter()
        .find(|(a, _)| a.as_slice() == second.as_bytes())
        .map(|(_, h)| h.clone());
    assert_eq!(
        stored.as_deref(),
        Some(old.as_slice()),
        "re-keyed only once"
    );
    drop(store);
    Ok(())
}

/// Every column of every row, as bytes (text as UTF-8, integers and booleans as text), with
/// the column's name.
const ROWS_AS_BYTES: &str = "SELECT account, token_hash, token_sealed, enc_key_sealed, \
     session_ed25519, subaccount_token, subaccount_sig, signature, namespaces, \
     service, CAST(sig_ts AS TEXT) AS sig_ts, CAST(want_data AS TEXT) AS want_data \
     FROM subscriptions ORDER BY account";

/// Columns a device determines (the rest come from the account or the request).
const DEVICE_COLUMNS: [&str; 3] = ["token_hash", "token_sealed", "enc_key_sealed"];

type Row = Vec<(String, Vec<u8>)>;

async fn rows_as_bytes(db: &TestDb) -> anyhow::Result<Vec<Row>> {
    use sqlx::{Column as _, Row as _, ValueRef as _};
    Ok(with_pool!(db, |pool| {
        let rows = sqlx::query(ROWS_AS_BYTES).fetch_all(&pool).await?;
        let mut out = Vec::new();
        for row in &rows {
            let mut columns = Vec::new();
            for (i, column) in row.columns().iter().enumerate() {
                if row.try_get_raw(i)?.is_null() {
                    continue;
                }
                let bytes = match column.name() {
                    "service" | "sig_ts" | "want_data" => row.try_get::<String, _>(i)?.into_bytes(),
                    _ => row.try_get::<Vec<u8>, _>(i)?,
                };
                columns.push((column.name().to_owned(), bytes));
            }
            out.push(columns);
        }
        out
    }))
}

pub(super) async fn one_device_on_two_accounts_is_unlinkable(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    // One device (token and enc_key) subscribed for a Session ID and a group.
    let token = apns_token(4);
    let own = subscription(account(1), "apns", &token);
    let mut group = subscription(account(2), "apns", &token);
    group.enc_key = own.enc_key;
    group.session_ed25519 = Some([0x44; 32]);
    for sub in [&own, &group] {
        store.upsert(sub, NOW).await?;
    }
    drop(store);

    let rows = rows_as_bytes(&db).await?;
    assert_eq!(rows.len(), 2);
    for (this, other) in [(&rows[0], &rows[1]), (&rows[1], &rows[0])] {
        for (name, value) in this
            .iter()
            .filter(|(n, _)| DEVICE_COLUMNS.contains(&n.as_str()))
        {
            for (other_name, other_value) in other {
                assert_ne!(
                    value, other_value,
                    "{name} of one account's row equals {other_name} of the other's"
                );
            }
        }
    }
    assert!(
        rows.iter()
            .all(|r| DEVICE_COLUMNS.iter().all(|c| r.iter().any(|(n, _)| n == c))),
        "every device column was compared (a check of the test itself)"
    );

    // Nowhere in the dump (every Postgres row as text; the SQLite files' raw bytes).
    let dump = db.raw_dump().await?;
    let mut flat: Vec<u8> = rows.iter().flatten().flat_map(|(_, v)| v.clone()).collect();
    flat.extend(&dump);
    for needle in [
        token.expose().as_bytes().to_vec(),
        hex::decode(token.expose())?,
        own.enc_key.expose().to_vec(),
        hex::encode(own.enc_key.expose()).into_bytes(),
    ] {
        assert!(
            !contains(&flat, &needle),
            "the dump holds a token or enc_key"
        );
    }
    Ok(())
}
