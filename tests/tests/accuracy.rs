//! Accuracy of the built-in detectors on the labeled corpus of `corpora/labeled.py`.
//!
//! The corpus is regenerated into a temporary directory on every run (generated data stays out
//! of git), scanned by the real binary at the default minimum likelihood, and every finding is
//! matched against the ground-truth labels:
//!
//! * a finding is a true positive if it overlaps a label of the same file whose `info_type` or
//!   `also` list holds the finding's type, and a false positive otherwise;
//! * a label is recalled if some finding of its type (or of an `also` type) overlaps it.
//!
//! The test prints a per-type table (labels, recalled, FN, TP, FP, precision, recall), the same
//! by document kind, and every miss and false positive (file, byte offsets, type, redacted value:
//! never a raw value), then fails if the micro-averaged precision or recall is below 0.95.
//! Show the report with `cargo nextest run -p dlp-tests --test accuracy --no-capture`.

use dlp_tests::{jsonl, root, run, TempDir};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const MIN_PRECISION: f64 = 0.95;
const MIN_RECALL: f64 = 0.95;
/// Documents whose values only a CSV column header identifies (see corpora/README.md).
const COLUMN_CONTEXT: &str = "csv_column_context/";

/// A ground-truth span from labels.jsonl.
struct Label {
    file: String,
    start: u64,
    end: u64,
    info_type: String,
    also: Vec<String>,
}

impl Label {
    fn accepts(&self, info_type: &str) -> bool {
        self.info_type == info_type || self.also.iter().any(|a| a == info_type)
    }
}

/// A planted hard negative from negatives.jsonl.
struct Negative {
    file: String,
    start: u64,
    end: u64,
    kind: String,
}

/// What the scanner reported.
struct Finding {
    file: String,
    start: u64,
    end: u64,
    info_type: String,
    likelihood: String,
    redacted: String,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn str_field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("missing string {key} in {v}")).to_string()
}

fn u64_field(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("missing number {key} in {v}"))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line in {}: {e}", path.display()))
        })
        .collect()
}

