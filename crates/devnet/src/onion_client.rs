//! A v4 onion-request client that plays the last service node (PROTOCOL §4.6).
//!
//! It builds a layer as libsession-util does: a fresh ephemeral X25519 key pair `a`/`A`, the
//! symmetric key of §4.3 from `S = X25519(a, B)`, the plaintext of §4.4 and the body of §4.6;
//! then it opens and parses the reply (§4.5). The key derivation is written here again from the
//! spec rather than borrowed from `api::onion`, so tests compare two implementations.

use anyhow::{bail, ensure, Context};
use bendy::decoding::{Decoder, Object};
use bendy::encoding::Encoder;
use serde::Serialize;

use relay::crypto::{self, AES_GCM_IV_LEN, XCHACHA_NONCE_LEN};

/// How the client encrypts its layer, and what it writes as `enc_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEncType {
    /// XChaCha20-Poly1305, `"enc_type":"xchacha20"`.
    XChaCha20,
    /// AES-256-GCM, `"enc_type":"aes-gcm"`.
    AesGcm,
    /// AES-256-GCM with no `enc_type` key, as some Android builds send.
    AesGcmImplicit,
}

impl ClientEncType {
    /// Every variant, for tests that cover them all.
    pub const ALL: [ClientEncType; 3] = [
        ClientEncType::XChaCha20,
        ClientEncType::AesGcm,
        ClientEncType::AesGcmImplicit,
    ];

    /// The `enc_type` value sent, if any.
    pub fn wire_name(self) -> Option<&'static str> {
        match self {
            ClientEncType::XChaCha20 => Some("xchacha20"),
            ClientEncType::AesGcm => Some("aes-gcm"),
            ClientEncType::AesGcmImplicit => None,
        }
    }

    fn nonce_len(self) -> usize {
        match self {
            ClientEncType::XChaCha20 => XCHACHA_NONCE_LEN,
            ClientEncType::AesGcm | ClientEncType::AesGcmImplicit => AES_GCM_IV_LEN,
        }
    }
}

/// A client of one relay, known by its onion public key `B`.
pub struct OnionClient {
    relay_pubkey: [u8; 32],
}

/// One built request: the body to POST and what is needed to open its reply.
pub struct OnionRequest {
    enc: ClientEncType,
    key: [u8; 32],
    ephemeral_pubkey: [u8; 32],
    ciphertext: Vec<u8>,
    body: Vec<u8>,
}

/// A decrypted reply.
#[derive(Debug)]
pub struct OnionReply {
    /// The inner HTTP status (`code`).
    pub code: u16,
    /// The inner headers, as sent.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The inner body.
    pub body: Vec<u8>,
}

/// The routing info, in the key order the storage servers' clients write it.
#[derive(Serialize)]
struct Routing<'a> {
    host: &'a str,
    target: &'a str,
    method: &'a str,
    protocol: &'a str,
    port: u16,
    ephemeral_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    enc_type: Option<&'a str>,
}

#[derive(Serialize)]
struct Meta<'a> {
    method: &'a str,
    endpoint: &'a str,
    headers: Headers,
}

#[derive(Serialize)]
struct Headers {
    #[serde(rename = "Content-Type")]
    content_type: &'static str,
}

impl OnionClient {
    /// A client for the relay whose onion public key is `relay_pubkey`.
    pub fn new(relay_pubkey: [u8; 32]) -> Self {
        OnionClient { relay_pubkey }
    }

