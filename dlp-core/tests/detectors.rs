//! Every builtin detector finds its examples and does not report its negative examples.

use dlp_core::{Likelihood, Scanner};

#[test]
fn every_detector_has_enough_examples() {
    let scanner = Scanner::builder().builtin().unwrap().build().unwrap();
    assert!(scanner.detectors().len() >= 25, "{} builtin detectors", scanner.detectors().len());
    for s in scanner.detectors() {
        let d = &s.spec;
        assert!(d.examples.len() >= 3, "{} has {} examples", d.id, d.examples.len());
        assert!(
            d.negative_examples.len() >= 3,
            "{} has {} negative examples",
            d.id,
            d.negative_examples.len()
        );
    }
}

#[test]
fn examples_are_found_and_negative_examples_are_not() {
    // Default threshold: what a user sees without --min-likelihood.
    let scanner = Scanner::builder().builtin().unwrap().min_likelihood(Likelihood::Possible).build().unwrap();
    let failures = scanner.check_examples();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn check_examples_reports_a_broken_detector() {
    let text = r#"
[[detector]]
id = "BROKEN"
name = "Broken"
category = "PII"
patterns = ['\bab[0-9]{3}\b']
examples = ["ab123", "xx999"]
negative_examples = ["ab12", "ab456"]
"#;
    let scanner = Scanner::builder().load_str("broken.toml", text).unwrap().build().unwrap();
    let failures = scanner.check_examples();
    assert_eq!(
        failures,
        vec![
            "BROKEN (broken.toml): example not found: \"xx999\" (found [])".to_string(),
            "BROKEN (broken.toml): negative example reported at POSSIBLE: \"ab456\"".to_string(),
        ]
    );
}
