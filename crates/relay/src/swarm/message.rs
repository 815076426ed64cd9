//! Bencoded bodies of PROTOCOL §8: `monitor.messages` dicts (built, §8.1), their replies
//! (parsed, §8.2) and `notify.message` (parsed strictly into a [`Notification`], §8.4).

use bendy::decoding::{Decoder, Object};
use bendy::encoding::Encoder;
use tokio::time::Instant;

use super::notification::NotifyRef;
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
pub fn parse_notify<P: AsRef<[u8]>>(
    parts: &[P],
    received: Instant,
) -> Result<Notification, SwarmError> {
    parse_notify_ref(parts).map(|n| n.into_owned(received))
}

/// [`parse_notify`] without copying: the hash and data borrow from `parts`, so a copy that
/// turns out to be a duplicate costs no allocation.
pub fn parse_notify_ref<P: AsRef<[u8]>>(parts: &[P]) -> Result<NotifyRef<'_>, SwarmError> {
    let [body] = parts else {
        return Err(SwarmError::BadNotify("expected exactly one data part"));
    };
    let mut decoder = Decoder::new(body.as_ref());
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
                hash = Some(b);
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
            (b"~", Object::Bytes(b)) => data = Some(b),
            (b"~", _) => return Err(SwarmError::BadNotify("~ is not a string")),
            _ => {}
        }
    }
    drop(dict);
    if !matches!(decoder.next_object(), Ok(None)) {
        return Err(SwarmError::BadNotify("trailing bytes after the dict"));
    }
    Ok(NotifyRef {
        account: account.ok_or(SwarmError::BadNotify("missing @"))?,
        hash: hash.ok_or(SwarmError::BadNotify("missing h"))?,
        namespace: namespace.ok_or(SwarmError::BadNotify("missing n"))?,
        timestamp_ms: ts.ok_or(SwarmError::BadNotify("missing t"))?,
        expiry_ms: expiry.ok_or(SwarmError::BadNotify("missing z"))?,
        data,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::subscription::{DeviceToken, EncKey};

    use crate::test_support::payload as vectors;

    fn bytes<const N: usize>(v: &Value) -> [u8; N] {
        let mut out = [0u8; N];
        hex::decode_to_slice(v.as_str().unwrap(), &mut out).unwrap();
        out
    }

    fn sub(account: [u8; 33], monitor: &Value) -> Subscription {
        Subscription {
            account: AccountId(account),
            session_ed25519: None,
            subaccount: None,
            signature: Signature(bytes(&monitor["signature"])),
            sig_ts: monitor["sig_ts"].as_i64().unwrap(),
            namespaces: monitor["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_i64().unwrap() as i16)
                .collect(),
            want_data: monitor["data"].as_bool().unwrap(),
            service: Arc::from("apns"),
            token: DeviceToken::new("t"),
            enc_key: EncKey([0; 32]),
        }
    }

    fn session_sub(v: &Value) -> Subscription {
        let a = &v["signatures"]["account_05"];
        let mut s = sub(bytes(&a["x25519_account"]), &a["monitor"]);
        s.session_ed25519 = Some(bytes(&a["session_ed25519"]));
        s
    }

    fn group_sub(v: &Value) -> Subscription {
        let a = &v["signatures"]["account_03_subaccount"];
        let mut s = sub(bytes(&a["group_account"]), &a["monitor"]);
        s.subaccount = Some(SubaccountAuth {
            token: bytes(&a["token"]),
            signature: Signature(bytes(&a["subaccount_sig"])),
        });
        s
    }

    fn hex_of(v: &Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    /// The monitor dict of `sub`, as sent in a `monitor.messages` request.
    fn dict(sub: &Subscription) -> Vec<u8> {
        MonitorEntry::from_subscription(sub).encode().unwrap()
    }

    #[test]
    fn the_dicts_and_their_batch_match_the_vectors() {
        let v = vectors();
        let signatures = &v["signatures"];
        let session = dict(&session_sub(&v));
        assert_eq!(
            session,
            hex_of(&signatures["account_05"]["monitor_messages_dict"])
        );
        assert!(session.starts_with(b"d1:P32:"));
        let group = dict(&group_sub(&v));
        assert_eq!(
            group,
            hex_of(&signatures["account_03_subaccount"]["monitor_messages_dict"])
        );
        assert_eq!(
            encode_list(&[session, group]),
            hex_of(&signatures["monitor_messages_batch"]["body"])
        );
    }

    #[test]
    fn data_off_omits_d_and_03_without_subaccount_uses_p() {
        let v = vectors();
        let mut s = session_sub(&v);
        s.want_data = false;
        s.namespaces = vec![0];
        let mut expected = b"d1:P32:".to_vec();
        expected.extend_from_slice(&s.session_ed25519.unwrap());
        expected.extend_from_slice(b"1:nli0ee1:s64:");
        expected.extend_from_slice(&s.signature.0);
        expected.extend_from_slice(b"1:ti1700000000ee");
        assert_eq!(dict(&s), expected);

        let mut g = group_sub(&v);
        g.subaccount = None;
        let mut expected = b"d1:di1e1:nli-11ei11ei12ei13ei14ee1:p33:".to_vec();
        expected.extend_from_slice(g.account.as_bytes());
        expected.extend_from_slice(b"1:s64:");
        expected.extend_from_slice(&g.signature.0);
        expected.extend_from_slice(b"1:ti1700000000ee");
        assert_eq!(dict(&g), expected);
    }

    #[test]
    fn replies_parse_per_item() {
        let items =
            parse_monitor_reply(b"ld7:successi1eed7:errcodei5e5:error3:bad3:fooi1eee").unwrap();
        assert_eq!(
            items,
            vec![
                ItemResult::Ok,
                ItemResult::Failed {
                    errcode: 5,
                    error: "bad".into()
                }
            ]
        );
        assert_eq!(
            parse_monitor_reply(b"d7:successi1ee").unwrap(),
            vec![ItemResult::Ok]
        );
        assert!(parse_monitor_reply(b"i1e").is_err());
        assert!(parse_monitor_reply(b"l").is_err());
    }

    fn notify_dict(skip: &str, replace: Option<(&str, &[u8])>) -> Vec<u8> {
        let fields: [(&str, Vec<u8>); 6] = [
            ("@", [b"33:".as_slice(), &[5u8; 33]].concat()),
            ("h", [b"43:".as_slice(), &[b'h'; 43]].concat()),
            ("n", b"i0e".to_vec()),
            ("t", b"i1700000000000e".to_vec()),
            ("z", b"i1700000100000e".to_vec()),
            ("~", b"7:payload".to_vec()),
        ];
        let mut out = b"d".to_vec();
        for (k, v) in fields {
            if k == skip {
                continue;
            }
            out.extend_from_slice(format!("1:{k}").as_bytes());
            match replace {
                Some((rk, rv)) if rk == k => out.extend_from_slice(rv),
                _ => out.extend_from_slice(&v),
            }
        }
        out.push(b'e');
        out
    }

    #[test]
    fn notify_vector_parses() {
        let v = vectors();
        let body = hex_of(&v["cases"][0]["notify_message"]);
        let n = parse_notify(&[body], Instant::now()).unwrap();
        assert_eq!(
            n.account.to_hex(),
            v["signatures"]["account_05"]["x25519_account"]
        );
        assert_eq!(n.hash.len(), 43);
        assert_eq!((n.namespace, n.timestamp_ms), (0, 1_700_000_000_123));
        assert_eq!(n.data.map(|d| d.len()), Some(100));
    }

    #[test]
    fn notify_requires_each_field_and_ignores_unknown_keys() {
        let ok = parse_notify(&[notify_dict("", None)], Instant::now()).unwrap();
        assert_eq!(ok.data.as_deref(), Some(&b"payload"[..]));
        let no_data = parse_notify(&[notify_dict("~", None)], Instant::now()).unwrap();
        assert!(no_data.data.is_none());
        for key in ["@", "h", "n", "t", "z"] {
            assert!(
                parse_notify(&[notify_dict(key, None)], Instant::now()).is_err(),
                "missing {key} accepted"
            );
        }
        let bad: [(&str, &[u8]); 6] = [
            ("@", b"32:________________________________"),
            ("h", b"31:_______________________________"),
            ("n", b"i32768e"),
            ("n", b"2:ab"),
            ("t", b"3:abc"),
            ("~", b"i1e"),
        ];
        for (key, value) in bad {
            assert!(
                parse_notify(&[notify_dict("", Some((key, value)))], Instant::now()).is_err(),
                "bad {key} accepted"
            );
        }
        let mut extra = notify_dict("", None);
        extra.pop();
        extra.extend_from_slice(b"2:~~3:zzze");
        assert!(parse_notify(&[extra], Instant::now()).is_ok());
        assert!(parse_notify::<Vec<u8>>(&[], Instant::now()).is_err());
        assert!(parse_notify(&[b"le".to_vec()], Instant::now()).is_err());
        let mut trailing = notify_dict("", None);
        trailing.extend_from_slice(b"i1e");
        assert!(parse_notify(&[trailing], Instant::now()).is_err());
    }
}