    /// Wraps `method endpoint` with `body` (`None`: a list holding only the meta), with a
    /// fresh ephemeral key and nonce.
    pub fn request(
        &self,
        enc: ClientEncType,
        method: &str,
        endpoint: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<OnionRequest> {
        let plaintext = v4_plaintext(method, endpoint, body)?;
        let nonce = crypto::random_bytes(enc.nonce_len());
        self.seal(enc, crypto::random_array(), &nonce, &plaintext)
    }

    /// Wraps `plaintext` with a chosen ephemeral secret and nonce (vectors, malformed inners).
    pub fn seal(
        &self,
        enc: ClientEncType,
        ephemeral_secret: [u8; 32],
        nonce: &[u8],
        plaintext: &[u8],
    ) -> anyhow::Result<OnionRequest> {
        let ephemeral_pubkey = crypto::x25519_base(&ephemeral_secret);
        let shared = crypto::x25519(&ephemeral_secret, &self.relay_pubkey)
            .context("relay onion key is a low-order point")?;
        let key = match enc {
            ClientEncType::XChaCha20 => {
                crypto::blake2b::<32>(&[&shared, &ephemeral_pubkey, &self.relay_pubkey])
            }
            ClientEncType::AesGcm | ClientEncType::AesGcmImplicit => {
                crypto::hmac_sha256(b"LOKI", &shared)
            }
        };
        let ciphertext = encrypt(enc, &key, nonce, plaintext)?;
        let routing = Routing {
            host: "push.getsession.org",
            target: "/oxen/v4/lsrpc",
            method: "POST",
            protocol: "https",
            port: 443,
            ephemeral_key: hex::encode(ephemeral_pubkey),
            enc_type: enc.wire_name(),
        };
        let body = frame(&ciphertext, &serde_json::to_vec(&routing)?);
        Ok(OnionRequest {
            enc,
            key,
            ephemeral_pubkey,
            ciphertext,
            body,
        })
    }
}

impl OnionRequest {
    /// The body to POST to `/oxen/v4/lsrpc`.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The encrypted layer alone, to frame with other routing info.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The ephemeral public key `A`.
    pub fn ephemeral_pubkey(&self) -> &[u8; 32] {
        &self.ephemeral_pubkey
    }

    /// Decrypts and parses the relay's reply body.
    pub fn open_reply(&self, reply: &[u8]) -> anyhow::Result<OnionReply> {
        let plaintext = self.decrypt_reply(reply)?;
        let mut decoder = Decoder::new(&plaintext);
        let (meta, body) = {
            let Some(Object::List(mut list)) = decoder.next_object()? else {
                bail!("reply is not a bencoded list");
            };
            let Some(Object::Bytes(meta)) = list.next_object()? else {
                bail!("reply list does not start with a string");
            };
            let Some(Object::Bytes(body)) = list.next_object()? else {
                bail!("reply list has no body string");
            };
            ensure!(list.next_object()?.is_none(), "reply list has a third item");
            (meta.to_vec(), body.to_vec())
        };
        ensure!(
            decoder.next_object()?.is_none(),
            "data after the reply list"
        );
        let meta: serde_json::Value = serde_json::from_slice(&meta)?;
        let code = meta["code"].as_u64().context("reply meta without code")?;
        let headers = meta["headers"].as_object().cloned().unwrap_or_default();
        Ok(OnionReply {
            code: u16::try_from(code)?,
            headers,
            body,
        })
    }

    /// Decrypts the relay's reply body to the bencoded reply list.
    pub fn decrypt_reply(&self, reply: &[u8]) -> anyhow::Result<Vec<u8>> {
        let n = self.enc.nonce_len();
        ensure!(reply.len() >= n, "reply shorter than its nonce");
        let (nonce, ct) = reply.split_at(n);
        let opened = match self.enc {
            ClientEncType::XChaCha20 => {
                crypto::xchacha20_decrypt(&self.key, &nonce.try_into()?, ct)
            }
            ClientEncType::AesGcm | ClientEncType::AesGcmImplicit => {
                crypto::aes_gcm_decrypt(&self.key, &nonce.try_into()?, ct)
            }
        };
        Ok(opened?)
    }
}

/// `u32le(len(ct)) ‖ ct ‖ routing` (PROTOCOL §4.1).
pub fn frame(ciphertext: &[u8], routing: &[u8]) -> Vec<u8> {
    let len = u32::try_from(ciphertext.len()).unwrap_or(u32::MAX);
    [&len.to_le_bytes()[..], ciphertext, routing].concat()
}

/// The request plaintext `l<meta>[<body>]e` with the meta clients send (PROTOCOL §4.4).
pub fn v4_plaintext(method: &str, endpoint: &str, body: Option<&[u8]>) -> anyhow::Result<Vec<u8>> {
    let meta = serde_json::to_vec(&Meta {
        method,
        endpoint,
        headers: Headers {
            content_type: "application/json",
        },
    })?;
    let mut encoder = Encoder::new();
    encoder.emit_list(|list| {
        list.emit_bytes(&meta)?;
        body.map_or(Ok(()), |body| list.emit_bytes(body))
    })?;
    Ok(encoder.get_output()?)
}

fn encrypt(
    enc: ClientEncType,
    key: &[u8; 32],
    nonce: &[u8],
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        nonce.len() == enc.nonce_len(),
        "wrong nonce length for {enc:?}"
    );
    let ct = match enc {
        ClientEncType::XChaCha20 => crypto::xchacha20_encrypt(key, &nonce.try_into()?, plaintext),
        ClientEncType::AesGcm | ClientEncType::AesGcmImplicit => {
            crypto::aes_gcm_encrypt(key, &nonce.try_into()?, plaintext)
        }
    };
    Ok([nonce, &ct].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        crate::test_vectors::vectors("onion.json")
    }

