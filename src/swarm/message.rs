//! Bencoded bodies of PROTOCOL §8: `monitor.messages` dicts (built, §8.1), their replies
//! (parsed, §8.2) and `notify.message` (parsed strictly into a [`Notification`], §8.4).

use bendy::decoding::{Decoder, Object};
use bendy::encoding::Encoder;
use bytes::Bytes;
use tokio::time::Instant;

use super::{Notification, SwarmError};
use crate::subscription::{AccountId, Signature, SubaccountAuth, Subscription};

/// What one `monitor.messages` dict says: exactly the values the client signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEntry {
    /// The monitored account.
    pub account: AccountId,
    /// 05 accounts: sent as `P` instead of `p`.
    pub session_ed25519: Option<[u8; 32]>,
    /// Sent as `S` (signature) and `T` (token).
    pub subaccount: Option<SubaccountAuth>,
    /// `n`, ascending.
    pub namespaces: Vec<i16>,
    /// `d`.
    pub want_data: bool,
    /// `s`.
    pub signature: Signature,
    /// `t`, seconds.
    pub sig_ts: i64,
}

impl MonitorEntry {
    /// The entry a subscription asks for.
    pub fn from_subscription(sub: &Subscription) -> Self {
        MonitorEntry {
            account: sub.account,
            session_ed25519: sub.session_ed25519,
            subaccount: sub.subaccount,
            namespaces: sub.namespaces.clone(),
            want_data: sub.want_data,
            signature: sub.signature,
            sig_ts: sub.sig_ts,
        }
    }

    /// The bencoded dict, keys in ASCII order `P S T d n p s t` (§8.1).
    pub fn encode(&self) -> Result<Vec<u8>, SwarmError> {
        let ed25519 = self
            .session_ed25519
            .filter(|_| self.account.prefix() == 0x05);
        let mut encoder = Encoder::new();
        encoder
            .emit_dict(|mut d| {
                if let Some(ed) = &ed25519 {
                    d.emit_pair_with(b"P", |v| v.emit_bytes(ed))?;
                }
                if let Some(sub) = &self.subaccount {
                    d.emit_pair_with(b"S", |v| v.emit_bytes(sub.signature.expose()))?;
                    d.emit_pair_with(b"T", |v| v.emit_bytes(&sub.token))?;
                }
                if self.want_data {
                    d.emit_pair(b"d", 1)?;
                }
                d.emit_pair_with(b"n", |v| {
                    v.emit_list(|l| self.namespaces.iter().try_for_each(|n| l.emit_int(*n)))
                })?;
                if ed25519.is_none() {
                    d.emit_pair_with(b"p", |v| v.emit_bytes(self.account.as_bytes()))?;
                }
                d.emit_pair_with(b"s", |v| v.emit_bytes(self.signature.expose()))?;
                d.emit_pair(b"t", self.sig_ts)
            })
            .map_err(|e| SwarmError::Bencode(e.to_string()))?;
        encoder
            .get_output()
            .map_err(|e| SwarmError::Bencode(e.to_string()))
    }
}

/// A bencoded list of already-encoded dicts: the single data part of a request.
pub fn encode_list<D: AsRef<[u8]>>(dicts: &[D]) -> Vec<u8> {
    let len = dicts.iter().map(|d| d.as_ref().len()).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'l');
    for d in dicts {
        out.extend_from_slice(d.as_ref());
    }
    out.push(b'e');
    out
}

/// One item of a `monitor.messages` reply (§8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemResult {
    /// `{"success": 1}`.
    Ok,
    /// `{"errcode": n, "error": "…"}`.
    Failed {
        /// 1 bad arguments, 2 bad pubkey, 3 bad namespaces, 4 bad timestamp, 5 bad signature.
        errcode: i64,
        /// The server's text.
        error: String,
    },
}

/// Parses a reply part: a list of dicts (or one dict); unknown keys are ignored.
pub fn parse_monitor_reply(part: &[u8]) -> Result<Vec<ItemResult>, SwarmError> {
    let bad = |e: bendy::decoding::Error| SwarmError::Bencode(e.to_string());
    let mut decoder = Decoder::new(part);
    let items = match decoder.next_object().map_err(bad)? {
        Some(Object::List(mut list)) => {
            let mut items = Vec::new();
            while let Some(obj) = list.next_object().map_err(bad)? {
                match obj {
                    Object::Dict(dict) => items.push(reply_item(dict)?),
                    _ => return Err(SwarmError::Bencode("reply list item is not a dict".into())),
                }
            }
            Ok(items)
        }
        Some(Object::Dict(dict)) => Ok(vec![reply_item(dict)?]),
        _ => Err(SwarmError::Bencode("reply is not a list or dict".into())),
    };
    items
}

