//! The `[cluster]` tables in Postgres (`migrations/postgres/0004_cluster.sql`): replica
//! heartbeats, swarm leases, and the `LISTEN/NOTIFY` channels replicas wake each other with.
//!
//! Every time is the database's `now()`, so replicas never compare their own clocks. Each method
//! is one statement (one round trip); the caller (`cluster::Membership`) decides what to ask.
//! Swarm ids are u64 and stored bit-cast into `BIGINT`.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::Row as _;

use super::StoreError;

/// Channel on which replicas announce lease and membership changes (payload: the sender's
/// node id), so the others re-plan at once instead of at their next tick.
pub const LEASE_CHANNEL: &str = "spr_cluster";
/// Channel on which the `subscriptions_announce` trigger announces every committed change to
/// a subscription row (payload: the account id in hex: not secret, but never logged whole).
pub const SUBSCRIPTION_CHANNEL: &str = "spr_subscriptions";

/// How many lease lengths a replica's heartbeat or a swarm's lease stays in the tables after
/// it expired, before [`ClusterDb::prune`] deletes it. Every query already ignores expired
/// rows; pruning keeps the tables from growing with every pod name a Deployment ever had
/// (and with swarms that merged away), and lets the subscription trigger stop announcing
/// once no replica is left. Ten leases leave the rows long enough to read while debugging.
pub const PRUNE_AFTER_LEASES: i64 = 10;

/// Connections of the cluster's own pool: the lease loop, the notifier and a spare, apart from
/// the API's pool so a busy API never delays a lease renewal.
const POOL_SIZE: u32 = 3;

/// One of this replica's leases as renewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedLease {
    /// The swarm.
    pub swarm_id: u64,
    /// A replica waiting to take the swarm over, if any.
    pub successor: Option<String>,
    /// Whether that successor has subscribed the swarm's accounts and may be handed the lease.
    pub successor_ready: bool,
}

/// A swarm this replica took with [`ClusterDb::acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acquired {
    /// The swarm.
    pub swarm_id: u64,
    /// No lease existed before (otherwise an expired one was taken over).
    pub fresh: bool,
}

/// What [`ClusterDb::prune`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Heartbeats of replicas dead for longer than [`PRUNE_AFTER_LEASES`] leases.
    pub replicas: u64,
    /// Leases expired for longer than that (swarms nobody wants any more).
    pub leases: u64,
}

/// The cluster tables of one replica (`node_id`) with lease length `lease`.
#[derive(Clone)]
pub struct ClusterDb {
    pool: PgPool,
    node_id: String,
    lease_ms: i64,
}

fn to_db(id: u64) -> i64 {
    id as i64
}

fn from_db(id: i64) -> u64 {
    id as u64
}

fn ids_to_db(ids: &[u64]) -> Vec<i64> {
    ids.iter().copied().map(to_db).collect()
}

