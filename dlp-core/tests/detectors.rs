//! Every builtin detector finds its examples and does not report its negative examples.

use dlp_core::{Likelihood, Scanner};

#[test]
fn every_detector_has_enough_examples() {
    let scanner = Scanner::builder().builtin().unwrap().build().unwrap();
    assert!(
        scanner.detectors().len() >= 25,
        "{} builtin detectors",
        scanner.detectors().len()
    );
    for s in scanner.detectors() {
        let d = &s.spec;
        assert!(
            d.examples.len() >= 3,
            "{} has {} examples",
            d.id,
            d.examples.len()
        );
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
    let scanner = Scanner::builder()
        .builtin()
        .unwrap()
        .min_likelihood(Likelihood::Possible)
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for s in scanner.detectors() {
        let d = &s.spec;
        for e in &d.examples {
            let found = scanner.scan_bytes(e.as_bytes());
            if !found.iter().any(|f| *f.info_type == *d.id) {
                let ids: Vec<&str> = found.iter().map(|f| &*f.info_type).collect();
                failures.push(format!(
                    "{}: example not found: {e:?} (found {ids:?})",
                    d.id
                ));
            }
        }
        for n in &d.negative_examples {
            let found = scanner.scan_bytes(n.as_bytes());
            if let Some(f) = found.iter().find(|f| *f.info_type == *d.id) {
                failures.push(format!(
                    "{}: negative example reported {}: {n:?}",
                    d.id, f.likelihood
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
