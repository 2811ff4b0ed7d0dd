//! End-to-end tests of content extraction: every supported format, written by real writer
//! libraries (corpora/formats.py), is found at the right location; hostile inputs
//! (corpora/hostile.py) stay within their limits and are reported in coverage; a crashing,
//! hanging or memory-hungry PDF parser costs one object.
//!
//! The corpora are generated here with Python; tests/run.sh installs the writer libraries.

use dlp_tests::{root, run, TempDir};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

fn generate(script: &str, out: &Path) {
    let status = Command::new("python3")
        .arg(root().join("corpora").join(script))
        .arg(out)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "corpora/{script} failed; install its pip packages (see corpora/README.md)");
}

/// Runs a scan with `--format json` and returns (exit code, findings, coverage, stderr).
fn scan_json(home: &Path, args: &[&str]) -> (i32, Vec<Value>, Value, String) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(home, &all, b"");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}); stderr: {stderr}"));
    let code = out.status.code().expect("exited normally");
    (code, doc["findings"].as_array().cloned().unwrap_or_default(), doc["coverage"].clone(), stderr)
}

fn base(v: &Value) -> &str {
    let o = v["object"].as_str().unwrap_or("");
    o.rsplit('/').next().unwrap_or(o)
}

#[test]
fn every_format_carries_its_values_to_the_right_location() {
    let home = TempDir::new("formats");
    let dir = home.path().join("formats");
    generate("formats.py", &dir);
    let expected: Vec<Value> =
        serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 100, "expected.json has {} entries", expected.len());
    fs::remove_file(dir.join("expected.json")).unwrap();
    let (code, findings, coverage, stderr) = scan_json(home.path(), &[dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(coverage["errors"].as_array().unwrap().is_empty(), "{stderr}");
    let mut missing = Vec::new();
    for e in &expected {
        let file = e["file"].as_str().unwrap();
        let hit = findings.iter().any(|f| {
            base(f) == file
                && f["info_type"] == e["info_type"]
                && f["location"]["path"] == e["path"]
                && ["page", "row", "column", "line"]
                    .iter()
                    .all(|k| e[k].is_null() || f["location"][k] == e[k])
        });
        if !hit {
            missing.push(e.to_string());
        }
    }
    assert!(missing.is_empty(), "not found at the expected location:\n{}\n{stderr}", missing.join("\n"));
    // Each format is reached by its own extractor: a few spot checks of the location kinds.
    let paths: Vec<&str> = findings.iter().filter_map(|f| f["location"]["path"].as_str()).collect();
    for p in [
        "report.docx!word/header1.xml",
        "book.xlsx!Customers",
        "mail.eml!inner.zip!secret.txt",
        "archive.tar.gz!archive.tar!a.txt",
        "archive.7z!docs/ssn.txt",
    ] {
        assert!(paths.contains(&p), "no finding in {p}: {paths:?}");
    }
    assert!(findings.iter().any(|f| base(f) == "letter.pdf" && f["location"]["page"] == 2));
    // Data-lake rows carry their column names and record numbers.
    for file in ["data.parquet", "data.avro"] {
        let hit = findings
            .iter()
            .any(|f| base(f) == file && f["location"]["row"] == 2 && f["location"]["column"] == "ssn");
        assert!(hit, "{file}");
    }
    // Everything was read whole: no coverage notes at all.
    assert!(coverage["skipped"].as_array().unwrap().is_empty(), "{coverage}");
}

/// The coverage notes of `file`: (path or object, status, reason).
fn notes<'a>(coverage: &'a Value, file: &str) -> Vec<(String, &'a str, &'a str)> {
    coverage["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| base(s) == file)
        .map(|s| {
            let path = s["path"].as_str().unwrap_or(file).to_string();
            (path, s["status"].as_str().unwrap_or(""), s["reason"].as_str().unwrap_or(""))
        })
        .collect()
}

fn has_note(coverage: &Value, file: &str, path: &str, status: &str, reason: &str) -> bool {
    notes(coverage, file).iter().any(|(p, s, r)| p == path && *s == status && *r == reason)
}

fn found(findings: &[Value], path: &str, info_type: &str) -> bool {
    findings.iter().any(|f| f["location"]["path"] == path && f["info_type"] == info_type)
}

/// Runs `dlp-worker scan --format json ARGS TARGET` under /usr/bin/time: the exit code, the
/// JSON document, stderr and the peak resident memory in KiB.
fn timed_scan_json(home: &Path, args: &[&str], target: &Path) -> (Option<i32>, Value, String, u64) {
    dlp_tests::timed_scan_json(home, |c| {
        c.args(args).arg(target);
    })
}

#[test]
fn hostile_inputs_stay_within_limits_and_are_reported() {
    let home = TempDir::new("hostile");
    let dir = home.path().join("hostile");
    generate("hostile.py", &dir);
    let (code, doc, stderr, rss) = timed_scan_json(home.path(), &["--threads", "2"], &dir);
    let (findings, coverage) = (doc["findings"].as_array().unwrap().clone(), &doc["coverage"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(coverage["errors"].as_array().unwrap().is_empty(), "{stderr}");
    assert!(rss < 512 * 1024, "peak RSS {rss} KiB");

    // Bombs: overlapping entries refused, nesting and ratio bounded, the object total enforced.
    for f in ["overlap.zip", "overlap-quoted.zip"] {
        assert!(has_note(coverage, f, f, "skipped", "limit:ratio"), "{f}: {:?}", notes(coverage, f));
    }
    let bomb = notes(coverage, "nested10-bomb.zip");
    assert!(bomb.iter().any(|(_, s, r)| *s == "partial" && *r == "limit:ratio"), "{bomb:?}");
    assert!(bomb.iter().any(|(_, _, r)| *r == "limit:total_bytes"), "{bomb:?}");
    assert!(bomb.len() <= 103, "notes per object are capped: {}", bomb.len());
    assert!(
        has_note(coverage, "ratio.gz", "ratio.gz!ratio", "partial", "limit:ratio"),
        "{:?}",
        notes(coverage, "ratio.gz")
    );
    // Quines stop at once, by content, not at the depth limit.
    assert!(
        has_note(coverage, "quine.gz", "quine.gz!quine", "skipped", "recursive"),
        "{:?}",
        notes(coverage, "quine.gz")
    );
    assert!(has_note(coverage, "droste.zip", "droste.zip!droste.zip", "skipped", "recursive"));
    // Ten levels of nesting are within the default depth.
    let deep = "nested10.zip!level9.zip!level8.zip!level7.zip!level6.zip!level5.zip!level4.zip!level3.zip!level2.zip!level1.zip!secret.txt";
    assert!(found(&findings, deep, "AWS_CREDENTIALS"), "{findings:?}");
    // Truncated and corrupt content: what could be read is scanned, the rest reported.
    assert!(has_note(coverage, "truncated.gz", "truncated.gz!notes.txt", "partial", "corrupt"));
    assert!(found(&findings, "truncated.gz!notes.txt", "CREDIT_CARD_NUMBER"));
    assert!(has_note(coverage, "corrupt.zip", "corrupt.zip!b.txt", "skipped", "corrupt"));
    assert!(
        found(&findings, "corrupt.zip!a.txt", "EMAIL_ADDRESS")
            && found(&findings, "corrupt.zip!c.txt", "EMAIL_ADDRESS")
    );
    // Encrypted content is never reported clean.
    for f in ["encrypted.docx", "encrypted.odt", "encrypted.pdf", "encrypted.7z"] {
        assert!(has_note(coverage, f, f, "skipped", "encrypted"), "{f}: {:?}", notes(coverage, f));
        assert!(!findings.iter().any(|x| base(x) == f), "{f} yielded findings");
    }
    assert!(has_note(coverage, "encrypted.zip", "encrypted.zip!secret.txt", "skipped", "encrypted"));
    assert!(found(&findings, "encrypted.zip!plain.txt", "EMAIL_ADDRESS"));
    // Deep nesting in text formats is just text.
    assert!(found(&findings, "deep.json", "EMAIL_ADDRESS") && found(&findings, "deep.xml", "EMAIL_ADDRESS"));
    // Looping PDFs terminate and their text is read.
    for f in ["loop-kids.pdf", "loop-prev.pdf", "huge-ops.pdf"] {
        assert!(findings.iter().any(|x| base(x) == f && x["location"]["page"] == 1), "{f}");
    }
}

#[test]
fn a_sparse_4_gib_object_stops_at_the_time_limit_with_flat_memory() {
    let home = TempDir::new("sparse");
    let file = home.path().join("sparse.bin");
    let status = Command::new("python3")
        .arg(root().join("corpora/hostile.py"))
        .args(["--sparse", file.to_str().unwrap()])
        .status()
        .expect("python3 runs");
    assert!(status.success());
    assert_eq!(fs::metadata(&file).unwrap().len(), 4 << 30);
    let (_, doc, stderr, rss) = timed_scan_json(home.path(), &["--timeout", "3"], &file);
    assert!(
        has_note(&doc["coverage"], "sparse.bin", "sparse.bin", "partial", "limit:time"),
        "{}",
        doc["coverage"]
    );
    let scanned = doc["coverage"]["bytes_scanned"].as_u64().unwrap();
    assert!(scanned > 0 && scanned < 4 << 30, "{scanned}");
    assert!(rss < 512 * 1024, "{stderr}");
}

/// A one-page PDF with `text` on it (a valid xref, so every parser reads it).
fn tiny_pdf(prefix: &[u8], text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut pdf = prefix.to_vec();
    pdf.extend_from_slice(b"%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    pdf
}

#[test]
fn pdf_parser_crashes_hangs_and_memory_blowups_cost_one_object() {
    let home = TempDir::new("sandbox");
    let dir = home.path().join("pdfs");
    fs::create_dir_all(&dir).unwrap();
    // Self-test inputs make the sandboxed child abort, hang or allocate without end; the
    // good PDFs around them must still be read by fresh children.
    fs::write(dir.join("1-good.pdf"), tiny_pdf(b"", "SSN 536-22-8726")).unwrap();
    fs::write(dir.join("2-abort.pdf"), tiny_pdf(b"SELFTEST-ABORT\n", "x")).unwrap();
    fs::write(dir.join("3-hang.pdf"), tiny_pdf(b"SELFTEST-HANG\n", "x")).unwrap();
    fs::write(dir.join("4-alloc.pdf"), tiny_pdf(b"SELFTEST-ALLOC\n", "x")).unwrap();
    fs::write(dir.join("5-good.pdf"), tiny_pdf(b"", "card 4556737586899855")).unwrap();
    let out = dlp_tests::cmd(home.path())
        .env(dlp_tests::SANDBOX_SELFTEST_ENV, "1")
        .args(["scan", "--format", "json", "--threads", "1", "--timeout", "4", "--sandbox-memory", "512M"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}); {stderr}"));
    let (findings, coverage) = (doc["findings"].as_array().unwrap(), &doc["coverage"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(coverage["objects_scanned"], 5, "{stderr}");
    assert!(findings
        .iter()
        .any(|f| base(f) == "1-good.pdf" && f["info_type"] == "US_SOCIAL_SECURITY_NUMBER"));
    assert!(findings.iter().any(|f| base(f) == "5-good.pdf" && f["info_type"] == "CREDIT_CARD_NUMBER"));
    assert!(has_note(coverage, "2-abort.pdf", "2-abort.pdf", "skipped", "parser_crash"), "{coverage}");
    assert!(has_note(coverage, "3-hang.pdf", "3-hang.pdf", "skipped", "limit:time"), "{coverage}");
    assert!(has_note(coverage, "4-alloc.pdf", "4-alloc.pdf", "skipped", "parser_crash"), "{coverage}");
}
