//! The fake storage server's `monitor.messages` validation (PROTOCOL §8.1, §3.4): key order
//! (bendy rejects unsorted keys), field types, namespaces, time window and signatures.

use bendy::decoding::{Decoder, DictDecoder, Object};

use relay::crypto::{ed25519_pk_to_x25519, ed25519_verify};
use relay::subscription::AccountId;

/// One validated dict of a recorded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedItem {
    /// The account, when it could be derived.
    pub account: Option<AccountId>,
    /// `n`.
    pub namespaces: Vec<i16>,
    /// `d`.
    pub want_data: bool,
    /// `t`.
    pub sig_ts: i64,
    /// Whether `S`/`T` were present.
    pub subaccount: bool,
    /// `Ok` or (errcode, error) as replied.
    pub result: Result<(), (i64, String)>,
}

pub(super) fn failed(errcode: i64, error: &str) -> CheckedItem {
    CheckedItem {
        account: None,
        namespaces: Vec::new(),
        want_data: false,
        sig_ts: 0,
        subaccount: false,
        result: Err((errcode, error.to_string())),
    }
}

/// Parses and validates a request body: a dict or a list of dicts (§8.1).
pub(super) fn check_body(body: &[u8]) -> Result<(Vec<CheckedItem>, bool), ()> {
    let mut decoder = Decoder::new(body);
    let result = match decoder.next_object().map_err(|_| ())? {
        Some(Object::Dict(dict)) => Ok((vec![check_dict(dict)], false)),
        Some(Object::List(mut list)) => {
            let mut items = Vec::new();
            while let Some(obj) = list.next_object().map_err(|_| ())? {
                let Object::Dict(dict) = obj else {
                    return Err(());
                };
                items.push(check_dict(dict));
            }
            Ok((items, true))
        }
        _ => Err(()),
    };
    result
}

#[derive(Default)]
struct RawItem {
    big_p: Option<Vec<u8>>,
    sub_sig: Option<Vec<u8>>,
    token: Option<Vec<u8>>,
    data: bool,
    namespaces: Option<Vec<i64>>,
    small_p: Option<Vec<u8>>,
    sig: Option<Vec<u8>>,
    ts: Option<i64>,
}

fn read_dict(mut dict: DictDecoder<'_, '_>) -> Result<RawItem, (i64, &'static str)> {
    let bad = (1, "invalid dict");
    let mut raw = RawItem::default();
    while let Some((key, value)) = dict.next_pair().map_err(|_| bad)? {
        match (key, value) {
            (b"P", Object::Bytes(b)) => raw.big_p = Some(b.to_vec()),
            (b"S", Object::Bytes(b)) => raw.sub_sig = Some(b.to_vec()),
            (b"T", Object::Bytes(b)) => raw.token = Some(b.to_vec()),
            (b"d", Object::Integer(i)) => raw.data = i != "0",
            (b"n", Object::List(mut list)) => {
                let mut ns = Vec::new();
                while let Some(obj) = list.next_object().map_err(|_| bad)? {
                    let Object::Integer(i) = obj else {
                        return Err((3, "namespaces must be integers"));
                    };
                    ns.push(i.parse::<i64>().map_err(|_| (3, "bad namespace"))?);
                }
                raw.namespaces = Some(ns);
            }
            (b"p", Object::Bytes(b)) => raw.small_p = Some(b.to_vec()),
            (b"s", Object::Bytes(b)) => raw.sig = Some(b.to_vec()),
            (b"t", Object::Integer(i)) => raw.ts = i.parse().ok(),
            (b"P" | b"S" | b"T" | b"d" | b"n" | b"p" | b"s" | b"t", _) => {
                return Err((1, "wrong value type"))
            }
            _ => {}
        }
    }
    Ok(raw)
}

