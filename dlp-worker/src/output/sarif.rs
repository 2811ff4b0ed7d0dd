//! SARIF 2.1.0, for code-scanning dashboards. One run; one rule per loaded detector; one
//! result per finding, with a partial fingerprint so dashboards can track a value across
//! runs without seeing it. Skipped objects and errors become tool execution notifications.

use super::{Coverage, Record};
use dlp_core::{Likelihood, Scanner};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Write};

/// SARIF result level for a likelihood.
fn level(l: Likelihood) -> &'static str {
    match l {
        Likelihood::VeryLikely | Likelihood::Likely => "error",
        Likelihood::Possible => "warning",
        Likelihood::Unlikely | Likelihood::VeryUnlikely => "note",
    }
}

/// A URI reference for an object name: `file://` URIs for absolute paths, relative
/// references otherwise, percent-encoding everything outside RFC 3986's unreserved set and `/`.
fn uri(object: &str) -> String {
    let mut out = String::new();
    if object.starts_with('/') {
        out.push_str("file://");
    }
    for b in object.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes the SARIF log for sorted `records`.
pub fn write(
    out: &mut dyn Write,
    records: &[Record],
    coverage: &Coverage,
    scanner: &Scanner,
) -> io::Result<()> {
    let mut rule_index = HashMap::new();
    let rules: Vec<Value> = scanner
        .detectors()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = &s.spec;
            rule_index.insert(d.id.as_str(), i);
            let mut rule = json!({
                "id": d.id,
                "name": d.name,
                "shortDescription": {"text": d.name},
                "defaultConfiguration": {"level": level(d.likelihood)},
                "properties": {"category": d.category.as_str(), "source": s.source},
            });
            if let Some(desc) = &d.description {
                rule["fullDescription"] = json!({"text": desc});
            }
            rule
        })
        .collect();
    let results: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut region = json!({
                "byteOffset": r.location.byte_start,
                "byteLength": r.location.byte_end - r.location.byte_start,
            });
            if let Some(line) = r.location.line {
                region["startLine"] = json!(line);
            }
            let mut result = json!({
                "ruleId": &*r.info_type,
                "level": level(r.likelihood),
                "message": {"text": format!("{} ({}): {}", r.info_type, r.likelihood, r.redacted)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": uri(&r.object)}, "region": region},
                    "logicalLocations": [{"fullyQualifiedName": r.location.path, "kind": "member"}],
                }],
                "partialFingerprints": {"dlpValueFingerprint/v1": r.fingerprint},
                "properties": {
                    "category": r.category.as_str(),
                    "likelihood": r.likelihood.as_str(),
                    "testValue": r.test_value,
                },
            });
            if let Some(i) = rule_index.get(&*r.info_type) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(t) = &r.subtype {
                result["properties"]["subtype"] = json!(t);
            }
            if let Some(q) = &r.quote {
                result["properties"]["quote"] = json!(q);
            }
            result
        })
        .collect();
    let notes: Vec<Value> = coverage
        .skipped
        .iter()
        .map(|s| (s.object.as_str(), s.text(), "warning"))
        .chain(
            coverage
                .errors
                .iter()
                .map(|e| (e.object.as_str(), format!("{}: {}", e.object, e.error), "error")),
        )
        .map(|(object, text, level)| {
            json!({
                "level": level,
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(object)}}}],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dlp-worker",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": coverage.errors.is_empty(),
                "toolExecutionNotifications": notes,
                "properties": {"coverage": {
                    "objectsScanned": coverage.objects_scanned,
                    "bytesScanned": coverage.bytes_scanned,
                }},
            }],
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("a b/c#d.txt"), "a%20b/c%23d.txt");
        assert_eq!(uri("/abs/x"), "file:///abs/x");
        assert_eq!(uri("é"), "%C3%A9");
    }
}
