//! The main flow through the real relay: subscribe through onion requests, renewals at the
//! right swarm, one push per device that opens on the emulated phone, a dead APNs token
//! removed everywhere, and an unsubscribe that stops renewals (issues 4 and 5).

use std::time::{Duration, Instant};

use devnet::clients::SimAccount;
use devnet::device::Platform;
use devnet::fake_storage::{CheckedItem, FakeMessage, MonitorRecord};
use devnet::mock_apns;
use devnet::network::{message, Network};
use devnet::onion_client::ClientEncType;
use relay::crypto;
use relay::subscription::AccountId;
use serde_json::Value;

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

/// The accounts and phones of the flow: alice (05) with an iPhone and an Android phone and a
/// group (03, subaccount) with an iPhone share one swarm; carol (05, Android) lives in another.
struct Cast {
    home: u64,
    alice: SimAccount,
    group: SimAccount,
    carol: SimAccount,
    alice_ios: Device,
    alice_android: Device,
    group_ios: Device,
    carol_android: Device,
}

impl Cast {
    fn new(net: &Network) -> Self {
        let (home, away) = (net.swarm_ids()[0], net.swarm_ids()[1]);
        Cast {
            home,
            alice: account_in(net, home, false),
            group: account_in(net, home, true),
            carol: account_in(net, away, false),
            alice_ios: Device::ios(&[0, 1]),
            alice_android: Device::android(&[0]),
            group_ios: Device::ios(&[11]),
            carol_android: Device::android(&[0]),
        }
    }
}

/// Checks the next push of `device`'s provider went to it and shows `message`.
async fn expect_push(net: &Network, device: &Device, message: &FakeMessage) {
    let (token, payload) = match device.platform {
        Platform::Ios => next_apns(net).await,
        Platform::Android => next_fcm(net).await,
    };
    assert_eq!(token, device.token, "a push for another device");
    device.assert_shows(&payload, message);
}

/// Runs the whole flow on `net`; returns every request body the clients sent.
pub(super) async fn main_flow(net: &Network) -> Vec<Value> {
    let cast = Cast::new(net);
    let mut bodies = subscribe_everyone(net, &cast).await;
    one_push_per_device(net, &cast).await;
    let android_only = dead_token_removed(net, &cast).await;
    bodies.push(unsubscribe_stops_renewals(net, &cast).await);

    // Since the renewal without the iPhone, none carried its namespaces again.
    for (node, since) in net.members(cast.home).zip(&android_only) {
        for record in node.records().iter().filter(|r| r.at >= *since) {
            assert!(!entries(record, &cast.alice.account).contains(&vec![0, 1]));
        }
    }
    // No node ever heard of an account of another swarm.
    for node in net.nodes() {
        for account in [&cast.alice, &cast.group, &cast.carol] {
            if node.swarm_id != net.swarm_of(&account.account) {
                assert!(!mentions(&node.storage.records(), &account.account));
            }
        }
    }
    bodies
}

