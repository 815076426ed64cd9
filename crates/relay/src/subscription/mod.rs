//! Subscribe and unsubscribe requests: parsing, field decoding, signature and timestamp rules.
//!
//! **Owns:** PROTOCOL §2.3–§3 (fields, binary encodings, processing order, error codes and
//! messages, MONITOR/UNSUBSCRIBE messages, verifying keys, subaccount tokens, time windows).
//! **Must not:** do I/O: the caller passes `now` and the configured services (a
//! [`ServiceCatalog`]).
//!
//! Data enters as a `serde_json::Value` element and leaves as a verified [`Subscription`]
//! ([`parse_subscribe`]) or [`SubscriptionKey`] ([`parse_unsubscribe`]), or as a
//! [`SubscriptionError`] carrying the spec's code and message.
//!
//! Files: `catalog.rs` (what a request may name as its service), `decode.rs` (raw/hex/base64 fields), `fields.rs` (typed JSON access with step-1
//! errors), `request.rs` (the order of §2.4), `verify.rs` (signatures and windows).

mod catalog;
mod decode;
mod error;
mod fields;
mod request;
mod types;
mod verify;

pub use catalog::ServiceCatalog;
pub use error::{Code, SubscriptionError};
pub use request::{parse_subscribe, parse_unsubscribe, verify_stored};

pub use types::{
    AccountId, DeviceToken, EncKey, Signature, SubaccountAuth, Subscription, SubscriptionKey,
    SUBSCRIPTION_LIFETIME_SECS,
};
