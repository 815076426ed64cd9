//! Domain types shared by every module. Sensitive values are newtypes whose `Debug`/`Display`
//! print at most a short prefix; `.expose()`/`as_bytes()` is how raw bytes leave.

use std::fmt;
use std::sync::Arc;

/// Characters of an identifier shown in logs (a prefix, never the whole value).
const SHOWN: usize = 8;

/// A 33-byte account ID: `05…` Session ID, `03…` group, or another prefix + Ed25519 key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 33]);

impl AccountId {
    /// The network prefix byte.
    pub fn prefix(&self) -> u8 {
        self.0[0]
    }

    /// Lowercase hex, 66 characters (signature messages, payload metadata).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", &hex::encode(&self.0[..SHOWN / 2]))
    }
}

/// A device token in its normalised form (the spec's svcid: lowercase hex for APNs).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceToken(Arc<str>);

impl DeviceToken {
    /// Wraps an already normalised token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        DeviceToken(token.into())
    }

    /// The token itself, for provider requests and sealing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(SHOWN / 2).collect();
        write!(f, "{shown}…")
    }
}

macro_rules! secret_bytes {
    ($(#[$m:meta])* $name:ident, $n:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// The raw bytes.
            pub fn expose(&self) -> &[u8; $n] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({}…)"), hex::encode(&self.0[..2]))
            }
        }
    };
}

secret_bytes!(
    /// The device's 32-byte XChaCha20-Poly1305 key for push payloads.
    EncKey, 32
);
secret_bytes!(
    /// A 64-byte Ed25519 signature.
    Signature, 64
);

/// Subaccount authentication: the 36-byte token and the owner's signature over it (§3.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubaccountAuth {
    /// `T[0]` prefix, `T[1]` flags, `T[2..4]` reserved, `T[4..36]` subaccount Ed25519 key.
    pub token: [u8; 36],
    /// The account owner's signature over `token`.
    pub signature: Signature,
}

impl fmt::Debug for SubaccountAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubaccountAuth(flags={:#04x})", self.token[1])
    }
}

/// A verified subscription, as stored and as monitored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The account whose messages trigger pushes.
    pub account: AccountId,
    /// 05 accounts: the Ed25519 key behind the Session ID (sent as `P` in monitor requests).
    pub session_ed25519: Option<[u8; 32]>,
    /// Present when a subaccount signed.
    pub subaccount: Option<SubaccountAuth>,
    /// The client's MONITOR signature, forwarded unchanged to storage servers.
    pub signature: Signature,
    /// Signature time, unix seconds.
    pub sig_ts: i64,
    /// Namespaces, strictly ascending.
    pub namespaces: Vec<i16>,
    /// Whether pushes carry the message data.
    pub want_data: bool,
    /// Configured service name (`apns`, `firebase`, …).
    pub service: Arc<str>,
    /// Normalised device token (svcid).
    pub token: DeviceToken,
    /// Payload encryption key.
    pub enc_key: EncKey,
}

/// Subscriptions expire this long after their signature timestamp (PROTOCOL §2.6).
pub const SUBSCRIPTION_LIFETIME_SECS: i64 = 1_209_600;

impl Subscription {
    /// Unix time at which this subscription stops producing pushes and renewals.
    pub fn expires_at(&self) -> i64 {
        self.sig_ts + SUBSCRIPTION_LIFETIME_SECS
    }

    /// Identity within the store: (account, service, svcid).
    pub fn key(&self) -> SubscriptionKey {
        SubscriptionKey {
            account: self.account,
            service: self.service.clone(),
            token: self.token.clone(),
        }
    }
}

/// The identity of a subscription (PROTOCOL §2.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionKey {
    /// Account.
    pub account: AccountId,
    /// Service name.
    pub service: Arc<str>,
    /// Normalised token.
    pub token: DeviceToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_whole_values() {
        let account = AccountId([0x05; 33]);
        let token = DeviceToken::new("a".repeat(64));
        let key = EncKey([0xab; 32]);
        let sig = Signature([0xcd; 64]);
        let text = format!("{account:?} {account} {token:?} {token} {key:?} {sig:?}");
        assert!(!text.contains(&account.to_hex()));
        assert!(!text.contains(&"a".repeat(64)));
        assert!(!text.contains(&hex::encode(key.0)));
        assert!(!text.contains(&hex::encode(sig.0)));
        assert!(text.len() < 120);
    }
}
