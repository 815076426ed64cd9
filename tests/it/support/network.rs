//! End-to-end helpers on top of `devnet::network`: simulated devices, subscribing through
//! onion requests, reading pushes off the mocks and checking what the fake nodes received.

use std::time::{Duration, Instant};

use devnet::clients::SimAccount;
use devnet::device::{self, Metadata, Platform, Shown};
use devnet::fake_storage::{CheckedItem, FakeMessage, MonitorRecord};
use devnet::network::Network;
use devnet::onion_client::ClientEncType;
use relay::crypto;
use relay::subscription::AccountId;
use serde_json::Value;

/// How long a test waits for a push or a renewal before failing.
pub const WAIT: Duration = Duration::from_secs(5);

/// Unix seconds now.
pub fn now() -> i64 {
    relay::clock::unix_now()
}

/// A phone: a service, a device token, an `enc_key` and the namespaces it subscribes to.
#[derive(Clone, Debug)]
pub struct Device {
    pub platform: Platform,
    pub service: &'static str,
    pub token: String,
    pub enc_key: [u8; 32],
    pub namespaces: Vec<i16>,
}

impl Device {
    /// An iPhone on the `apns` service (64-hex token).
    pub fn ios(namespaces: &[i16]) -> Self {
        Self::new(
            Platform::Ios,
            "apns",
            hex::encode(crypto::random_bytes(32)),
            namespaces,
        )
    }

    /// An Android phone on the `firebase` service.
    pub fn android(namespaces: &[i16]) -> Self {
        let token = format!("fcm:{}", hex::encode(crypto::random_bytes(40)));
        Self::new(Platform::Android, "firebase", token, namespaces)
    }

    fn new(platform: Platform, service: &'static str, token: String, ns: &[i16]) -> Self {
        Device {
            platform,
            service,
            token,
            enc_key: crypto::random_array(),
            namespaces: ns.to_vec(),
        }
    }

    /// Opens `enc_payload` as the app would; the notification must carry data.
    pub fn open(&self, enc_payload: &str) -> (Metadata, Vec<u8>) {
        match device::open(self.platform, enc_payload, &self.enc_key) {
            Ok(Shown::Data { metadata, data }) => (metadata, data),
            other => panic!("{:?} did not show data: {other:?}", self.platform),
        }
    }

    /// Opens `enc_payload` and checks it announces `message` with its data.
    pub fn assert_shows(&self, enc_payload: &str, message: &FakeMessage) {
        let (metadata, data) = self.open(enc_payload);
        assert_eq!(metadata.account, hex::encode(message.account.as_bytes()));
        assert_eq!(metadata.hash.as_bytes(), &message.hash[..]);
        assert_eq!(metadata.namespace, Some(i64::from(message.namespace)));
        assert_eq!(metadata.timestamp_ms, message.timestamp_ms);
        assert_eq!(metadata.expiry_ms, Some(message.expiry_ms));
        assert_eq!(metadata.len, message.data.len() as i64);
        assert!(!metadata.too_big);
        assert_eq!(data, message.data);
    }
}

/// The signed `/subscribe` body `account` sends for `device`.
pub fn subscribe_body(account: &SimAccount, device: &Device) -> Value {
    account.subscribe_body(
        device.service,
        &device.token,
        &device.enc_key,
        &device.namespaces,
        now(),
    )
}

/// Sends `body` to `/subscribe` through an onion request; checks the reply is `added`.
pub async fn subscribe_onion(net: &Network, enc: ClientEncType, body: &Value) {
    let reply = net.onion(enc, "/subscribe", body).await.unwrap();
    assert_eq!(reply.code, 200);
    let json: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["added"], true, "{json}");
    assert_eq!(json["success"], true, "{json}");
}

/// The next APNs push: (device token, `enc_payload`).
pub async fn next_apns(net: &Network) -> (String, String) {
    let request = tokio::time::timeout(WAIT, net.apns().next_request())
        .await
        .expect("no APNs push in time")
        .unwrap();
    assert!(request.problems.is_empty(), "{:?}", request.problems);
    let payload = request.body["enc_payload"].as_str().unwrap().to_string();
    (request.token, payload)
}

/// The next FCM push: (device token, `enc_payload`).
pub async fn next_fcm(net: &Network) -> (String, String) {
    let request = tokio::time::timeout(WAIT, net.fcm().next_request())
        .await
        .expect("no FCM push in time")
        .unwrap();
    assert!(request.problems.is_empty(), "{:?}", request.problems);
    let data = &request.body["message"]["data"];
    (
        request.token,
        data["enc_payload"].as_str().unwrap().to_string(),
    )
}

/// The accepted items about `account` in requests received at or after `since`.
pub fn items_for(
    records: &[MonitorRecord],
    account: &AccountId,
    since: Instant,
) -> Vec<CheckedItem> {
    records
        .iter()
        .filter(|r| r.at >= since)
        .flat_map(|r| r.items.iter())
        .filter(|i| i.account.as_ref() == Some(account) && i.result.is_ok())
        .cloned()
        .collect()
}

/// Whether any request received at all mentions `account` (accepted or not).
pub fn mentions(records: &[MonitorRecord], account: &AccountId) -> bool {
    records
        .iter()
        .flat_map(|r| r.items.iter())
        .any(|i| i.account.as_ref() == Some(account))
}

/// Waits until every member of `account`'s swarm accepted an entry for it, received at or
/// after `since`, that `fits`; `false` if one did not by `deadline`.
pub async fn swarm_accepted(
    net: &Network,
    account: &AccountId,
    since: Instant,
    deadline: Instant,
    fits: impl Fn(&CheckedItem) -> bool + Copy,
) -> bool {
    for node in net.members(net.swarm_of(account)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = node
            .wait_for(left, |r| items_for(r, account, since).iter().any(fits))
            .await;
        if !got {
            return false;
        }
    }
    true
}
