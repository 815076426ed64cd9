//! The main flow through the real relay: subscribe through onion requests, renewals at the
//! right swarm, one push per device that opens on the emulated phone, a dead APNs token
//! removed everywhere, and an unsubscribe that stops renewals (issues 4 and 5).

use std::time::{Duration, Instant};

use serde_json::Value;
use session_push_relay::crypto;
use session_push_relay::devnet::clients::SimAccount;
use session_push_relay::devnet::fake_storage::MonitorRecord;
use session_push_relay::devnet::mock_apns;
use session_push_relay::devnet::network::{message, Network};
use session_push_relay::devnet::onion_client::ClientEncType;
use session_push_relay::subscription::AccountId;

use crate::support::db::{self, Backend};
use crate::support::network::{
    mentions, next_apns, next_fcm, now, subscribe_body, subscribe_onion, swarm_accepted, Device,
    WAIT,
};

/// `[swarm] resubscribe_min/max_secs` of these tests: renewals every second.
const RENEWAL: Duration = Duration::from_secs(1);

/// A fresh network of 3 swarms × 5 nodes on `database_url` (SQLite when `None`).
pub(super) async fn network(database_url: Option<&str>) -> Network {
    let mut builder = Network::builder()
        .nodes(15)
        .swarms(3)
        .resubscribe_secs(RENEWAL.as_secs(), RENEWAL.as_secs());
    if let Some(url) = database_url {
        builder = builder.database_url(url);
    }
    builder.start().await.unwrap()
}

/// A new account whose swarm is `swarm`: a 05 Session ID, or a 03 group member's subaccount.
fn account_in(net: &Network, swarm: u64, group: bool) -> SimAccount {
    loop {
        let account = if group {
            SimAccount::group_member(crypto::random_array(), crypto::random_array())
        } else {
            SimAccount::session(crypto::random_array())
        };
        if net.swarm_of(&account.account) == swarm {
            return account;
        }
    }
}

/// The namespace lists of `account`'s accepted entries in `record`.
fn entries(record: &MonitorRecord, account: &AccountId) -> Vec<Vec<i16>> {
    record
        .items
        .iter()
        .filter(|i| i.account.as_ref() == Some(account) && i.result.is_ok())
        .map(|i| i.namespaces.clone())
        .collect()
}

