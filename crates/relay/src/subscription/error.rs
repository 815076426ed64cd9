//! The spec's error codes and messages for one subscribe or unsubscribe element (PROTOCOL §2.4).

use std::borrow::Cow;

/// Error codes of PROTOCOL §2.4 (SPNS `enum SUBSCRIBE`); `0` (OK) is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 1: the request is malformed (missing field, bad body).
    BadInput = 1,
    /// 2: the named service is not configured.
    ServiceNotAvailable = 2,
    /// 3: the storage backend did not answer in time.
    ServiceTimeout = 3,
    /// 4: a field is invalid (type, encoding, signature, window, token).
    Error = 4,
    /// 5: an internal failure; the cause is logged, never replied.
    Internal = 5,
}

impl Code {
    /// The number sent as `"error"`.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Why one element was refused: the code and the exact text of the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error {}: {message}", code.as_u8())]
pub struct SubscriptionError {
    /// The reply's `error`.
    pub code: Code,
    /// The reply's `message`; never contains an identifier or key.
    pub message: Cow<'static, str>,
}

impl SubscriptionError {
    /// An error with the given code and text.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        SubscriptionError {
            code,
            message: message.into(),
        }
    }

    /// Code 1 for an element that is not a JSON object (§2.2).
    pub fn not_an_object() -> Self {
        Self::new(
            Code::BadInput,
            "Invalid JSON: expected object or array of objects",
        )
    }

    /// Code 1 `Missing required parameter '<key>'`.
    pub(crate) fn missing(key: &str) -> Self {
        Self::new(
            Code::BadInput,
            format!("Missing required parameter '{key}'"),
        )
    }

    /// Code 4 `Invalid value for '<key>': expected <what>`.
    pub(crate) fn wrong_type(key: &str, expected: &str) -> Self {
        Self::new(
            Code::Error,
            format!("Invalid value for '{key}': expected {expected}"),
        )
    }

    /// Code 4 for a binary field that is neither raw, hex nor base64 (§2.3).
    pub(crate) fn undecodable() -> Self {
        Self::new(Code::Error, "Invalid value: expected bytes, hex, or base64")
    }

    /// Code 4 with a fixed text (signatures, windows, namespaces).
    pub(crate) fn invalid(message: &'static str) -> Self {
        Self::new(Code::Error, message)
    }
}
