//! Validators: small pure functions that confirm a candidate value by its structure or check
//! digits. Each takes the value's bytes as matched (separators included) and ignores what the
//! format says to ignore.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
    /// US ABA routing number ([`aba_routing`]).
    AbaRouting,
    /// US National Provider Identifier ([`npi`]).
    Npi,
    /// US DEA registration number ([`dea`]).
    Dea,
    /// Verhoeff check digit ([`verhoeff`]).
    Verhoeff,
    /// UK NHS number ([`uk_nhs`]).
    UkNhs,
    /// Netherlands BSN 11-test ([`nl_bsn`]).
    NlBsn,
    /// Brazil CPF ([`br_cpf`]).
    BrCpf,
    /// Brazil CNPJ ([`br_cnpj`]).
    BrCnpj,
    /// China resident identity number ([`cn_resident_id`]).
    CnResidentId,
    /// Spain DNI / NIE letter ([`es_dni`]).
    EsDni,
    /// France NIR key ([`fr_nir`]).
    FrNir,
    /// Germany tax id ([`de_tax_id`]).
    DeTaxId,
    /// Australia tax file number ([`au_tfn`]).
    AuTfn,
    /// Australia Medicare number ([`au_medicare`]).
    AuMedicare,
    /// Singapore NRIC / FIN ([`sg_nric`]).
    SgNric,
    /// Korea resident registration number ([`kr_rrn`]).
    KrRrn,
    /// Japan My Number ([`jp_my_number`]).
    JpMyNumber,
    /// Mexico CURP ([`mx_curp`]).
    MxCurp,
    /// Poland PESEL ([`pl_pesel`]).
    PlPesel,
    /// Norway fødselsnummer ([`no_fnr`]).
    NoFnr,
    /// Finland HETU ([`fi_hetu`]).
    FiHetu,
    /// Belgium national register number ([`be_nrn`]).
    BeNrn,
    /// Portugal NIF ([`pt_nif`]).
    PtNif,
    /// EAN-13 check digit ([`ean13`]).
    Ean13,
    /// ISIN ([`isin`]).
    Isin,
    /// CUSIP ([`cusip`]).
    Cusip,
    /// Luhn plus a known card brand for the number's prefix and length ([`payment_card`]);
    /// the brand becomes the finding's subtype.
    PaymentCard,
    /// CRC-32 checksum of GitHub- and npm-style tokens ([`token_crc32`]).
    TokenCrc32,
    /// A number valid in libphonenumber's numbering plans ([`phone`]); the region becomes the
    /// finding's subtype.
    Phone,
}

/// What a validator concluded about a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The value passed; with a subtype when the validator tells one (a card brand, a phone
    /// number's region).
    Valid(Option<Cow<'static, str>>),
    /// The value failed: it is not what the detector looks for.
    Invalid,
    /// The validator has nothing to check on this shape of value (e.g. a token format without
    /// a checksum); the value stands on its pattern alone.
    Unchecked,
}

impl From<bool> for Outcome {
    fn from(ok: bool) -> Outcome {
        if ok {
            Outcome::Valid(None)
        } else {
            Outcome::Invalid
        }
    }
}

/// Every validator with its name in detector files.
const NAMES: &[(Validator, &str)] = &[
    (Validator::Luhn, "luhn"),
    (Validator::Iban, "iban"),
    (Validator::UsSsn, "us_ssn"),
    (Validator::Jwt, "jwt"),
    (Validator::AbaRouting, "aba_routing"),
    (Validator::Npi, "npi"),
    (Validator::Dea, "dea"),
    (Validator::Verhoeff, "verhoeff"),
    (Validator::UkNhs, "uk_nhs"),
    (Validator::NlBsn, "nl_bsn"),
    (Validator::BrCpf, "br_cpf"),
    (Validator::BrCnpj, "br_cnpj"),
    (Validator::CnResidentId, "cn_resident_id"),
    (Validator::EsDni, "es_dni"),
    (Validator::FrNir, "fr_nir"),
    (Validator::DeTaxId, "de_tax_id"),
    (Validator::AuTfn, "au_tfn"),
    (Validator::AuMedicare, "au_medicare"),
    (Validator::SgNric, "sg_nric"),
    (Validator::KrRrn, "kr_rrn"),
    (Validator::JpMyNumber, "jp_my_number"),
    (Validator::MxCurp, "mx_curp"),
    (Validator::PlPesel, "pl_pesel"),
    (Validator::NoFnr, "no_fnr"),
    (Validator::FiHetu, "fi_hetu"),
    (Validator::BeNrn, "be_nrn"),
    (Validator::PtNif, "pt_nif"),
    (Validator::Ean13, "ean13"),
    (Validator::Isin, "isin"),
    (Validator::Cusip, "cusip"),
    (Validator::PaymentCard, "payment_card"),
    (Validator::TokenCrc32, "token_crc32"),
    (Validator::Phone, "phone"),
];

