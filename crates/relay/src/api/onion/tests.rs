//! Vector helpers for the onion unit tests, and the full `generated_v4_roundtrip` vectors.

use serde_json::Value;

use super::layer::{Layer, NonceSource};
use super::{framing, inner, reply};
use crate::api::JsonEndpoint;
use crate::crypto::KeyPair;

/// `onion.json`, copied byte for byte from `spec/vectors/`.
pub(crate) fn vectors() -> Value {
    crate::test_support::vectors("onion.json")
}

/// A 32-byte value from a hex string in the vectors.
pub(crate) fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// A nonce source that always yields the same nonce.
pub(crate) struct FixedNonce(Vec<u8>);

impl NonceSource for FixedNonce {
    fn fill(&self, nonce: &mut [u8]) {
        nonce.copy_from_slice(&self.0);
    }
}

pub(crate) fn fixed_nonce(nonce: &[u8]) -> FixedNonce {
    FixedNonce(nonce.to_vec())
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn lsu_parser_bodies_decrypt_and_reply_sizes_match() {
    let op = &vectors()["outer_parser"];
    let relay = KeyPair::from_secret(hex32(&op["b"]));
    for case in op["cases"].as_array().unwrap() {
        let body = bytes(&case["body"]);
        let outer = framing::parse(&body).unwrap();
        let layer = Layer::derive(outer.enc_type, &relay, &outer.ephemeral_key).unwrap();
        let plain = layer.open(outer.ciphertext).unwrap();
        assert_eq!(plain, case["plaintext_utf8"].as_str().unwrap().as_bytes());
        let sealed = layer.seal(b"Goodbye world", &super::RandomNonces);
        assert_eq!(
            sealed.len() as u64,
            case["reply_size_for_13_byte_plaintext"].as_u64().unwrap()
        );
    }
}

#[test]
fn generated_v4_roundtrip_request_and_reply() {
    let g = &vectors()["generated_v4_roundtrip"];
    let relay = KeyPair::from_secret(hex32(&g["b"]));
    assert_eq!(relay.public(), &hex32(&g["B"]));
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let body = bytes(&case["body"]);
        let outer = framing::parse(&body).unwrap();
        assert_eq!(outer.ephemeral_key, hex32(&case["client_ephemeral_pubkey"]));
        assert!(outer.ciphertext.starts_with(&bytes(&case["request_nonce"])));
        let layer = Layer::derive(outer.enc_type, &relay, &outer.ephemeral_key).unwrap();
        assert_eq!(layer.key(), &hex32(&case["symmetric_key"]));
        let plain = layer.open(outer.ciphertext).unwrap();
        assert_eq!(
            plain,
            case["v4_plaintext_utf8"].as_str().unwrap().as_bytes()
        );

        let request = inner::parse(&plain).unwrap();
        assert_eq!(request.endpoint(), Some(JsonEndpoint::Subscribe));
        assert!(request.is_post());
        let sub: Value = serde_json::from_slice(request.body).unwrap();
        assert_eq!(sub["sig_ts"], 1_700_000_000);

        // The success reply of the vector, sealed with its fixed nonce, is byte-identical.
        let reply_plain = case["reply_plaintext_utf8"].as_str().unwrap();
        let (_, reply_json) = reply_plain.split_once("}}").unwrap();
        let reply_json = reply_json
            .split_once(':')
            .unwrap()
            .1
            .strip_suffix('e')
            .unwrap();
        let encoded = reply::encode(200, reply::JSON, reply_json.as_bytes());
        assert_eq!(encoded, reply_plain.as_bytes());
        let sealed = layer.seal(&encoded, &fixed_nonce(&bytes(&case["reply_nonce"])));
        assert_eq!(hex::encode(sealed), case["reply_body"].as_str().unwrap());
    }
}
