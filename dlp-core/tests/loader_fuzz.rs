//! Mutation fuzzing of the detector loader and scanner builder: whatever bytes a detector
//! file holds, loading returns a value or an error naming the file — it never panics.

use dlp_core::{detector, Scanner};

mod common;
use common::Rng;

#[test]
fn mutated_detector_files_never_panic() {
    let seeds: Vec<&str> = detector::builtin_sources().iter().map(|(_, text)| *text).collect();
    let tokens: &[&[u8]] = &[
        b"[[detector]]",
        b"id = ",
        b"\"",
        b"'",
        b"'''",
        b"\n",
        b"=",
        b"[",
        b"]",
        b"{",
        b"}",
        b"(?P<value>",
        b")",
        b"+",
        b"*",
        b"{1,99999}",
        b"\\",
        b"\xff",
        b"\x00",
        b"category = \"PII\"",
        b"validator = \"luhn\"",
        b"hotword_window_before = 99999",
        b"min_entropy = -1",
        b"require_hotword = true",
        b"(?i)",
        b"\\b",
    ];
    let mut rng = Rng(0xdec0_de5e_ed00_0042);
    let mut loaded = 0;
    for round in 0..600 {
        let mut bytes = seeds[rng.below(seeds.len())].as_bytes().to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 => {
                    let t = tokens[rng.below(tokens.len())];
                    bytes.splice(at..at, t.iter().copied());
                }
                1 => {
                    let end = (at + rng.below(64)).min(bytes.len());
                    bytes.drain(at..end);
                }
                2 if at < bytes.len() => bytes[at] = rng.next() as u8,
                _ => bytes.truncate(at),
            }
        }
        let name = format!("fuzz-{round}.toml");
        let Ok(text) = String::from_utf8(bytes) else { continue };
        match Scanner::builder().load_str(&name, &text).and_then(|b| b.build()) {
            Ok(scanner) => {
                loaded += 1;
                // A scanner that builds must also scan its own definition text without trouble.
                let _ = scanner.scan_bytes(text.as_bytes());
            }
            Err(e) => assert!(e.to_string().starts_with(&name), "error does not name the file: {e}"),
        }
    }
    assert!(loaded > 0, "no mutated file loaded; the mutations are too destructive to test scanning");
}
