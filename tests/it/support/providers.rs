//! Provider test helpers: services built through the real config loader against the mocks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use devnet::mock_apns::{MockApns, MockApnsAuth, MockApnsConfig};
use devnet::mock_fcm::{MockFcm, MockFcmConfig};
use relay::config::Config;
use relay::notifier::{build_services, Notifier, Push};
use relay::subscription::DeviceToken;

/// The default APNs topic.
pub const TOPIC: &str = "com.loki-project.loki-messenger";
/// APNs key id used by the tests.
pub const KEY_ID: &str = "KEYID12345";
/// APNs team id used by the tests.
pub const TEAM_ID: &str = "TEAM123456";
/// A base64 `enc_payload` (contents do not matter to providers).
pub const ENC_PAYLOAD: &str = "ABEiM0RVZneImaq7zN3u/wD/7t3Mu6qZI5/vaeVofI2v4vSKgMtTQQ5YGWrlYEMG";

/// A push with data in namespace 0 (FCM priority high).
pub fn push(service: &str, token: &str) -> Push {
    Push {
        service: service.into(),
        token: DeviceToken::new(token),
        enc_payload: ENC_PAYLOAD.into(),
        has_data: true,
        namespace: 0,
    }
}

/// A distinct 64-hex APNs token per `n`.
pub fn apns_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// Writes a file into the test directory.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// One service from a `[[services]]` TOML table, through the real config loader.
pub async fn service(toml: &str) -> Arc<dyn Notifier> {
    let config = Config::load_from(Some(toml), HashMap::new()).unwrap();
    let name = config.services[0].name().to_owned();
    let services = build_services(&config.services).await.unwrap();
    services.get(&name).unwrap().1.clone()
}

/// A mock APNs with token auth and the notifier pointed at it.
pub struct ApnsSetup {
    pub mock: MockApns,
    pub notifier: Arc<dyn Notifier>,
    _dir: tempfile::TempDir,
}

/// Starts a TLS mock APNs and builds a token-auth service for it.
pub async fn apns_with_token_auth(timeout_secs: u64) -> ApnsSetup {
    apns_with_token_auth_over(true, timeout_secs).await
}

/// Starts a mock APNs over TLS, or over h2c when `tls` is false, and builds a token-auth
/// service for it.
pub async fn apns_with_token_auth_over(tls: bool, timeout_secs: u64) -> ApnsSetup {
    let key = rcgen::KeyPair::generate().unwrap();
    let mock = MockApns::start(MockApnsConfig {
        topic: TOPIC.into(),
        auth: MockApnsAuth::Token {
            public_key_pem: key.public_key_pem(),
            key_id: KEY_ID.into(),
            team_id: TEAM_ID.into(),
        },
        tls,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p8 = write(dir.path(), "AuthKey.p8", key.serialize_pem());
    let ca_line = match mock.ca_pem() {
        Some(pem) => format!(
            "ca_file = \"{}\"",
            write(dir.path(), "ca.pem", pem).display()
        ),
        None => String::new(),
    };
    let notifier = service(&format!(
        r#"[[services]]
        name = "apns"
        kind = "apns"
        endpoint = "{}"
        {ca_line}
        key_file = "{}"
        key_id = "{KEY_ID}"
        team_id = "{TEAM_ID}"
        request_timeout_secs = {timeout_secs}"#,
        mock.url(),
        p8.display()
    ))
    .await;
    ApnsSetup {
        mock,
        notifier,
        _dir: dir,
    }
}

/// A mock FCM and the notifier pointed at it.
pub struct FcmSetup {
    pub mock: MockFcm,
    pub notifier: Arc<dyn Notifier>,
    _dir: tempfile::TempDir,
}

/// An FCM registration token.
pub const FCM_TOKEN: &str = "fcm-token-0123456789abcdef0123456789abcdef";

/// Starts a TLS mock FCM and builds a service from the fixture key (token_uri rewritten).
pub async fn fcm() -> FcmSetup {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let key_file = std::fs::read_to_string(format!("{fixtures}/fcm-service-account.json")).unwrap();
    let mut account: serde_json::Value = serde_json::from_str(&key_file).unwrap();
    let mock = MockFcm::start(MockFcmConfig {
        project_id: "relay-test".into(),
        client_email: account["client_email"].as_str().unwrap().into(),
        public_key_pem: std::fs::read_to_string(format!("{fixtures}/fcm-service-account.pub.pem"))
            .unwrap(),
        tls: true,
    })
    .await
    .unwrap();
    account["token_uri"] = mock.token_uri().into();
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "service-account.json", account.to_string());
    let ca = write(dir.path(), "ca.pem", mock.ca_pem().unwrap());
    let notifier = service(&format!(
        "[[services]]\nname = \"firebase\"\nkind = \"fcm\"\nservice_account_file = \"{}\"\nendpoint = \"{}\"\nca_file = \"{}\"",
        key.display(),
        mock.url(),
        ca.display()
    ))
    .await;
    FcmSetup {
        mock,
        notifier,
        _dir: dir,
    }
}