/// The value's shape without its characters: every letter and digit becomes `*`, separators
/// stay, long values are cut. Enough to find the span again in the file, nothing to leak.
fn masked(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(32)
        .map(|c| match c {
            '\n' => '⏎',
            c if c.is_alphanumeric() => '*',
            c => c,
        })
        .collect();
    if text.chars().count() > 32 {
        out.push('…');
    }
    format!("{out} ({} bytes)", bytes.len())
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

/// The top-level folder of a corpus file: the kind of document.
fn kind(file: &str) -> &str {
    file.split_once('/').map_or(file, |(k, _)| k)
}

#[derive(Default)]
struct Counts {
    labels: usize,
    recalled: usize,
    tp: usize,
    fp: usize,
}

impl Counts {
    fn row(&self, name: &str) -> String {
        format!(
            "{name:<46} {:>6} {:>6} {:>5} {:>6} {:>5} {:>9.4} {:>7.4}",
            self.labels,
            self.recalled,
            self.labels - self.recalled,
            self.tp,
            self.fp,
            ratio(self.tp, self.tp + self.fp),
            ratio(self.recalled, self.labels)
        )
    }
}

fn header(first: &str) -> String {
    format!(
        "{first:<46} {:>6} {:>6} {:>5} {:>6} {:>5} {:>9} {:>7}",
        "labels", "found", "FN", "TP", "FP", "precision", "recall"
    )
}

#[test]
fn builtin_detectors_reach_the_precision_and_recall_targets_on_the_labeled_corpus() {
    let tmp = TempDir::new("accuracy");
    let corpus = tmp.path().join("corpus");

    // 1. Generate the corpus (fixed seed: the same bytes on every run and machine).
    let gen = Command::new("python3")
        .arg(root().join("corpora/labeled.py"))
        .arg(&corpus)
        .output()
        .expect("run python3 corpora/labeled.py (needs Python 3.9+)");
    assert!(gen.status.success(), "corpora/labeled.py failed:\n{}", String::from_utf8_lossy(&gen.stderr));
    println!("{}", String::from_utf8_lossy(&gen.stdout).trim());

    let labels: Vec<Label> = read_jsonl(&corpus.join("labels.jsonl"))
        .iter()
        .map(|v| Label {
            file: str_field(v, "file"),
            start: u64_field(v, "byte_start"),
            end: u64_field(v, "byte_end"),
            info_type: str_field(v, "info_type"),
            also: v["also"]
                .as_array()
                .expect("also is a list")
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        })
        .collect();
    let negatives: Vec<Negative> = read_jsonl(&corpus.join("negatives.jsonl"))
        .iter()
        .map(|v| Negative {
            file: str_field(v, "file"),
            start: u64_field(v, "byte_start"),
            end: u64_field(v, "byte_end"),
            kind: str_field(v, "kind"),
        })
        .collect();
    assert!(labels.len() > 1000, "labels.jsonl holds only {} labels", labels.len());

    // 2. Scan it with the real binary at the default minimum likelihood.
    let started = Instant::now();
    let corpus_arg = corpus.to_str().expect("UTF-8 temp path");
    let out = run(tmp.path(), &["scan", corpus_arg, "--format", "jsonl", "--no-extract"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "scan should exit 1 (findings reported):\n{stderr}");
    println!("{} (scan took {:.1?})", stderr.trim(), started.elapsed());
    let findings: Vec<Finding> = jsonl(&out)
        .iter()
        .map(|f| {
            let object = Path::new(f["object"].as_str().expect("object"));
            let rel = object
                .strip_prefix(&corpus)
                .unwrap_or_else(|_| panic!("{} is outside the corpus", object.display()));
            Finding {
                file: rel.to_string_lossy().replace('\\', "/"),
                start: u64_field(&f["location"], "byte_start"),
                end: u64_field(&f["location"], "byte_end"),
                info_type: str_field(f, "info_type"),
                likelihood: str_field(f, "likelihood"),
                redacted: str_field(f, "redacted"),
            }
        })
        .collect();

    // 3. Match findings and labels.
    let mut labels_by_file: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, l) in labels.iter().enumerate() {
        labels_by_file.entry(&l.file).or_default().push(i);
    }
    let mut negatives_by_file: HashMap<&str, Vec<&Negative>> = HashMap::new();
    for n in &negatives {
        negatives_by_file.entry(&n.file).or_default().push(n);
    }
    let mut recalled = vec![false; labels.len()];
    let mut by_type: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, Counts> = BTreeMap::new();
    let mut false_positives = Vec::new();
    for f in &findings {
        let mut hit = false;
        for &i in labels_by_file.get(f.file.as_str()).map(Vec::as_slice).unwrap_or_default() {
            let l = &labels[i];
            if l.accepts(&f.info_type) && overlaps((f.start, f.end), (l.start, l.end)) {
                hit = true;
                recalled[i] = true;
            }
        }
        let (t, k) = (
            by_type.entry(f.info_type.clone()).or_default(),
            by_kind.entry(kind(&f.file).to_string()).or_default(),
        );
        if hit {
            t.tp += 1;
            k.tp += 1;
        } else {
            t.fp += 1;
            k.fp += 1;
            false_positives.push(f);
        }
    }
    for (l, &found) in labels.iter().zip(&recalled) {
        for c in [
            by_type.entry(l.info_type.clone()).or_default(),
            by_kind.entry(kind(&l.file).to_string()).or_default(),
        ] {
            c.labels += 1;
            c.recalled += usize::from(found);
        }
    }

    // 4. Report.
    let mut total = Counts::default();
    println!("\n{}", header("info type"));
    for (name, c) in &by_type {
        println!("{}", c.row(name));
        total.labels += c.labels;
        total.recalled += c.recalled;
        total.tp += c.tp;
        total.fp += c.fp;
    }
    println!("{}", total.row("overall (micro-averaged)"));
    println!("\n{}", header("document kind"));
    for (name, c) in &by_kind {
        println!("{}", c.row(name));
    }
    let column: Vec<usize> =
        (0..labels.len()).filter(|&i| labels[i].file.starts_with(COLUMN_CONTEXT)).collect();
    let column_found = column.iter().filter(|&&i| recalled[i]).count();
    println!(
        "\n{COLUMN_CONTEXT}: {column_found} of {} labels recalled: values that only their CSV column header \
         identifies; overall recall without them {:.4}",
        column.len(),
        ratio(total.recalled - column_found, total.labels - column.len())
    );

    let mut misses: Vec<&Label> = labels.iter().zip(&recalled).filter(|(_, &r)| !r).map(|(l, _)| l).collect();
    misses.sort_by(|a, b| (&a.file, a.start).cmp(&(&b.file, b.start)));
    println!("\nfalse negatives ({}):", misses.len());
    for l in &misses {
        let data = fs::read(corpus.join(&l.file)).expect("read corpus file");
        let value = &data[l.start as usize..l.end as usize];
        let seen: Vec<&str> = findings
            .iter()
            .filter(|f| f.file == l.file && overlaps((f.start, f.end), (l.start, l.end)))
            .map(|f| f.info_type.as_str())
            .collect();
        let seen =
            if seen.is_empty() { String::new() } else { format!("  [reported as {}]", seen.join(", ")) };
        println!("  {} bytes {}..{}  {}  {}{seen}", l.file, l.start, l.end, l.info_type, masked(value));
    }
    false_positives.sort_by(|a, b| (&a.file, a.start).cmp(&(&b.file, b.start)));
    println!("\nfalse positives ({}):", false_positives.len());
    for f in &false_positives {
        let mut on = Vec::new();
        for n in negatives_by_file.get(f.file.as_str()).map(Vec::as_slice).unwrap_or_default() {
            if overlaps((f.start, f.end), (n.start, n.end)) {
                on.push(format!("hard negative {}", n.kind));
            }
        }
        for &i in labels_by_file.get(f.file.as_str()).map(Vec::as_slice).unwrap_or_default() {
            if overlaps((f.start, f.end), (labels[i].start, labels[i].end)) {
                on.push(format!("label {}", labels[i].info_type));
            }
        }
        let on = if on.is_empty() { String::new() } else { format!("  [on {}]", on.join(", ")) };
        println!(
            "  {} bytes {}..{}  {} {}  {}{on}",
            f.file, f.start, f.end, f.info_type, f.likelihood, f.redacted
        );
    }

    let precision = ratio(total.tp, total.tp + total.fp);
    let recall = ratio(total.recalled, total.labels);
    println!(
        "\noverall precision {precision:.4} ({} of {} findings), recall {recall:.4} ({} of {} labels)",
        total.tp,
        total.tp + total.fp,
        total.recalled,
        total.labels
    );
    assert!(precision >= MIN_PRECISION, "overall precision {precision:.4} is below {MIN_PRECISION}");
    assert!(recall >= MIN_RECALL, "overall recall {recall:.4} is below {MIN_RECALL}");
}
