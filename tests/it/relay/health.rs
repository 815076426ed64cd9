//! `/health/ready` of the running relay (DESIGN "HTTP surface").

use std::time::Duration;

use devnet::network::Network;

use crate::support::db::{self, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_once_the_node_list_is_loaded_and_swarms_are_connected() {
    let net = Network::builder().start().await.unwrap();
    net.wait_ready(Duration::from_secs(5)).await.unwrap();
    let (status, body) = net.admin_get("/health/ready").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["swarm"], "ok");
    net.shutdown().await.unwrap();
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_naming_the_database_once_it_is_gone() {
    db::run(Backend::Postgres, |db| async move {
        let net = Network::builder()
            .nodes(3)
            .swarms(1)
            .database_url(db.url())
            .start()
            .await?;
        net.wait_ready(Duration::from_secs(5)).await?;
        db.drop_now().await?;
        let (status, body) = net.admin_get("/health/ready").await?;
        assert_eq!(status, 503, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body)?;
        let database = body["database"].as_str().unwrap();
        assert!(database.starts_with("failing"), "{body}");
        assert_eq!(body["swarm"], "ok", "{body}");
        // The relay still stops cleanly without its database.
        net.shutdown().await
    })
    .await
    .unwrap();
}
