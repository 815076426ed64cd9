//! The swarm side against fake storage servers and a fake oxend (PROTOCOL §5–§8).

use std::time::Duration;

use session_push_relay::crypto::KeyPair;
use session_push_relay::devnet::fake_storage::{FakeMessage, FakeStorage};
use session_push_relay::swarm::message::{
    encode_list, parse_monitor_reply, parse_notify, ItemResult, MonitorEntry,
};
use session_push_relay::swarm::oxenmq::{ConnId, LinkEvent, Options, OxenMq, Remote};
use tokio::sync::mpsc;

use crate::support::accounts::{session_subscription, unix_now};

async fn wait_up(mq: &OxenMq, id: ConnId) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if mq.take_events().contains(&(id, LinkEvent::Up)) {
                return;
            }
            mq.events_posted().await;
        }
    })
    .await
    .expect("no HELLO within 10 s");
}

#[tokio::test]
async fn curve_round_trip_with_the_fake_storage_server() {
    let node = FakeStorage::start(KeyPair::generate()).unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let mq = OxenMq::start(
        &KeyPair::generate(),
        Options {
            max_pending_connects: 10,
            connection_metrics: false,
        },
        Box::new(move |_, name, parts| {
            let _ = tx.try_send((name.to_string(), parts));
        }),
    )
    .unwrap();
    let id = ConnId(1);
    mq.connect(
        id,
        Remote {
            endpoint: node.endpoint().into(),
            server_key: Some(node.pubkey()),
        },
    )
    .await
    .unwrap();
    wait_up(&mq, id).await;

    let sub = session_subscription(1, &[0, 5], true, unix_now(), "tok");
    let body = encode_list(&[MonitorEntry::from_subscription(&sub).encode().unwrap()]);
    let reply = mq
        .request(id, "monitor.messages", vec![body], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        parse_monitor_reply(&reply[0]).unwrap(),
        vec![ItemResult::Ok]
    );

    let message = FakeMessage {
        account: sub.account,
        hash: vec![b'h'; 43],
        namespace: 5,
        timestamp_ms: 1,
        expiry_ms: 2,
        data: b"payload".to_vec(),
    };
    assert_eq!(node.notify(message).await.unwrap(), 1);
    let (name, parts) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name, "notify.message");
    let n = parse_notify(&parts, tokio::time::Instant::now()).unwrap();
    assert_eq!(n.account, sub.account);
    assert_eq!(n.data.as_deref(), Some(&b"payload"[..]));

    // An unknown command is never answered: the request times out locally.
    let err = mq
        .request(id, "foo.bar", vec![], Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(err, session_push_relay::swarm::SwarmError::Timeout { .. }),
        "{err}"
    );
}
