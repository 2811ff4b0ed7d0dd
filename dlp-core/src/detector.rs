//! Detector definitions: what to look for, as data.
//!
//! Definitions live in TOML files (`[[detector]]` tables; the format is documented in
//! `patterns/README.md`). The files in the repository's `patterns/` folder are embedded at
//! build time ([`builtin_sources`]); more are loaded at run time with [`load_str`] or
//! [`load_path`].

use crate::error::{Error, Result};
use crate::likelihood::Likelihood;
use crate::validate::Validator;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Longest match a pattern may produce, in bytes. Streaming keeps this much overlap between
/// chunks, so it bounds memory per stream.
pub const MAX_PATTERN_LEN: usize = 16 * 1024;
/// Largest hotword window, in bytes, on either side of a value.
pub const MAX_HOTWORD_WINDOW: usize = 1024;
/// Bytes before and after a value that `exclusions_before` and `exclusions_after` see.
pub const CONTEXT_EXCLUSION_WINDOW: usize = 32;
/// Most terms a dictionary detector may have.
pub const MAX_DICTIONARY_TERMS: usize = 100_000;
/// Longest dictionary term, in bytes.
pub const MAX_TERM_LEN: usize = 256;
/// Largest `dictionary_file`, in bytes.
pub const MAX_DICTIONARY_FILE: u64 = 16 * 1024 * 1024;

/// The category of sensitive data a detector finds (shared/design.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// Personal data: names, emails, phone numbers, dates of birth.
    Pii,
    /// Payment card data.
    Pci,
    /// Protected health information.
    Phi,
    /// Bank accounts, IBANs and other financial identifiers.
    Financial,
    /// National and government-issued identifiers.
    GovernmentId,
    /// Keys, tokens, passwords.
    Credential,
    /// Network identifiers: IP and MAC addresses.
    Network,
}

impl Category {
    /// The name used in findings, e.g. `GOVERNMENT_ID`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "PII",
            Category::Pci => "PCI",
            Category::Phi => "PHI",
            Category::Financial => "FINANCIAL",
            Category::GovernmentId => "GOVERNMENT_ID",
            Category::Credential => "CREDENTIAL",
            Category::Network => "NETWORK",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_likelihood() -> Likelihood {
    Likelihood::Possible
}

fn default_window_before() -> usize {
    50
}

/// One detector as written in a definition file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    /// Info type name, e.g. `CREDIT_CARD_NUMBER`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Category of the data.
    pub category: Category,
    /// What the detector finds, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Regexes (bytes, ASCII semantics, bounded length). A group named `value` marks the
    /// sensitive part of the match. May be empty when the detector has a dictionary.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Words and phrases to find (case-insensitive for ASCII letters, whole words, any run of
    /// 1-4 whitespace bytes between a phrase's words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dictionary: Vec<String>,
    /// A UTF-8 file of more dictionary terms, one per line (`#` starts a comment line),
    /// relative to the detector file. Its terms are added to `dictionary` when loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary_file: Option<String>,
    /// Regexes for bare values in delimited tables: searched only in a stream whose header
    /// row has a column this detector recognises ([`DetectorSpec::column_names`], else a
    /// hotword in the name), and reported only in such a column (e.g. nine digits under `ssn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_patterns: Vec<String>,
    /// Whole table column names that identify this detector's values (`cvv`,
    /// `security code`), compared case-insensitively with `_`, `-`, `.` and camelCase read
    /// as spaces. Such a column counts as a hotword for the values in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_names: Vec<String>,
    /// Check run on each value; a failure drops the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<Validator>,
    /// Minimum Shannon entropy (bits per byte) of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_entropy: Option<f64>,
    /// Base likelihood before evidence.
    #[serde(default = "default_likelihood")]
    pub likelihood: Likelihood,
    /// Case-insensitive words that raise likelihood when near the value.
    #[serde(default)]
    pub hotwords: Vec<String>,
    /// Bytes before the value searched for hotwords.
    #[serde(default = "default_window_before")]
    pub hotword_window_before: usize,
    /// Bytes after the value searched for hotwords.
    #[serde(default)]
    pub hotword_window_after: usize,
    /// Report only values with a hotword nearby.
    #[serde(default)]
    pub require_hotword: bool,
    /// Regexes on the value; a match drops the candidate.
    #[serde(default)]
    pub exclusions: Vec<String>,
    /// Regexes on the bytes just before the value (at most [`CONTEXT_EXCLUSION_WINDOW`],
    /// within its line); a match drops the candidate. Anchor them at the value with `$`,
    /// e.g. `[0-9]\.$` for digits after a decimal point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions_before: Vec<String>,
    /// Regexes on the bytes just after the value (at most [`CONTEXT_EXCLUSION_WINDOW`],
    /// within its line); a match drops the candidate. Anchor them with `^`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions_after: Vec<String>,
    /// Known example/test values, reported as VERY_UNLIKELY and marked.
    #[serde(default)]
    pub test_values: Vec<String>,
    /// Texts this detector must find.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts this detector must not report at POSSIBLE or above.
    #[serde(default)]
    pub negative_examples: Vec<String>,
}

