//! Validators: small pure functions that confirm a candidate value by its structure or check
//! digits. Each takes the value's bytes as matched (separators included) and ignores what the
//! format says to ignore.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A validator named in a detector definition (`validator = "luhn"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// Luhn mod-10 check digit ([`luhn`]).
    Luhn,
    /// IBAN country length and ISO 7064 mod 97-10 ([`iban`]).
    Iban,
    /// US SSN area/group/serial rules ([`us_ssn`]).
    UsSsn,
    /// JSON Web Token structure ([`jwt`]).
    Jwt,
}

impl Validator {
    /// Runs this validator on a value.
    pub fn check(self, value: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn(value),
            Validator::Iban => iban(value),
            Validator::UsSsn => us_ssn(value),
            Validator::Jwt => jwt(value),
        }
    }

    /// The name used in detector files.
    pub fn as_str(self) -> &'static str {
        match self {
            Validator::Luhn => "luhn",
            Validator::Iban => "iban",
            Validator::UsSsn => "us_ssn",
            Validator::Jwt => "jwt",
        }
    }
}

/// Luhn mod-10 over the ASCII digits of `value` (other bytes are separators and ignored).
/// Needs at least two digits.
pub fn luhn(value: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for &b in value.iter().rev().filter(|b| b.is_ascii_digit()) {
        let mut d = u32::from(b - b'0');
        if count % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        count += 1;
    }
    count >= 2 && sum % 10 == 0
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The IBAN length for a two-letter country code, if the country issues IBANs.
pub fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(c, _)| c.as_slice() == country).map(|&(_, n)| n)
}

/// ISO 7064 mod 97-10 remainder of an alphanumeric string where letters count as 10..35.
/// Returns `None` on a byte that is neither an ASCII digit nor letter.
pub fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'a'..=b'z' => u32::from(c - b'a') + 10,
            _ => return None,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    Some(rem)
}

/// IBAN: known country, that country's length, and mod 97-10 remainder 1. Spaces are ignored.
pub fn iban(value: &[u8]) -> bool {
    let compact: Vec<u8> =
        value.iter().copied().filter(|b| !b.is_ascii_whitespace()).map(|b| b.to_ascii_uppercase()).collect();
    if compact.len() < 5 || !compact[..2].iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    if iban_length(&compact[..2]) != Some(compact.len()) {
        return false;
    }
    let rearranged = compact[4..].iter().chain(&compact[..4]).copied();
    mod97(rearranged) == Some(1)
}

/// US Social Security number rules (SSA, post-2011 randomisation): nine digits; area not
/// 000, 666 or 900-999; group not 00; serial not 0000. Separators are ignored.
pub fn us_ssn(value: &[u8]) -> bool {
    let digits: Vec<u8> = value.iter().copied().filter(u8::is_ascii_digit).collect();
    if digits.len() != 9 {
        return false;
    }
    let num = |s: &[u8]| s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    let (area, group, serial) = (num(&digits[..3]), num(&digits[3..5]), num(&digits[5..]));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// JSON Web Token: `header.payload.signature`, where the header is base64url (padding
/// optional) of a JSON object with a string `alg` member.
pub fn jwt(value: &[u8]) -> bool {
    let mut parts = value.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if payload.is_empty() {
        return false;
    }
    let trim = |p: &[u8]| -> Vec<u8> { p.iter().copied().filter(|&b| b != b'=').collect() };
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trim(header)) else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&decoded) {
        Ok(serde_json::Value::Object(map)) => map.get("alg").is_some_and(|a| a.is_string()),
        _ => false,
    }
}

/// Shannon entropy of `value` in bits per byte (0 for empty input, at most 8).
pub fn shannon_entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_table() {
        let cases: &[(&str, bool)] = &[
            ("4539 1488 0343 6467", true),
            ("4111-1111-1111-1111", true),
            ("378282246310005", true),
            ("4539 1488 0343 6468", false),
            ("79927398713", true),
            ("79927398710", false),
            ("0", false),
            ("", false),
        ];
        for &(v, want) in cases {
            assert_eq!(luhn(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn iban_table() {
        let cases: &[(&str, bool)] = &[
            ("GB82 WEST 1234 5698 7654 32", true),
            ("DE89370400440532013000", true),
            ("FR1420041010050500013M02606", true),
            ("NO9386011117947", true),
            ("GB82 WEST 1234 5698 7654 33", false),
            ("DE8937040044053201300", false),
            ("XX89370400440532013000", false),
            ("12", false),
        ];
        for &(v, want) in cases {
            assert_eq!(iban(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn mod97_rejects_punctuation() {
        assert_eq!(mod97(b"12-3".iter().copied()), None);
        assert_eq!(mod97(b"97".iter().copied()), Some(0));
    }

    #[test]
    fn us_ssn_table() {
        let cases: &[(&str, bool)] = &[
            ("536-22-8726", true),
            ("536228726", true),
            ("772 11 0001", true),
            ("000-12-3456", false),
            ("666-12-3456", false),
            ("900-12-3456", false),
            ("123-00-4567", false),
            ("123-45-0000", false),
            ("123-45-678", false),
        ];
        for &(v, want) in cases {
            assert_eq!(us_ssn(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn jwt_table() {
        // {"alg":"HS256","typ":"JWT"}
        let good = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl";
        assert!(jwt(good.as_bytes()));
        // {"typ":"JWT"}: no alg
        assert!(!jwt(b"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjMifQ.c2ln"));
        // header is not JSON
        assert!(!jwt(b"aGVsbG8.eyJzdWIiOiIxMjMifQ.c2ln"));
        // wrong number of parts
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMifQ"));
        assert!(!jwt(b"a.b.c.d"));
    }

    #[test]
    fn entropy_table() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abab") - 1.0).abs() < 1e-9);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }

    #[test]
    fn validator_names_round_trip() {
        for v in [Validator::Luhn, Validator::Iban, Validator::UsSsn, Validator::Jwt] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.as_str()));
        }
    }
}
