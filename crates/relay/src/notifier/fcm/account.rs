//! The Google service account: its key file and the signed JWT assertion of the bearer grant
//! (PROTOCOL §11.2).

use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// OAuth scope of FCM HTTP v1.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Lifetime of an assertion (Google's maximum).
const ASSERTION_SECS: i64 = 3600;
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// What the relay uses from the service-account JSON key.
pub(crate) struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    pub project_id: String,
    key: EncodingKey,
}

#[derive(serde::Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    token_uri: String,
    #[serde(default)]
    project_id: String,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl ServiceAccount {
    /// Parses the JSON key file.
    pub(crate) fn from_json(json: &[u8]) -> Result<Self, BoxError> {
        let file: KeyFile = serde_json::from_slice(json)?;
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes())?;
        let token_uri = if file.token_uri.is_empty() {
            DEFAULT_TOKEN_URI.to_owned()
        } else {
            file.token_uri
        };
        let account = ServiceAccount {
            client_email: file.client_email,
            token_uri,
            project_id: file.project_id,
            key,
        };
        account.assertion(0)?; // a key that parses but cannot sign fails at startup
        Ok(account)
    }

    /// The RS256 JWT exchanged for an access token at `now`.
    pub(crate) fn assertion(&self, now: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const KEY_FILE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/it/fixtures/fcm-service-account.json"
    ));

    #[test]
    fn assertion_has_the_claims_of_the_spec() {
        let account = ServiceAccount::from_json(KEY_FILE.as_bytes()).unwrap();
        let jwt = account.assertion(1_700_000_000).unwrap();
        let part = |i: usize| -> serde_json::Value {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(i).unwrap())
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        };
        assert_eq!(part(0), serde_json::json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(
            part(1),
            serde_json::json!({
                "iss": account.client_email,
                "scope": SCOPE,
                "aud": account.token_uri,
                "iat": 1_700_000_000,
                "exp": 1_700_003_600,
            })
        );
    }

    #[test]
    fn missing_fields_and_bad_keys_are_refused() {
        assert!(ServiceAccount::from_json(br#"{"client_email":"a"}"#).is_err());
        let bad = br#"{"client_email":"a","private_key":"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"}"#;
        assert!(ServiceAccount::from_json(bad).is_err());
    }

    #[test]
    fn token_uri_defaults_to_google() {
        let mut file: serde_json::Value = serde_json::from_str(KEY_FILE).unwrap();
        file.as_object_mut().unwrap().remove("token_uri");
        let account = ServiceAccount::from_json(file.to_string().as_bytes()).unwrap();
        assert_eq!(account.token_uri, DEFAULT_TOKEN_URI);
    }
}
