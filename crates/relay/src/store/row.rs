//! The row shapes both backends share, and their conversion to and from the domain types.
//! Every column that came from the database is checked here: a bad length or a seal that does
//! not open is [`StoreError::Corrupt`], never a panic.

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use sqlx::{Database, Encode, Type};

use super::sql::{OUTCOME_ADDED, OUTCOME_MONITOR_CHANGED, OUTCOME_RENEWED};
use super::{Sealer, StoreError, Upsert};
use crate::subscription::{
    AccountId, DeviceToken, EncKey, Signature, SubaccountAuth, Subscription, SubscriptionKey,
};

/// Streams `rows` through `decode`, database errors as [`StoreError`]s (the streaming reads).
pub(super) fn decoded<'a, R, T>(
    rows: BoxStream<'a, Result<R, sqlx::Error>>,
    decode: impl Fn(R) -> Result<T, StoreError> + Send + 'a,
) -> BoxStream<'a, Result<T, StoreError>>
where
    R: Send + 'a,
    T: Send + 'a,
{
    rows.map_err(StoreError::from)
        .and_then(move |row| futures::future::ready(decode(row)))
        .boxed()
}

/// A subscription as stored (the columns of `sql::columns!`).
#[derive(sqlx::FromRow)]
pub(super) struct SubscriptionRow {
    account: Vec<u8>,
    service: String,
    token_sealed: Vec<u8>,
    enc_key_sealed: Vec<u8>,
    session_ed25519: Option<Vec<u8>>,
    subaccount_token: Option<Vec<u8>>,
    subaccount_sig: Option<Vec<u8>>,
    signature: Vec<u8>,
    sig_ts: i64,
    want_data: bool,
    namespaces: Vec<u8>,
}

impl SubscriptionRow {
    /// Opens the sealed columns and checks every length.
    pub(super) fn decode(self, sealer: &Sealer) -> Result<Subscription, StoreError> {
        let subaccount = match (self.subaccount_token, self.subaccount_sig) {
            (None, None) => None,
            (Some(token), Some(sig)) => Some(SubaccountAuth {
                token: fixed(&token, "subaccount_token")?,
                signature: Signature(fixed(&sig, "subaccount_sig")?),
            }),
            _ => return Err(StoreError::Corrupt("subaccount token without signature")),
        };
        let enc_key = sealer
            .open_bytes(&self.enc_key_sealed)
            .ok_or(StoreError::Corrupt(
                "enc_key does not open with this storage key",
            ))?;
        Ok(Subscription {
            account: account(&self.account)?,
            session_ed25519: self
                .session_ed25519
                .map(|k| fixed(&k, "session_ed25519"))
                .transpose()?,
            subaccount,
            signature: Signature(fixed(&self.signature, "signature")?),
            sig_ts: self.sig_ts,
            namespaces: unpack_namespaces(&self.namespaces)?,
            want_data: self.want_data,
            service: self.service.into(),
            token: open_token(sealer, &self.token_sealed)?,
            enc_key: EncKey(fixed(&enc_key, "enc_key")?),
        })
    }
}

/// A subscription with the time it was last written (`sql::CHANGED_SINCE`).
#[derive(sqlx::FromRow)]
pub(super) struct ChangedRow {
    #[sqlx(flatten)]
    row: SubscriptionRow,
    changed_at: i64,
}

impl ChangedRow {
    /// Decodes the subscription; the second value is `changed_at`.
    pub(super) fn decode(self, sealer: &Sealer) -> Result<(Subscription, i64), StoreError> {
        Ok((self.row.decode(sealer)?, self.changed_at))
    }
}

/// The identity columns `delete_expired` returns.
#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    account: Vec<u8>,
    service: String,
    token_sealed: Vec<u8>,
}

impl KeyRow {
    /// Opens the sealed token.
    pub(super) fn decode(self, sealer: &Sealer) -> Result<SubscriptionKey, StoreError> {
        Ok(SubscriptionKey {
            account: account(&self.account)?,
            service: Arc::from(self.service),
            token: open_token(sealer, &self.token_sealed)?,
        })
    }
}

/// The bind values of `sql::UPSERT`, sealed and encoded once.
pub(super) struct UpsertArgs<'a> {
    sub: &'a Subscription,
    token_hash: [u8; 32],
    token_sealed: Vec<u8>,
    enc_key_sealed: Vec<u8>,
    namespaces: Vec<u8>,
    cutoff: i64,
    now: i64,
}

impl<'a> UpsertArgs<'a> {
    /// Seals and encodes `sub` for an upsert at `now`.
    pub(super) fn new(sub: &'a Subscription, sealer: &Sealer, now: i64) -> Self {
        UpsertArgs {
            sub,
            token_hash: sealer.token_hash(&sub.account, &sub.service, sub.token.expose()),
            token_sealed: sealer.seal(sub.token.expose()),
            enc_key_sealed: sealer.seal_bytes(sub.enc_key.expose()),
            namespaces: pack_namespaces(&sub.namespaces),
            cutoff: live_cutoff(now),
            now,
        }
    }

