//! `dlp-worker detectors list|test`.

use crate::config::build_scanner;
use crate::{DetectorArgs, ListFormat};
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Prints every loaded detector: id, category, validator, likelihood, source.
pub fn list(args: &DetectorArgs, format: ListFormat) -> Result<ExitCode> {
    let scanner = build_scanner(args, |b| b)?;
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Json => {
            let items: Vec<serde_json::Value> = scanner
                .detectors()
                .iter()
                .map(|s| {
                    let mut v = serde_json::to_value(&s.spec).unwrap_or_default();
                    v["source"] = serde_json::Value::String(s.source.clone());
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            let w = scanner.detectors().iter().map(|s| s.spec.id.len()).max().unwrap_or(2);
            writeln!(out, "{:w$}  {:13}  {:9}  {:13}  NAME", "ID", "CATEGORY", "VALIDATOR", "LIKELIHOOD")?;
            for s in scanner.detectors() {
                let d = &s.spec;
                let validator = d.validator.map_or("-", |v| v.as_str());
                writeln!(
                    out,
                    "{:w$}  {:13}  {:9}  {:13}  {}",
                    d.id,
                    d.category.as_str(),
                    validator,
                    d.likelihood.as_str(),
                    d.name
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs every detector's examples and negative examples; exit 1 on any failure.
pub fn test(args: &DetectorArgs) -> Result<ExitCode> {
    let scanner = build_scanner(args, |b| b)?;
    let failures = scanner.check_examples();
    let examples: usize =
        scanner.detectors().iter().map(|s| s.spec.examples.len() + s.spec.negative_examples.len()).sum();
    for f in &failures {
        println!("FAIL {f}");
    }
    println!(
        "{} detectors, {} examples: {} passed, {} failed",
        scanner.detectors().len(),
        examples,
        examples - failures.len(),
        failures.len()
    );
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
