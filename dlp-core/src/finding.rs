//! What the engine reports: one [`Finding`] per sensitive value found.

use crate::detector::Category;
use crate::likelihood::Likelihood;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::borrow::Cow;
use std::sync::Arc;

/// One sensitive value found in a stream.
///
/// Offsets count bytes from the start of the stream that was scanned. The raw value is in
/// [`Finding::quote`] only when the scanner was built with
/// [`crate::ScannerBuilder::include_quote`]; otherwise only the [`Finding::redacted`] form and
/// the keyed [`Finding::fingerprint`] leave the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The detector's id (info type), e.g. `US_SOCIAL_SECURITY_NUMBER`.
    pub info_type: Arc<str>,
    /// The detector's category.
    pub category: Category,
    /// How likely the value is what the detector says.
    pub likelihood: Likelihood,
    /// Offset of the value's first byte.
    pub byte_start: u64,
    /// Offset one past the value's last byte.
    pub byte_end: u64,
    /// 1-based line number of the value's first byte.
    pub line: u64,
    /// In a delimited table (a stream whose first line is a header row): the 1-based data row,
    /// i.e. the line number minus the header's line.
    pub row: Option<u64>,
    /// The name of the table column the value is in, or else of the key it is assigned to
    /// (`"ssn": "…"`, `ssn: …`, `SSN=…`, `<ssn>…`). The name also counts as a hotword.
    pub column: Option<String>,
    /// The value with most of it masked, e.g. `***-**-6789`.
    pub redacted: String,
    /// Hex HMAC-SHA256 of the detector id and normalised value under the scanner's key.
    pub fingerprint: String,
    /// True when the value is a known test or example value (likelihood VERY_UNLIKELY).
    pub test_value: bool,
    /// What kind of the info type the validator recognised, when it tells: a card brand
    /// (`VISA`, `AMEX`, …) or a phone number's region (`US`, `GB`, …).
    pub subtype: Option<Cow<'static, str>>,
    /// The raw value (lossy UTF-8), only when quotes were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// Whether a value is made only of digits and common separators, with at least one digit.
fn is_numeric(value: &[u8]) -> bool {
    value.iter().any(u8::is_ascii_digit)
        && value
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+'))
}

/// Normalises a value for fingerprints and test-value comparison: values made only of digits
/// and common separators (space, `-`, `.`, `/`, parentheses, `+`) keep just their digits;
/// any other value is kept as is.
pub fn normalize(value: &[u8]) -> Vec<u8> {
    if is_numeric(value) {
        value.iter().copied().filter(u8::is_ascii_digit).collect()
    } else {
        value.to_vec()
    }
}

/// Hex HMAC-SHA256 of `info_type`, a NUL byte and the normalised value.
pub fn fingerprint(key: &[u8], info_type: &str, value: &[u8]) -> String {
    Fingerprinter::new(key).fingerprint(info_type, value)
}

/// [`fingerprint`] with the key's HMAC state computed once: each fingerprint then costs the
/// message's hashing only, not the key's two blocks again.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl Fingerprinter {
    /// A fingerprinter for `key`.
    pub fn new(key: &[u8]) -> Fingerprinter {
        // HMAC accepts keys of any length, so this cannot fail.
        Fingerprinter { mac: <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length") }
    }

    /// The hex fingerprint of `value` as `info_type` (see [`fingerprint`]).
    pub fn fingerprint(&self, info_type: &str, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(info_type.as_bytes());
        mac.update(&[0]);
        if is_numeric(value) {
            // The digits, a stack buffer at a time (no allocation).
            let mut buf = [0u8; 64];
            let mut n = 0;
            for &b in value.iter().filter(|b| b.is_ascii_digit()) {
                buf[n] = b;
                n += 1;
                if n == buf.len() {
                    mac.update(&buf);
                    n = 0;
                }
            }
            mac.update(&buf[..n]);
        } else {
            mac.update(value);
        }
        let mut hex = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex);
        hex.iter().map(|&b| b as char).collect()
    }
}

/// 32 random bytes from the operating system, for a fingerprint key.
pub fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    // The OS random source failing is not recoverable in any useful way; fall back to a
    // process-unique key from std's randomly seeded hasher rather than a fixed one.
    if getrandom::getrandom(&mut key).is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in key.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_values_normalise_to_digits() {
        assert_eq!(normalize(b"4111-1111 1111.1111"), b"4111111111111111");
        assert_eq!(normalize(b"(555) 123-4567"), b"5551234567");
        assert_eq!(normalize(b"ghp_abc-1"), b"ghp_abc-1");
    }

    #[test]
    fn fingerprint_is_keyed_and_separator_insensitive() {
        let a = fingerprint(b"k1", "CREDIT_CARD_NUMBER", b"4111 1111 1111 1111");
        let b = fingerprint(b"k1", "CREDIT_CARD_NUMBER", b"4111-1111-1111-1111");
        let c = fingerprint(b"k2", "CREDIT_CARD_NUMBER", b"4111-1111-1111-1111");
        // The prepared key gives the same fingerprints, also past the stack buffer, as the
        // plain HMAC of the normalised value.
        let long: Vec<u8> = b"1234-".iter().copied().cycle().take(400).collect();
        for v in [&b"4111 1111 1111 1111"[..], b"ghp_abc-1", &long] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k1").unwrap();
            mac.update(b"T\0");
            mac.update(&normalize(v));
            assert_eq!(
                Fingerprinter::new(b"k1").fingerprint("T", v),
                hex::encode(mac.finalize().into_bytes())
            );
        }
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }
}
