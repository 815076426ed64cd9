//! Each replica shows storage servers a key of its own (PROTOCOL §7.1): the fake storage
//! server is a ROUTER with `ROUTER_HANDOVER`, like OxenMQ, so a shared routing id would knock
//! one replica off whenever the other (re)connects.

use std::time::Duration;

use devnet::fake_storage::{FakeMessage, FakeStorage};
use relay::crypto::KeyPair;
use relay::subscription::Subscription;
use relay::swarm::message::{
    encode_list, parse_monitor_reply, parse_notify, ItemResult, MonitorEntry,
};
use relay::swarm::oxenmq::{ConnId, LinkEvent, Options, OxenMq, Remote};
use tokio::sync::mpsc;

use crate::support::accounts::{session_subscription, unix_now};
use crate::swarm::wait_up;

struct Replica {
    mq: OxenMq,
    notified: mpsc::Receiver<Vec<Vec<u8>>>,
}

const CONN: ConnId = ConnId(1);

async fn connect(keys: &KeyPair, node: &FakeStorage) -> Replica {
    let (tx, notified) = mpsc::channel(16);
    let mq = OxenMq::start(
        keys,
        Options {
            max_pending_connects: 10,
            connection_metrics: false,
        },
        Box::new(move |_, name, parts| {
            if name == "notify.message" {
                let _ = tx.try_send(parts);
            }
        }),
    )
    .unwrap();
    mq.connect(
        CONN,
        Remote {
            endpoint: node.endpoint().into(),
            server_key: Some(node.pubkey()),
        },
    )
    .await
    .unwrap();
    wait_up(&mq, CONN).await;
    Replica { mq, notified }
}

async fn subscribe(replica: &Replica, sub: &Subscription) {
    let body = encode_list(&[MonitorEntry::from_subscription(sub).encode().unwrap()]);
    let reply = replica
        .mq
        .request(CONN, "monitor.messages", vec![body], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        parse_monitor_reply(&reply[0]).unwrap(),
        vec![ItemResult::Ok]
    );
}

fn message(sub: &Subscription, hash: u8) -> FakeMessage {
    FakeMessage {
        account: sub.account,
        hash: vec![hash; 43],
        namespace: 0,
        timestamp_ms: 1,
        expiry_ms: 2,
        data: Vec::new(),
    }
}

#[tokio::test]
async fn replicas_sharing_the_swarm_key_stay_connected_to_one_storage_server() {
    let node = FakeStorage::start(KeyPair::generate()).unwrap();
    let shared = KeyPair::generate();
    let mut a = connect(&shared.derive_replica("relay-0"), &node).await;
    let mut b = connect(&shared.derive_replica("relay-1"), &node).await;
    let sub_a = session_subscription(41, &[0], false, unix_now(), "tok-a");
    let sub_b = session_subscription(42, &[0], false, unix_now(), "tok-b");
    subscribe(&a, &sub_a).await;
    subscribe(&b, &sub_b).await;
    // Two routes on the node: each replica's own notification reaches that replica only.
    for round in 0..3u8 {
        assert_eq!(node.notify(message(&sub_a, round)).await.unwrap(), 1);
        assert_eq!(node.notify(message(&sub_b, round)).await.unwrap(), 1);
        for (replica, sub) in [(&mut a, &sub_a), (&mut b, &sub_b)] {
            let parts = tokio::time::timeout(Duration::from_secs(5), replica.notified.recv())
                .await
                .expect("notification within 5 s")
                .unwrap();
            let n = parse_notify(&parts, tokio::time::Instant::now()).unwrap();
            assert_eq!(n.account, sub.account);
        }
    }
    for replica in [&a, &b] {
        assert!(
            !replica.mq.take_events().contains(&(CONN, LinkEvent::Down)),
            "a replica was knocked off the storage server"
        );
    }
    let routes: std::collections::HashSet<Vec<u8>> =
        node.records().into_iter().map(|r| r.route).collect();
    assert_eq!(routes.len(), 2, "one routing id per replica");
}

/// The control: two relays with one key. The fake hands the route to the newest connection,
/// as OxenMQ's ROUTER does (`ROUTER_HANDOVER`): libzmq keeps the older TCP connection open but
/// drops what arrives on it, so the older relay's requests go unanswered. So the test above
/// could fail.
#[tokio::test]
async fn one_shared_identity_is_knocked_off_by_handover() {
    let node = FakeStorage::start(KeyPair::generate()).unwrap();
    let shared = KeyPair::generate();
    let first = connect(&shared, &node).await;
    let second = connect(&shared, &node).await;
    let sub = session_subscription(43, &[0], false, unix_now(), "tok");
    let body = encode_list(&[MonitorEntry::from_subscription(&sub).encode().unwrap()]);
    let lost = first
        .mq
        .request(
            CONN,
            "monitor.messages",
            vec![body.clone()],
            Duration::from_secs(2),
        )
        .await;
    assert!(
        matches!(lost, Err(relay::swarm::SwarmError::Timeout { .. })),
        "the older connection still reached the node: {lost:?}"
    );
    // The newer one holds the route.
    subscribe(&second, &sub).await;
}
