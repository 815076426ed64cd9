//! The provider mocks of a [`Network`](super::Network) and the files the relay reads
//! to reach them: the APNs `.p8` key, the FCM service-account JSON, both CA certificates and
//! the relay's TOML configuration, all in the network's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::mock_apns::{MockApns, MockApnsAuth, MockApnsConfig};
use crate::mock_fcm::{MockFcm, MockFcmConfig};

/// APNs `apns-topic` the relay is configured with.
pub const APNS_TOPIC: &str = "com.loki-project.loki-messenger";
/// APNs key id.
pub const APNS_KEY_ID: &str = "DEVNETKEY1";
/// APNs team id.
pub const APNS_TEAM_ID: &str = "DEVNETTEAM";
/// The FCM project of the service account.
pub const FCM_PROJECT: &str = "relay-test";

/// A throw-away RSA service account (ring cannot generate RSA keys); its `token_uri` is
/// replaced by the mock's.
const FCM_ACCOUNT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/it/fixtures/fcm-service-account.json"
));
const FCM_PUBLIC_KEY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/it/fixtures/fcm-service-account.pub.pem"
));

/// The running provider mocks and what the relay needs to trust and authenticate to them.
pub(super) struct Mocks {
    pub apns: MockApns,
    pub fcm: MockFcm,
    apns_key_pem: String,
}

impl Mocks {
    /// A TLS mock APNs expecting JWTs signed by a fresh P-256 key, and a TLS mock FCM.
    pub(super) async fn start() -> anyhow::Result<Self> {
        let key = rcgen::KeyPair::generate()?;
        let apns = MockApns::start(MockApnsConfig {
            topic: APNS_TOPIC.into(),
            auth: MockApnsAuth::Token {
                public_key_pem: key.public_key_pem(),
                key_id: APNS_KEY_ID.into(),
                team_id: APNS_TEAM_ID.into(),
            },
            tls: true,
        })
        .await?;
        let account: serde_json::Value = serde_json::from_str(FCM_ACCOUNT)?;
        let fcm = MockFcm::start(MockFcmConfig {
            project_id: FCM_PROJECT.into(),
            client_email: account["client_email"].as_str().unwrap_or("").into(),
            public_key_pem: FCM_PUBLIC_KEY.into(),
            tls: true,
        })
        .await?;
        Ok(Mocks {
            apns,
            fcm,
            apns_key_pem: key.serialize_pem(),
        })
    }
}

/// What goes into the relay's configuration besides the mocks.
pub(super) struct Settings<'a> {
    pub api: SocketAddr,
    pub admin: SocketAddr,
    pub database_url: &'a str,
    pub oxend: &'a str,
    pub resubscribe_secs: (u64, u64),
    pub dummy: bool,
    pub log_services: &'a [String],
    pub changes_poll_secs: Option<u64>,
}

/// Writes the key, CA and configuration files into `dir`; returns the configuration's path.
pub(super) fn write(dir: &Path, s: &Settings<'_>, mocks: &Mocks) -> anyhow::Result<PathBuf> {
    let p8 = put(dir, "AuthKey_DEVNET.p8", &mocks.apns_key_pem)?;
    let apns_ca = put(dir, "apns-ca.pem", &mocks.apns.ca_pem().unwrap_or_default())?;
    let mut account: serde_json::Value = serde_json::from_str(FCM_ACCOUNT)?;
    account["token_uri"] = mocks.fcm.token_uri().into();
    let account = put(dir, "fcm-service-account.json", &account.to_string())?;
    let fcm_ca = put(dir, "fcm-ca.pem", &mocks.fcm.ca_pem().unwrap_or_default())?;
    let (min, max) = s.resubscribe_secs;
    let mut toml = format!(
        r#"[api]
listen = "{api}"

[admin]
listen = "{admin}"

[database]
url = {database}
max_connections = 4
{changes_poll}

[keys]
dir = {keys}

[swarm]
oxend = "{oxend}"
resubscribe_min_secs = {min}
resubscribe_max_secs = {max}

[[services]]
name = "apns"
kind = "apns"
topic = "{APNS_TOPIC}"
endpoint = "{apns_url}"
ca_file = {apns_ca}
key_file = {p8}
key_id = "{APNS_KEY_ID}"
team_id = "{APNS_TEAM_ID}"
request_timeout_secs = 5

[[services]]
name = "firebase"
kind = "fcm"
service_account_file = {account}
endpoint = "{fcm_url}"
ca_file = {fcm_ca}
request_timeout_secs = 5
"#,
        api = s.api,
        admin = s.admin,
        database = quoted(s.database_url),
        changes_poll = s
            .changes_poll_secs
            .map_or(String::new(), |secs| format!("changes_poll_secs = {secs}")),
        keys = quoted_path(&dir.join("keys")),
        oxend = s.oxend,
        apns_url = mocks.apns.url(),
        apns_ca = quoted_path(&apns_ca),
        p8 = quoted_path(&p8),
        account = quoted_path(&account),
        fcm_url = mocks.fcm.url(),
        fcm_ca = quoted_path(&fcm_ca),
    );
    if s.dummy {
        toml.push_str("\n[[services]]\nname = \"dummy\"\nkind = \"log\"\n");
    }
    for name in s.log_services {
        toml.push_str(&format!(
            "\n[[services]]\nname = {}\nkind = \"log\"\n",
            quoted(name)
        ));
    }
    put(dir, "relay.toml", &toml)
}

fn put(dir: &Path, name: &str, contents: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A TOML basic string (JSON string syntax is a subset of it).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn quoted_path(path: &Path) -> String {
    quoted(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_read_back_through_toml() {
        for text in [r#"a"b\c"#, "/tmp/spr network/relay.db", "ünï"] {
            let toml = format!("k = {}", quoted(text));
            let read = config::Config::builder()
                .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
                .build()
                .unwrap()
                .get_string("k")
                .unwrap();
            assert_eq!(read, text);
        }
    }
}