impl Validator {
    /// Runs this validator on a value: true unless the value fails.
    pub fn check(self, value: &[u8]) -> bool {
        self.outcome(value) != Outcome::Invalid
    }

    /// Runs this validator on a value and tells whether it passed, failed or was not checked,
    /// with the subtype it found.
    pub fn outcome(self, value: &[u8]) -> Outcome {
        let ok = match self {
            Validator::Luhn => luhn(value),
            Validator::Iban => iban(value),
            Validator::UsSsn => us_ssn(value),
            Validator::Jwt => jwt(value),
            Validator::AbaRouting => aba_routing(value),
            Validator::Npi => npi(value),
            Validator::Dea => dea(value),
            Validator::Verhoeff => verhoeff(value),
            Validator::UkNhs => uk_nhs(value),
            Validator::NlBsn => nl_bsn(value),
            Validator::BrCpf => br_cpf(value),
            Validator::BrCnpj => br_cnpj(value),
            Validator::CnResidentId => cn_resident_id(value),
            Validator::EsDni => es_dni(value),
            Validator::FrNir => fr_nir(value),
            Validator::DeTaxId => de_tax_id(value),
            Validator::AuTfn => au_tfn(value),
            Validator::AuMedicare => au_medicare(value),
            Validator::SgNric => sg_nric(value),
            Validator::KrRrn => kr_rrn(value),
            Validator::JpMyNumber => jp_my_number(value),
            Validator::MxCurp => mx_curp(value),
            Validator::PlPesel => pl_pesel(value),
            Validator::NoFnr => no_fnr(value),
            Validator::FiHetu => fi_hetu(value),
            Validator::BeNrn => be_nrn(value),
            Validator::PtNif => pt_nif(value),
            Validator::Ean13 => ean13(value),
            Validator::Isin => isin(value),
            Validator::Cusip => cusip(value),
            Validator::PaymentCard => return payment_card(value),
            Validator::TokenCrc32 => return token_crc32(value),
            Validator::Phone => return phone(value),
        };
        ok.into()
    }

