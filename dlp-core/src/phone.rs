//! Phone-number validity from libphonenumber's metadata (the `phonenumber` crate), with the
//! metadata's regexes compiled once per region.
//!
//! `phonenumber::is_valid` looks each metadata regex up by its source text in a 100-entry LRU
//! cache behind a mutex. Validating a North American number touches more regexes than that
//! across the plan's 25 regions, so each call recompiled some: about 35 µs per number, most of
//! a scan's time on phone-dense data. This module answers the same question by the crate's
//! own rules (`validator::source_for` picks the region, `validator::number_type` must not be
//! `Unknown`), from regex-automata matchers built on a region's first use. A region whose
//! regexes do not compile here falls back to the crate.

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::PhoneNumber;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use std::collections::HashMap;
use std::sync::OnceLock;

/// One descriptor (a number type's pattern and possible lengths).
struct Desc {
    regex: Regex,
    lengths: Vec<u16>,
}

impl Desc {
    fn new(d: &Descriptor) -> Option<Desc> {
        Some(Desc { regex: compile(d.national_number().as_str())?, lengths: d.possible_length().to_vec() })
    }

    /// As `Descriptor::is_match`: a possible length, and a match starting at the first digit.
    fn is_match(&self, national: &str) -> bool {
        let len_ok = self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16));
        len_ok && self.regex.is_match(Input::new(national).anchored(Anchored::Yes))
    }
}

/// A region's compiled metadata.
struct Region {
    leading_digits: Option<Regex>,
    general: Desc,
    /// Premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail, fixed
    /// line, mobile: the types `number_type` tries.
    types: Vec<Desc>,
}

impl Region {
    fn new(meta: &Metadata) -> Option<Region> {
        let d = meta.descriptors();
        let leading_digits = match meta.leading_digits() {
            Some(r) => Some(compile(r.as_str())?),
            None => None,
        };
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .map(Desc::new)
        .collect::<Option<Vec<_>>>()?;
        Some(Region { leading_digits, general: Desc::new(d.general())?, types })
    }

    /// `number_type(meta, national) != Type::Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }

    /// Whether the region's leading digits pattern matches at the start, if it has one.
    fn leads(&self, national: &str) -> Option<bool> {
        let r = self.leading_digits.as_ref()?;
        // `find` then `start == 0`: some match starts at 0 exactly when an anchored one does.
        Some(r.is_match(Input::new(national).anchored(Anchored::Yes)))
    }
}

fn compile(pattern: &str) -> Option<Regex> {
    Regex::builder().syntax(syntax::Config::new().ignore_whitespace(true)).build(pattern).ok()
}

/// Lazily compiled regions, keyed as the crate's database keys them.
struct Plan {
    /// Per country code, its regions in the database's order (`"001"` for non-geographic).
    regions: HashMap<u16, Vec<String>>,
    by_id: HashMap<String, OnceLock<Option<Region>>>,
    /// Non-geographic plans (region `001`), by country code.
    non_geo: HashMap<u16, OnceLock<Option<Region>>>,
}

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut regions = HashMap::new();
        let mut by_id = HashMap::new();
        let mut non_geo = HashMap::new();
        for meta in DATABASE.iter() {
            let code = meta.country_code();
            regions.entry(code).or_insert_with(|| {
                DATABASE.region(&code).unwrap_or_default().into_iter().map(String::from).collect()
            });
            if meta.id() == "001" {
                non_geo.insert(code, OnceLock::new());
            } else {
                by_id.insert(meta.id().to_string(), OnceLock::new());
            }
        }
        Plan { regions, by_id, non_geo }
    })
}

/// A region's compiled metadata, or word that its regexes need the crate.
enum Lookup<'a> {
    Compiled(&'a Region),
    Fallback,
}

fn region_by_id(id: &str) -> Option<Lookup<'static>> {
    let cell = plan().by_id.get(id)?;
    let compiled = cell.get_or_init(|| DATABASE.by_id(id).and_then(Region::new));
    Some(compiled.as_ref().map_or(Lookup::Fallback, Lookup::Compiled))
}

/// The number's validity and region (ISO 3166 code; `None` for non-geographic numbers), as
/// `phonenumber::is_valid` and `PhoneNumber::country().id()` would give them.
pub fn validate(number: &PhoneNumber) -> Option<Option<&'static str>> {
    let national = number.national().to_string();
    validate_national(number.code().value(), &national, || {
        phonenumber::is_valid(number).then(|| number_region(number))
    })
}

/// [`validate`] for a North American number written as 10 digits, or 11 starting with 1,
/// between separators (` .-()`, and `+` before the 1), without parsing it: what
/// `phonenumber::parse` would make of it is country code 1 and the last 10 digits. `None`
/// when `text` is not of that form (the caller then parses it).
pub fn validate_nanp(text: &str) -> Option<Option<Option<&'static str>>> {
    let mut digits = [0u8; 11];
    let mut n = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'0'..=b'9' if n < digits.len() => {
                digits[n] = b;
                n += 1;
            }
            b'+' if i == 0 => {}
            b' ' | b'.' | b'-' | b'(' | b')' => {}
            _ => return None,
        }
    }
    let national = match n {
        10 if !text.starts_with('+') => &digits[..10],
        11 if digits[0] == b'1' => &digits[1..],
        _ => return None,
    };
    let national = std::str::from_utf8(national).ok()?;
    Some(validate_national(1, national, || {
        let number = phonenumber::parse(None, format!("+1{national}")).ok()?;
        phonenumber::is_valid(&number).then(|| number_region(&number))
    }))
}

