//! The cutover as issue 15 judges it: an upstream database with valid rows of every kind
//! (05 and 03 accounts, APNs, FCM and HMS-named services, want_data on and off) plus expired
//! and invalid ones, imported into the Postgres store of a relay that is already running; the
//! relay picks the rows up without a restart, subscribes every valid account on its swarm with
//! its stored signature, and a push for each opens with its stored `enc_key`.

use std::time::{Duration, Instant};

use devnet::clients::SimAccount;
use devnet::device::{self, Failure, Platform};
use devnet::network::{message, Network};
use relay::crypto;

use super::upstream::{self, assert_summary, Row, SCHEMA};
use crate::support::db::{self, Backend};
use crate::support::network::{next_apns, next_fcm, now, swarm_accepted, Device};

const DAY: i64 = 86_400;

/// `[database] changes_poll_secs` of the relay under test.
const POLL_SECS: u64 = 1;
/// How long the relay may take to have a new row on every swarm member: the poll, then the
/// monitor's urgent send (≤ 1 s). Generous for a loaded CI machine; 60 s is the contract.
const PICKUP: Duration = Duration::from_secs(20);

/// A valid upstream subscription and the phone behind it.
struct Valid {
    account: SimAccount,
    device: Device,
    want_data: bool,
    sig_ts: i64,
}

impl Valid {
    fn row(&self) -> Row {
        Row::signed(
            &self.account,
            self.device.service,
            &self.device.token,
            self.device.enc_key,
            &self.device.namespaces,
            self.want_data,
            self.sig_ts,
        )
    }
}

fn session() -> SimAccount {
    SimAccount::session(crypto::random_array())
}

fn huawei_phone() -> Device {
    Device {
        platform: Platform::Android,
        service: "huawei",
        token: format!("hms{}", hex::encode(crypto::random_bytes(32))),
        enc_key: crypto::random_array(),
        namespaces: vec![0],
    }
}

/// The valid rows: one of each kind.
fn valid_rows() -> Vec<Valid> {
    let now = now();
    vec![
        // A 05 iPhone, signed three days ago.
        Valid {
            account: session(),
            device: Device::ios(&[0, 1]),
            want_data: true,
            sig_ts: now - 3 * DAY,
        },
        // A 05 Android phone, signed 13 days ago (expires tomorrow).
        Valid {
            account: session(),
            device: Device::android(&[0]),
            want_data: true,
            sig_ts: now - 13 * DAY,
        },
        // A 03 group through a member's subaccount, on an iPhone.
        Valid {
            account: SimAccount::group_member(crypto::random_array(), crypto::random_array()),
            device: Device::ios(&[11]),
            want_data: true,
            sig_ts: now - 3600,
        },
        // A 05 Android phone that does not want message data.
        Valid {
            account: session(),
            device: Device::android(&[-10, 0]),
            want_data: false,
            sig_ts: now - DAY,
        },
        // A 05 phone on the huawei service (kind `log` here).
        Valid {
            account: session(),
            device: huawei_phone(),
            want_data: true,
            sig_ts: now - 2 * DAY,
        },
    ]
}

/// One expired row and three invalid ones.
fn other_rows() -> Vec<Row> {
    let now = now();
    let phone = Device::ios(&[0]);
    let expired = Row::signed(
        &session(),
        "apns",
        &phone.token,
        phone.enc_key,
        &[0],
        true,
        now - 15 * DAY,
    );
    // Signed for want_data = true, stored with false: the signature does not verify.
    let mut badly_signed = Row::signed(
        &session(),
        "firebase",
        &Device::android(&[0]).token,
        phone.enc_key,
        &[0],
        true,
        now - DAY,
    );
    badly_signed.want_data = false;
    let unconfigured = Row::signed(
        &session(),
        "windows",
        &"w".repeat(40),
        phone.enc_key,
        &[0],
        true,
        now - DAY,
    );
    // APNs tokens are 64 hex digits.
    let bad_token = Row::signed(
        &session(),
        "apns",
        &"z".repeat(64),
        phone.enc_key,
        &[0],
        true,
        now - DAY,
    );
    vec![expired, badly_signed, unconfigured, bad_token]
}

#[cfg_attr(
    not(prereq_postgres),
    ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\""
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_upstream_database_is_served_by_a_running_relay() {
    db::run(Backend::Postgres, |relay_db| async move {
        db::run(Backend::Postgres, |upstream_db| async move {
            cutover(relay_db.url(), upstream_db.url()).await
        })
        .await
    })
    .await
    .unwrap();
}

async fn cutover(relay_url: &str, upstream_url: &str) -> anyhow::Result<()> {
    let valid = valid_rows();
    let mut rows: Vec<Row> = valid.iter().map(Valid::row).collect();
    rows.extend(other_rows());
    upstream::fill(upstream_url, SCHEMA, &rows).await?;

    // Renewals far apart: whatever reaches the swarm in this test comes from the catch-up.
    let net = Network::builder()
        .nodes(6)
        .swarms(2)
        .resubscribe_secs(600, 600)
        .database_url(relay_url)
        .log_services(&["huawei"])
        .changes_poll_secs(POLL_SECS)
        .start()
        .await?;
    let config = net.config_path().to_str().unwrap().to_owned();
    let args = ["--from", upstream_url, "--config", config.as_str()];
    let first = "added=5 updated=0 unchanged=0 expired=1 invalid=3";

    // A dry run counts the same and writes nothing.
    assert_summary(
        &upstream::import(&[&args[..], &["--dry-run"]].concat()).await,
        first,
    );
    let store = net.open_store().await?;
    assert!(store.count_by_service(now()).await?.is_empty());

    let since = Instant::now();
    assert_summary(&upstream::import(&args).await, first);

    // Every valid account on every member of its swarm, with its stored signature (the fake
    // storage server verifies it over the stored sig_ts, namespaces and want_data).
    let deadline = Instant::now() + PICKUP;
    for v in &valid {
        let group = v.account.subaccount().is_some();
        let ok = swarm_accepted(&net, &v.account.account, since, deadline, |item| {
            item.sig_ts == v.sig_ts
                && item.namespaces == v.device.namespaces
                && item.want_data == v.want_data
                && item.subaccount == group
        })
        .await;
        assert!(ok, "{} not subscribed on its swarm", v.device.service);
    }

    // A push for each phone with a mock provider opens with its stored enc_key.
    for v in valid.iter().filter(|v| v.device.service != "huawei") {
        let ns = *v.device.namespaces.last().unwrap();
        let msg = message(v.account.account, ns, b"imported and served");
        assert!(net.store_message(&msg).await? > 0);
        let (token, payload) = match v.device.platform {
            Platform::Ios => next_apns(&net).await,
            Platform::Android => next_fcm(&net).await,
        };
        assert_eq!(token, v.device.token);
        if v.want_data {
            v.device.assert_shows(&payload, &msg);
        } else {
            // Without data the apps show their generic notification; what matters here is
            // that the payload opens with the stored key.
            let opened = device::open(v.device.platform, &payload, &v.device.enc_key);
            assert!(
                !matches!(opened, Err(Failure::Decrypt | Failure::BadPayload)),
                "{opened:?}"
            );
        }
    }

    // Idempotent: a second run finds everything in place.
    assert_summary(
        &upstream::import(&args).await,
        "added=0 updated=0 unchanged=5 expired=1 invalid=3",
    );
    assert_eq!(
        store
            .count_by_service(now())
            .await?
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>(),
        5
    );
    net.shutdown().await
}
