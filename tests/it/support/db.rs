//! Fresh databases for store tests: an SQLite file in a temporary directory, or a uniquely named
//! Postgres database created from `TEST_POSTGRES_URL` and dropped afterwards.
//!
//! Without `TEST_POSTGRES_URL` the Postgres tests are compiled `#[ignore = "needs …"]` (see the
//! root `build.rs`), so `cargo test` reports them as ignored; run anyway (`-- --ignored`), they
//! print a notice and pass. Under `CI=true` they are never ignored and panic here (a skipped
//! database test is a failure in CI).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures::FutureExt;
use relay::crypto::{self, StorageKey};
use relay::store::{self, Store};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the server at `TEST_POSTGRES_URL`.
    Postgres,
}

/// One fresh, empty database; clones share it.
#[derive(Clone)]
pub struct TestDb(Arc<Inner>);

struct Inner {
    url: String,
    place: Place,
}

enum Place {
    Sqlite { dir: tempfile::TempDir },
    Postgres { server_url: String, name: String },
}

/// Runs `case` on a fresh database of `backend`, then drops the database (even if `case` panics).
pub async fn run<F, Fut>(backend: Backend, case: F) -> anyhow::Result<()>
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    crypto::init()?;
    let Some(db) = TestDb::create(backend).await? else {
        return Ok(());
    };
    let outcome = AssertUnwindSafe(case(db.clone())).catch_unwind().await;
    db.destroy().await?;
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The Postgres server for tests, or `None` (with a notice) when none is configured outside CI.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but TEST_POSTGRES_URL is not set: Postgres tests cannot be skipped")
        }
        _ => {
            eprintln!("notice: TEST_POSTGRES_URL is not set; skipping a Postgres store test");
            None
        }
    }
}

impl TestDb {
    async fn create(backend: Backend) -> anyhow::Result<Option<TestDb>> {
        let inner = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("relay.db").display());
                Inner {
                    url,
                    place: Place::Sqlite { dir },
                }
            }
            Backend::Postgres => {
                let Some(server_url) = postgres_url() else {
                    return Ok(None);
                };
                let name = format!("relay_it_{}", hex::encode(crypto::random_bytes(8)));
                let mut admin = PgConnection::connect(&server_url)
                    .await
                    .context("cannot connect to TEST_POSTGRES_URL")?;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                Inner {
                    url: with_database(&server_url, &name),
                    place: Place::Postgres { server_url, name },
                }
            }
        };
        Ok(Some(TestDb(Arc::new(inner))))
    }

    async fn destroy(self) -> anyhow::Result<()> {
        self.drop_now().await
    }

    /// Drops a Postgres database now, closing every connection to it (a lost database while
    /// the relay runs); nothing for SQLite.
    pub async fn drop_now(&self) -> anyhow::Result<()> {
        if let Place::Postgres { server_url, name } = &self.0.place {
            let mut admin = PgConnection::connect(server_url).await?;
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::query(AssertSqlSafe(drop)).execute(&mut admin).await?;
            admin.close().await?;
        }
        Ok(())
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        match self.0.place {
            Place::Sqlite { .. } => Backend::Sqlite,
            Place::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The database URL, as `[database] url` would hold it.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// Opens the relay's store on this database with `key`.
    pub async fn open(&self, key: &StorageKey) -> anyhow::Result<Arc<dyn Store>> {
        Ok(store::open(self.url(), 4, key).await?)
    }

    /// Everything the database holds, as an attacker with a copy would see it: the SQLite files'
    /// bytes (database, WAL and shared memory), or every Postgres row as text (bytea as hex).
    pub async fn raw_dump(&self) -> anyhow::Result<Vec<u8>> {
        match &self.0.place {
            Place::Sqlite { dir } => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(dir.path())? {
                    let path: PathBuf = entry?.path();
                    bytes.extend(std::fs::read(&path)?);
                }
                Ok(bytes)
            }
            Place::Postgres { .. } => {
                let mut conn = PgConnection::connect(self.url()).await?;
                let rows: Vec<String> = sqlx::query_scalar("SELECT s::text FROM subscriptions s")
                    .fetch_all(&mut conn)
                    .await?;
                conn.close().await?;
                Ok(rows.join("\n").into_bytes())
            }
        }
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}