    fn unhex(v: &Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    #[test]
    fn builds_the_generated_vector_bodies_byte_for_byte_and_opens_their_replies() {
        let g = &vectors()["generated_v4_roundtrip"];
        let client = OnionClient::new(unhex(&g["B"]).try_into().unwrap());
        for case in g["cases"].as_array().unwrap() {
            let enc = match case["enc_type"].as_str().unwrap() {
                "xchacha20" => ClientEncType::XChaCha20,
                _ => ClientEncType::AesGcm,
            };
            let plain = case["v4_plaintext_utf8"].as_str().unwrap();
            let (meta_len, rest) = plain[1..].split_once(':').unwrap();
            let meta_len: usize = meta_len.parse().unwrap();
            let (_, body) = rest[meta_len..].split_once(':').unwrap();
            let body = body.strip_suffix('e').unwrap();
            let built = v4_plaintext("POST", "/subscribe", Some(body.as_bytes())).unwrap();
            assert_eq!(built, plain.as_bytes());

            let secret = unhex(&case["client_ephemeral_secret"]).try_into().unwrap();
            let request = client
                .seal(enc, secret, &unhex(&case["request_nonce"]), &built)
                .unwrap();
            assert_eq!(request.key.to_vec(), unhex(&case["symmetric_key"]));
            assert_eq!(hex::encode(request.body()), case["body"].as_str().unwrap());

            let reply = request.open_reply(&unhex(&case["reply_body"])).unwrap();
            assert_eq!(reply.code, 200);
            assert_eq!(reply.headers["content-type"], "application/json");
            let json: Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(json["added"], true);
        }
    }

    #[test]
    fn implicit_aes_gcm_omits_enc_type_and_meta_only_lists() {
        let client = OnionClient::new(crypto::x25519_base(&[5u8; 32]));
        let request = client
            .request(ClientEncType::AesGcmImplicit, "POST", "/subscribe", None)
            .unwrap();
        let n = request.ciphertext().len();
        assert_eq!(request.body()[..4], (n as u32).to_le_bytes());
        let routing: Value = serde_json::from_slice(&request.body()[4 + n..]).unwrap();
        assert!(routing.get("enc_type").is_none());
        assert_eq!(
            routing["ephemeral_key"],
            hex::encode(request.ephemeral_pubkey())
        );
        let plain = v4_plaintext("POST", "/x", None).unwrap();
        assert!(plain.starts_with(b"l") && plain.ends_with(b"}e"));
    }

    #[test]
    fn tampered_replies_do_not_open() {
        let client = OnionClient::new(crypto::x25519_base(&[5u8; 32]));
        let request = client
            .request(ClientEncType::XChaCha20, "POST", "/subscribe", Some(b"{}"))
            .unwrap();
        assert!(request.open_reply(b"short").is_err());
        assert!(request.open_reply(&[0u8; 64]).is_err());
    }
}
