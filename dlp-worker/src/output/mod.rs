//! Output: findings records in the contract's schema (shared/design.md), the coverage
//! summary, and one writer per format.

mod json;
mod jsonl;
mod sarif;
mod table;

use crate::source::ObjectRef;
use crate::Format;
use dlp_core::{Category, Finding, Likelihood, Scanner};
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

/// Where in an object a finding is. Fields that do not apply are null.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// Member chain inside containers joined with `!`, outer first, starting with the
    /// object's base name.
    pub path: String,
    pub byte_start: u64,
    pub byte_end: u64,
    pub line: Option<u64>,
    pub page: Option<u64>,
    pub row: Option<u64>,
    pub column: Option<String>,
}

/// One finding as written to JSON Lines (the stable schema).
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub object: String,
    pub version: Option<String>,
    pub location: Location,
    pub info_type: Arc<str>,
    pub category: Category,
    pub likelihood: Likelihood,
    pub redacted: String,
    pub fingerprint: String,
    /// True for known test/example values (an addition to the design's schema).
    pub test_value: bool,
    /// Card brand or phone region when the validator tells one (an addition to the schema).
    pub subtype: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// `location.path`: the object's base name, then each member, joined with `!`.
pub fn member_path(obj: &ObjectRef, members: &[String]) -> String {
    let mut path = obj.base_name.clone();
    for m in members {
        path.push('!');
        path.push_str(m);
    }
    path
}

impl Record {
    /// The record of a finding in the text stream at `members` (and PDF `page`) of `obj`.
    pub fn new(obj: &ObjectRef, members: &[String], page: Option<u32>, f: Finding) -> Record {
        Record {
            object: obj.name.clone(),
            version: obj.version.clone(),
            location: Location {
                path: member_path(obj, members),
                byte_start: f.byte_start,
                byte_end: f.byte_end,
                line: Some(f.line),
                page: page.map(u64::from),
                row: f.row,
                column: f.column,
            },
            info_type: f.info_type,
            category: f.category,
            likelihood: f.likelihood,
            redacted: f.redacted,
            fingerprint: f.fingerprint,
            test_value: f.test_value,
            subtype: f.subtype,
            quote: f.quote,
        }
    }

    fn sort_key(&self) -> (&str, &str, Option<u64>, u64, &str) {
        (&self.object, &self.location.path, self.location.page, self.location.byte_start, &self.info_type)
    }
}

/// An object or member not scanned (`skipped`) or not fully (`partial`), and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    pub object: String,
    /// The member's `location.path`; null when the note is about the object itself.
    pub path: Option<String>,
    /// `skipped` or `partial`.
    pub status: &'static str,
    /// A short code: `encrypted`, `corrupt`, `unsupported`, `recursive`, `parser_crash`,
    /// `limit:NAME`, `not_regular_file`.
    pub reason: String,
    /// For people: the parser's message, the limit's value.
    pub detail: String,
}

impl Skip {
    /// A coverage note from extraction.
    pub fn from_note(obj: &ObjectRef, note: dlp_core::extract::Note) -> Skip {
        Skip {
            object: obj.name.clone(),
            path: (!note.members.is_empty()).then(|| member_path(obj, &note.members)),
            status: note.status.name(),
            reason: note.reason.to_string(),
            detail: note.detail,
        }
    }

    /// One line for people: `partial a.zip!b.pdf: limit:time (took longer than 120s)`.
    pub fn text(&self) -> String {
        let what = self.path.as_deref().unwrap_or(&self.object);
        if self.detail.is_empty() {
            format!("{} {what}: {}", self.status, self.reason)
        } else {
            format!("{} {what}: {} ({})", self.status, self.reason, self.detail)
        }
    }
}

/// An object that could not be scanned (or only partly), and the error.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectError {
    pub object: String,
    pub error: String,
}