/// Runs the whole flow on `net`; returns every request body the clients sent.
pub(super) async fn main_flow(net: &Network) -> Vec<Value> {
    let (home, away) = (net.swarm_ids()[0], net.swarm_ids()[1]);
    let alice = account_in(net, home, false);
    let group = account_in(net, home, true);
    let carol = account_in(net, away, false);
    let alice_ios = Device::ios(&[0, 1]);
    let alice_android = Device::android(&[0]);
    let group_ios = Device::ios(&[11]);
    let carol_android = Device::android(&[0]);
    let mut bodies = Vec::new();

    // Subscribing through onion requests (every enc_type): every member of the account's swarm
    // gets a valid monitor.messages for it within 1 s.
    for (account, device, enc) in [
        (&alice, &alice_ios, ClientEncType::XChaCha20),
        (&alice, &alice_android, ClientEncType::AesGcm),
        (&group, &group_ios, ClientEncType::AesGcmImplicit),
        (&carol, &carol_android, ClientEncType::XChaCha20),
    ] {
        let body = subscribe_body(account, device);
        let t0 = Instant::now();
        subscribe_onion(net, enc, &body).await;
        let is_group = account.account.as_bytes()[0] == 0x03;
        let fits = |i: &session_push_relay::devnet::fake_storage::CheckedItem| {
            device.namespaces.iter().all(|n| i.namespaces.contains(n))
                && i.want_data
                && i.subaccount == is_group
                && i.sig_ts == body["sig_ts"].as_i64().unwrap()
        };
        let within = t0 + Duration::from_secs(1);
        assert!(
            swarm_accepted(net, &account.account, t0, within, fits).await,
            "a member of {}'s swarm missed its {:?} subscription",
            account.account,
            device.platform
        );
        bodies.push(body);
    }
    let members = net.members(home).count();

    // A message for alice: one push per device, and each phone shows it.
    let m1 = message(alice.account, 0, b"hello alice");
    assert_eq!(net.store_message(&m1).await.unwrap(), members);
    let (token, payload) = next_apns(net).await;
    assert_eq!(token, alice_ios.token);
    alice_ios.assert_shows(&payload, &m1);
    let (token, payload) = next_fcm(net).await;
    assert_eq!(token, alice_android.token);
    alice_android.assert_shows(&payload, &m1);
    // The next push on each provider is for the next message: the other copies were dropped.
    let m2 = message(group.account, 11, b"group news");
    assert_eq!(net.store_message(&m2).await.unwrap(), members);
    let (token, payload) = next_apns(net).await;
    assert_eq!(token, group_ios.token);
    group_ios.assert_shows(&payload, &m2);
    let m3 = message(carol.account, 0, b"hi carol");
    net.store_message(&m3).await.unwrap();
    let (token, payload) = next_fcm(net).await;
    assert_eq!(token, carol_android.token);
    carol_android.assert_shows(&payload, &m3);
    assert_eq!(net.apns().request_count(), 2);

    // APNs answers 410 for alice's iPhone: its subscription goes from the renewals...
    net.apns()
        .reply(&alice_ios.token, mock_apns::unregistered());
    let m4 = message(alice.account, 0, b"last one for the iPhone");
    net.store_message(&m4).await.unwrap();
    let (token, _) = next_apns(net).await;
    assert_eq!(token, alice_ios.token);
    let (token, payload) = next_fcm(net).await;
    assert_eq!(token, alice_android.token);
    alice_android.assert_shows(&payload, &m4);
    let mut android_only = Vec::new();
    for node in net.members(home) {
        let got = node
            .wait_for(WAIT, |r| {
                r.iter().any(|r| entries(r, &alice.account) == [vec![0]])
            })
            .await;
        assert!(got, "alice's renewal still carries the iPhone's namespaces");
        let records = node.records();
        let first = records
            .iter()
            .find(|r| entries(r, &alice.account) == [vec![0]])
            .unwrap();
        android_only.push(first.at);
    }
    // ... from the database ...
    let store = net.open_store().await.unwrap();
    let left = store.for_account(&alice.account, now()).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(&*left[0].service, "firebase");
    assert_eq!(left[0].token.expose(), alice_android.token);
    // ... and from the index: a namespace-1 message reaches nobody, a namespace-0 one only
    // the Android phone (the nodes still hold the merged namespaces, as real ones do).
    net.store_message(&message(alice.account, 1, b"nobody"))
        .await
        .unwrap();
    let m6 = message(alice.account, 0, b"android only");
    net.store_message(&m6).await.unwrap();
    let (token, payload) = next_fcm(net).await;
    assert_eq!(token, alice_android.token);
    alice_android.assert_shows(&payload, &m6);
    let m7 = message(group.account, 11, b"group again");
    net.store_message(&m7).await.unwrap();
    let (token, payload) = next_apns(net).await;
    assert_eq!(token, group_ios.token, "a push for a removed token");
    group_ios.assert_shows(&payload, &m7);

    // An unsubscribe through the API: no more renewals for the group (alice, in the same
    // swarm, shows renewals go on).
    let body = group.unsubscribe_body("apns", &group_ios.token, now());
    let (status, reply) = net.post_json("/unsubscribe", &body).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(reply["removed"], true, "{reply}");
    bodies.push(body);
    let gone = Instant::now();
    let later = gone + RENEWAL * 2 + Duration::from_millis(100);
    assert!(swarm_accepted(net, &alice.account, later, later + WAIT, |_| true).await);
    // One request in flight at the unsubscribe is tolerated.
    let after = gone + Duration::from_millis(200);
    for node in net.members(home) {
        let records = node.records();
        let late = records.iter().filter(|r| r.at >= after);
        assert!(late.clone().count() > 0);
        assert!(late
            .flat_map(|r| &r.items)
            .all(|i| i.account != Some(group.account)));
    }

    // Since the renewal without the iPhone, none carried its namespaces again.
    for (node, since) in net.members(home).zip(&android_only) {
        for record in node.records().iter().filter(|r| r.at >= *since) {
            assert!(!entries(record, &alice.account).contains(&vec![0, 1]));
        }
    }
    // No node ever heard of an account of another swarm.
    for node in net.nodes() {
        for account in [&alice, &group, &carol] {
            if node.swarm_id != net.swarm_of(&account.account) {
                assert!(!mentions(&node.storage.records(), &account.account));
            }
        }
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_flow_on_sqlite() {
    let net = network(None).await;
    main_flow(&net).await;
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_flow_on_postgres() {
    db::run(Backend::Postgres, |db| async move {
        let net = network(Some(db.url())).await;
        main_flow(&net).await;
        net.shutdown().await
    })
    .await
    .unwrap();
}
