//! Engine behaviour: chunk boundaries, overlap semantics, errors for bad detectors.

use dlp_core::{Finding, Likelihood, Scanner};
use std::io::Read;

mod common;
use common::Rng;

const SMALL: &str = r#"
[[detector]]
id = "CARD"
name = "Card"
category = "PCI"
patterns = ['\b(?:\d[ -]?){12,18}\d\b']
validator = "luhn"
hotwords = ["card"]
hotword_window_before = 12

[[detector]]
id = "TOKEN"
name = "Token"
category = "CREDENTIAL"
patterns = ['\bghp_[A-Za-z0-9]{10}\b']
likelihood = "LIKELY"

[[detector]]
id = "ASSIGNED"
name = "Assigned secret"
category = "CREDENTIAL"
patterns = ['(?i)secret\s{0,3}=\s{0,3}(?P<value>[a-z0-9]{6,12})']
hotwords = ["prod"]
hotword_window_before = 0
hotword_window_after = 8
"#;

fn small(chunk: usize) -> Scanner {
    Scanner::builder()
        .load_str("small.toml", SMALL)
        .unwrap()
        .chunk_size(chunk)
        .fingerprint_key(b"k".to_vec())
        .min_likelihood(Likelihood::VeryUnlikely)
        .build()
        .unwrap()
}

fn sorted(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by(|a, b| (a.byte_start, &a.info_type).cmp(&(b.byte_start, &b.info_type)));
    v
}

const SAMPLE: &str = "start 4539 1488 0343 6467 x\nghp_abcdefGHIJ and SECRET = hunter22abc prod\n\
card:4111111111111111\nsecret=aaaaaa1 ghp_0123456789 ghp_TOOLONG12345\n 4539-1488-0343-6467";

#[test]
fn whole_buffer_finds_expected_values() {
    let f = small(1 << 20).scan_bytes(SAMPLE.as_bytes());
    let got: Vec<(&str, &str)> =
        f.iter().map(|f| (&*f.info_type, &SAMPLE[f.byte_start as usize..f.byte_end as usize])).collect();
    assert_eq!(
        got,
        vec![
            ("CARD", "4539 1488 0343 6467"),
            ("TOKEN", "ghp_abcdefGHIJ"),
            ("ASSIGNED", "hunter22abc"),
            ("CARD", "4111111111111111"),
            ("ASSIGNED", "aaaaaa1"),
            ("TOKEN", "ghp_0123456789"),
            ("CARD", "4539-1488-0343-6467"),
        ]
    );
    let lines: Vec<u64> = f.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![1, 2, 2, 3, 4, 4, 5]);
    // The hotword "card" precedes the second card; "prod" follows the first secret.
    assert_eq!(f[3].likelihood, Likelihood::VeryLikely);
    assert_eq!(f[0].likelihood, Likelihood::Likely);
    assert_eq!(f[2].likelihood, Likelihood::Likely);
    assert_eq!(f[4].likelihood, Likelihood::Possible);
}

/// A reader that hands out at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn every_split_point_finds_each_match_exactly_once() {
    let data = SAMPLE.as_bytes();
    let want = sorted(small(1 << 20).scan_bytes(data));
    assert_eq!(want.len(), 7);
    // With chunk size c the first round boundary falls at byte c, the next at 2c, ...: every
    // split point of the sample is a boundary for some c.
    for chunk in 1..=data.len() {
        let scanner = small(chunk);
        // scan_bytes streams inputs larger than a chunk.
        assert_eq!(sorted(scanner.scan_bytes(data)), want, "scan_bytes, chunk size {chunk}");
        for step in [1, 7, 4096] {
            let mut got = Vec::new();
            let n = scanner.scan_reader(Trickle { data, step }, |f| got.push(f)).unwrap();
            assert_eq!(n, data.len() as u64);
            assert_eq!(sorted(got), want, "chunk size {chunk}, read size {step}");
        }
    }
}

