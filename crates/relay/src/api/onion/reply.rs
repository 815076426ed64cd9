//! The reply plaintext `l<len>:<meta JSON><len>:<body>e` (PROTOCOL §4.5).

/// `content-type` of the JSON routes' replies.
pub const JSON: &str = "application/json";
/// `content-type` of the inner error replies.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// The body of the inner 400 reply (PROTOCOL §4.5).
pub const INVALID_BODY: &str = "Invalid v4 onion request";

/// A reply list with status `code`, one `content-type` header and `body`.
///
/// The meta is written as Python's `json.dumps` writes it (`", "`, `": "`), as SPNS does;
/// `content_type` is one of this module's constants, so it needs no JSON escaping.
pub fn encode(code: u16, content_type: &'static str, body: &[u8]) -> Vec<u8> {
    let meta = format!(r#"{{"code": {code}, "headers": {{"content-type": "{content_type}"}}}}"#);
    encode_list(&[meta.as_bytes(), body])
}

/// The encrypted-400 plaintext for an invalid inner request.
pub fn invalid() -> Vec<u8> {
    encode(400, TEXT, INVALID_BODY.as_bytes())
}

/// The plaintext for an inner path that is not a JSON route.
pub fn not_found() -> Vec<u8> {
    encode(404, TEXT, b"Not found")
}

/// The plaintext for a JSON route called with a method other than POST.
pub fn method_not_allowed() -> Vec<u8> {
    encode(405, TEXT, b"Method not allowed")
}

/// Bencodes a list of byte strings. This one shape is all the relay writes, and unlike bendy's
/// encoder (whose `Result` covers nesting limits) it cannot fail.
fn encode_list(items: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![b'l'];
    for item in items {
        out.extend_from_slice(item.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(item);
    }
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_bytes() {
        let body = br#"{"added":true,"message":"Subscription successful","success":true}"#;
        let expected = concat!(
            r#"l62:{"code": 200, "headers": {"content-type": "application/json"}}"#,
            r#"65:{"added":true,"message":"Subscription successful","success":true}e"#
        );
        assert_eq!(encode(200, JSON, body), expected.as_bytes());
    }

    #[test]
    fn error_replies_parse_as_json_meta() {
        for (plain, code) in [
            (invalid(), 400),
            (not_found(), 404),
            (method_not_allowed(), 405),
        ] {
            let text = String::from_utf8(plain).unwrap();
            let (len, rest) = text[1..].split_once(':').unwrap();
            let meta: serde_json::Value =
                serde_json::from_str(&rest[..len.parse::<usize>().unwrap()]).unwrap();
            assert_eq!(meta["code"], code);
            assert_eq!(meta["headers"]["content-type"], TEXT);
            assert_eq!(meta["headers"].as_object().unwrap().len(), 1);
        }
        assert!(invalid().ends_with(b"24:Invalid v4 onion requeste"));
    }

    #[test]
    fn empty_list_items() {
        assert_eq!(encode_list(&[b"", b"ab"]), b"l0:2:abe");
    }
}