/// What a run covered. Nothing is skipped silently.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub objects_scanned: u64,
    pub bytes_scanned: u64,
    /// Objects left out by `--include`, `--exclude`, `--min-size`, `--max-size` or
    /// `--modified-since` (an addition to the design's summary).
    pub objects_filtered: u64,
    pub objects_with_findings: u64,
    pub findings: u64,
    pub skipped: Vec<Skip>,
    pub errors: Vec<ObjectError>,
    /// Sweeps: objects not scanned because unchanged since their last scan, or not in the
    /// `--sample-percent` sample; and whether listing stopped at `--max-objects`.
    pub objects_unchanged: u64,
    pub objects_not_sampled: u64,
    pub stopped_at_max_objects: bool,
    /// Whether a sweep stopped listing on SIGTERM/SIGINT (what was in flight was finished).
    pub interrupted: bool,
    /// Listeners: objects not scanned because another worker holds their claim (their
    /// events are received again).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub busy: Vec<String>,
    /// Listeners: objects scanned but not recorded under this worker's claim (the state
    /// store failed, or the object changed or was taken over meanwhile); their events are
    /// received again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_recorded: Vec<String>,
    /// Fan-out sweeps: objects sent to the queue as work items, and the messages they took.
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_enqueued: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub messages_enqueued: u64,
    /// Findings per info type.
    pub findings_by_info_type: std::collections::BTreeMap<String, u64>,
    /// Policy actions taken (or, in a dry run, that would be), and those that failed.
    pub actions_taken: u64,
    pub actions_failed: u64,
    pub duration_ms: u64,
}

impl Coverage {
    /// One line for people, e.g. on stderr.
    pub fn summary(&self) -> String {
        format!(
            "scanned {} objects ({}), {} findings in {} objects, {} skipped, {}{} errors, {:.2}s",
            self.objects_scanned,
            human_bytes(self.bytes_scanned),
            self.findings,
            self.objects_with_findings,
            self.skipped.len(),
            if self.objects_filtered > 0 {
                format!("{} filtered out, ", self.objects_filtered)
            } else {
                String::new()
            },
            self.errors.len(),
            self.duration_ms as f64 / 1000.0
        )
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A findings writer. `finding` is called as findings arrive; `finish` once at the end.
pub trait Sink {
    fn finding(&mut self, record: Record) -> io::Result<()>;
    fn finish(self: Box<Self>, coverage: &Coverage, scanner: &Scanner) -> io::Result<()>;
}

/// The writer for `format`, writing to `out`.
pub fn sink(format: Format, out: Box<dyn Write + Send>) -> Box<dyn Sink> {
    match format {
        Format::Jsonl => Box::new(jsonl::Jsonl::new(out)),
        Format::Json => Box::new(AtEnd { format: EndFormat::Json, out, records: Vec::new() }),
        Format::Sarif => Box::new(AtEnd { format: EndFormat::Sarif, out, records: Vec::new() }),
        Format::Table => Box::new(AtEnd { format: EndFormat::Table, out, records: Vec::new() }),
    }
}

/// The formats [`AtEnd`] renders.
enum EndFormat {
    Json,
    Sarif,
    Table,
}

/// Formats written once at the end: collects the records, sorts them so output is stable
/// between runs, then renders the whole document.
struct AtEnd {
    format: EndFormat,
    out: Box<dyn Write + Send>,
    records: Vec<Record>,
}

impl Sink for AtEnd {
    fn finding(&mut self, record: Record) -> io::Result<()> {
        self.records.push(record);
        Ok(())
    }

    fn finish(mut self: Box<Self>, coverage: &Coverage, scanner: &Scanner) -> io::Result<()> {
        self.records.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let out = &mut *self.out;
        match self.format {
            EndFormat::Json => json::write(out, &self.records, coverage)?,
            EndFormat::Sarif => sarif::write(out, &self.records, coverage, scanner)?,
            EndFormat::Table => table::write(out, &self.records)?,
        }
        out.flush()
    }
}