/// Subscribes every phone through onion requests (every enc_type); every member of the
/// account's swarm gets a valid monitor.messages for it within 1 s.
async fn subscribe_everyone(net: &Network, cast: &Cast) -> Vec<Value> {
    let mut bodies = Vec::new();
    for (account, device, enc) in [
        (&cast.alice, &cast.alice_ios, ClientEncType::XChaCha20),
        (&cast.alice, &cast.alice_android, ClientEncType::AesGcm),
        (&cast.group, &cast.group_ios, ClientEncType::AesGcmImplicit),
        (&cast.carol, &cast.carol_android, ClientEncType::XChaCha20),
    ] {
        let body = subscribe_body(account, device);
        let t0 = Instant::now();
        subscribe_onion(net, enc, &body).await;
        let is_group = account.account.as_bytes()[0] == 0x03;
        let fits = |i: &CheckedItem| {
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
    bodies
}

/// A message stored on the swarm (every member notifies): one push per device, each opens.
async fn one_push_per_device(net: &Network, cast: &Cast) {
    let members = net.members(cast.home).count();
    let m1 = message(cast.alice.account, 0, b"hello alice");
    assert_eq!(net.store_message(&m1).await.unwrap(), members);
    expect_push(net, &cast.alice_ios, &m1).await;
    expect_push(net, &cast.alice_android, &m1).await;
    // The next push on each provider is for the next message: the other copies were dropped.
    let m2 = message(cast.group.account, 11, b"group news");
    assert_eq!(net.store_message(&m2).await.unwrap(), members);
    expect_push(net, &cast.group_ios, &m2).await;
    let m3 = message(cast.carol.account, 0, b"hi carol");
    net.store_message(&m3).await.unwrap();
    expect_push(net, &cast.carol_android, &m3).await;
    assert_eq!(net.apns().request_count(), 2);
}

/// APNs answers 410 for alice's iPhone: its subscription leaves the renewals, the database and
/// the index. Returns, per home node, when the first renewal without it arrived.
async fn dead_token_removed(net: &Network, cast: &Cast) -> Vec<Instant> {
    let alice = &cast.alice.account;
    net.apns()
        .reply(&cast.alice_ios.token, mock_apns::unregistered());
    let m4 = message(*alice, 0, b"last one for the iPhone");
    net.store_message(&m4).await.unwrap();
    let (token, _) = next_apns(net).await;
    assert_eq!(token, cast.alice_ios.token);
    expect_push(net, &cast.alice_android, &m4).await;

    let android_only = |r: &MonitorRecord| entries(r, alice) == [vec![0]];
    let mut since = Vec::new();
    for node in net.members(cast.home) {
        let got = node
            .wait_for(WAIT, |records| records.iter().any(android_only))
            .await;
        assert!(got, "alice's renewal still carries the iPhone's namespaces");
        since.push(node.records().into_iter().find(android_only).unwrap().at);
    }

    let store = net.open_store().await.unwrap();
    let left = store.for_account(alice, now()).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(&*left[0].service, "firebase");
    assert_eq!(left[0].token.expose(), cast.alice_android.token);

    // The index: a namespace-1 message reaches nobody, a namespace-0 one only the Android
    // phone (the nodes still hold the merged namespaces, as real ones do).
    let nobody = message(*alice, 1, b"nobody");
    net.store_message(&nobody).await.unwrap();
    let m6 = message(*alice, 0, b"android only");
    net.store_message(&m6).await.unwrap();
    expect_push(net, &cast.alice_android, &m6).await;
    let m7 = message(cast.group.account, 11, b"group again");
    net.store_message(&m7).await.unwrap();
    expect_push(net, &cast.group_ios, &m7).await;
    since
}

/// An unsubscribe through the API: no more renewals for the group, while alice's (same swarm)
/// go on. Returns the request body.
async fn unsubscribe_stops_renewals(net: &Network, cast: &Cast) -> Value {
    let body = cast
        .group
        .unsubscribe_body("apns", &cast.group_ios.token, now());
    let (status, reply) = net.post_json("/unsubscribe", &body).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(reply["removed"], true, "{reply}");
    let gone = Instant::now();
    let later = gone + RENEWAL * 2 + Duration::from_millis(100);
    assert!(swarm_accepted(net, &cast.alice.account, later, later + WAIT, |_| true).await);
    // One request in flight at the unsubscribe is tolerated.
    let after = gone + Duration::from_millis(200);
    for node in net.members(cast.home) {
        let records = node.records();
        let late: Vec<_> = records.iter().filter(|r| r.at >= after).collect();
        assert!(!late.is_empty());
        assert!(late
            .iter()
            .flat_map(|r| &r.items)
            .all(|i| i.account != Some(cast.group.account)));
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_flow_on_sqlite() {
    let net = network(None).await;
    main_flow(&net).await;
    net.shutdown().await.unwrap();
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
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
