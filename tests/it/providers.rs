//! Providers against the devnet mocks over real TLS + HTTP/2: APNs (token and certificate
//! auth, h2c), FCM HTTP v1 with its OAuth exchange, Huawei Push Kit.

use std::collections::HashMap;
use std::time::Duration;

use devnet::mock_apns::{self, MockApns, MockApnsAuth, MockApnsConfig};
use devnet::mock_fcm;
use devnet::mock_hms::{self, MockHms, MockHmsConfig};
use devnet::{Reply, TestCa};
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use relay::config::Config;
use relay::notifier::{build_services, Verdict};

use crate::support::providers::*;

#[tokio::test]
async fn apns_token_auth_passes_every_check_and_reuses_one_jwt() {
    let s = apns_with_token_auth(10).await;
    let token = apns_token(1);
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        Verdict::Delivered
    );
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        Verdict::Delivered
    );
    let first = s.mock.next_request().await.unwrap();
    let second = s.mock.next_request().await.unwrap();
    assert_eq!(first.problems, Vec::<String>::new());
    assert_eq!(first.token, token);
    assert_eq!(first.topic, TOPIC);
    assert_eq!(first.body["enc_payload"], ENC_PAYLOAD);
    assert!(first.jwt.is_some() && !first.client_certificate);
    assert_eq!(second.jwt, first.jwt, "the JWT is reused");
}

#[tokio::test]
async fn apns_wire_answers_become_verdicts() {
    let s = apns_with_token_auth(1).await;
    let cases = [
        (mock_apns::unregistered(), "Unregistered", false),
        (mock_apns::bad_device_token(), "BadDeviceToken", false),
        (
            mock_apns::device_token_not_for_topic(),
            "DeviceTokenNotForTopic",
            true,
        ),
    ];
    for (n, (reply, reason, config_reason)) in cases.into_iter().enumerate() {
        let token = apns_token(10 + n as u8);
        s.mock.reply(&token, reply);
        let verdict = s.notifier.send(&push("apns", &token)).await;
        let expected = Verdict::TokenInvalid {
            reason,
            config_reason,
        };
        assert_eq!(verdict, expected);
    }
    let token = apns_token(20);
    s.mock.reply(&token, mock_apns::too_many_requests(120));
    let retry = |reason, after| Verdict::Retry { reason, after };
    let after = Some(Duration::from_secs(120));
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        retry("TooManyRequests", after)
    );
    let token = apns_token(21);
    s.mock.reply(&token, mock_apns::internal_server_error());
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        retry("InternalServerError", None)
    );
    let token = apns_token(22);
    s.mock.reply(&token, Reply::Hang);
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        retry("timeout", None)
    );
}

#[tokio::test]
async fn apns_rejected_jwt_is_renewed_and_retried_once() {
    let s = apns_with_token_auth(10).await;
    let token = apns_token(2);
    s.mock
        .reply_once(&token, mock_apns::expired_provider_token());
    assert_eq!(
        s.notifier.send(&push("apns", &token)).await,
        Verdict::Delivered
    );
    assert_eq!(s.mock.request_count(), 2);

    let token = apns_token(3);
    s.mock.reply(&token, mock_apns::expired_provider_token());
    let verdict = s.notifier.send(&push("apns", &token)).await;
    let expected = Verdict::Drop {
        reason: "ExpiredProviderToken",
        alert: true,
    };
    assert_eq!(verdict, expected);
    assert_eq!(s.mock.request_count(), 4, "one retry, then drop");
}

