//! Rows of replicas and swarms long gone leave the cluster tables (issue 14): a Deployment's
//! every pod name would otherwise stay in `cluster_replicas` for good, and the subscription
//! trigger would keep announcing changes with no replica left to hear them.

use std::time::Duration;

use relay::crypto::StorageKey;
use relay::store::cluster::{ClusterDb, Pruned, PRUNE_AFTER_LEASES};
use sqlx::{Connection, PgConnection};

use crate::support::db::{self, Backend};

const LEASE: Duration = Duration::from_secs(2);

/// The rows of the two tables, sorted: replicas' node ids and leases' swarm ids.
async fn rows(conn: &mut PgConnection) -> anyhow::Result<(Vec<String>, Vec<i64>)> {
    let replicas = sqlx::query_scalar("SELECT node_id FROM cluster_replicas ORDER BY node_id")
        .fetch_all(&mut *conn)
        .await?;
    let leases = sqlx::query_scalar("SELECT swarm_id FROM cluster_leases ORDER BY swarm_id")
        .fetch_all(&mut *conn)
        .await?;
    Ok((replicas, leases))
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test]
async fn replicas_and_leases_dead_for_ten_leases_are_pruned_and_nothing_else() {
    db::run(Backend::Postgres, |db| async move {
        // Opening the store runs the migrations that create the cluster tables.
        db.open(&StorageKey([7; 32])).await?;
        let mut conn = PgConnection::connect(db.url()).await?;
        let long_ago = LEASE.as_millis() as i64 * (PRUNE_AFTER_LEASES + 1);
        sqlx::query(
            "INSERT INTO cluster_replicas (node_id, expires_at) VALUES
                 ('dead-long-ago', now() - $1 * interval '1 millisecond'),
                 ('dead-just-now', now() - interval '1 second'),
                 ('alive', now() + interval '1 minute'),
                 ('me', now() - $1 * interval '1 millisecond')",
        )
        .bind(long_ago)
        .execute(&mut conn)
        .await?;
        sqlx::query(
            "INSERT INTO cluster_leases (swarm_id, owner, expires_at) VALUES
                 (1, 'dead-long-ago', now() - $1 * interval '1 millisecond'),
                 (2, 'dead-just-now', now() - interval '1 second'),
                 (3, 'alive', now() + interval '1 minute')",
        )
        .bind(long_ago)
        .execute(&mut conn)
        .await?;

        let me = ClusterDb::connect(db.url(), "me", LEASE, Duration::from_secs(5)).await?;
        assert_eq!(
            me.prune().await?,
            Pruned {
                replicas: 1,
                leases: 1
            }
        );
        // The pruning replica's own row is never deleted (its next heartbeat renews it); the
        // recently dead stay until ten leases have passed.
        assert_eq!(
            rows(&mut conn).await?,
            (
                vec!["alive".into(), "dead-just-now".into(), "me".into()],
                vec![2, 3]
            )
        );
        assert_eq!(
            me.prune().await?,
            Pruned::default(),
            "a second prune finds nothing"
        );
        conn.close().await?;
        Ok(())
    })
    .await
    .unwrap();
}