#[test]
fn builtin_detectors_survive_chunking() {
    let mut text = String::new();
    for (i, s) in Scanner::builder().builtin().unwrap().build().unwrap().detectors().iter().enumerate() {
        for e in &s.spec.examples {
            text.push_str(&format!("filler line {i} .......... {e}\n"));
        }
    }
    let data = text.as_bytes();
    let base = || Scanner::builder().builtin().unwrap().fingerprint_key(b"k".to_vec());
    let want = sorted(base().build().unwrap().scan_bytes(data));
    assert!(want.len() >= 75, "only {} findings in the examples", want.len());
    for chunk in [1, 2, 3, 5, 13, 64, 1000, 4093, 17_000] {
        let scanner = base().chunk_size(chunk).build().unwrap();
        let mut got = Vec::new();
        scanner.scan_reader(data, |f| got.push(f)).unwrap();
        assert_eq!(sorted(got), want, "chunk size {chunk}");
    }
}

#[test]
fn table_columns_and_keys_give_context_across_chunks() {
    let mut csv = String::from("employee_id,full_name,ssn,notes\n");
    for i in 0..40 {
        csv.push_str(&format!("E{i},\"Doe, Person {i}\",{}12{:04},ok\n", 101 + i, 3456 + i));
    }
    let base = || Scanner::builder().builtin().unwrap().fingerprint_key(b"k".to_vec());
    let want = sorted(base().build().unwrap().scan_bytes(csv.as_bytes()));
    let ssn: Vec<&Finding> = want.iter().filter(|f| &*f.info_type == "US_SOCIAL_SECURITY_NUMBER").collect();
    assert_eq!(ssn.len(), 40, "{want:#?}");
    for (i, f) in ssn.iter().enumerate() {
        assert_eq!((f.row, f.column.as_deref(), f.line), (Some(i as u64 + 1), Some("ssn"), i as u64 + 2));
    }
    for chunk in [1, 7, 100] {
        let mut got = Vec::new();
        base().chunk_size(chunk).build().unwrap().scan_reader(csv.as_bytes(), |f| got.push(f)).unwrap();
        assert_eq!(sorted(got), want, "chunk size {chunk}");
    }
    // The same rows under a column that is not named after a hotword: bare digits are nothing.
    let renamed = csv.replacen("ssn", "batch", 1);
    let none = base().build().unwrap().scan_bytes(renamed.as_bytes());
    assert!(none.iter().all(|f| &*f.info_type != "US_SOCIAL_SECURITY_NUMBER"), "{none:#?}");

    // A key names the value, and counts as a hotword when spelled as words (bank_account).
    let json = br#"{"customer": {"bank_account": "2095513148", "ssn": "524718293", "note": "x"}}"#;
    let found = base().build().unwrap().scan_bytes(json);
    let named: Vec<(&str, Option<&str>, Option<u64>)> =
        found.iter().map(|f| (&*f.info_type, f.column.as_deref(), f.row)).collect();
    assert_eq!(
        named,
        [
            ("US_BANK_ACCOUNT_NUMBER", Some("bank_account"), None),
            ("US_SOCIAL_SECURITY_NUMBER", Some("ssn"), None)
        ]
    );
}

#[test]
fn scanner_is_send_and_sync_and_shared_by_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
    let scanner = small(1 << 20);
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| scanner.scan_bytes(SAMPLE.as_bytes()).len())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts, vec![7; 4]);
}

#[test]
fn quotes_only_when_asked() {
    let plain = small(64).scan_bytes(b"ghp_abcdefGHIJ");
    assert_eq!(plain[0].quote, None);
    assert_eq!(plain[0].redacted, "****");
    let quoted = Scanner::builder().load_str("s", SMALL).unwrap().include_quote(true).build().unwrap();
    assert_eq!(quoted.scan_bytes(b"ghp_abcdefGHIJ")[0].quote.as_deref(), Some("ghp_abcdefGHIJ"));
}

