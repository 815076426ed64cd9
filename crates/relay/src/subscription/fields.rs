//! Typed access to the keys of one request element, with the spec's step-1 errors
//! (PROTOCOL §2.3, §2.4): `null` counts as absent, unknown keys are never looked at.

use serde_json::{Map, Value};

use super::decode::decode_bytes;
use super::SubscriptionError;

const EXPECTED_STRING: &str = "string";
const EXPECTED_INTEGER: &str = "integer";
const EXPECTED_BOOLEAN: &str = "boolean";
const EXPECTED_NAMESPACES: &str = "list of integers from -32768 to 32767";

/// The keys of one JSON object element.
pub(crate) struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// Wraps an element; anything but an object is the §2.2 element error.
    pub(crate) fn of(element: &'a Value) -> Result<Self, SubscriptionError> {
        match element {
            Value::Object(map) => Ok(Fields(map)),
            _ => Err(SubscriptionError::not_an_object()),
        }
    }

    /// The value of `key`, `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A required value of any JSON type.
    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, SubscriptionError> {
        self.get(key).ok_or_else(|| SubscriptionError::missing(key))
    }

    /// An optional string.
    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<&'a str>, SubscriptionError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| SubscriptionError::wrong_type(key, EXPECTED_STRING))
            })
            .transpose()
    }

    /// A required string.
    pub(crate) fn string(&self, key: &str) -> Result<&'a str, SubscriptionError> {
        self.opt_string(key)?
            .ok_or_else(|| SubscriptionError::missing(key))
    }

    /// An optional binary field of `N` bytes (raw, hex or base64, §2.3).
    pub(crate) fn opt_bytes<const N: usize>(
        &self,
        key: &str,
    ) -> Result<Option<[u8; N]>, SubscriptionError> {
        self.opt_string(key)?
            .map(|s| decode_bytes::<N>(s).ok_or_else(SubscriptionError::undecodable))
            .transpose()
    }

    /// A required binary field of `N` bytes.
    pub(crate) fn bytes<const N: usize>(&self, key: &str) -> Result<[u8; N], SubscriptionError> {
        self.opt_bytes::<N>(key)?
            .ok_or_else(|| SubscriptionError::missing(key))
    }

    /// A required integer (i64; a number with a fraction is a type error).
    pub(crate) fn integer(&self, key: &str) -> Result<i64, SubscriptionError> {
        self.required(key)?
            .as_i64()
            .ok_or_else(|| SubscriptionError::wrong_type(key, EXPECTED_INTEGER))
    }

    /// A required boolean.
    pub(crate) fn boolean(&self, key: &str) -> Result<bool, SubscriptionError> {
        self.required(key)?
            .as_bool()
            .ok_or_else(|| SubscriptionError::wrong_type(key, EXPECTED_BOOLEAN))
    }

    /// A required list of int16 values (order and emptiness are checked later, step 5S).
    pub(crate) fn namespaces(&self, key: &str) -> Result<Vec<i16>, SubscriptionError> {
        let wrong = || SubscriptionError::wrong_type(key, EXPECTED_NAMESPACES);
        let list = self.required(key)?.as_array().ok_or_else(wrong)?;
        list.iter()
            .map(|v| {
                v.as_i64()
                    .and_then(|n| i16::try_from(n).ok())
                    .ok_or_else(wrong)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::subscription::Code;

    #[test]
    fn null_is_absent() {
        let v = json!({"a": null});
        let f = Fields::of(&v).unwrap();
        assert_eq!(f.opt_string("a").unwrap(), None);
        let e = f.string("a").unwrap_err();
        assert_eq!(e.code, Code::BadInput);
        assert_eq!(e.message, "Missing required parameter 'a'");
    }

    #[test]
    fn type_errors_name_the_key_and_the_type() {
        let v = json!({"s": 1, "i": 1.5, "b": "true", "n": [0, 40000], "m": "0"});
        let f = Fields::of(&v).unwrap();
        let msg = |e: SubscriptionError| {
            assert_eq!(e.code, Code::Error);
            e.message.into_owned()
        };
        assert_eq!(
            msg(f.string("s").unwrap_err()),
            "Invalid value for 's': expected string"
        );
        assert_eq!(
            msg(f.integer("i").unwrap_err()),
            "Invalid value for 'i': expected integer"
        );
        assert_eq!(
            msg(f.boolean("b").unwrap_err()),
            "Invalid value for 'b': expected boolean"
        );
        let ns = "expected list of integers from -32768 to 32767";
        assert_eq!(
            msg(f.namespaces("n").unwrap_err()),
            format!("Invalid value for 'n': {ns}")
        );
        assert_eq!(
            msg(f.namespaces("m").unwrap_err()),
            format!("Invalid value for 'm': {ns}")
        );
    }

    #[test]
    fn namespaces_accept_the_int16_range() {
        let v = json!({"n": [-32768, 0, 32767]});
        let f = Fields::of(&v).unwrap();
        assert_eq!(f.namespaces("n").unwrap(), vec![-32768, 0, 32767]);
    }

    #[test]
    fn a_non_object_element_is_bad_input() {
        let e = Fields::of(&json!([1])).err().unwrap();
        assert_eq!(e.code, Code::BadInput);
        assert_eq!(
            e.message,
            "Invalid JSON: expected object or array of objects"
        );
    }
}