/// An allow-list entry (`[[allow]]` in a detector file): values that are never reported,
/// for the listed info types or for all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// What the entry is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Info types it applies to; empty means all.
    #[serde(default)]
    pub info_types: Vec<String>,
    /// Exact values (compared on their letters and digits, case-insensitively).
    #[serde(default)]
    pub values: Vec<String>,
    /// Regexes tested against the value.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// An [`AllowSpec`] with the file it came from.
#[derive(Debug, Clone)]
pub struct SourcedAllow {
    /// File path or `builtin:NAME.toml`.
    pub source: String,
    /// The entry.
    pub allow: AllowSpec,
}

/// What detector files define: detectors and allow-list entries.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// Detectors, in load order.
    pub detectors: Vec<SourcedSpec>,
    /// Allow-list entries, in load order.
    pub allow: Vec<SourcedAllow>,
}

impl Definitions {
    /// Appends another set.
    pub fn extend(&mut self, other: Definitions) {
        self.detectors.extend(other.detectors);
        self.allow.extend(other.allow);
    }
}

/// A [`DetectorSpec`] with the file it came from, for error messages.
#[derive(Debug, Clone)]
pub struct SourcedSpec {
    /// File path or `builtin:NAME.toml`.
    pub source: String,
    /// The definition.
    pub spec: DetectorSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorFile {
    #[serde(default)]
    detector: Vec<DetectorSpec>,
    #[serde(default)]
    allow: Vec<AllowSpec>,
}

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_patterns.rs"));
}

/// The detector files embedded at build time, as `(file name, TOML text)`.
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    builtin::BUILTIN_PATTERNS
}

/// Parses one detector file. `source` names it in errors. Checks each definition's fields
/// (not its regexes, which [`crate::Scanner`] compiles).
pub fn load_str(source: &str, text: &str) -> Result<Definitions> {
    load_text(source, text, None)
}

/// Parses one detector file; `dir` is the folder it is in, for `dictionary_file`.
fn load_text(source: &str, text: &str, dir: Option<&Path>) -> Result<Definitions> {
    let file: DetectorFile = toml::from_str(text).map_err(|e| parse_error(source, text, &e))?;
    if file.detector.is_empty() && file.allow.is_empty() {
        return Err(Error::DetectorFile {
            file: source.to_string(),
            problem: "no [[detector]] or [[allow]] tables found".into(),
        });
    }
    let mut allow = Vec::new();
    for (i, a) in file.allow.into_iter().enumerate() {
        if a.values.is_empty() && a.patterns.is_empty() {
            return Err(Error::DetectorFile {
                file: source.to_string(),
                problem: format!("[[allow]] #{}: give values or patterns", i + 1),
            });
        }
        allow.push(SourcedAllow { source: source.to_string(), allow: a });
    }
    let detectors = file
        .detector
        .into_iter()
        .enumerate()
        .map(|(i, mut spec)| {
            let err = |spec: &DetectorSpec, problem| Error::Detector {
                file: source.to_string(),
                detector: if spec.id.is_empty() { format!("#{}", i + 1) } else { spec.id.clone() },
                problem,
            };
            if let Some(name) = spec.dictionary_file.clone() {
                let terms = read_dictionary(&name, dir).map_err(|p| err(&spec, p))?;
                spec.dictionary.extend(terms);
            }
            check_spec(&spec).map_err(|p| err(&spec, p))?;
            Ok(SourcedSpec { source: source.to_string(), spec })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Definitions { detectors, allow })
}

/// Loads a detector file, or every `*.toml` file in a directory (sorted by name, not
/// recursive).
pub fn load_path(path: &Path) -> Result<Definitions> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let p = entry.map_err(io)?.path();
            if p.extension().is_some_and(|e| e == "toml") {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(Error::DetectorFile {
                file: path.display().to_string(),
                problem: "directory holds no *.toml detector files".into(),
            });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut defs = Definitions::default();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|source| Error::Io { path: f.clone(), source })?;
        let name = f.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| Error::DetectorFile {
            file: name.clone(),
            problem: format!("not valid UTF-8 (byte {}); save it as UTF-8", e.utf8_error().valid_up_to()),
        })?;
        defs.extend(load_text(&name, &text, f.parent())?);
    }
    Ok(defs)
}