fn validate_national(
    code: u16,
    national: &str,
    fallback: impl Fn() -> Option<Option<&'static str>>,
) -> Option<Option<&'static str>> {
    let ids = plan().regions.get(&code)?;
    if let [only] = ids.as_slice() {
        if only == "001" {
            let cell = plan().non_geo.get(&code)?;
            let compiled = cell.get_or_init(|| {
                DATABASE.by_code(&code).and_then(|m| m.into_iter().next()).and_then(Region::new)
            });
            return match compiled {
                Some(r) => r.has_type(national).then_some(None),
                None => fallback(),
            };
        }
    }
    for id in ids {
        let region = match region_by_id(id)? {
            Lookup::Compiled(r) => r,
            Lookup::Fallback => return fallback(),
        };
        // A region without leading digits is chosen by the type test, whose answer is then
        // also the verdict.
        let (chosen, known) = match region.leads(national) {
            Some(leads) => (leads, None),
            None => {
                let has = region.has_type(national);
                (has, Some(has))
            }
        };
        if chosen || ids.len() == 1 {
            return known.unwrap_or_else(|| region.has_type(national)).then(|| static_id(id));
        }
    }
    None
}

/// The region id as a `'static` string (ids are the database's keys, which live forever).
fn static_id(id: &str) -> Option<&'static str> {
    plan().by_id.get_key_value(id).map(|(k, _)| k.as_str())
}

fn number_region(number: &PhoneNumber) -> Option<&'static str> {
    number.country().id().and_then(|id| static_id(id.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crate's verdict, and its region where it computes one consistently: for a
    /// national number with leading zeros (Italy), `Country::id` drops the zeros that
    /// `is_valid` keeps, and may name no region; this module names the one `is_valid` used.
    fn crate_says(number: &PhoneNumber) -> Option<Option<&'static str>> {
        phonenumber::is_valid(number).then(|| number_region(number))
    }

    fn check(number: &PhoneNumber, text: &str) -> bool {
        let ours = validate(number);
        let theirs = crate_says(number);
        if number.national().zeros() == 0 {
            assert_eq!(ours, theirs, "{text}");
        } else {
            assert_eq!(ours.is_some(), theirs.is_some(), "{text}");
        }
        theirs.is_some()
    }

    /// The North American shortcut gives what parsing then validating gives, for numbers
    /// written every way the phone patterns take them.
    #[test]
    fn nanp_shortcut_agrees_with_parsing() {
        let mut seed = 0x9a_2b_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut valid, mut total) = (0, 0);
        for _ in 0..20_000 {
            let digits: String = (0..10).map(|_| char::from(b'0' + next(10) as u8)).collect();
            let (a, b, c) = (&digits[..3], &digits[3..6], &digits[6..]);
            let text = match next(7) {
                0 => format!("{a}-{b}-{c}"),
                1 => format!("({a}) {b}-{c}"),
                2 => format!("+1 {a} {b} {c}"),
                3 => format!("1-{a}-{b}-{c}"),
                4 => format!("+1{digits}"),
                5 => format!("{a}.{b}.{c}"),
                _ => format!("+1 ({a}) {b}-{c}"),
            };
            let region = if text.starts_with('+') { None } else { Some(phonenumber::country::Id::US) };
            let parsed = phonenumber::parse(region, &text).ok();
            let slow = parsed.as_ref().and_then(validate);
            let fast = validate_nanp(&text).expect("a North American number");
            assert_eq!(fast, slow, "{text}");
            valid += usize::from(fast.is_some());
            total += 1;
        }
        assert!(valid > total / 20, "only {valid} of {total} valid");
        for other in ["+44 20 7946 0958", "212-555-017", "+2125550174", "212-555-0174 x12"] {
            assert_eq!(validate_nanp(other), None, "{other}");
        }
    }

    /// Same verdict and region as the crate, on numbers of every country code with lengths
    /// around the valid ones.
    #[test]
    fn agrees_with_the_crate() {
        let mut seed = 0x5eed_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let codes: Vec<u16> = plan().regions.keys().copied().collect();
        let (mut valid, mut total) = (0, 0);
        for &code in &codes {
            for _ in 0..60 {
                let len = 4 + (next() % 10) as usize;
                let digits: String = (0..len).map(|_| char::from(b'0' + (next() % 10) as u8)).collect();
                let text = format!("+{code}{digits}");
                let Ok(number) = phonenumber::parse(None, &text) else { continue };
                total += 1;
                valid += usize::from(check(&number, &text));
            }
        }
        // North American numbers, the densest plan.
        for _ in 0..3000 {
            let text = format!("({}) {:03}-{:04}", 200 + next() % 800, next() % 1000, next() % 10000);
            let Ok(number) = phonenumber::parse(Some(phonenumber::country::Id::US), &text) else { continue };
            total += 1;
            valid += usize::from(check(&number, &text));
        }
        assert!(total > 10_000 && valid > 1_000, "{valid} valid of {total}");
    }
}
