//! APNs provider tokens: an ES256 JWT from the `.p8` key, reused for 40 minutes
//! (PROTOCOL §11.1: reuse 20–50 min; APNs rejects JWTs older than 60 min and throttles
//! refreshes more often than every 20 min).

use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// Age at which a new JWT is made.
const REUSE_SECS: i64 = 40 * 60;

/// Makes and caches the provider token of one APNs service.
pub(crate) struct JwtSigner {
    key: EncodingKey,
    key_id: String,
    team_id: String,
    /// `(iat, jwt)` of the token in use.
    current: Mutex<Option<(i64, Arc<str>)>>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

impl JwtSigner {
    /// Parses a PKCS#8 PEM P-256 key (the `.p8` file Apple hands out).
    pub(crate) fn from_p8(
        pem: &[u8],
        key_id: &str,
        team_id: &str,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let signer = JwtSigner {
            key: EncodingKey::from_ec_pem(pem)?,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            current: Mutex::new(None),
        };
        // Sign once now so a key that parses but cannot sign fails at startup.
        signer.sign(0)?;
        Ok(signer)
    }

    /// The JWT to send at `now` (unix seconds): the cached one while younger than 40 min.
    pub(crate) fn token(&self, now: i64) -> Result<Arc<str>, jsonwebtoken::errors::Error> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((iat, jwt)) = current.as_ref() {
            if now >= *iat && now - iat < REUSE_SECS {
                return Ok(jwt.clone());
            }
        }
        let jwt: Arc<str> = self.sign(now)?.into();
        *current = Some((now, jwt.clone()));
        Ok(jwt)
    }

    /// Forgets `rejected` so the next [`token`](Self::token) signs a new one; a JWT already
    /// replaced by a concurrent send is left alone (one renewal per rejection burst).
    pub(crate) fn renew(&self, rejected: &str) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|(_, jwt)| &**jwt == rejected) {
            *current = None;
        }
    }

    fn sign(&self, iat: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None; // PROTOCOL §11.1: exactly {"alg":"ES256","kid":…}
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            iat,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn signer() -> (JwtSigner, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let signer = JwtSigner::from_p8(key.serialize_pem().as_bytes(), "KEYID12345", "TEAM123456");
        (signer.unwrap(), key.public_key_pem())
    }

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let b64 = jwt.split('.').nth(i).unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn header_claims_and_signature_are_as_apns_wants() {
        let (signer, public) = signer();
        let jwt = signer.token(1_700_000_000).unwrap();
        assert_eq!(
            part(&jwt, 0),
            serde_json::json!({"alg": "ES256", "kid": "KEYID12345"})
        );
        assert_eq!(
            part(&jwt, 1),
            serde_json::json!({"iss": "TEAM123456", "iat": 1_700_000_000})
        );
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let key = jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        jsonwebtoken::decode::<serde_json::Value>(&*jwt, &key, &validation).unwrap();
        // Raw R ‖ S, 64 bytes.
        let sig = jwt.split('.').nth(2).unwrap();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        assert_eq!(sig.len(), 64);
    }

    #[test]
    fn reused_for_forty_minutes_then_renewed() {
        let (signer, _) = signer();
        let t0 = 1_700_000_000;
        let first = signer.token(t0).unwrap();
        assert_eq!(signer.token(t0 + 39 * 60).unwrap(), first);
        let second = signer.token(t0 + 40 * 60).unwrap();
        assert_ne!(second, first);
        assert_eq!(signer.token(t0 + 79 * 60).unwrap(), second);
    }

    #[test]
    fn renew_replaces_only_the_rejected_jwt() {
        let (signer, _) = signer();
        let first = signer.token(100).unwrap();
        signer.renew("some.other.jwt");
        assert_eq!(signer.token(101).unwrap(), first);
        signer.renew(&first);
        assert_ne!(signer.token(102).unwrap(), first);
    }

    #[test]
    fn a_key_that_is_not_p256_pkcs8_is_refused() {
        assert!(JwtSigner::from_p8(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "k",
            "t"
        )
        .is_err());
    }
}
