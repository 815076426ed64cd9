//! The statements both backends run. Postgres 15+ and SQLite 3.39+ accept each of them as
//! written (`$N` placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING`, `IS DISTINCT FROM`).
//!
//! "Live" means `sig_ts > $cutoff` with `cutoff = now − 14 days` (PROTOCOL §2.6), which keeps
//! the `sig_ts` index usable.

/// The columns a [`super::row::SubscriptionRow`] reads.
macro_rules! columns {
    () => {
        "account, service, token_sealed, enc_key_sealed, session_ed25519, subaccount_token, \
         subaccount_sig, signature, sig_ts, want_data, namespaces"
    };
}

/// Insert or replace one subscription; returns `upsert_outcome` (0 added, 1 renewed,
/// 2 monitor changed). An expired row that is replaced counts as added. Binds: $1 account,
/// $2 service, $3 token_hash, $4 token_sealed, $5 enc_key_sealed, $6 session_ed25519,
/// $7 subaccount_token, $8 subaccount_sig, $9 signature, $10 sig_ts, $11 want_data,
/// $12 namespaces, $13 cutoff, $14 changed_at (the writer's clock; Postgres's trigger replaces
/// it with the database's).
pub(super) const UPSERT: &str = "\
INSERT INTO subscriptions (account, service, token_hash, token_sealed, enc_key_sealed, \
    session_ed25519, subaccount_token, subaccount_sig, signature, sig_ts, want_data, namespaces, \
    upsert_outcome, changed_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $14) \
ON CONFLICT (account, service, token_hash) DO UPDATE SET \
    upsert_outcome = CASE \
        WHEN subscriptions.sig_ts <= $13 THEN 0 \
        WHEN subscriptions.namespaces <> excluded.namespaces \
          OR subscriptions.want_data <> excluded.want_data \
          OR subscriptions.subaccount_token IS DISTINCT FROM excluded.subaccount_token THEN 2 \
        ELSE 1 END, \
    enc_key_sealed = excluded.enc_key_sealed, \
    session_ed25519 = excluded.session_ed25519, \
    subaccount_token = excluded.subaccount_token, \
    subaccount_sig = excluded.subaccount_sig, \
    signature = excluded.signature, \
    sig_ts = excluded.sig_ts, \
    want_data = excluded.want_data, \
    namespaces = excluded.namespaces, \
    changed_at = excluded.changed_at \
RETURNING upsert_outcome";

/// Binds: $1 account, $2 service, $3 token_hash.
pub(super) const REMOVE: &str =
    "DELETE FROM subscriptions WHERE account = $1 AND service = $2 AND token_hash = $3";

/// Claims the row-key migration: sets `row_key_version` to $1 if it is lower, and locks the
/// marker row until the transaction ends (a second Postgres replica waits, then finds 0 rows).
/// Binds: $1 the current version.
pub(super) const CLAIM_ROW_KEY_VERSION: &str = "UPDATE store_meta SET value = $1 \
     WHERE name = 'row_key_version' AND value < $1";

/// A page of rows after the cursor, in key order (row values: Postgres, SQLite 3.15+).
/// Binds: $1 account, $2 service, $3 token_hash of the cursor; $4 page size.
pub(super) const REKEY_PAGE: &str = "SELECT account, service, token_hash, token_sealed \
     FROM subscriptions WHERE (account, service, token_hash) > ($1, $2, $3) \
     ORDER BY account, service, token_hash LIMIT $4";

/// Binds: $1 account, $2 service, $3 old token_hash, $4 new token_hash.
pub(super) const REKEY_ROW: &str = "UPDATE subscriptions SET token_hash = $4 \
     WHERE account = $1 AND service = $2 AND token_hash = $3";

/// Binds: $1 cutoff. Returns what a [`super::row::KeyRow`] reads.
pub(super) const DELETE_EXPIRED: &str =
    "DELETE FROM subscriptions WHERE sig_ts <= $1 RETURNING account, service, token_sealed";

/// Binds: $1 cutoff.
pub(super) const LIVE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM subscriptions WHERE sig_ts > $1"
);

/// Binds: $1 account, $2 cutoff.
pub(super) const FOR_ACCOUNT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM subscriptions WHERE account = $1 AND sig_ts > $2 ORDER BY service, token_hash"
);

/// Binds: $1 since (changed_at), $2 cutoff. What a [`super::row::ChangedRow`] reads.
pub(super) const CHANGED_SINCE: &str = concat!(
    "SELECT ",
    columns!(),
    ", changed_at FROM subscriptions WHERE changed_at >= $1 AND sig_ts > $2"
);

/// The newest `changed_at` (0 for an empty table).
pub(super) const LAST_CHANGE: &str = "SELECT COALESCE(MAX(changed_at), 0) FROM subscriptions";

/// Postgres only: now by the clock its `changed_at` trigger stamps rows with (0003_changed_at.sql).
pub(super) const PG_CHANGE_CLOCK: &str =
    "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint";

/// Binds: $1 cutoff.
pub(super) const COUNT_BY_SERVICE: &str = "SELECT service, COUNT(*) AS n FROM subscriptions \
     WHERE sig_ts > $1 GROUP BY service ORDER BY service";

/// Upsert outcome codes stored in `upsert_outcome`.
pub(super) const OUTCOME_ADDED: i16 = 0;
/// Renewed, nothing the storage servers see changed.
pub(super) const OUTCOME_RENEWED: i16 = 1;
/// Renewed with new namespaces, want_data or subaccount token.
pub(super) const OUTCOME_MONITOR_CHANGED: i16 = 2;
