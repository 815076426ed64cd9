//! Subscribe and unsubscribe requests: parsing, field decoding, signature and timestamp rules.
//!
//! **Owns:** PROTOCOL §2.3–§3 (fields, binary encodings, processing order, error codes and
//! messages, MONITOR/UNSUBSCRIBE messages, verifying keys, subaccount tokens, time windows).
//! **Must not:** do I/O: the caller passes `now` and the set of configured services.
//!
//! Data enters as a `serde_json::Value` element and leaves as a verified [`Subscription`] or
//! [`Unsubscribe`], or as a [`SubscriptionError`] carrying the spec's code and message.

mod types;

pub use types::{
    AccountId, DeviceToken, EncKey, Signature, SubaccountAuth, Subscription, SubscriptionKey,
    SUBSCRIPTION_LIFETIME_SECS,
};