/// Reads a `dictionary_file`: one term per line, blank lines and `#` comment lines skipped.
fn read_dictionary(name: &str, dir: Option<&Path>) -> std::result::Result<Vec<String>, String> {
    let Some(dir) = dir else {
        return Err(format!(
            "dictionary_file {name:?} can only be read next to a detector file on disk; list the terms in `dictionary`"
        ));
    };
    let path = dir.join(name);
    let file = std::fs::File::open(&path).map_err(|e| format!("dictionary_file {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_DICTIONARY_FILE + 1), &mut bytes)
        .map_err(|e| format!("dictionary_file {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_DICTIONARY_FILE {
        return Err(format!(
            "dictionary_file {} is over the limit of {MAX_DICTIONARY_FILE} bytes",
            path.display()
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!("dictionary_file {} is not UTF-8 (byte {})", path.display(), e.utf8_error().valid_up_to())
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// The regex a dictionary compiles to: every term, ASCII case-insensitive, between word
/// boundaries where the term starts or ends with a word character, with its inner runs of
/// whitespace matching 1-4 whitespace bytes.
pub fn dictionary_pattern(terms: &[String]) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let alternatives: Vec<String> = terms
        .iter()
        .map(|t| {
            let t = t.trim();
            let inner: Vec<String> = t.split_whitespace().map(regex_syntax::escape).collect();
            let start = if word(t.chars().next()) { r"\b" } else { "" };
            let end = if word(t.chars().last()) { r"\b" } else { "" };
            format!("{start}{}{end}", inner.join(r"\s{1,4}"))
        })
        .collect();
    format!("(?i:{})", alternatives.join("|"))
}

/// Loads all embedded detector files.
pub fn load_builtin() -> Result<Definitions> {
    let mut defs = Definitions::default();
    for (name, text) in builtin_sources() {
        defs.extend(load_str(&format!("builtin:{name}"), text)?);
    }
    Ok(defs)
}

/// Turns a TOML error into one that names the line, column and, where it can be found, the
/// detector being parsed.
fn parse_error(source: &str, text: &str, e: &toml::de::Error) -> Error {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return Error::DetectorFile { file: source.to_string(), problem: msg };
    };
    // Spans fall on token boundaries; `get` keeps a bad one from panicking.
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let problem = format!("line {line}, column {column}: {msg}");
    match before.rfind("[[detector]]") {
        Some(table) => {
            let index = before.matches("[[detector]]").count();
            let id = text[table..]
                .lines()
                .skip(1)
                .take_while(|l| !l.trim_start().starts_with("[["))
                .find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim() == "id").then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
                })
                .unwrap_or_else(|| format!("#{index}"));
            Error::Detector { file: source.to_string(), detector: id, problem }
        }
        None => Error::DetectorFile { file: source.to_string(), problem },
    }
}

fn check_spec(spec: &DetectorSpec) -> std::result::Result<(), String> {
    let id_ok = !spec.id.is_empty()
        && spec.id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && spec.id.as_bytes()[0].is_ascii_uppercase();
    if !id_ok {
        return Err(format!(
            "id {:?} must be UPPER_SNAKE_CASE (A-Z, 0-9, _; starting with a letter)",
            spec.id
        ));
    }
    if spec.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    if spec.patterns.is_empty() && spec.dictionary.is_empty() {
        return Err("patterns is empty; give at least one regex, or a dictionary".into());
    }
    if spec.dictionary.len() > MAX_DICTIONARY_TERMS {
        return Err(format!(
            "dictionary has {} terms, over the limit of {MAX_DICTIONARY_TERMS}",
            spec.dictionary.len()
        ));
    }
    for t in &spec.dictionary {
        if t.trim().is_empty() || t.len() > MAX_TERM_LEN {
            return Err(format!(
                "dictionary term {t:?} must be 1 to {MAX_TERM_LEN} bytes and not only whitespace"
            ));
        }
    }
    for (what, w) in [
        ("hotword_window_before", spec.hotword_window_before),
        ("hotword_window_after", spec.hotword_window_after),
    ] {
        if w > MAX_HOTWORD_WINDOW {
            return Err(format!("{what} = {w} is over the limit of {MAX_HOTWORD_WINDOW} bytes"));
        }
    }
    if spec.hotwords.iter().any(|h| h.is_empty()) {
        return Err("hotwords holds an empty string".into());
    }
    if !spec.column_patterns.is_empty() && spec.hotwords.is_empty() && spec.column_names.is_empty() {
        return Err("column_patterns need column_names or hotwords to recognise columns".into());
    }
    if spec.require_hotword && spec.hotwords.is_empty() {
        return Err("require_hotword is true but hotwords is empty".into());
    }
    if spec.require_hotword && spec.hotword_window_before == 0 && spec.hotword_window_after == 0 {
        return Err("require_hotword is true but both hotword windows are 0".into());
    }
    if let Some(e) = spec.min_entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(format!("min_entropy = {e} must be between 0 and 8 bits per byte"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[detector]]
id = "TEST_ID"
name = "Test"
category = "PII"
patterns = ['\bT-\d{4}\b']
"#;

    #[test]
    fn loads_a_minimal_detector_with_defaults() {
        let specs = load_str("t.toml", GOOD).unwrap().detectors;
        assert_eq!(specs.len(), 1);
        let s = &specs[0].spec;
        assert_eq!(s.likelihood, Likelihood::Possible);
        assert_eq!(s.hotword_window_before, 50);
        assert_eq!(s.hotword_window_after, 0);
    }

    #[test]
    fn unknown_field_names_file_detector_and_line() {
        let text = format!(
            "{GOOD}\n[[detector]]\nid = \"SECOND\"\nname = \"x\"\ncategory = \"PII\"\npatern = ['x']\n"
        );
        let err = load_str("bad.toml", &text).unwrap_err().to_string();
        assert!(err.starts_with("bad.toml: detector SECOND: line 12"), "{err}");
        assert!(err.contains("patern"), "{err}");
    }

    #[test]
    fn bad_category_and_bad_id_are_explained() {
        let err = load_str("c.toml", &GOOD.replace("\"PII\"", "\"SECRET\"")).unwrap_err().to_string();
        assert!(err.contains("c.toml: detector TEST_ID") && err.contains("SECRET"), "{err}");
        let err = load_str("i.toml", &GOOD.replace("TEST_ID", "test-id")).unwrap_err().to_string();
        assert!(err.contains("UPPER_SNAKE_CASE"), "{err}");
    }

    #[test]
    fn empty_file_and_syntax_errors_are_errors() {
        assert!(load_str("e.toml", "").unwrap_err().to_string().contains("no [[detector]] or [[allow]]"));
        let err = load_str("s.toml", "[[detector]\nid=").unwrap_err().to_string();
        assert!(err.starts_with("s.toml: line 1"), "{err}");
    }

    #[test]
    fn require_hotword_needs_hotwords() {
        let text = GOOD.replace("patterns", "require_hotword = true\npatterns");
        let err = load_str("h.toml", &text).unwrap_err().to_string();
        assert!(err.contains("require_hotword"), "{err}");
    }

    #[test]
    fn builtin_files_are_embedded_and_load() {
        assert!(!builtin_sources().is_empty());
        let specs = load_builtin().unwrap().detectors;
        assert!(specs.len() >= 25, "only {} builtin detectors", specs.len());
    }

    #[test]
    fn dictionaries_compile_to_whole_word_patterns_and_are_bounded() {
        let terms = vec!["Blue Falcon".to_string(), "C++".to_string(), "a.b".to_string()];
        assert_eq!(dictionary_pattern(&terms), r"(?i:\bBlue\s{1,4}Falcon\b|\bC\+\+|\ba\.b\b)");
        let dict = GOOD.replace("patterns = ['\\bT-\\d{4}\\b']", "dictionary = ['T-1000', ' ']");
        let err = load_str("d.toml", &dict).unwrap_err().to_string();
        assert!(err.contains("dictionary term"), "{err}");
        let err = load_str(
            "d.toml",
            &dict.replace(", ' '", "").replace("dictionary = ", "dictionary_file = 'w.txt'\ndictionary = "),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("next to a detector file on disk"), "{err}");
        let ok = load_str("d.toml", &dict.replace(", ' '", "")).unwrap();
        assert_eq!(ok.detectors[0].spec.dictionary, ["T-1000"]);
    }
}
