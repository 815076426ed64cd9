//! The symmetric layer between the client and the relay: key derivation, opening the request,
//! sealing the reply (PROTOCOL §4.3, §4.5).

use crate::crypto::{self, KeyPair, AES_GCM_IV_LEN, XCHACHA_NONCE_LEN};

use super::OnionError;

/// The cipher of one onion layer, from the routing info's `enc_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncType {
    /// XChaCha20-Poly1305-IETF, `nonce(24) ‖ ct ‖ tag(16)`.
    XChaCha20,
    /// AES-256-GCM, `iv(12) ‖ ct ‖ tag(16)`.
    AesGcm,
}

impl EncType {
    /// The cipher for an `enc_type` value; absent means AES-GCM (PROTOCOL §4.2 step 3).
    pub fn from_wire(name: Option<&str>) -> Result<Self, OnionError> {
        match name {
            Some("xchacha20" | "xchacha20-poly1305") => Ok(EncType::XChaCha20),
            Some("aes-gcm" | "gcm") | None => Ok(EncType::AesGcm),
            Some(_) => Err(OnionError::UnknownEncType),
        }
    }

    /// The metric label (`relay_onion_requests_total{enc_type}`).
    pub fn label(self) -> &'static str {
        match self {
            EncType::XChaCha20 => "xchacha20",
            EncType::AesGcm => "aes-gcm",
        }
    }

    fn nonce_len(self) -> usize {
        match self {
            EncType::XChaCha20 => XCHACHA_NONCE_LEN,
            EncType::AesGcm => AES_GCM_IV_LEN,
        }
    }
}

/// Where reply nonces come from: [`RandomNonces`] in production; tests inject fixed ones.
pub trait NonceSource: Send + Sync {
    /// Fills `nonce` (12 or 24 bytes) with a nonce never used before with this key.
    fn fill(&self, nonce: &mut [u8]);
}

/// Fresh random nonces from libsodium.
pub struct RandomNonces;

impl NonceSource for RandomNonces {
    fn fill(&self, nonce: &mut [u8]) {
        nonce.copy_from_slice(&crypto::random_bytes(nonce.len()));
    }
}

/// One opened layer: the cipher and the symmetric key shared with the client.
pub struct Layer {
    enc_type: EncType,
    key: [u8; 32],
}

impl Layer {
    /// Derives the key from the relay's onion key `b`/`B` and the client's ephemeral key `A`.
    pub fn derive(
        enc_type: EncType,
        relay: &KeyPair,
        ephemeral: &[u8; 32],
    ) -> Result<Self, OnionError> {
        // S = X25519(b, A); a low-order A makes S all-zero, which libsodium refuses.
        let shared = crypto::x25519(relay.secret(), ephemeral)
            .map_err(|_| OnionError::InvalidEphemeralKey)?;
        // PROTOCOL §4.3: S itself is never the key.
        let key = match enc_type {
            EncType::AesGcm => crypto::hmac_sha256(b"LOKI", &shared),
            EncType::XChaCha20 => crypto::blake2b::<32>(&[&shared, ephemeral, relay.public()]),
        };
        Ok(Layer { enc_type, key })
    }

    /// The layer's cipher.
    pub fn enc_type(&self) -> EncType {
        self.enc_type
    }

    /// Opens `nonce ‖ ct ‖ tag`.
    pub fn open(&self, blob: &[u8]) -> Result<Vec<u8>, OnionError> {
        let nonce_len = self.enc_type.nonce_len();
        if blob.len() < nonce_len {
            return Err(OnionError::Decrypt);
        }
        let (nonce, ct) = blob.split_at(nonce_len);
        let opened = match self.enc_type {
            EncType::XChaCha20 => {
                let mut n = [0u8; XCHACHA_NONCE_LEN];
                n.copy_from_slice(nonce);
                crypto::xchacha20_decrypt(&self.key, &n, ct)
            }
            EncType::AesGcm => {
                let mut iv = [0u8; AES_GCM_IV_LEN];
                iv.copy_from_slice(nonce);
                crypto::aes_gcm_decrypt(&self.key, &iv, ct)
            }
        };
        opened.map_err(|_| OnionError::Decrypt)
    }

