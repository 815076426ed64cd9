//! APNs over HTTP/2 with our own client (PROTOCOL §11.1): token auth (ES256 JWT from a `.p8`)
//! or certificate auth (TLS client identity from a `.p12`, or a PEM with certificate and key).

mod cert;
mod jwt;
mod verdict;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::http::{self, HttpOptions};
use super::renew::{ask, Answer, Renewable};
use super::{NotifyError, Push, Verdict};
use crate::admin::metrics as names;
use crate::config::ApnsConfig;

pub(crate) use jwt::JwtSigner;
pub(crate) use verdict::verdict;

const PRODUCTION: &str = "https://api.push.apple.com";
const SANDBOX: &str = "https://api.sandbox.push.apple.com";

/// One APNs service.
pub struct Apns {
    service: Arc<str>,
    client: reqwest::Client,
    base: String,
    topic: String,
    expiration_secs: u64,
    /// `None`: certificate auth (the TLS identity is in `client`).
    jwt: Option<JwtSigner>,
}

impl Apns {
    /// Builds the service, reading its key or certificate file once.
    pub fn new(config: &ApnsConfig) -> Result<Self, NotifyError> {
        let service = config.name.as_str();
        let base = http::base_url(service, "endpoint", &config.endpoint, host(config.sandbox))?;
        let (jwt, identity) = credentials(config)?;
        let client = http::build_client(HttpOptions {
            service,
            ca_file: &config.ca_file,
            timeout: Duration::from_secs(config.request_timeout_secs),
            http2_only: true,
            identity,
        })?;
        Ok(Apns {
            service: Arc::from(service),
            client,
            base,
            topic: config.topic.clone(),
            expiration_secs: config.expiration_secs,
            jwt,
        })
    }

    /// The request of PROTOCOL §11.1, with the provider token when token auth is used.
    fn request(&self, push: &Push, now: i64, jwt: Option<&str>) -> reqwest::RequestBuilder {
        let url = format!("{}/3/device/{}", self.base, push.token.expose());
        let request = self
            .client
            .post(url)
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header(
                "apns-expiration",
                now.saturating_add(i64::try_from(self.expiration_secs).unwrap_or(i64::MAX))
                    .to_string(),
            )
            .header("content-type", "application/json")
            .body(body(&push.enc_payload).to_string());
        match jwt {
            Some(jwt) => request.header("authorization", format!("bearer {jwt}")),
            None => request,
        }
    }
}

// === impl Renewable for Apns ===

#[async_trait]
impl Renewable for Apns {
    fn service(&self) -> &str {
        &self.service
    }

    async fn attempt(&self, push: &Push) -> (Answer, Option<Arc<str>>) {
        let now = crate::clock::unix_now();
        let jwt = match self
            .jwt
            .as_ref()
            .map(|signer| signer.token(now))
            .transpose()
        {
            Ok(jwt) => jwt,
            Err(e) => {
                tracing::error!(service = %self.service, error = %e, "cannot sign the APNs JWT");
                return (Verdict::drop_alert("jwt_signing").into(), None);
            }
        };
        let request = self.request(push, now, jwt.as_deref());
        let answer = ask(request, |r| verdict(r.status, &r.body, r.retry_after)).await;
        (answer, jwt)
    }

    async fn renew(&self, rejected: &str) {
        if let Some(signer) = &self.jwt {
            signer.renew(rejected);
        }
    }
}

/// Apple's host for production or sandbox (SPNS `apns-sandbox`) pushes.
fn host(sandbox: bool) -> &'static str {
    if sandbox {
        SANDBOX
    } else {
        PRODUCTION
    }
}

/// Token auth when `key_file` is set, else certificate auth.
fn credentials(
    config: &ApnsConfig,
) -> Result<(Option<JwtSigner>, Option<http::ClientIdentity>), NotifyError> {
    let service = config.name.as_str();
    let invalid = |path: &std::path::Path, what, source| NotifyError::InvalidFile {
        service: service.to_owned(),
        path: path.to_owned(),
        what,
        source,
    };
    if !config.key_file.as_os_str().is_empty() {
        for (key, value) in [("key_id", &config.key_id), ("team_id", &config.team_id)] {
            if value.is_empty() {
                return Err(NotifyError::MissingSetting {
                    service: service.to_owned(),
                    key,
                });
            }
        }
        let pem = http::read_file(service, &config.key_file)?;
        let signer = JwtSigner::from_p8(&pem, &config.key_id, &config.team_id)
            .map_err(|e| invalid(&config.key_file, ".p8 (PKCS#8 P-256) key", Box::new(e)))?;
        return Ok((Some(signer), None));
    }
    if config.certificate_file.as_os_str().is_empty() {
        return Err(NotifyError::MissingSetting {
            service: service.to_owned(),
            key: "key_file or certificate_file",
        });
    }
    let file = http::read_file(service, &config.certificate_file)?;
    let (identity, not_after) = if cert::is_pem(&file) {
        cert::load_pem(&file)
            .map_err(|e| invalid(&config.certificate_file, "PEM certificate + private key", e))?
    } else {
        let password = config.certificate_password.expose();
        cert::load_p12(&file, password)
            .map_err(|e| invalid(&config.certificate_file, ".p12 certificate", e))?
    };
    metrics::gauge!(names::CREDENTIAL_EXPIRY, "service" => service.to_owned())
        .set(not_after as f64);
    Ok((None, Some(identity)))
}

/// The request body of PROTOCOL §11.1 (SPNS `apns.py`).
fn body(enc_payload: &str) -> serde_json::Value {
    serde_json::json!({
        "aps": {
            "alert": {"title": "Session", "body": "You've got a new message"},
            "badge": 1,
            "sound": "default",
            "mutable-content": 1,
            "category": "SECRET",
        },
        "spns": 1,
        "enc_payload": enc_payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_selects_apples_sandbox_host() {
        assert_eq!(host(false), "https://api.push.apple.com");
        assert_eq!(host(true), "https://api.sandbox.push.apple.com");
    }

    #[test]
    fn body_matches_the_vector() {
        let vectors = crate::test_support::payload();
        let expected = &vectors["provider_bodies"]["apns"];
        let enc = expected["enc_payload"].as_str().unwrap();
        assert_eq!(&body(enc), expected);
    }
}
