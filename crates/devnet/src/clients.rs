//! Simulated Session clients: accounts that sign subscribe and unsubscribe requests the way the
//! iOS and Android apps do (hex keys, base64 signatures), written from PROTOCOL §2–§3 independently
//! of `relay::subscription` so devnet and the tests check the relay rather than mirror it.

use base64::Engine as _;
use serde_json::{json, Value};

use relay::crypto::{self, Ed25519SecretKey};
use relay::subscription::AccountId;

/// One simulated account and the key that signs for it.
pub struct SimAccount {
    /// The account ID (05 Session ID or 03 group).
    pub account: AccountId,
    signer: Signer,
}

enum Signer {
    /// A 05 account signs with the Ed25519 key behind its Session ID.
    Session(Ed25519SecretKey),
    /// A 03 group member signs with a subaccount key authorised by the group key.
    Subaccount {
        token: [u8; 36],
        token_sig: [u8; 64],
        key: Ed25519SecretKey,
    },
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl SimAccount {
    /// A 05 Session account from a seed.
    pub fn session(seed: [u8; 32]) -> Self {
        let key = crypto::ed25519_keypair_from_seed(&seed);
        let mut account = [0u8; 33];
        account[0] = 0x05;
        // A seed-derived Ed25519 key is always a valid point, so the conversion succeeds.
        let x = crypto::ed25519_pk_to_x25519(&key.public_key()).unwrap_or_default();
        account[1..].copy_from_slice(&x);
        SimAccount {
            account: AccountId(account),
            signer: Signer::Session(key),
        }
    }

    /// A 03 group whose member holds a read-only subaccount token (§3.4).
    pub fn group_member(group_seed: [u8; 32], member_seed: [u8; 32]) -> Self {
        let group = crypto::ed25519_keypair_from_seed(&group_seed);
        let member = crypto::ed25519_keypair_from_seed(&member_seed);
        let mut account = [0u8; 33];
        account[0] = 0x03;
        account[1..].copy_from_slice(&group.public_key());
        let mut token = [0u8; 36];
        token[0] = 0x03;
        token[1] = 0x01; // read
        token[4..].copy_from_slice(&member.public_key());
        let token_sig = crypto::ed25519_sign(&token, &group);
        SimAccount {
            account: AccountId(account),
            signer: Signer::Subaccount {
                token,
                token_sig,
                key: member,
            },
        }
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        match &self.signer {
            Signer::Session(key) => crypto::ed25519_sign(message, key),
            Signer::Subaccount { key, .. } => crypto::ed25519_sign(message, key),
        }
    }

    fn auth_fields(&self, body: &mut serde_json::Map<String, Value>) {
        match &self.signer {
            Signer::Session(key) => {
                body.insert(
                    "session_ed25519".into(),
                    json!(hex::encode(key.public_key())),
                );
            }
            Signer::Subaccount {
                token, token_sig, ..
            } => {
                body.insert("subaccount".into(), json!(b64(token)));
                body.insert("subaccount_sig".into(), json!(b64(token_sig)));
            }
        }
    }

    /// The MONITOR signature (PROTOCOL §3.1) for these fields.
    pub fn monitor_signature(&self, sig_ts: i64, want_data: bool, namespaces: &[i16]) -> [u8; 64] {
        let ns: Vec<String> = namespaces.iter().map(|n| n.to_string()).collect();
        let message = format!(
            "MONITOR{}{}{}{}",
            self.account.to_hex(),
            sig_ts,
            if want_data { "1" } else { "0" },
            ns.join(",")
        );
        self.sign(message.as_bytes())
    }

    /// The Ed25519 key behind a 05 Session ID (`None` for a group member).
    pub fn session_ed25519(&self) -> Option<[u8; 32]> {
        match &self.signer {
            Signer::Session(key) => Some(key.public_key()),
            Signer::Subaccount { .. } => None,
        }
    }

    /// A group member's subaccount token and the group's signature over it (§3.4).
    pub fn subaccount(&self) -> Option<([u8; 36], [u8; 64])> {
        match &self.signer {
            Signer::Session(_) => None,
            Signer::Subaccount {
                token, token_sig, ..
            } => Some((*token, *token_sig)),
        }
    }

    /// A signed `/subscribe` body (PROTOCOL §2.3, §3.1).
    pub fn subscribe_body(
        &self,
        service: &str,
        token: &str,
        enc_key: &[u8; 32],
        namespaces: &[i16],
        sig_ts: i64,
    ) -> Value {
        let ns: Vec<String> = namespaces.iter().map(|n| n.to_string()).collect();
        let message = format!(
            "MONITOR{}{}1{}",
            self.account.to_hex(),
            sig_ts,
            ns.join(",")
        );
        let mut body = self.signed_body(&message, sig_ts, service, token);
        body.insert("namespaces".into(), json!(namespaces));
        body.insert("data".into(), json!(true));
        body.insert("enc_key".into(), json!(hex::encode(enc_key)));
        Value::Object(body)
    }

    /// A signed `/unsubscribe` body (PROTOCOL §3.2).
    pub fn unsubscribe_body(&self, service: &str, token: &str, sig_ts: i64) -> Value {
        let message = format!("UNSUBSCRIBE{}{}", self.account.to_hex(), sig_ts);
        Value::Object(self.signed_body(&message, sig_ts, service, token))
    }

    /// The fields every request carries: the account, its auth fields, the signature of
    /// `message`, the timestamp and the service with its token (PROTOCOL §2.3).
    fn signed_body(
        &self,
        message: &str,
        sig_ts: i64,
        service: &str,
        token: &str,
    ) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        body.insert("pubkey".into(), json!(self.account.to_hex()));
        self.auth_fields(&mut body);
        body.insert(
            "signature".into(),
            json!(b64(&self.sign(message.as_bytes()))),
        );
        body.insert("sig_ts".into(), json!(sig_ts));
        body.insert("service".into(), json!(service));
        body.insert("service_info".into(), json!({ "token": token }));
        body
    }
}