    /// Seals `plaintext` as `nonce ‖ ct ‖ tag` with a nonce from `nonces` (PROTOCOL §4.5).
    pub fn seal(&self, plaintext: &[u8], nonces: &dyn NonceSource) -> Vec<u8> {
        match self.enc_type {
            EncType::XChaCha20 => {
                let mut nonce = [0u8; XCHACHA_NONCE_LEN];
                nonces.fill(&mut nonce);
                let ct = crypto::xchacha20_encrypt(&self.key, &nonce, plaintext);
                [&nonce[..], &ct].concat()
            }
            EncType::AesGcm => {
                let mut iv = [0u8; AES_GCM_IV_LEN];
                nonces.fill(&mut iv);
                let ct = crypto::aes_gcm_encrypt(&self.key, &iv, plaintext);
                [&iv[..], &ct].concat()
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::onion::tests::{fixed_nonce, hex32, vectors};

    #[test]
    fn enc_type_names() {
        assert_eq!(
            EncType::from_wire(Some("xchacha20")),
            Ok(EncType::XChaCha20)
        );
        assert_eq!(
            EncType::from_wire(Some("xchacha20-poly1305")),
            Ok(EncType::XChaCha20)
        );
        assert_eq!(EncType::from_wire(Some("aes-gcm")), Ok(EncType::AesGcm));
        assert_eq!(EncType::from_wire(Some("gcm")), Ok(EncType::AesGcm));
        assert_eq!(EncType::from_wire(None), Ok(EncType::AesGcm));
        for bad in ["", "AES-GCM", "chacha20", "xchacha"] {
            assert_eq!(
                EncType::from_wire(Some(bad)),
                Err(OnionError::UnknownEncType)
            );
        }
    }

    fn hop_layer(enc_type: &str) -> Layer {
        let hop = &vectors()["hop_encryption"];
        let relay = KeyPair::from_secret(hex32(&hop["b"]));
        assert_eq!(relay.public(), &hex32(&hop["B"]));
        let enc = EncType::from_wire(Some(enc_type)).unwrap();
        Layer::derive(enc, &relay, &hex32(&hop["A"])).unwrap()
    }

    /// Opens one `hop_encryption` case with the layer its `enc_type` derives.
    fn open_case(case: &serde_json::Value) -> Result<Vec<u8>, OnionError> {
        let layer = hop_layer(case["enc_type"].as_str().unwrap());
        layer.open(&hex::decode(case["ciphertext"].as_str().unwrap()).unwrap())
    }

    #[test]
    fn hop_encryption_vectors_open_and_tampered_ones_fail() {
        let hop = &vectors()["hop_encryption"];
        let cases = hop["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 2);
        for case in cases {
            let plain = case["plaintext_utf8"].as_str().unwrap().as_bytes();
            assert_eq!(open_case(case).unwrap(), plain);
        }
        let tampered = hop["must_fail"].as_array().unwrap();
        assert_eq!(tampered.len(), 4);
        for case in tampered {
            assert_eq!(open_case(case), Err(OnionError::Decrypt));
        }
    }

    #[test]
    fn raw_shared_secret_is_not_the_aes_key() {
        // PROTOCOL §4.3: an implementation that used S directly must not open the vector.
        let hop = &vectors()["hop_encryption"];
        let shared = crypto::x25519(&hex32(&hop["b"]), &hex32(&hop["A"])).unwrap();
        let wrong = Layer {
            enc_type: EncType::AesGcm,
            key: shared,
        };
        let ct = hex::decode(hop["cases"][0]["ciphertext"].as_str().unwrap()).unwrap();
        assert_eq!(wrong.open(&ct), Err(OnionError::Decrypt));
    }

    #[test]
    fn generated_vectors_symmetric_keys() {
        let g = &vectors()["generated_v4_roundtrip"];
        let relay = KeyPair::from_secret(hex32(&g["b"]));
        for case in g["cases"].as_array().unwrap() {
            let enc = EncType::from_wire(case["enc_type"].as_str()).unwrap();
            let layer =
                Layer::derive(enc, &relay, &hex32(&case["client_ephemeral_pubkey"])).unwrap();
            assert_eq!(layer.key(), &hex32(&case["symmetric_key"]));
        }
    }

    #[test]
    fn seal_uses_the_nonce_source_and_opens_again() {
        for enc in [EncType::XChaCha20, EncType::AesGcm] {
            let layer = Layer {
                enc_type: enc,
                key: [7u8; 32],
            };
            let nonce = vec![0x42u8; enc.nonce_len()];
            let sealed = layer.seal(b"reply", &fixed_nonce(&nonce));
            assert_eq!(&sealed[..nonce.len()], &nonce[..]);
            assert_eq!(sealed.len(), nonce.len() + 5 + 16);
            assert_eq!(layer.open(&sealed).unwrap(), b"reply");
            let a = layer.seal(b"reply", &RandomNonces);
            let b = layer.seal(b"reply", &RandomNonces);
            assert_ne!(a[..nonce.len()], b[..nonce.len()], "fresh nonce per reply");
        }
    }

    #[test]
    fn low_order_ephemeral_key_is_refused() {
        let relay = KeyPair::from_secret([3u8; 32]);
        assert!(matches!(
            Layer::derive(EncType::AesGcm, &relay, &[0u8; 32]),
            Err(OnionError::InvalidEphemeralKey)
        ));
    }
}
