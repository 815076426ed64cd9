//! The request plaintext `l<len>:<meta JSON>[<len>:<body>]e` (PROTOCOL §4.4).

use std::borrow::Cow;

use bendy::decoding::{Decoder, Object};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::OnionError;
use crate::api::JsonEndpoint;

/// A parsed inner request.
#[derive(Debug, PartialEq, Eq)]
pub struct InnerRequest<'a> {
    /// The HTTP method from the meta, as sent.
    pub method: String,
    /// The endpoint path without `?query`, `%`-escapes decoded.
    pub path: Vec<u8>,
    /// The request body; empty when the list holds only the meta.
    pub body: &'a [u8],
}

impl InnerRequest<'_> {
    /// The JSON route this path names, if any.
    pub fn endpoint(&self) -> Option<JsonEndpoint> {
        match self.path.as_slice() {
            b"/subscribe" => Some(JsonEndpoint::Subscribe),
            b"/unsubscribe" => Some(JsonEndpoint::Unsubscribe),
            _ => None,
        }
    }

    /// Whether the method is POST, the only one the JSON routes take (§2.1).
    pub fn is_post(&self) -> bool {
        self.method == "POST"
    }
}

/// Parses the plaintext of a request layer.
pub fn parse(plaintext: &[u8]) -> Result<InnerRequest<'_>, OnionError> {
    let (meta, body) = split(plaintext)?;
    let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(meta) else {
        return Err(OnionError::InnerMeta);
    };
    let (Some(Value::String(method)), Some(Value::String(endpoint))) =
        (meta.get("method"), meta.get("endpoint"))
    else {
        return Err(OnionError::InnerMeta);
    };
    if !endpoint.starts_with('/') {
        return Err(OnionError::InnerMeta);
    }
    let path = endpoint
        .split_once('?')
        .map_or(endpoint.as_str(), |(path, _)| path);
    let path: Cow<'_, [u8]> = percent_decode_str(path).into();
    Ok(InnerRequest {
        method: method.clone(),
        path: path.into_owned(),
        body: body.unwrap_or_default(),
    })
}

/// Exactly a list of one or two byte strings and nothing after it.
fn split(plaintext: &[u8]) -> Result<(&[u8], Option<&[u8]>), OnionError> {
    let framing = |_| OnionError::InnerFraming;
    let mut decoder = Decoder::new(plaintext);
    let (meta, body) = {
        let Some(Object::List(mut list)) = decoder.next_object().map_err(framing)? else {
            return Err(OnionError::InnerFraming);
        };
        let Some(Object::Bytes(meta)) = list.next_object().map_err(framing)? else {
            return Err(OnionError::InnerFraming);
        };
        let body = match list.next_object().map_err(framing)? {
            None => None,
            Some(Object::Bytes(body)) => Some(body),
            Some(_) => return Err(OnionError::InnerFraming),
        };
        if body.is_some() && list.next_object().map_err(framing)?.is_some() {
            return Err(OnionError::InnerFraming);
        }
        (meta, body)
    };
    if decoder.next_object().map_err(framing)?.is_some() {
        return Err(OnionError::InnerFraming);
    }
    Ok((meta, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"method":"POST","endpoint":"/subscribe"}"#;

    fn list(items: &[&str]) -> Vec<u8> {
        let mut out = b"l".to_vec();
        for item in items {
            out.extend_from_slice(format!("{}:{item}", item.len()).as_bytes());
        }
        out.push(b'e');
        out
    }

    #[test]
    fn meta_and_body() {
        let p = list(&[META, "{\"a\":1}"]);
        let r = parse(&p).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.endpoint(), Some(JsonEndpoint::Subscribe));
        assert!(r.is_post());
        assert_eq!(r.body, b"{\"a\":1}");
    }

    #[test]
    fn missing_body_is_empty() {
        let p = list(&[META]);
        let r = parse(&p).unwrap();
        assert_eq!(r.body, b"");
    }

    #[test]
    fn query_stripped_and_escapes_decoded() {
        let meta = r#"{"method":"POST","endpoint":"/%75nsubscribe?x=1?y","headers":{}}"#;
        let p = list(&[meta]);
        let r = parse(&p).unwrap();
        assert_eq!(r.path, b"/unsubscribe");
        assert_eq!(r.endpoint(), Some(JsonEndpoint::Unsubscribe));
    }

    #[test]
    fn other_paths_and_methods_are_parsed_not_refused() {
        let meta = r#"{"method":"GET","endpoint":"/stats"}"#;
        let p = list(&[meta]);
        let r = parse(&p).unwrap();
        assert_eq!(r.endpoint(), None);
        assert!(!r.is_post());
    }

    #[test]
    fn framing_errors() {
        let b = "x";
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"le".to_vec(),
            list(&[META, b, b]),
            format!("l{}:{META}i5ee", META.len()).into_bytes(),
            format!("l{}:{META}lee", META.len()).into_bytes(),
            format!("l{}:{META}", META.len()).into_bytes(),
            format!("l{}:{META}ee", META.len()).into_bytes(),
            [list(&[META]), b"x".to_vec()].concat(),
            [list(&[META]), list(&[META])].concat(),
            format!("{}:{META}", META.len()).into_bytes(),
            format!("d{}:{META}1:xe", META.len()).into_bytes(),
            b"l99999999999999999999999:xe".to_vec(),
            b"l5:abce".to_vec(),
        ];
        for p in cases {
            assert_eq!(
                parse(&p),
                Err(OnionError::InnerFraming),
                "{}",
                String::from_utf8_lossy(&p)
            );
        }
    }

    #[test]
    fn meta_errors() {
        for meta in [
            "not json",
            "[\"POST\",\"/subscribe\"]",
            r#"{"endpoint":"/subscribe"}"#,
            r#"{"method":"POST"}"#,
            r#"{"method":1,"endpoint":"/subscribe"}"#,
            r#"{"method":"POST","endpoint":["/subscribe"]}"#,
            r#"{"method":"POST","endpoint":"subscribe"}"#,
            r#"{"method":"POST","endpoint":""}"#,
        ] {
            assert_eq!(parse(&list(&[meta])), Err(OnionError::InnerMeta), "{meta}");
        }
    }
}