    /// The name used in detector files.
    pub fn as_str(self) -> &'static str {
        NAMES.iter().find(|(v, _)| *v == self).map_or("?", |(_, n)| n)
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
    count >= 2 && sum.is_multiple_of(10)
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

/// The value without separators (space, `-`, `.`, `/`), uppercased.
fn compact(value: &[u8]) -> Vec<u8> {
    value.iter().filter(|b| !matches!(b, b' ' | b'-' | b'.' | b'/')).map(u8::to_ascii_uppercase).collect()
}

/// The value's digits when, without separators, it is exactly `n` ASCII digits.
fn digits_of(value: &[u8], n: usize) -> Option<Vec<u32>> {
    let c = compact(value);
    (c.len() == n && c.iter().all(u8::is_ascii_digit))
        .then(|| c.iter().map(|b| u32::from(b - b'0')).collect())
}

/// Σ dᵢ·wᵢ.
fn weighted(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

/// US ABA routing number: 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
pub fn aba_routing(value: &[u8]) -> bool {
    digits_of(value, 9).is_some_and(|d| {
        weighted(&d, &[3, 7, 1, 3, 7, 1, 3, 7, 1]).is_multiple_of(10) && d.iter().any(|&x| x != 0)
    })
}

/// US National Provider Identifier: Luhn over `80840` and the 10 digits.
pub fn npi(value: &[u8]) -> bool {
    digits_of(value, 10).is_some_and(|d| {
        let mut s = b"80840".to_vec();
        s.extend(d.iter().map(|&x| b'0' + x as u8));
        luhn(&s)
    })
}

/// US DEA number: two letters, seven digits; (d1+d3+d5) + 2(d2+d4+d6) ≡ d7 (mod 10).
pub fn dea(value: &[u8]) -> bool {
    let c = compact(value);
    if c.len() != 9 || !c[..2].iter().all(u8::is_ascii_alphabetic) || !c[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = c[2..].iter().map(|b| u32::from(b - b'0')).collect();
    (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

/// Verhoeff check digit over all digits of the value (the last one is the check digit).
pub fn verhoeff(value: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let c = compact(value);
    if c.len() < 2 || !c.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut check = 0u8;
    for (i, b) in c.iter().rev().enumerate() {
        check = D[usize::from(check)][usize::from(P[i % 8][usize::from(b - b'0')])];
    }
    check == 0
}

/// UK NHS number: mod 11 over weights 10..2; 11 → 0, 10 is invalid.
pub fn uk_nhs(value: &[u8]) -> bool {
    digits_of(value, 10).is_some_and(|d| {
        let c = 11 - weighted(&d[..9], &[10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11;
        let c = if c == 11 { 0 } else { c };
        c != 10 && c == d[9]
    })
}

/// Netherlands BSN 11-test: 9d1+…+2d8 − d9 ≡ 0 (mod 11), not all zeros.
pub fn nl_bsn(value: &[u8]) -> bool {
    digits_of(value, 9).is_some_and(|d| {
        let s = weighted(&d[..8], &[9, 8, 7, 6, 5, 4, 3, 2]) as i64 - i64::from(d[8]);
        s % 11 == 0 && d.iter().any(|&x| x != 0)
    })
}

fn all_equal(d: &[u32]) -> bool {
    d.iter().all(|&x| x == d[0])
}

/// Brazil CPF: two mod-11 check digits; all-equal numbers are invalid.
pub fn br_cpf(value: &[u8]) -> bool {
    digits_of(value, 11).is_some_and(|d| {
        let check = |n: usize| {
            let s: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
            let r = 11 - s % 11;
            if r >= 10 {
                0
            } else {
                r
            }
        };
        !all_equal(&d) && check(9) == d[9] && check(10) == d[10]
    })
}

/// Brazil CNPJ: two mod-11 check digits; all-equal numbers are invalid.
pub fn br_cnpj(value: &[u8]) -> bool {
    digits_of(value, 14).is_some_and(|d| {
        let check = |weights: &[u32]| {
            let r = weighted(&d, weights) % 11;
            if r < 2 {
                0
            } else {
                11 - r
            }
        };
        !all_equal(&d)
            && check(&[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) == d[12]
            && check(&[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) == d[13]
    })
}

/// China resident identity number: 17 digits and an ISO 7064 MOD 11-2 check (digit or X).
pub fn cn_resident_id(value: &[u8]) -> bool {
    let c = compact(value);
    if c.len() != 18 || !c[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let s: u32 =
        c[..17].iter().enumerate().map(|(i, b)| u32::from(b - b'0') * ((1u32 << (17 - i)) % 11)).sum();
    let check = (12 - s % 11) % 11;
    match c[17] {
        b'X' => check == 10,
        b @ b'0'..=b'9' => check == u32::from(b - b'0'),
        _ => false,
    }
}

/// Spain DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter).
pub fn es_dni(value: &[u8]) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let c = compact(value);
    if c.len() != 9 {
        return false;
    }
    let lead = match c[0] {
        b'X' => Some(0),
        b'Y' => Some(1),
        b'Z' => Some(2),
        b'0'..=b'9' => None,
        _ => return false,
    };
    let body = if lead.is_some() { &c[1..8] } else { &c[..8] };
    if !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = body.iter().fold(lead.unwrap_or(0u32), |acc, b| acc * 10 + u32::from(b - b'0'));
    LETTERS[(n % 23) as usize] == c[8]
}

/// France NIR: sex digit 1, 2, 7 or 8, and key = 97 − (first 13 mod 97); departments 2A/2B
/// count as 19/18.
pub fn fr_nir(value: &[u8]) -> bool {
    let mut c = compact(value);
    if c.len() != 15 || !matches!(c[0], b'1' | b'2' | b'7' | b'8') {
        return false;
    }
    match &c[5..7] {
        b"2A" => c[5..7].copy_from_slice(b"19"),
        b"2B" => c[5..7].copy_from_slice(b"18"),
        _ => {}
    }
    if !c.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |s: &[u8]| s.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    97 - num(&c[..13]) % 97 == num(&c[13..])
}

/// Germany tax id: 11 digits, first not 0, ISO 7064 MOD 11,10 check digit.
pub fn de_tax_id(value: &[u8]) -> bool {
    digits_of(value, 11).is_some_and(|d| {
        let mut p = 10;
        for &x in &d[..10] {
            let mut s = (x + p) % 10;
            if s == 0 {
                s = 10;
            }
            p = (2 * s) % 11;
        }
        d[0] != 0 && (11 - p) % 10 == d[10]
    })
}

/// Australia tax file number: weights 1,4,3,7,5,8,6,9,10; Σ ≡ 0 (mod 11).
pub fn au_tfn(value: &[u8]) -> bool {
    digits_of(value, 9).is_some_and(|d| weighted(&d, &[1, 4, 3, 7, 5, 8, 6, 9, 10]).is_multiple_of(11))
}

/// Australia Medicare number: 10 or 11 digits, first 2-6; weights 1,3,7,9,… on d1..d8.
pub fn au_medicare(value: &[u8]) -> bool {
    let d = digits_of(value, 10).or_else(|| digits_of(value, 11));
    d.is_some_and(|d| (2..=6).contains(&d[0]) && weighted(&d[..8], &[1, 3, 7, 9, 1, 3, 7, 9]) % 10 == d[8])
}

/// Singapore NRIC/FIN: S, T, F or G, seven digits and a check letter.
pub fn sg_nric(value: &[u8]) -> bool {
    let c = compact(value);
    if c.len() != 9 || !c[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = c[1..8].iter().map(|b| u32::from(b - b'0')).collect();
    let s = weighted(&d, &[2, 7, 6, 5, 4, 3, 2]);
    let (offset, table): (u32, &[u8; 11]) = match c[0] {
        b'S' => (0, b"JZIHGFEDCBA"),
        b'T' => (4, b"JZIHGFEDCBA"),
        b'F' => (0, b"XWUTRQPNMLK"),
        b'G' => (4, b"XWUTRQPNMLK"),
        _ => return false,
    };
    table[((s + offset) % 11) as usize] == c[8]
}

/// Korea resident registration number: weights 2..9,2..5; (11 − Σ mod 11) mod 10 = d13.
pub fn kr_rrn(value: &[u8]) -> bool {
    digits_of(value, 13)
        .is_some_and(|d| (11 - weighted(&d[..12], &[2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10 == d[12])
}

/// Japan My Number: 12 digits with a mod-11 check digit.
pub fn jp_my_number(value: &[u8]) -> bool {
    digits_of(value, 12).is_some_and(|d| {
        let s: u32 = (1..=11u32).map(|n| d[11 - n as usize] * if n <= 6 { n + 1 } else { n - 5 }).sum();
        let r = s % 11;
        (if r <= 1 { 0 } else { 11 - r }) == d[11]
    })
}

/// Mexico CURP: 18 characters with a weighted mod-10 check digit.
pub fn mx_curp(value: &[u8]) -> bool {
    // Ñ is not ASCII; CURPs written in ASCII use X in its place, so it has no byte here.
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMN\0OPQRSTUVWXYZ";
    let c = compact(value);
    if c.len() != 18 || !c[17].is_ascii_digit() {
        return false;
    }
    let mut s = 0u32;
    for (i, b) in c[..17].iter().enumerate() {
        let Some(v) = ALPHABET.iter().position(|a| a == b) else { return false };
        s += v as u32 * (18 - i as u32);
    }
    (10 - s % 10) % 10 == u32::from(c[17] - b'0')
}

/// Poland PESEL: weights 1,3,7,9,…; (10 − Σ mod 10) mod 10 = d11.
pub fn pl_pesel(value: &[u8]) -> bool {
    digits_of(value, 11)
        .is_some_and(|d| (10 - weighted(&d[..10], &[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10 == d[10])
}

/// Norway fødselsnummer: two mod-11 check digits.
pub fn no_fnr(value: &[u8]) -> bool {
    digits_of(value, 11).is_some_and(|d| {
        let k = |w: &[u32], n: usize| {
            let k = 11 - weighted(&d[..n], w) % 11;
            match k {
                11 => Some(0),
                10 => None,
                k => Some(k),
            }
        };
        k(&[3, 7, 6, 1, 8, 9, 4, 5, 2], 9) == Some(d[9])
            && k(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], 10) == Some(d[10])
    })
}

/// Finland HETU: DDMMYY, century sign, three digits, check character (mod 31).
pub fn fi_hetu(value: &[u8]) -> bool {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let c: Vec<u8> = value.iter().map(u8::to_ascii_uppercase).collect();
    if c.len() != 11 || !b"+-ABCDEFYXWVU".contains(&c[6]) {
        return false;
    }
    let digits: Vec<u8> = c[..6].iter().chain(&c[7..10]).copied().collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = digits.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    CHECK[(n % 31) as usize] == c[10]
}

/// Belgium national register number: 97 − (first 9 mod 97), or 97 − ((2 followed by the
/// first 9) mod 97) for people born from 2000; the year cannot tell which, so either passes.
pub fn be_nrn(value: &[u8]) -> bool {
    digits_of(value, 11).is_some_and(|d| {
        let first9 = d[..9].iter().fold(0u64, |acc, &x| acc * 10 + u64::from(x));
        let check = u64::from(d[9] * 10 + d[10]);
        97 - first9 % 97 == check || 97 - (2_000_000_000 + first9) % 97 == check
    })
}

/// Portugal NIF: first digit not 0 (1-3 people, 45 non-residents, 5-9 entities); weights
/// 9..2; 11 − Σ mod 11, ≥ 10 → 0.
pub fn pt_nif(value: &[u8]) -> bool {
    digits_of(value, 9).is_some_and(|d| {
        let r = 11 - weighted(&d[..8], &[9, 8, 7, 6, 5, 4, 3, 2]) % 11;
        d[0] != 0 && (if r >= 10 { 0 } else { r }) == d[8]
    })
}

/// EAN-13 check digit (Swiss AHV numbers are EAN-13).
pub fn ean13(value: &[u8]) -> bool {
    digits_of(value, 13)
        .is_some_and(|d| (10 - weighted(&d[..12], &[1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3]) % 10) % 10 == d[12])
}

/// ISIN: country letters, nine alphanumerics, a digit; Luhn over letters as 10..35.
pub fn isin(value: &[u8]) -> bool {
    let c = compact(value);
    if c.len() != 12
        || !c[..2].iter().all(u8::is_ascii_uppercase)
        || !c[2..11].iter().all(u8::is_ascii_alphanumeric)
        || !c[11].is_ascii_digit()
    {
        return false;
    }
    let mut expanded = Vec::with_capacity(24);
    for &b in &c {
        if b.is_ascii_digit() {
            expanded.push(b);
        } else {
            expanded.extend((u32::from(b - b'A') + 10).to_string().bytes());
        }
    }
    luhn(&expanded)
}

/// CUSIP: eight characters and a check digit.
pub fn cusip(value: &[u8]) -> bool {
    let c = compact(value);
    if c.len() != 9 || !c[8].is_ascii_digit() {
        return false;
    }
    let mut s = 0u32;
    for (i, &b) in c[..8].iter().enumerate() {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            b'*' => 36,
            b'@' => 37,
            b'#' => 38,
            _ => return false,
        };
        let v = if i % 2 == 1 { v * 2 } else { v };
        s += v / 10 + v % 10;
    }
    (10 - s % 10) % 10 == u32::from(c[8] - b'0')
}

/// The brand of a payment card number (ASCII digits only) from its issuer prefix and length:
/// `VISA`, `MASTERCARD`, `AMEX`, `DISCOVER`, `JCB`, `DINERS_CLUB`, `UNIONPAY` or `MAESTRO`.
pub fn card_brand(digits: &[u8]) -> Option<&'static str> {
    let prefix = |n: usize| -> u32 {
        digits.iter().take(n).fold(0, |acc, d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
    };
    let len = digits.len();
    let (p2, p3, p4) = (prefix(2), prefix(3), prefix(4));
    match () {
        _ if p2 == 34 || p2 == 37 => (len == 15).then_some("AMEX"),
        _ if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => {
            (14..=19).contains(&len).then_some("DINERS_CLUB")
        }
        _ if (3528..=3589).contains(&p4) => (16..=19).contains(&len).then_some("JCB"),
        _ if digits.first() == Some(&b'4') => matches!(len, 13 | 16 | 19).then_some("VISA"),
        _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => (len == 16).then_some("MASTERCARD"),
        _ if matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763) => {
            (12..=19).contains(&len).then_some("MAESTRO")
        }
        _ if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => {
            (16..=19).contains(&len).then_some("DISCOVER")
        }
        _ if p2 == 62 => (16..=19).contains(&len).then_some("UNIONPAY"),
        _ => None,
    }
}

/// A payment card number: Luhn-valid, with a brand whose prefix and length it matches
/// ([`card_brand`]). The brand is the subtype.
pub fn payment_card(value: &[u8]) -> Outcome {
    let digits: Vec<u8> = value.iter().copied().filter(u8::is_ascii_digit).collect();
    match card_brand(&digits) {
        Some(brand) if luhn(&digits) => Outcome::Valid(Some(Cow::Borrowed(brand))),
        _ => Outcome::Invalid,
    }
}

/// Base62 alphabet of GitHub-style token checksums.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Tokens in GitHub's 2021 format (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm's (`npm_`):
/// the prefix, 30 random base62 characters, then the CRC-32 of those 30 characters in base62,
/// left-padded with `0` to 6 characters. Other shapes (fine-grained `github_pat_` tokens,
/// longer tokens) carry no published checksum and are [`Outcome::Unchecked`].
pub fn token_crc32(value: &[u8]) -> Outcome {
    let Some(sep) = value.iter().rposition(|&b| b == b'_') else {
        return Outcome::Unchecked;
    };
    let (prefix, body) = (&value[..sep], &value[sep + 1..]);
    let known = matches!(prefix, b"ghp" | b"gho" | b"ghu" | b"ghs" | b"ghr" | b"npm");
    if !known || body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return Outcome::Unchecked;
    }
    let mut crc = crc32fast::hash(&body[..30]);
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    // A CRC-32 is below 62^6, so six characters always hold it.
    (crc == 0 && check == body[30..]).into()
}

/// A phone number valid in libphonenumber's numbering plans (via the `phonenumber` crate):
/// with a leading `+` for its country code, else as a North American number. The region
/// (ISO 3166 code, e.g. `US`, `GB`) is the subtype.
pub fn phone(value: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(value) else {
        return Outcome::Invalid;
    };
    let verdict = crate::phone::validate_nanp(text).unwrap_or_else(|| {
        let region = if text.starts_with('+') { None } else { Some(phonenumber::country::Id::US) };
        phonenumber::parse(region, text).ok().as_ref().and_then(crate::phone::validate)
    });
    match verdict {
        Some(region) => Outcome::Valid(region.map(Cow::Borrowed)),
        None => Outcome::Invalid,
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
    fn identifier_check_digits() {
        type Check = fn(&[u8]) -> bool;
        let cases: &[(Check, &str, bool)] = &[
            (aba_routing, "021000021", true),
            (aba_routing, "021000022", false),
            (npi, "1234567893", true),
            (npi, "1234567890", false),
            (dea, "AB1234563", true),
            (dea, "AB1234564", false),
            (verhoeff, "2363", true),
            (verhoeff, "2364", false),
            (uk_nhs, "943 476 5919", true),
            (uk_nhs, "943 476 5918", false),
            (nl_bsn, "111222333", true),
            (nl_bsn, "111222334", false),
            (nl_bsn, "000000000", false),
            (br_cpf, "529.982.247-25", true),
            (br_cpf, "529.982.247-26", false),
            (br_cpf, "111.111.111-11", false),
            (br_cnpj, "11.222.333/0001-81", true),
            (br_cnpj, "11.222.333/0001-82", false),
            (cn_resident_id, "11010519491231002X", true),
            (cn_resident_id, "110105194912310021", false),
            (es_dni, "12345678Z", true),
            (es_dni, "X1234567L", true),
            (es_dni, "12345678A", false),
            (au_tfn, "123 456 782", true),
            (au_tfn, "123 456 783", false),
            (sg_nric, "S1234567D", true),
            (sg_nric, "S1234567E", false),
            (jp_my_number, "123456789018", true),
            (jp_my_number, "123456789019", false),
            (pl_pesel, "44051401359", true),
            (pl_pesel, "44051401358", false),
            (fi_hetu, "131052-308T", true),
            (fi_hetu, "131052-308U", false),
            (pt_nif, "123456789", true),
            (pt_nif, "123456788", false),
            (pt_nif, "451234561", true),
            (pt_nif, "051234561", false),
            (ean13, "756.1234.5678.97", true),
            (ean13, "756.1234.5678.98", false),
            (isin, "US0378331005", true),
            (isin, "US0378331006", false),
            (cusip, "037833100", true),
            (cusip, "037833101", false),
            (fr_nir, "1 85 05 78 006 084 91", true),
            (fr_nir, "1 85 05 2A 006 084 35", true),
            (fr_nir, "1 85 05 78 006 084 92", false),
            (fr_nir, "3 85 05 78 006 084 91", false),
            (de_tax_id, "86095742719", true),
            (de_tax_id, "86095742718", false),
            (de_tax_id, "06095742719", false),
            (au_medicare, "2123 45670 1", true),
            (au_medicare, "2123 45671 1", false),
            (au_medicare, "7123 45670 1", false),
            (kr_rrn, "800101-1234560", true),
            (kr_rrn, "800101-1234561", false),
            (mx_curp, "GOMA800101HDFRRL01", true),
            (mx_curp, "GOMA800101HDFRRL02", false),
            (no_fnr, "010190 10046", true),
            (no_fnr, "010190 10047", false),
            (be_nrn, "85.07.30-033.28", true),
            (be_nrn, "01.07.30-033.39", true),
            (be_nrn, "85.07.30-033.29", false),
        ];
        for &(f, v, want) in cases {
            assert_eq!(f(v.as_bytes()), want, "{v}");
        }
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
    fn card_brands() {
        let brand = |v: &str| match payment_card(v.as_bytes()) {
            Outcome::Valid(b) => b.map(|b| b.into_owned()),
            _ => None,
        };
        for (number, expected) in [
            ("4205 0969 6116 0002", "VISA"),
            ("4328705433143", "VISA"),
            ("5307036449882599", "MASTERCARD"),
            ("2720168438741191", "MASTERCARD"),
            ("3720 178091 50331", "AMEX"),
            ("6011 8326 3256 2948", "DISCOVER"),
            ("3053 223755 3298", "DINERS_CLUB"),
            ("3541-5811-4696-7897", "JCB"),
            ("6288141418833169047", "UNIONPAY"),
            ("6759649826438453", "MAESTRO"),
            ("501800000009", "MAESTRO"),
        ] {
            assert_eq!(brand(number).as_deref(), Some(expected), "{number}");
        }
        // Luhn-valid but no brand has this prefix and length; a brand prefix failing Luhn.
        for number in ["7992739871300000", "4205096961160005", "37201780915033"] {
            assert_eq!(payment_card(number.as_bytes()), Outcome::Invalid, "{number}");
        }
    }

    #[test]
    fn token_checksums() {
        for token in [
            "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",
            "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",
            "ghs_aMYbQbEvLhwx1sHcgiAitKzYvaa6jf0XfQeY",
            "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",
        ] {
            assert_eq!(token_crc32(token.as_bytes()), Outcome::Valid(None), "{token}");
        }
        // One character changed in the random part, in the checksum; GitHub's docs example.
        for token in [
            "ghp_FbY8NwcUeb4c0wrUGZECjUYrZUPex91VOUZ4",
            "ghp_FbY8NwcUeb4c0wrUGZECjUYrZUPet91VOUZ5",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ] {
            assert_eq!(token_crc32(token.as_bytes()), Outcome::Invalid, "{token}");
        }
        for token in [
            "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",
            "a7205fd0-4700-419d-889d-ec76131f0bea",
            "ghs_AmyBqBeVlHWX1ShCGIaITkZyVAA6JF0CGvagLONGER",
        ] {
            assert_eq!(token_crc32(token.as_bytes()), Outcome::Unchecked, "{token}");
        }
    }

    #[test]
    fn phone_numbers() {
        let region = |v: &str| match phone(v.as_bytes()) {
            Outcome::Valid(r) => r.map(|r| r.into_owned()),
            _ => None,
        };
        assert_eq!(region("(206) 555-0125").as_deref(), Some("US"));
        assert_eq!(region("+1 212 555 0174").as_deref(), Some("US"));
        assert_eq!(region("+44 20 7946 0958").as_deref(), Some("GB"));
        assert_eq!(region("+33 1 23 45 67 89").as_deref(), Some("FR"));
        assert_eq!(region("+4915112345678").as_deref(), Some("DE"));
        for bad in ["123-456-7890", "+999 1234 5678", "+44 20 12", "+1 212 055 0174"] {
            assert_eq!(phone(bad.as_bytes()), Outcome::Invalid, "{bad}");
        }
    }

    #[test]
    fn validator_names_round_trip() {
        for &(v, name) in NAMES {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{name}\""));
            assert_eq!(v.as_str(), name);
        }
    }
}
