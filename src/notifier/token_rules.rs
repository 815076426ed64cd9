//! The token rules of PROTOCOL §12 for the providers' `validate`.
//!
//! TODO(providers): `notifier/validate.rs` (engineer "api") holds the same rules; when both are
//! merged the providers should call that file and this one should go.

use crate::subscription::DeviceToken;

/// svcid length in bytes (PROTOCOL §12, §13).
const SVCID_BYTES: std::ops::RangeInclusive<usize> = 32..=999;

/// APNs: exactly 64 hex digits; the svcid is the lowercase form.
pub(crate) fn apns(service: &str, token: &str) -> Result<DeviceToken, String> {
    let chars = token.chars().count();
    if chars != 64 {
        return Err(format!(
            "Invalid token: expected length-64 device token, not {chars}"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("Invalid token: expected hex device token".into());
    }
    svcid(service, token.to_ascii_lowercase())
}

/// FCM, HMS and log: any non-empty token, kept as given.
pub(crate) fn opaque(service: &str, token: &str) -> Result<DeviceToken, String> {
    if token.is_empty() {
        return Err(format!("Invalid {service} device token"));
    }
    svcid(service, token.to_owned())
}

fn svcid(service: &str, svcid: String) -> Result<DeviceToken, String> {
    if !SVCID_BYTES.contains(&svcid.len()) {
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
    fn apns_rules() {
        let good = "AB".repeat(32);
        assert_eq!(apns("apns", &good).unwrap().expose(), "ab".repeat(32));
        assert_eq!(
            apns("apns", "abc").unwrap_err(),
            "Invalid token: expected length-64 device token, not 3"
        );
        assert_eq!(
            apns("apns", &"g".repeat(64)).unwrap_err(),
            "Invalid token: expected hex device token"
        );
    }

    #[test]
    fn opaque_rules() {
        assert_eq!(
            opaque("firebase", "").unwrap_err(),
            "Invalid firebase device token"
        );
        assert_eq!(
            opaque("firebase", "short").unwrap_err(),
            "Invalid firebase device token: expected 32 to 999 bytes"
        );
        assert!(opaque("huawei", &"x".repeat(1000)).is_err());
        let token = "Fcm:Token_".repeat(10);
        assert_eq!(opaque("firebase", &token).unwrap().expose(), token);
    }
}
