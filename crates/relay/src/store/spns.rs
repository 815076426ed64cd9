//! Reading the upstream Session Push Notification Server's Postgres database (import-spns):
//! its `subscriptions` rows with their `sub_namespaces`, streamed one row at a time, read-only.
//!
//! Its schema (`spns/schema.pgsql`) changed over time: older databases lack `subaccount_tag` and
//! `subaccount_sig` (added by an upgrade script), and some still have `subkey_tag` (an earlier,
//! different group-auth scheme). The columns are looked up in `information_schema` first, and
//! an absent one reads as NULL.

use std::str::FromStr;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _};

/// How long connecting to the upstream database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The upstream columns that may be missing, by schema version.
const OPTIONAL_COLUMNS: [&str; 3] = ["subaccount_tag", "subaccount_sig", "subkey_tag"];
/// The upstream columns every version has.
const REQUIRED_COLUMNS: [&str; 10] = [
    "id",
    "account",
    "session_ed25519",
    "signature",
    "signature_ts",
    "want_data",
    "enc_key",
    "service",
    "svcid",
    "svcdata",
];

/// One upstream subscription, columns as stored (lengths unchecked).
#[derive(sqlx::FromRow)]
pub struct SpnsRow {
    /// `subscriptions.id`.
    pub id: i64,
    /// 33 bytes: prefix + key.
    pub account: Vec<u8>,
    /// 05 accounts: the Ed25519 key.
    pub session_ed25519: Option<Vec<u8>>,
    /// The subaccount token (36 bytes), NULL when absent or the column does not exist.
    pub subaccount_tag: Option<Vec<u8>>,
    /// The owner's signature over the token (64 bytes).
    pub subaccount_sig: Option<Vec<u8>>,
    /// The older scheme's subkey tag; this relay cannot verify such rows.
    pub subkey_tag: Option<Vec<u8>>,
    /// The client's MONITOR signature.
    pub signature: Vec<u8>,
    /// Unix seconds.
    pub signature_ts: i64,
    /// Whether pushes carry the message.
    pub want_data: bool,
    /// 32 bytes.
    pub enc_key: Vec<u8>,
    /// `apns`, `apns-sandbox`, `firebase`, `huawei`.
    pub service: String,
    /// The device token as upstream stored it.
    pub svcid: String,
    /// From `sub_namespaces`, ascending.
    pub namespaces: Vec<i16>,
}

impl std::fmt::Debug for SpnsRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the account, token, key or signature.
        write!(f, "SpnsRow(id={}, service={:?})", self.id, self.service)
    }
}

/// Why the upstream database cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SpnsError {
    /// Not a `postgres://` URL, or one sqlx cannot parse.
    #[error("--from is not a postgres:// URL")]
    Url,
    /// Connecting failed or timed out.
    #[error("cannot connect to the upstream database")]
    Unreachable(#[source] Option<sqlx::Error>),
    /// A table or column of the upstream schema is absent.
    #[error("the upstream database has no {0} (is this the push server's database?)")]
    Schema(String),
    /// A query failed while reading.
    #[error("reading the upstream database failed")]
    Db(#[source] sqlx::Error),
}

/// A connection to the upstream database and the query that reads it.
pub struct SpnsSource {
    conn: PgConnection,
    query: String,
}

impl SpnsSource {
    /// Connects to `url` and checks the schema.
    pub async fn connect(url: &str) -> Result<Self, SpnsError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(SpnsError::Url);
        }
        let options = PgConnectOptions::from_str(url).map_err(|_| SpnsError::Url)?;
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| SpnsError::Unreachable(None))?
            .map_err(|e| SpnsError::Unreachable(Some(e)))?;
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() \
               AND table_name IN ('subscriptions', 'sub_namespaces')",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(SpnsError::Db)?;
        let has =
            |table: &str, column: &str| columns.iter().any(|(t, c)| t == table && c == column);
        for column in REQUIRED_COLUMNS {
            if !has("subscriptions", column) {
                return Err(SpnsError::Schema(format!("subscriptions.{column}")));
            }
        }
        for column in ["subscription", "namespace"] {
            if !has("sub_namespaces", column) {
                return Err(SpnsError::Schema(format!("sub_namespaces.{column}")));
            }
        }
        let optional: Vec<String> = OPTIONAL_COLUMNS
            .iter()
            .map(|c| {
                if has("subscriptions", c) {
                    format!("s.{c}")
                } else {
                    format!("NULL::bytea AS {c}")
                }
            })
            .collect();
        Ok(SpnsSource {
            conn,
            query: select(&optional),
        })
    }

    /// Every upstream subscription, ordered by account (so one account's rows come together),
    /// streamed: rows are decoded as they arrive, never collected.
    pub fn rows(&mut self) -> BoxStream<'_, Result<SpnsRow, SpnsError>> {
        sqlx::query_as::<_, SpnsRow>(AssertSqlSafe(self.query.as_str()))
            .fetch(&mut self.conn)
            .map_err(SpnsError::Db)
            .boxed()
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// The one query: the namespaces of each row aggregated by the `sub_namespaces` primary key,
/// the optional columns as `s.<name>` or `NULL::bytea AS <name>` (fixed strings, no input).
fn select(optional: &[String]) -> String {
    format!(
        "SELECT s.id, s.account, s.session_ed25519, {}, s.signature, s.signature_ts, \
         s.want_data, s.enc_key, s.service::text AS service, s.svcid::text AS svcid, \
         COALESCE((SELECT array_agg(n.namespace ORDER BY n.namespace) FROM sub_namespaces n \
                   WHERE n.subscription = s.id), '{{}}'::smallint[]) AS namespaces \
         FROM subscriptions s ORDER BY s.account, s.service, s.svcid",
        optional.join(", ")
    )
}