impl ClusterDb {
    /// Connects a small pool of its own; statements wait at most `acquire_timeout` for a
    /// connection (the caller keeps this below the lease so a dead database is noticed in time).
    /// The subscription store has already run the migrations.
    pub async fn connect(
        url: &str,
        node_id: &str,
        lease: Duration,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        Ok(ClusterDb {
            pool,
            node_id: node_id.to_owned(),
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// This replica's node id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Renews this replica's heartbeat and returns every live replica's node id (this one
    /// included), sorted.
    #[tracing::instrument(skip_all)]
    pub async fn heartbeat(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "WITH me AS (
                 INSERT INTO cluster_replicas (node_id, expires_at)
                 VALUES ($1, now() + $2 * interval '1 millisecond')
                 ON CONFLICT (node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
                 RETURNING node_id)
             SELECT node_id FROM me
             UNION
             SELECT node_id FROM cluster_replicas WHERE expires_at > now()
             ORDER BY node_id",
        )
        .bind(&self.node_id)
        .bind(self.lease_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect())
    }

    /// Deletes this replica's heartbeat (graceful stop): the others re-plan without it.
    #[tracing::instrument(skip_all)]
    pub async fn leave(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cluster_replicas WHERE node_id = $1")
            .bind(&self.node_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Extends every lease this replica holds by one lease length; returns them.
    #[tracing::instrument(skip_all)]
    pub async fn renew(&self) -> Result<Vec<OwnedLease>, StoreError> {
        let rows = sqlx::query(
            "UPDATE cluster_leases SET expires_at = now() + $2 * interval '1 millisecond'
             WHERE owner = $1
             RETURNING swarm_id, successor, successor_ready",
        )
        .bind(&self.node_id)
        .bind(self.lease_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OwnedLease {
                    swarm_id: from_db(r.try_get(0)?),
                    successor: r.try_get(1)?,
                    successor_ready: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Takes the swarms of `ids` that have no lease or whose lease expired, unless a live
    /// replica other than this one is waiting as their successor.
    #[tracing::instrument(skip_all, fields(swarms = ids.len()))]
    pub async fn acquire(&self, ids: &[u64]) -> Result<Vec<Acquired>, StoreError> {
        let rows = self
            .fetch_for_swarms(
                "INSERT INTO cluster_leases (swarm_id, owner, expires_at)
                 SELECT s, $1, now() + $2 * interval '1 millisecond' FROM unnest($3::bigint[]) AS s
                 ON CONFLICT (swarm_id) DO UPDATE
                     SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                         successor = NULL, successor_ready = false
                     WHERE cluster_leases.expires_at <= now()
                       AND (cluster_leases.successor IS NULL
                            OR cluster_leases.successor = EXCLUDED.owner
                            OR NOT EXISTS (SELECT 1 FROM cluster_replicas r
                                           WHERE r.node_id = cluster_leases.successor
                                             AND r.expires_at > now()))
                 RETURNING swarm_id, (xmax = 0) AS fresh",
                ids,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Acquired {
                    swarm_id: from_db(r.try_get(0)?),
                    fresh: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// Names this replica successor of the swarms of `ids` held by another replica (unless a
    /// live replica already is), ready for those also in `warm`; withdraws it from any other
    /// swarm. Returns (swarm, ready) for the swarms it now waits for.
    #[tracing::instrument(skip_all, fields(swarms = ids.len()))]
    pub async fn claim(&self, ids: &[u64], warm: &[u64]) -> Result<Vec<(u64, bool)>, StoreError> {
        sqlx::query(
            "UPDATE cluster_leases SET successor = NULL, successor_ready = false
             WHERE successor = $1 AND NOT (swarm_id = ANY($2::bigint[]))",
        )
        .bind(&self.node_id)
        .bind(ids_to_db(ids))
        .execute(&self.pool)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "UPDATE cluster_leases l
             SET successor = $1,
                 successor_ready = (l.successor = $1 AND l.successor_ready)
                                   OR l.swarm_id = ANY($3::bigint[])
             WHERE l.swarm_id = ANY($2::bigint[]) AND l.owner <> $1
               AND (l.successor IS NULL OR l.successor = $1
                    OR NOT EXISTS (SELECT 1 FROM cluster_replicas r
                                   WHERE r.node_id = l.successor AND r.expires_at > now()))
             RETURNING l.swarm_id, l.successor_ready",
        )
        .bind(&self.node_id)
        .bind(ids_to_db(ids))
        .bind(ids_to_db(warm))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((from_db(r.try_get(0)?), r.try_get(1)?)))
            .collect()
    }

    /// Gives the swarms of `ids` to their ready successors in one statement; returns the
    /// swarms handed over.
    #[tracing::instrument(skip_all, fields(swarms = ids.len()))]
    pub async fn hand_over(&self, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .fetch_for_swarms(
                "UPDATE cluster_leases
                 SET owner = successor, successor = NULL, successor_ready = false,
                     expires_at = now() + $2 * interval '1 millisecond'
                 WHERE owner = $1 AND swarm_id = ANY($3::bigint[])
                   AND successor IS NOT NULL AND successor_ready
                 RETURNING swarm_id",
                ids,
            )
            .await?;
        rows.iter().map(|r| Ok(from_db(r.try_get(0)?))).collect()
    }

    /// Deletes this replica's leases of `ids` (`None`: all of them), so anyone may take them.
    #[tracing::instrument(skip_all)]
    pub async fn release(&self, ids: Option<&[u64]>) -> Result<u64, StoreError> {
        let done =
            match ids {
                Some(ids) => sqlx::query(
                    "DELETE FROM cluster_leases WHERE owner = $1 AND swarm_id = ANY($2::bigint[])",
                )
                .bind(&self.node_id)
                .bind(ids_to_db(ids))
                .execute(&self.pool)
                .await?,
                None => {
                    sqlx::query("DELETE FROM cluster_leases WHERE owner = $1")
                        .bind(&self.node_id)
                        .execute(&self.pool)
                        .await?
                }
            };
        Ok(done.rows_affected())
    }

    /// Deletes the heartbeats of other replicas and the leases that expired more than
    /// [`PRUNE_AFTER_LEASES`] lease lengths ago, in one statement; returns how many of each.
    /// Nothing live depends on them: a dead replica's heartbeat already counts for nothing, and
    /// a swarm whose lease expired that long ago is in no live replica's share (one of them
    /// would have acquired it within a round).
    #[tracing::instrument(skip_all)]
    pub async fn prune(&self) -> Result<Pruned, StoreError> {
        let row = sqlx::query(
            "WITH replicas AS (
                 DELETE FROM cluster_replicas
                 WHERE node_id <> $1 AND expires_at < now() - $2 * interval '1 millisecond'
                 RETURNING 1),
             leases AS (
                 DELETE FROM cluster_leases
                 WHERE expires_at < now() - $2 * interval '1 millisecond'
                 RETURNING 1)
             SELECT (SELECT count(*) FROM replicas), (SELECT count(*) FROM leases)",
        )
        .bind(&self.node_id)
        .bind(self.lease_ms.saturating_mul(PRUNE_AFTER_LEASES))
        .fetch_one(&self.pool)
        .await?;
        let count = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(i)?).unwrap_or(0))
        };
        Ok(Pruned {
            replicas: count(0)?,
            leases: count(1)?,
        })
    }

    /// Sends `payload` on `channel` to every listening replica.
    #[tracing::instrument(skip_all, fields(channel))]
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A listener on both cluster channels (its own connection; it reconnects by itself).
    pub async fn listen(&self) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener
            .listen_all([LEASE_CHANNEL, SUBSCRIPTION_CHANNEL])
            .await?;
        Ok(listener)
    }

    /// Runs `sql` with `$1` this replica's node id, `$2` the lease in milliseconds and `$3` the
    /// swarms `ids`, and returns its rows; with no swarm there is nothing to ask (no round trip).
    async fn fetch_for_swarms(
        &self,
        sql: &'static str,
        ids: &[u64],
    ) -> Result<Vec<PgRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql)
            .bind(&self.node_id)
            .bind(self.lease_ms)
            .bind(ids_to_db(ids))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }
}