#[test]
fn matches_inside_invalid_utf8_are_found() {
    let mut data = vec![0xff, 0xfe, b' '];
    data.extend_from_slice(b"ghp_abcdefGHIJ");
    data.extend_from_slice(&[b' ', 0xc3, 0x28, 0x80]);
    let f = small(2).scan_bytes(&data);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].byte_start, f[0].byte_end), (3, 17));
}

struct FailAfter(usize);

impl Read for FailAfter {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = self.0.min(out.len());
        out[..n].fill(b'a');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn read_errors_are_returned() {
    let err = small(16).scan_reader(FailAfter(100), |_| {}).unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
}

fn build_err(toml: &str) -> String {
    Scanner::builder().load_str("user.toml", toml).and_then(|b| b.build()).unwrap_err().to_string()
}

#[test]
fn bad_patterns_are_rejected_with_file_detector_and_pattern() {
    let head = "[[detector]]\nid = \"X_ONE\"\nname = \"x\"\ncategory = \"PII\"\n";
    let err = build_err(&format!("{head}patterns = ['a+']\n"));
    assert!(err.starts_with("user.toml: detector X_ONE: pattern 1 \"a+\": has no maximum length"), "{err}");
    let err = build_err(&format!("{head}patterns = ['a{{0,3}}']\n"));
    assert!(err.contains("empty string"), "{err}");
    let err = build_err(&format!("{head}patterns = ['(']\n"));
    assert!(err.contains("pattern 1 \"(\""), "{err}");
    let err = build_err(&format!("{head}patterns = ['(a)\\1']\n"));
    assert!(err.contains("X_ONE"), "{err}");
    let err = build_err(&format!("{head}patterns = ['a{{1,20000}}']\n"));
    assert!(err.contains("over the limit"), "{err}");
    let err = build_err(&format!("{head}patterns = ['ab']\nexclusions = ['[']\n"));
    assert!(err.contains("exclusion 1"), "{err}");
    let err = build_err(&format!("{head}patterns = ['ab']\nexclusions_after = ['^a', ')']\n"));
    assert!(err.contains("exclusions_after 2 \")\""), "{err}");
    let err = build_err(&format!("{head}patterns = ['ab']\n{head}patterns = ['cd']\n"));
    assert!(err.contains("id already defined in user.toml"), "{err}");
}

#[test]
fn randomized_streams_match_whole_buffer_scans() {
    // Random bytes (biased towards digits, separators and letters) with detector examples
    // spliced in; for each, streaming at a random chunk size must equal the one-shot scan.
    let builder = || Scanner::builder().builtin().unwrap().fingerprint_key(b"k".to_vec());
    let whole = builder().min_likelihood(Likelihood::VeryUnlikely).build().unwrap();
    let examples: Vec<String> =
        whole.detectors().iter().flat_map(|s| s.spec.examples.iter().cloned()).collect();
    let alphabet = b"0123456789 -.:=/\n\"'abcdefxyzABCDEF@_+";
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut total = 0;
    for case in 0..40 {
        let mut data = Vec::new();
        let len = 2_000 + rng.below(30_000);
        while data.len() < len {
            match rng.below(10) {
                0 => data.extend_from_slice(examples[rng.below(examples.len())].as_bytes()),
                1 => data.push(rng.next() as u8),
                _ => data.push(alphabet[rng.below(alphabet.len())]),
            }
        }
        let want = sorted(whole.scan_bytes(&data));
        total += want.len();
        let chunk = 1 + rng.below(5_000);
        let streaming = builder().min_likelihood(Likelihood::VeryUnlikely).chunk_size(chunk).build().unwrap();
        let mut got = Vec::new();
        streaming.scan_reader(Trickle { data: &data, step: 1 + rng.below(9_000) }, |f| got.push(f)).unwrap();
        assert_eq!(sorted(got), want, "case {case}, chunk size {chunk}");
    }
    assert!(total > 1000, "the random inputs produced only {total} findings");
}

/// A builtin scanner that reports every likelihood, with one of its gates set by `gate`.
fn gated(gate: impl Fn(dlp_core::ScannerBuilder) -> dlp_core::ScannerBuilder) -> Scanner {
    let b = Scanner::builder().builtin().unwrap().fingerprint_key(b"k".to_vec());
    gate(b.min_likelihood(Likelihood::VeryUnlikely)).build().unwrap()
}

/// Scans 60 random 20 KB texts, each made by `fill`, with both scanners and asserts that they
/// report the same findings, and enough of them.
fn assert_same_findings(
    gated: &Scanner,
    plain: &Scanner,
    seed: u64,
    fill: impl Fn(&mut Rng, usize, &mut Vec<u8>),
) {
    let mut rng = Rng(seed);
    let mut total = 0;
    for case in 0..60 {
        let mut data = Vec::new();
        while data.len() < 20_000 {
            fill(&mut rng, case, &mut data);
        }
        let want = sorted(plain.scan_bytes(&data));
        total += want.len();
        assert_eq!(sorted(gated.scan_bytes(&data)), want, "case {case}");
    }
    assert!(total > 500, "only {total} findings in the random inputs");
}

fn builtin_examples(s: &Scanner) -> Vec<String> {
    s.detectors().iter().flat_map(|s| s.spec.examples.iter().cloned()).collect()
}

#[test]
fn digit_gate_changes_no_finding() {
    // Digit-dense and digit-sparse random text with examples spliced in: the scanner that
    // searches digit-heavy patterns only in dense windows must report exactly what the one
    // that searches everywhere reports.
    let (gate, plain) = (gated(|b| b.digit_gate(true)), gated(|b| b.digit_gate(false)));
    let examples = builtin_examples(&plain);
    assert_same_findings(&gate, &plain, 0x00d1_9175_9a7e_0003, |rng, case, data| {
        let digit_share = case % 10;
        match rng.below(20) {
            0 => data.extend_from_slice(examples[rng.below(examples.len())].as_bytes()),
            n if n < 2 + digit_share => data.push(b'0' + rng.below(10) as u8),
            n if n < 14 => data.push(b" -./()+:\n"[rng.below(9)]),
            _ => data.push(b'a' + rng.below(26) as u8),
        }
    });
}

#[test]
fn literal_gate_changes_no_finding() {
    // Random text with examples and the gating literals' bytes (`@`, `+`, `~`, `?`, `:`)
    // spliced in: searching patterns only around their required literals must report exactly
    // what searching everywhere reports.
    let (gate, plain) = (gated(|b| b.literal_gate(true)), gated(|b| b.literal_gate(false)));
    let examples = builtin_examples(&plain);
    assert_same_findings(&gate, &plain, 0x00d1_9175_9a7e_0005, |rng, case, data| {
        let digit_share = case % 6;
        match rng.below(24) {
            0 | 1 => data.extend_from_slice(examples[rng.below(examples.len())].as_bytes()),
            2 => data.extend_from_slice(
                [&b"-us"[..], b"Q~", b".atlasv1.", b"EAAA", b"NRAL", b":AA"][rng.below(6)],
            ),
            n if n < 4 + digit_share => data.push(b'0' + rng.below(10) as u8),
            n if n < 16 => data.push(b" -./()+:@~?_\n"[rng.below(13)]),
            _ => data.push(b'A' + rng.below(26) as u8 + if rng.below(3) == 0 { 0 } else { 32 }),
        }
    });
}

#[test]
fn hotword_gate_changes_no_finding() {
    // Random text with examples, hotwords (as written and as keys), digits and separators
    // spliced in: searching hotword-requiring patterns only around hotwords must report
    // exactly what searching everywhere reports. Every fourth text is a table.
    let (gate, plain) = (gated(|b| b.hotword_gate(true)), gated(|b| b.hotword_gate(false)));
    let examples = builtin_examples(&plain);
    let hotwords: Vec<String> = plain
        .detectors()
        .iter()
        .filter(|s| s.spec.require_hotword)
        .flat_map(|s| s.spec.hotwords.iter().cloned())
        .collect();
    assert_same_findings(&gate, &plain, 0x00d1_9175_9a7e_0004, |rng, case, data| {
        if data.is_empty() && case % 4 == 0 {
            data.extend_from_slice(b"id,account_number,ssn,passport_no,notes\n");
        }
        match rng.below(40) {
            0 => data.extend_from_slice(examples[rng.below(examples.len())].as_bytes()),
            1 | 2 => data.extend_from_slice(hotwords[rng.below(hotwords.len())].as_bytes()),
            3 => {
                let key = hotwords[rng.below(hotwords.len())].replace(' ', "_");
                data.extend_from_slice(format!("\"{key}\": \"").as_bytes());
            }
            n if n < 20 => data.push(b'0' + rng.below(10) as u8),
            n if n < 30 => data.push(b" -./()+:,\n"[rng.below(10)]),
            _ => data.push(b'A' + rng.below(26) as u8 + if rng.below(2) == 0 { 32 } else { 0 }),
        }
    });
}

#[test]
fn context_exclusions_see_the_bytes_beside_the_value_on_its_line() {
    let toml = r#"
[[detector]]
id = "NUM"
name = "Number"
category = "PII"
patterns = ['\b[0-9]{6}\b']
exclusions_before = ['[0-9]\.$', 'ref:$']
exclusions_after = ['^\.[0-9]']
"#;
    let scanner = Scanner::builder()
        .load_str("ctx.toml", toml)
        .unwrap()
        .fingerprint_key(b"k".to_vec())
        .build()
        .unwrap();
    let values = |text: &str| -> Vec<u64> {
        sorted(scanner.scan_bytes(text.as_bytes())).iter().map(|f| f.byte_start).collect()
    };
    // A full stop ending a sentence is not a decimal point.
    assert_eq!(values("123456 1.123456 ref:123456 123456.5 123456."), [0, 36]);
    // The context stops at the line break: a decimal point on the previous line is not before it.
    assert_eq!(values("x 3.\n123456\n"), [5]);
}

#[test]
fn allow_lists_suppress_values_by_info_type() {
    let allow = r#"
[[allow]]
name = "QA token"
info_types = ["TOKEN"]
values = ["ghp_abcdefGHIJ"]

[[allow]]
patterns = ['^4111']
"#;
    let scanner = Scanner::builder()
        .load_str("small.toml", SMALL)
        .unwrap()
        .load_str("allow.toml", allow)
        .unwrap()
        .min_likelihood(Likelihood::VeryUnlikely)
        .build()
        .unwrap();
    let found: Vec<String> = scanner
        .scan_bytes(SAMPLE.as_bytes())
        .iter()
        .map(|f| SAMPLE[f.byte_start as usize..f.byte_end as usize].to_string())
        .collect();
    // Allowed: the token value and every value starting 4111; all else is still reported.
    assert_eq!(
        found,
        vec!["4539 1488 0343 6467", "hunter22abc", "aaaaaa1", "ghp_0123456789", "4539-1488-0343-6467"]
    );
    let err = Scanner::builder()
        .load_str("small.toml", SMALL)
        .unwrap()
        .load_str("a.toml", "[[allow]]\ninfo_types = [\"NOPE\"]\nvalues = [\"x\"]\n")
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(err, "a.toml: [[allow]] names unknown info type \"NOPE\"");
    let err = Scanner::builder().load_str("b.toml", "[[allow]]\nname = \"empty\"\n").unwrap_err().to_string();
    assert!(err.contains("b.toml: [[allow]] #1: give values or patterns"), "{err}");
}

#[test]
fn engine_names_and_missing_backend() {
    assert_eq!("hyperscan".parse(), Ok(dlp_core::Engine::Hyperscan));
    assert_eq!("Rust".parse(), Ok(dlp_core::Engine::Rust));
    assert!("pcre".parse::<dlp_core::Engine>().unwrap_err().contains("use rust or hyperscan"));
    let built =
        Scanner::builder().load_str("small.toml", SMALL).unwrap().engine(dlp_core::Engine::Hyperscan).build();
    let built = built.map(|_| ()).map_err(|e| e.to_string());
    if dlp_core::Engine::HYPERSCAN_BUILT {
        assert_eq!(built, Ok(()));
    } else {
        let e = built.unwrap_err();
        assert!(e.contains("rebuild with `--features hyperscan`"), "{e}");
    }
}

/// Differential test of the two engines: the detectors' examples, random text built from them,
/// and the generated benchmark corpora (every kind), whole and streamed in small chunks, must
/// give identical findings.
#[cfg(feature = "hyperscan")]
#[test]
fn hyperscan_and_rust_engines_agree() {
    use dlp_core::Engine;
    let rust = gated(|b| b.engine(Engine::Rust));
    let hs = gated(|b| b.engine(Engine::Hyperscan));
    let plan = hs.plan();
    let via_hs = plan.iter().filter(|l| l.contains("hyperscan windows")).count();
    assert!(
        via_hs * 10 >= plan.len() * 7,
        "only {via_hs} of {} patterns use Hyperscan:\n{}",
        plan.len(),
        plan.join("\n")
    );

    let examples = builtin_examples(&rust);
    for e in &examples {
        let text = format!("value: {e}\n");
        assert_eq!(
            sorted(hs.scan_bytes(text.as_bytes())),
            sorted(rust.scan_bytes(text.as_bytes())),
            "example {e:?}"
        );
    }
    assert_same_findings(&hs, &rust, 0x00d1_9175_9a7e_0007, |rng, case, data| {
        let digit_share = case % 8;
        match rng.below(24) {
            0 | 1 => data.extend_from_slice(examples[rng.below(examples.len())].as_bytes()),
            n if n < 3 + digit_share => data.push(b'0' + rng.below(10) as u8),
            n if n < 15 => data.push(b" -./()+:@~?_=\"\n"[rng.below(15)]),
            _ => data.push(b'A' + rng.below(26) as u8 + if rng.below(3) == 0 { 0 } else { 32 }),
        }
    });

    // The benchmark corpora, small: code, JSON logs, CSV, prose, base64 mail, PII-dense CSV.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let generate = |args: &[&str]| {
        let out = std::process::Command::new("python3")
            .arg(root.join("corpora/generate.py"))
            .args(args)
            .output()
            .expect("python3 runs corpora/generate.py");
        assert!(out.status.success(), "generate.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let mixed = dir.path().join("mixed");
    let pii = dir.path().join("pii.csv");
    generate(&["mixed", mixed.to_str().unwrap(), "--size-mb", "6"]);
    generate(&["pii", pii.to_str().unwrap(), "--size-mb", "1"]);
    let mut files: Vec<_> = std::fs::read_dir(&mixed).unwrap().map(|e| e.unwrap().path()).collect();
    files.push(pii);
    files.sort();
    let streamed = gated(|b| b.engine(Engine::Hyperscan).chunk_size(64 << 10));
    let mut total = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let want = sorted(rust.scan_bytes(&data));
        total += want.len();
        assert_eq!(sorted(hs.scan_bytes(&data)), want, "{}", f.display());
        let mut got = Vec::new();
        streamed.scan_reader(&data[..], |f| got.push(f)).unwrap();
        assert_eq!(sorted(got), want, "{} in 64 KiB chunks", f.display());
    }
    assert!(files.len() >= 6 && total > 10_000, "{} files, {total} findings", files.len());
}