fn reply_item(mut dict: bendy::decoding::DictDecoder<'_, '_>) -> Result<ItemResult, SwarmError> {
    let bad = |e: bendy::decoding::Error| SwarmError::Bencode(e.to_string());
    let (mut success, mut errcode, mut error) = (false, None, String::new());
    while let Some((key, value)) = dict.next_pair().map_err(bad)? {
        match (key, value) {
            (b"success", Object::Integer(i)) => success = i != "0",
            (b"errcode", Object::Integer(i)) => errcode = i.parse::<i64>().ok(),
            (b"error", Object::Bytes(b)) => error = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
    }
    Ok(match errcode {
        Some(errcode) => ItemResult::Failed { errcode, error },
        None if success => ItemResult::Ok,
        None => ItemResult::Failed {
            errcode: 0,
            error: "reply item without success or errcode".into(),
        },
    })
}

/// Hash lengths accepted (SPNS `MSG_HASH_MIN/MAX_SIZE`, §13).
const HASH_LEN: std::ops::RangeInclusive<usize> = 32..=99;

/// Parses the data parts of a `notify.message` command (§8.4): `@` 33 bytes, `h` 32…99
/// bytes, `n` in i16, `t` and `z` integers are required; `~` optional; unknown keys ignored.
pub fn parse_notify(parts: &[Vec<u8>], received: Instant) -> Result<Notification, SwarmError> {
    let [body] = parts else {
        return Err(SwarmError::BadNotify("expected exactly one data part"));
    };
    let mut decoder = Decoder::new(body);
    let Ok(Some(Object::Dict(mut dict))) = decoder.next_object() else {
        return Err(SwarmError::BadNotify("not a bencoded dict"));
    };
    let (mut account, mut hash, mut namespace, mut ts, mut expiry, mut data) =
        (None, None, None, None, None, None);
    loop {
        let pair = dict
            .next_pair()
            .map_err(|_| SwarmError::BadNotify("invalid bencode"))?;
        let Some((key, value)) = pair else { break };
        match (key, value) {
            (b"@", Object::Bytes(b)) => {
                let raw: [u8; 33] = b
                    .try_into()
                    .map_err(|_| SwarmError::BadNotify("@ is not 33 bytes"))?;
                account = Some(AccountId(raw));
            }
            (b"@", _) => return Err(SwarmError::BadNotify("@ is not a string")),
            (b"h", Object::Bytes(b)) if HASH_LEN.contains(&b.len()) => {
                hash = Some(Bytes::copy_from_slice(b));
            }
            (b"h", _) => return Err(SwarmError::BadNotify("h is not a 32…99-byte string")),
            (b"n", Object::Integer(i)) => {
                namespace = Some(
                    i.parse::<i16>()
                        .map_err(|_| SwarmError::BadNotify("n out of range"))?,
                );
            }
            (b"t", Object::Integer(i)) => {
                ts = Some(
                    i.parse::<i64>()
                        .map_err(|_| SwarmError::BadNotify("t out of range"))?,
                );
            }
            (b"z", Object::Integer(i)) => {
                expiry = Some(
                    i.parse::<i64>()
                        .map_err(|_| SwarmError::BadNotify("z out of range"))?,
                );
            }
            (b"n" | b"t" | b"z", _) => {
                return Err(SwarmError::BadNotify("n, t, z must be integers"))
            }
            (b"~", Object::Bytes(b)) => data = Some(Bytes::copy_from_slice(b)),
            (b"~", _) => return Err(SwarmError::BadNotify("~ is not a string")),
            _ => {}
        }
    }
    drop(dict);
    if !matches!(decoder.next_object(), Ok(None)) {
        return Err(SwarmError::BadNotify("trailing bytes after the dict"));
    }
    Ok(Notification {
        account: account.ok_or(SwarmError::BadNotify("missing @"))?,
        hash: hash.ok_or(SwarmError::BadNotify("missing h"))?,
        namespace: namespace.ok_or(SwarmError::BadNotify("missing n"))?,
        timestamp_ms: ts.ok_or(SwarmError::BadNotify("missing t"))?,
        expiry_ms: expiry.ok_or(SwarmError::BadNotify("missing z"))?,
        data,
        received,
    })
}