#[tokio::test]
async fn apns_certificate_auth_presents_the_p12_identity() {
    let client_ca = TestCa::new().unwrap();
    let (cert, key) = client_ca.issue(&["session-push-relay"]).unwrap();
    let chain = PrivateKeyChain::new(
        vec![1u8; 20],
        PrivateKey::from_der(key.secret_pkcs8_der()).unwrap(),
        [Certificate::from_der(&cert).unwrap()],
    );
    let mut store = KeyStore::new();
    store.add_entry("relay", KeyStoreEntry::PrivateKeyChain(chain));
    let p12 = store.writer("hunter2").write().unwrap();

    let mock = MockApns::start(MockApnsConfig {
        topic: TOPIC.into(),
        auth: MockApnsAuth::Certificate {
            client_ca: client_ca.der(),
        },
        tls: true,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p12 = write(dir.path(), "apns.p12", p12);
    let ca = write(dir.path(), "ca.pem", mock.ca_pem().unwrap());
    let notifier = service(&format!(
        r#"[[services]]
        name = "apns"
        kind = "apns"
        endpoint = "{}"
        ca_file = "{}"
        certificate_file = "{}"
        certificate_password = "hunter2""#,
        mock.url(),
        ca.display(),
        p12.display()
    ))
    .await;
    let token = apns_token(4);
    assert_eq!(
        notifier.send(&push("apns", &token)).await,
        Verdict::Delivered
    );
    let request = mock.next_request().await.unwrap();
    assert!(request.client_certificate);
    assert_eq!(request.jwt, None);
    assert_eq!(request.problems, Vec::<String>::new());
}

#[tokio::test]
async fn apns_http_endpoint_speaks_h2c() {
    let s = apns_with_token_auth_over(false, 10).await;
    assert!(s.mock.url().starts_with("http://"));
    assert_eq!(
        s.notifier.send(&push("apns", &apns_token(5))).await,
        Verdict::Delivered
    );
}

#[tokio::test]
async fn a_bad_key_file_names_the_service_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p8 = write(dir.path(), "AuthKey.p8", "not a key");
    let config = Config::load_from(
        Some(&format!(
            "[[services]]\nname = \"apns-main\"\nkind = \"apns\"\nkey_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"",
            p8.display()
        )),
        HashMap::new(),
    )
    .unwrap();
    let Err(error) = build_services(&config.services).await else {
        panic!("a garbage .p8 was accepted");
    };
    let text = error.to_string();
    assert!(
        text.contains("apns-main") && text.contains("AuthKey.p8"),
        "{text}"
    );
}

#[tokio::test]
async fn fcm_two_sends_share_one_oauth_exchange() {
    let s = fcm().await;
    assert_eq!(
        s.notifier.send(&push("firebase", FCM_TOKEN)).await,
        Verdict::Delivered
    );
    let mut quiet = push("firebase", FCM_TOKEN);
    quiet.namespace = 12;
    assert_eq!(s.notifier.send(&quiet).await, Verdict::Delivered);
    assert_eq!(s.mock.token_requests(), 1);
    let first = s.mock.next_request().await.unwrap();
    let second = s.mock.next_request().await.unwrap();
    assert_eq!(first.problems, Vec::<String>::new());
    assert_eq!(first.body["message"]["data"]["enc_payload"], ENC_PAYLOAD);
    assert_eq!(first.body["message"]["android"]["priority"], "high");
    assert_eq!(second.body["message"]["android"]["priority"], "normal");
    assert_eq!(first.access_token, second.access_token);
}

#[tokio::test]
async fn fcm_exports_the_access_token_expiry_under_its_own_name() {
    use crate::support::metrics;
    use relay::admin::metrics as names;
    metrics::install();
    let s = fcm().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(
        s.notifier.send(&push("firebase", FCM_TOKEN)).await,
        Verdict::Delivered
    );
    let service = [("service", "firebase")];
    let token_expiry = metrics::value(names::OAUTH_TOKEN_EXPIRY, &service).unwrap();
    assert!(token_expiry > before, "the hourly access token's expiry");
    // The service-account key has no known expiry: no credential expiry, not the token's.
    assert_eq!(metrics::value(names::CREDENTIAL_EXPIRY, &service), None);
}

#[tokio::test]
async fn fcm_token_is_renewed_within_five_minutes_of_expiry() {
    let s = fcm().await;
    // A token that expires in 299 s is already inside the renewal margin.
    s.mock.set_expires_in(299);
    for expected in 1..=2 {
        assert_eq!(
            s.notifier.send(&push("firebase", FCM_TOKEN)).await,
            Verdict::Delivered
        );
        assert_eq!(s.mock.token_requests(), expected);
    }
    s.mock.set_expires_in(3600);
    for _ in 0..2 {
        assert_eq!(
            s.notifier.send(&push("firebase", FCM_TOKEN)).await,
            Verdict::Delivered
        );
    }
    assert_eq!(s.mock.token_requests(), 3);
}

#[tokio::test]
async fn fcm_unauthenticated_refreshes_the_token_once() {
    let s = fcm().await;
    assert_eq!(
        s.notifier.send(&push("firebase", FCM_TOKEN)).await,
        Verdict::Delivered
    );
    s.mock.revoke_access_tokens();
    assert_eq!(
        s.notifier.send(&push("firebase", FCM_TOKEN)).await,
        Verdict::Delivered
    );
    assert_eq!(s.mock.token_requests(), 2);
}

#[tokio::test]
async fn fcm_wire_answers_become_verdicts() {
    let s = fcm().await;
    let invalid = |reason, config_reason| Verdict::TokenInvalid {
        reason,
        config_reason,
    };
    let cases = [
        (mock_fcm::unregistered(), invalid("UNREGISTERED", false)),
        (
            mock_fcm::invalid_argument(),
            invalid("INVALID_ARGUMENT", false),
        ),
        (
            mock_fcm::quota_exceeded(30),
            Verdict::Retry {
                reason: "QUOTA_EXCEEDED",
                after: Some(Duration::from_secs(30)),
            },
        ),
        (
            mock_fcm::unavailable(),
            Verdict::Retry {
                reason: "UNAVAILABLE",
                after: None,
            },
        ),
    ];
    for (n, (reply, expected)) in cases.into_iter().enumerate() {
        let token = format!("{FCM_TOKEN}-{n}");
        s.mock.reply(&token, reply);
        assert_eq!(s.notifier.send(&push("firebase", &token)).await, expected);
    }
}

#[tokio::test]
async fn fcm_sender_id_mismatch_stops_the_service_and_invalidates_nothing() {
    let s = fcm().await;
    let token = format!("{FCM_TOKEN}-mismatch");
    s.mock.reply(&token, mock_fcm::sender_id_mismatch());
    let stopped = Verdict::Drop {
        reason: "SENDER_ID_MISMATCH",
        alert: true,
    };
    assert_eq!(s.notifier.send(&push("firebase", &token)).await, stopped);
    // Deliveries for the service stop: a token the mock would accept is not sent.
    assert_eq!(s.notifier.send(&push("firebase", FCM_TOKEN)).await, stopped);
    let first = s.mock.next_request().await.unwrap();
    assert_eq!(first.body["message"]["token"], token.as_str());
}

#[tokio::test]
async fn hms_round_trip_invalid_token_and_expired_oauth() {
    let mock = MockHms::start(MockHmsConfig {
        app_id: "104000001".into(),
        app_secret: "s3cret".into(),
        tls: true,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", mock.ca_pem().unwrap());
    let notifier = service(&format!(
        "[[services]]\nname = \"huawei\"\nkind = \"hms\"\napp_id = \"104000001\"\napp_secret = \"s3cret\"\nendpoint = \"{}\"\ntoken_endpoint = \"{}\"\nca_file = \"{}\"",
        mock.url(),
        mock.token_url(),
        ca.display()
    ))
    .await;
    let token = "hms-token-0123456789abcdef0123456789";
    assert_eq!(
        notifier.send(&push("huawei", token)).await,
        Verdict::Delivered
    );
    let request = mock.next_request().await.unwrap();
    assert_eq!(request.problems, Vec::<String>::new());

    let dead = "hms-token-dead-0123456789abcdef01234";
    mock.reply(dead, mock_hms::invalid_token());
    let expected = Verdict::TokenInvalid {
        reason: "InvalidToken",
        config_reason: false,
    };
    assert_eq!(notifier.send(&push("huawei", dead)).await, expected);

    mock.reply_once(token, mock_hms::oauth_expired());
    assert_eq!(
        notifier.send(&push("huawei", token)).await,
        Verdict::Delivered
    );
    assert_eq!(mock.token_requests(), 2);
}
