//! Device-token rules per provider kind (PROTOCOL §12), shared by every notifier.
//!
//! Each function returns the svcid (the normalised token) or the spec's code-4 message;
//! `<service>` in the messages is the configured service name the client sent.

use crate::subscription::DeviceToken;

/// Shortest svcid accepted (SPNS `SERVICE_ID_MIN_SIZE`), bytes.
pub const SVCID_MIN_BYTES: usize = 32;
/// Longest svcid accepted (SPNS `SERVICE_ID_MAX_SIZE`), bytes.
pub const SVCID_MAX_BYTES: usize = 999;

/// Characters in an APNs device token (hex of 32 bytes).
const APNS_TOKEN_CHARS: usize = 64;

/// `apns`: exactly 64 hex digits; the svcid is the lowercase token.
pub fn apns(service: &str, token: &str) -> Result<DeviceToken, String> {
    let chars = token.chars().count();
    if chars != APNS_TOKEN_CHARS {
        return Err(format!(
            "Invalid token: expected length-64 device token, not {chars}"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("Invalid token: expected hex device token".to_string());
    }
    svcid(service, token.to_ascii_lowercase())
}

/// `fcm`, `hms` and `log`: any non-empty token, used as given.
pub fn non_empty(service: &str, token: &str) -> Result<DeviceToken, String> {
    if token.is_empty() {
        return Err(format!("Invalid {service} device token"));
    }
    svcid(service, token.to_string())
}

/// Every kind: the svcid is 32…999 bytes.
fn svcid(service: &str, svcid: String) -> Result<DeviceToken, String> {
    if !(SVCID_MIN_BYTES..=SVCID_MAX_BYTES).contains(&svcid.len()) {
        return Err(format!(
            "Invalid {service} device token: expected 32 to 999 bytes"
        ));
    }
    Ok(DeviceToken::new(svcid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apns_lowercases_64_hex_digits() {
        let token = apns("apns", &"AbCd".repeat(16)).unwrap();
        assert_eq!(token.expose(), "abcd".repeat(16));
    }

    #[test]
    fn apns_counts_characters_not_bytes() {
        let e = apns("apns", &"é".repeat(63)).unwrap_err();
        assert_eq!(e, "Invalid token: expected length-64 device token, not 63");
        let e = apns("apns", "").unwrap_err();
        assert_eq!(e, "Invalid token: expected length-64 device token, not 0");
    }

    #[test]
    fn apns_rejects_non_hex() {
        let e = apns("apns", &"g".repeat(64)).unwrap_err();
        assert_eq!(e, "Invalid token: expected hex device token");
        // 64 characters but multi-byte ones: not hex either.
        let e = apns("apns", &"é".repeat(64)).unwrap_err();
        assert_eq!(e, "Invalid token: expected hex device token");
    }

    #[test]
    fn non_empty_keeps_the_token_and_checks_its_length() {
        let token = "Fcm:Token_".repeat(4);
        assert_eq!(non_empty("firebase", &token).unwrap().expose(), token);
        assert_eq!(
            non_empty("firebase", "").unwrap_err(),
            "Invalid firebase device token"
        );
        assert_eq!(
            non_empty("huawei", &"x".repeat(31)).unwrap_err(),
            "Invalid huawei device token: expected 32 to 999 bytes"
        );
        assert!(non_empty("huawei", &"x".repeat(32)).is_ok());
        assert!(non_empty("huawei", &"x".repeat(999)).is_ok());
        assert!(non_empty("huawei", &"x".repeat(1000)).is_err());
    }
}