fn check_dict(dict: DictDecoder<'_, '_>) -> CheckedItem {
    let raw = match read_dict(dict) {
        Ok(raw) => raw,
        Err((code, text)) => return failed(code, text),
    };
    let mut item = CheckedItem {
        account: None,
        namespaces: Vec::new(),
        want_data: raw.data,
        sig_ts: raw.ts.unwrap_or(0),
        subaccount: raw.token.is_some(),
        result: Ok(()),
    };
    item.result = validate(&raw, &mut item);
    item
}

fn validate(raw: &RawItem, item: &mut CheckedItem) -> Result<(), (i64, String)> {
    let err = |code: i64, text: &str| Err((code, text.to_string()));
    let (account, account_key) = match (&raw.big_p, &raw.small_p) {
        (Some(p), None) => {
            let ed: [u8; 32] = p
                .as_slice()
                .try_into()
                .map_err(|_| (2, "P must be 32 bytes".to_string()))?;
            let Some(x) = ed25519_pk_to_x25519(&ed) else {
                return err(2, "P is not an Ed25519 key");
            };
            let mut id = [0x05u8; 33];
            id[1..].copy_from_slice(&x);
            (AccountId(id), ed)
        }
        (None, Some(p)) => {
            let id: [u8; 33] = p
                .as_slice()
                .try_into()
                .map_err(|_| (2, "p must be 33 bytes".to_string()))?;
            if id[0] == 0x05 {
                return err(2, "05 accounts must use P");
            }
            let mut key = [0u8; 32];
            key.copy_from_slice(&id[1..]);
            (AccountId(id), key)
        }
        _ => return err(1, "exactly one of P and p is required"),
    };
    item.account = Some(account);
    let Some(ns) = &raw.namespaces else {
        return err(3, "missing n");
    };
    if ns.is_empty() || ns.windows(2).any(|w| w[0] >= w[1]) {
        return err(3, "namespaces must be ascending and unique");
    }
    item.namespaces = ns
        .iter()
        .map(|n| i16::try_from(*n).map_err(|_| (3, "namespace out of range".to_string())))
        .collect::<Result<_, _>>()?;
    let (Some(ts), Some(sig)) = (raw.ts, &raw.sig) else {
        return err(1, "missing s or t");
    };
    let now = relay::clock::unix_now();
    if ts < now - 1_209_600 || ts > now + 86_400 {
        return err(4, "sig_ts out of range");
    }
    let sig: [u8; 64] = sig
        .as_slice()
        .try_into()
        .map_err(|_| (5, "s must be 64 bytes".to_string()))?;
    let joined: Vec<String> = ns.iter().map(i64::to_string).collect();
    let message = format!(
        "MONITOR{}{}{}{}",
        account.to_hex(),
        ts,
        if raw.data { "1" } else { "0" },
        joined.join(",")
    );
    let signer = match (&raw.token, &raw.sub_sig) {
        (None, None) => account_key,
        (Some(token), Some(sub_sig)) => subaccount_signer(&account, &account_key, token, sub_sig)?,
        _ => return err(1, "S and T go together"),
    };
    if !ed25519_verify(message.as_bytes(), &sig, &signer) {
        return err(5, "signature verification failed");
    }
    Ok(())
}

/// §3.4 checks; returns the subaccount key that must have signed the message.
fn subaccount_signer(
    account: &AccountId,
    account_key: &[u8; 32],
    token: &[u8],
    sub_sig: &[u8],
) -> Result<[u8; 32], (i64, String)> {
    let bad = |text: &str| (5, text.to_string());
    let token: [u8; 36] = token.try_into().map_err(|_| bad("T must be 36 bytes"))?;
    let sub_sig: [u8; 64] = sub_sig.try_into().map_err(|_| bad("S must be 64 bytes"))?;
    if token[1] & 0x01 == 0 {
        return Err(bad("subaccount lacks read permission"));
    }
    if token[1] & 0x08 == 0 && token[0] != account.prefix() {
        return Err(bad("subaccount prefix mismatch"));
    }
    if !ed25519_verify(&token, &sub_sig, account_key) {
        return Err(bad("subaccount token signature failed"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&token[4..]);
    Ok(key)
}
