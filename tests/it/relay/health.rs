//! `/health/ready` of the running relay (DESIGN "HTTP surface").

use std::time::Duration;

use session_push_relay::devnet::network::Network;

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