    /// Binds $1…$14 of `sql::UPSERT`, in order.
    pub(super) fn bind<'q, DB: Database>(
        &self,
        query: sqlx::query::Query<'q, DB, DB::Arguments>,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments>
    where
        for<'t> &'t [u8]: Encode<'t, DB> + Type<DB>,
        for<'t> Option<&'t [u8]>: Encode<'t, DB> + Type<DB>,
        for<'t> &'t str: Encode<'t, DB> + Type<DB>,
        for<'t> i64: Encode<'t, DB> + Type<DB>,
        for<'t> bool: Encode<'t, DB> + Type<DB>,
    {
        let sub = self.sub;
        query
            .bind(sub.account.as_bytes().as_slice())
            .bind(&*sub.service)
            .bind(self.token_hash.as_slice())
            .bind(self.token_sealed.as_slice())
            .bind(self.enc_key_sealed.as_slice())
            .bind(sub.session_ed25519.as_ref().map(|k| k.as_slice()))
            .bind(sub.subaccount.as_ref().map(|s| s.token.as_slice()))
            .bind(
                sub.subaccount
                    .as_ref()
                    .map(|s| s.signature.expose().as_slice()),
            )
            .bind(sub.signature.expose().as_slice())
            .bind(sub.sig_ts)
            .bind(sub.want_data)
            .bind(self.namespaces.as_slice())
            .bind(self.cutoff)
            .bind(self.now)
    }
}

/// Maps the `upsert_outcome` an upsert returned.
pub(super) fn outcome(code: i16) -> Result<Upsert, StoreError> {
    match code {
        OUTCOME_ADDED => Ok(Upsert::Added),
        OUTCOME_RENEWED => Ok(Upsert::Updated {
            monitor_changed: false,
        }),
        OUTCOME_MONITOR_CHANGED => Ok(Upsert::Updated {
            monitor_changed: true,
        }),
        _ => Err(StoreError::Corrupt("unknown upsert outcome")),
    }
}

/// Rows with `sig_ts` above this are live at `now` (PROTOCOL §2.6: expired at sig_ts + 14 d).
pub(super) fn live_cutoff(now: i64) -> i64 {
    now.saturating_sub(crate::subscription::SUBSCRIPTION_LIFETIME_SECS)
}

/// An account column.
pub(super) fn account(bytes: &[u8]) -> Result<AccountId, StoreError> {
    Ok(AccountId(fixed(bytes, "account")?))
}

/// `COUNT(*)` rows as unsigned counts.
pub(super) fn counts(rows: Vec<(String, i64)>) -> Vec<(String, u64)> {
    rows.into_iter()
        .map(|(service, n)| (service, u64::try_from(n).unwrap_or(0)))
        .collect()
}

fn open_token(sealer: &Sealer, sealed: &[u8]) -> Result<DeviceToken, StoreError> {
    sealer
        .open(sealed)
        .map(DeviceToken::new)
        .ok_or(StoreError::Corrupt(
            "token does not open with this storage key",
        ))
}

fn fixed<const N: usize>(bytes: &[u8], column: &'static str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(column))
}

fn pack_namespaces(namespaces: &[i16]) -> Vec<u8> {
    namespaces.iter().flat_map(|n| n.to_be_bytes()).collect()
}

fn unpack_namespaces(bytes: &[u8]) -> Result<Vec<i16>, StoreError> {
    let (pairs, rest) = bytes.as_chunks::<2>();
    if !rest.is_empty() {
        return Err(StoreError::Corrupt("namespaces"));
    }
    Ok(pairs.iter().map(|p| i16::from_be_bytes(*p)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip_and_reject_odd_lengths() {
        let ns = vec![-32768, -1, 0, 1, 2, 17, 32767];
        let packed = pack_namespaces(&ns);
        assert_eq!(packed.len(), 14);
        assert_eq!(unpack_namespaces(&packed).unwrap(), ns);
        assert!(matches!(
            unpack_namespaces(&packed[..3]),
            Err(StoreError::Corrupt("namespaces"))
        ));
    }

    #[test]
    fn outcome_codes_map_and_unknown_is_corrupt() {
        assert_eq!(outcome(0).unwrap(), Upsert::Added);
        assert_eq!(
            outcome(2).unwrap(),
            Upsert::Updated {
                monitor_changed: true
            }
        );
        assert!(outcome(7).is_err());
    }

    #[test]
    fn a_row_with_a_short_account_is_corrupt() {
        let sealer = Sealer::new(&crate::crypto::StorageKey([3; 32]));
        let row = KeyRow {
            account: vec![5; 32],
            service: "apns".into(),
            token_sealed: sealer.seal("t"),
        };
        assert!(matches!(
            row.decode(&sealer),
            Err(StoreError::Corrupt("account"))
        ));
    }
}
