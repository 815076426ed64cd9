//! Binary request fields: raw, hex (either case) or standard base64, chosen by length
//! (PROTOCOL §2.3, SPNS `from_hex_or_b64`).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Standard alphabet, padding already stripped, non-zero trailing bits ignored (§2.3 step 3).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes an `N`-byte field; `None` when the value fits none of the three forms.
pub(crate) fn decode_bytes<const N: usize>(value: &str) -> Option<[u8; N]> {
    let input = value.as_bytes();
    if input.len() == N {
        return input.try_into().ok();
    }
    let mut out = [0u8; N];
    if input.len() == 2 * N {
        return hex::decode_to_slice(input, &mut out).ok().map(|()| out);
    }
    let unpadded = value.trim_end_matches('=');
    let is_standard = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    if unpadded.len() != (4 * N).div_ceil(3) || !unpadded.bytes().all(is_standard) {
        return None;
    }
    match BASE64.decode_slice(unpadded, &mut out) {
        Ok(n) if n == N => Some(out),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210";

    fn key() -> [u8; 32] {
        hex::decode(KEY).unwrap().try_into().unwrap()
    }

    #[test]
    fn accepts_the_vector_encodings() {
        // payload.json signatures.field_encodings.accept
        for form in [
            KEY,
            "0123456789ABCDEF0123456789ABCDEFFEDCBA9876543210FEDCBA9876543210",
            "ASNFZ4mrze8BI0VniavN7/7cuph2VDIQ/ty6mHZUMhA=",
            "ASNFZ4mrze8BI0VniavN7/7cuph2VDIQ/ty6mHZUMhA",
        ] {
            assert_eq!(decode_bytes::<32>(form), Some(key()), "{form}");
        }
    }

    #[test]
    fn rejects_the_vector_encodings() {
        for form in [
            "0123456789abcdef0123456789abcdeffedcba9876543210fedcba987654321",
            "ASNFZ4mrze8BI0VniavN7_7cuph2VDIQ_ty6mHZUMhA=x",
            "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=",
        ] {
            assert_eq!(decode_bytes::<32>(form), None, "{form}");
        }
    }

    #[test]
    fn raw_bytes_of_exact_length() {
        assert_eq!(decode_bytes::<4>("abcd"), Some(*b"abcd"));
    }

    #[test]
    fn strips_every_trailing_pad_and_ignores_trailing_bits() {
        let b64 = "ASNFZ4mrze8BI0VniavN7/7cuph2VDIQ/ty6mHZUMhA";
        assert_eq!(decode_bytes::<32>(&format!("{b64}===")), Some(key()));
        // 'B' instead of 'A' sets a trailing pad bit, which §2.3 says to ignore.
        assert_eq!(
            decode_bytes::<32>("ASNFZ4mrze8BI0VniavN7/7cuph2VDIQ/ty6mHZUMhB"),
            Some(key())
        );
    }

    #[test]
    fn every_field_length_in_every_form() {
        fn roundtrip<const N: usize>() {
            let bytes: [u8; N] = std::array::from_fn(|i| (i * 37 + 11) as u8);
            let std = base64::engine::general_purpose::STANDARD;
            let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD;
            assert_eq!(decode_bytes::<N>(&hex::encode(bytes)), Some(bytes));
            assert_eq!(decode_bytes::<N>(&hex::encode_upper(bytes)), Some(bytes));
            assert_eq!(decode_bytes::<N>(&std.encode(bytes)), Some(bytes));
            assert_eq!(decode_bytes::<N>(&unpadded.encode(bytes)), Some(bytes));
            let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfb; N]);
            assert_eq!(decode_bytes::<N>(&url_safe), None);
        }
        roundtrip::<32>();
        roundtrip::<33>();
        roundtrip::<36>();
        roundtrip::<64>();
    }

    #[test]
    fn hex_with_a_non_hex_character_is_rejected() {
        let mut bad = KEY.to_string();
        bad.replace_range(10..11, "g");
        assert_eq!(decode_bytes::<32>(&bad), None);
    }
}
