//! Content extraction: turns an object's bytes into the text streams the engine scans.
//!
//! An [`Extractor`] sniffs each stream's type by content ([`sniff`]), unpacks compression and
//! archives recursively, pulls the text out of documents, decodes it to UTF-8 ([`decode`]),
//! and hands each text stream to a [`Visitor`] with its location: the chain of members inside
//! the object (`logs.tar.gz!logs.tar!app/2024.log`), and the page for PDF. Everything is
//! streamed; documents that can only be parsed whole (PDF, mail, a zip inside something) are
//! bounded by [`Limits::max_member_bytes`].
//!
//! Nothing is skipped silently: every limit hit, encrypted member, corrupt member and
//! unsupported format reaches [`Visitor::note`] as a [`Note`].
//!
//! ```
//! use dlp_core::extract::{Extractor, Limits};
//! use dlp_core::Scanner;
//! use std::io::Write;
//!
//! let scanner = Scanner::builder().builtin()?.build()?;
//! // A gzip of a text file.
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(b"SSN: 536-22-8726\n")?;
//! let bytes = gz.finish()?;
//!
//! let mut found = Vec::new();
//! Extractor::new(Limits::default()).scan(&scanner, &mut &bytes[..], "notes.txt.gz", |event| {
//!     if let dlp_core::extract::Event::Finding { members, finding, .. } = event {
//!         found.push((members.join("!"), finding.info_type.to_string()));
//!     }
//! })?;
//! assert_eq!(found, [("notes.txt".to_string(), "US_SOCIAL_SECURITY_NUMBER".to_string())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod decode;
pub mod limits;
pub mod markup;
pub mod sniff;

mod archive;
#[cfg(feature = "datalake")]
mod datalake;
#[cfg(feature = "mail")]
mod mail;
mod office;
mod pdf;
pub mod sandbox;

pub use limits::{Limit, LimitHit, Limits};
pub use pdf::{PdfBackend, PdfItem, PdfOutcome};
pub use sniff::Kind;

use crate::{Finding, Scanner};
use decode::{Filtered, TextEncoding};
use limits::{limit_of, Budget, Compressed, Limited};
use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::rc::Rc;
use std::sync::Arc;

/// How much of a member or object a [`Note`] says was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Part of it was scanned.
    Partial,
    /// None of it was scanned.
    Skipped,
}

impl Status {
    /// `partial` or `skipped`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Partial => "partial",
            Status::Skipped => "skipped",
        }
    }
}

/// Why something was not (fully) scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A limit was reached.
    Limit(Limit),
    /// Password-protected or encrypted content.
    Encrypted,
    /// The parser rejected the content; its message is in [`Note::detail`].
    Corrupt,
    /// A format or feature this build does not extract.
    Unsupported,
    /// A member that is a copy of a container it is inside (a quine or a self-including zip).
    Recursive,
    /// A third-party parser crashed (panic, abort, timeout in its sandbox).
    ParserCrash,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Limit(l) => write!(f, "limit:{}", l.name()),
            Reason::Encrypted => f.write_str("encrypted"),
            Reason::Corrupt => f.write_str("corrupt"),
            Reason::Unsupported => f.write_str("unsupported"),
            Reason::Recursive => f.write_str("recursive"),
            Reason::ParserCrash => f.write_str("parser_crash"),
        }
    }
}

/// A coverage record: a member (or the object itself, when `members` is empty) that was not
/// fully scanned, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The member chain below the object; empty for the object itself.
    pub members: Vec<String>,
    /// Partial or skipped.
    pub status: Status,
    /// Why.
    pub reason: Reason,
    /// What happened, for people: the parser's message, the limit's value, what to do.
    pub detail: String,
}

/// One text stream to scan.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The member chain below the object (empty for the object itself).
    pub members: &'a [String],
    /// 1-based page number, for PDF.
    pub page: Option<u32>,
    /// The format the text came from.
    pub kind: Kind,
}

/// Receives what extraction finds.
pub trait Visitor {
    /// Scans one text stream (UTF-8, or printable runs of binary content). An error from
    /// `text` (including a [`LimitHit`] from the stream) is recorded as a note for the part.
    fn text(&mut self, part: &Part<'_>, text: &mut dyn Read) -> io::Result<()>;
    /// Records a coverage note.
    fn note(&mut self, note: Note);
}

/// What [`Extractor::scan`] reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// A finding in a text stream. Offsets and lines count in that stream's UTF-8 text.
    Finding {
        /// The member chain below the object.
        members: &'a [String],
        /// The PDF page, if any.
        page: Option<u32>,
        /// The finding.
        finding: Finding,
    },
    /// A coverage note.
    Note(Note),
}

/// Turns objects into text streams. Cheap to clone and share between threads.
#[derive(Clone)]
pub struct Extractor {
    limits: Limits,
    pdf: Option<Arc<dyn PdfBackend>>,
}

impl fmt::Debug for Extractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extractor").field("limits", &self.limits).field("pdf", &self.pdf.is_some()).finish()
    }
}

/// What one object's walk read and scanned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes read from the object itself.
    pub object_bytes: u64,
    /// Bytes of text handed to the visitor.
    pub text_bytes: u64,
    /// Text streams handed to the visitor.
    pub parts: u64,
}

impl Extractor {
    /// An extractor with these limits and the default PDF backend: pdf_oxide in-process on a
    /// large-stack thread with panics caught (when built with the `pdf` feature). Services
    /// should prefer [`sandbox::SandboxPdf`], which also survives aborts and hangs.
    pub fn new(limits: Limits) -> Extractor {
        Extractor { limits, pdf: pdf::default_backend() }
    }

    /// Uses `backend` for PDF, or none (PDFs are then reported as unsupported).
    pub fn with_pdf_backend(mut self, backend: Option<Arc<dyn PdfBackend>>) -> Extractor {
        self.pdf = backend;
        self
    }

    /// The same extractor (and PDF backend) with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Extractor {
        self.limits = limits;
        self
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Walks an object read from `reader`. `name` is its name (a hint for types that content
    /// cannot tell, and for naming decompressed members). Errors reading `reader` end the walk
    /// and are returned; everything else about the content becomes a [`Note`].
    pub fn walk_reader(
        &self,
        reader: &mut dyn Read,
        name: &str,
        visitor: &mut dyn Visitor,
    ) -> io::Result<Summary> {
        self.walk(Input::Stream(reader), name, visitor)
    }

    /// Walks a local file; zips are then read in place rather than spooled.
    pub fn walk_file(&self, file: &mut File, name: &str, visitor: &mut dyn Visitor) -> io::Result<Summary> {
        self.walk(Input::File(file), name, visitor)
    }

    /// Walks an object and scans every text stream with `scanner`.
    pub fn scan(
        &self,
        scanner: &Scanner,
        reader: &mut dyn Read,
        name: &str,
        mut on: impl FnMut(Event<'_>),
    ) -> io::Result<Summary> {
        let mut v = ScanVisitor { scanner, on: &mut on };
        self.walk_reader(reader, name, &mut v)
    }

    /// Walks a local file (zips read in place) and scans every text stream with `scanner`.
    pub fn scan_file(
        &self,
        scanner: &Scanner,
        file: &mut File,
        name: &str,
        mut on: impl FnMut(Event<'_>),
    ) -> io::Result<Summary> {
        let mut v = ScanVisitor { scanner, on: &mut on };
        self.walk_file(file, name, &mut v)
    }

    /// The object's own reader: its errors marked as the source's, its bytes counted, its
    /// size limited.
    fn top<'b, R: Read>(
        &self,
        r: R,
        budget: &'b Budget,
        count: Rc<Cell<u64>>,
    ) -> Limited<'b, limits::Counted<SourceReader<'b, R>>> {
        let waits = self.limits.max_time_excludes_source.then_some(budget);
        let counted = limits::Counted { inner: SourceReader { inner: r, waits }, count };
        Limited::new(
            counted,
            budget,
            (self.limits.max_object_bytes, Limit::ObjectBytes),
            false,
            Compressed::None,
        )
    }

    fn walk(&self, input: Input<'_>, name: &str, visitor: &mut dyn Visitor) -> io::Result<Summary> {
        let budget = Budget::new(self.limits.clone());
        let consumed = Rc::new(Cell::new(0));
        let mut walk = Walk {
            ex: self,
            budget: &budget,
            v: visitor,
            path: Vec::new(),
            heads: Vec::new(),
            source_error: None,
            summary: Summary::default(),
            name: name.to_string(),
            notes: 0,
        };
        match input {
            Input::Stream(r) => {
                let mut top = self.top(r, &budget, consumed.clone());
                walk.stream(&mut top, 0, None);
            }
            Input::File(f) => {
                let mut top = self.top(&mut *f, &budget, consumed.clone());
                // Zips and 7z archives are opened on the file itself; other types stream.
                let mut head = Vec::new();
                let read = read_head(&mut top, &mut head);
                let kind = sniff::sniff(&head, name);
                match read {
                    Err(e) => {
                        walk.fail(e, false);
                    }
                    Ok(None) if seekable_kind(kind) => {
                        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                        match f.rewind() {
                            Ok(()) if len <= self.limits.max_object_bytes => {
                                consumed.set(len);
                                walk.heads.push(head);
                                let mut rs = io::BufReader::new(SeekSource(&mut *f));
                                match kind {
                                    #[cfg(feature = "sevenz")]
                                    Kind::SevenZip => walk.sevenz(&mut rs, 0),
                                    _ => walk.zip(&mut rs, 0),
                                };
                            }
                            Ok(()) => {
                                walk.note(
                                    Status::Skipped,
                                    Reason::Limit(Limit::ObjectBytes),
                                    "archive larger than the object size limit".into(),
                                );
                            }
                            Err(e) => walk.source_error = Some(e),
                        }
                    }
                    Ok(error) => {
                        let rest = Rest { inner: &mut top, error, ended: false };
                        let mut chained = (&head[..]).chain(rest);
                        walk.stream_with_head(&mut chained, &head, 0, None);
                    }
                }
            }
        }
        if walk.notes > MAX_NOTES {
            let more = walk.notes - MAX_NOTES;
            walk.v.note(Note {
                members: Vec::new(),
                status: Status::Partial,
                reason: Reason::Limit(Limit::Entries),
                detail: format!("{more} more members were not fully scanned (notes after the first {MAX_NOTES} are not listed)"),
            });
        }
        let mut summary = walk.summary;
        summary.object_bytes = consumed.get();
        match walk.source_error.take() {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }
}

/// Appends a table cell's text; tabs and line breaks in it become spaces, so each record
/// stays one line and each cell one column (sheets, Parquet, Avro).
#[cfg_attr(not(any(feature = "spreadsheets", feature = "datalake")), allow(dead_code))]
fn push_cell(out: &mut Vec<u8>, cell: &str) {
    out.extend(cell.bytes().map(|b| if matches!(b, b'\t' | b'\n' | b'\r') { b' ' } else { b }));
}

/// Kinds read in place from a local file rather than spooled.
fn seekable_kind(kind: Kind) -> bool {
    kind == Kind::Zip || (cfg!(feature = "sevenz") && kind == Kind::SevenZip)
}

enum Input<'a> {
    Stream(&'a mut dyn Read),
    File(&'a mut File),
}

/// Marks errors of the object's own reader, so they end the walk instead of being read as
/// a corrupt member.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

/// The object's own reader: marks its errors as the source's, and, when the time limit
/// excludes the source, gives the budget back the time spent waiting in it.
struct SourceReader<'b, R> {
    inner: R,
    waits: Option<&'b Budget>,
}

impl<R: Read> Read for SourceReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(budget) = self.waits else { return self.read_inner(buf) };
        let started = std::time::Instant::now();
        let read = self.read_inner(buf);
        budget.extend(started.elapsed());
        read
    }
}

impl<R: Read> SourceReader<'_, R> {
    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), SourceError(e))),
                Ok(n) => return Ok(n),
            }
        }
    }
}

struct SeekSource<'f>(&'f mut File);

impl Read for SeekSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

impl Seek for SeekSource<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos).map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

/// Reads up to [`sniff::HEAD`] bytes. An error after some bytes is kept for later, so the
/// bytes before it are still scanned; an error before any byte is returned.
fn read_head(r: &mut dyn Read, head: &mut Vec<u8>) -> io::Result<Option<io::Error>> {
    head.clear();
    let mut buf = [0u8; 4096];
    while head.len() < sniff::HEAD {
        let want = buf.len().min(sniff::HEAD - head.len());
        match r.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if head.is_empty() => return Err(e),
            Err(e) => return Ok(Some(e)),
        }
    }
    Ok(None)
}

/// The rest of a stream after its head: an error met while reading the head comes first
/// (once; the stream then ends), else the reader.
struct Rest<'r> {
    inner: &'r mut dyn Read,
    error: Option<io::Error>,
    ended: bool,
}

impl Read for Rest<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.error.take() {
            self.ended = true;
            return Err(e);
        }
        if self.ended {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

/// Whether the walk goes on after a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The object is done: an object-wide limit, or its reader failed (already recorded).
    Stop,
}

/// One object's walk.
struct Walk<'a> {
    ex: &'a Extractor,
    budget: &'a Budget,
    v: &'a mut dyn Visitor,
    /// Member chain of the stream being read.
    path: Vec<String>,
    /// Heads of the containers around the current stream, to catch self-inclusion.
    heads: Vec<Vec<u8>>,
    source_error: Option<io::Error>,
    summary: Summary,
    /// The object's name.
    name: String,
    /// Notes so far; past [`MAX_NOTES`] they are counted, not sent.
    notes: u64,
}

/// Most notes sent for one object (a bomb of 10 000 members would otherwise send one per
/// member); the rest are summed up in one last note.
const MAX_NOTES: u64 = 100;

impl Walk<'_> {
    fn note(&mut self, status: Status, reason: Reason, detail: String) {
        // A limit that ends the object is always told; it explains what follows.
        let ends = matches!(reason, Reason::Limit(l) if l.ends_object());
        if !ends {
            self.notes += 1;
        }
        if ends || self.notes <= MAX_NOTES {
            self.v.note(Note { members: self.path.clone(), status, reason, detail });
        }
    }

    fn current_name(&self) -> &str {
        self.path.last().unwrap_or(&self.name)
    }

    /// Records an error met while reading the current stream. `started` tells whether some of
    /// it was scanned.
    fn fail(&mut self, e: io::Error, started: bool) -> Flow {
        let status = if started { Status::Partial } else { Status::Skipped };
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<SourceError>()) {
            if self.source_error.is_none() {
                self.source_error = Some(io::Error::new(inner.0.kind(), inner.0.to_string()));
            }
            return Flow::Stop;
        }
        if let Some(limit) = limit_of(&e) {
            let l = &self.ex.limits;
            let detail = match limit {
                Limit::ObjectBytes => {
                    format!("object larger than {} bytes; the rest was not read", l.max_object_bytes)
                }
                Limit::TotalBytes => {
                    format!("more than {} bytes extracted from the object", l.max_total_bytes)
                }
                Limit::MemberBytes => format!("member larger than {} bytes", l.max_member_bytes),
                Limit::Ratio => format!("decompresses more than {}:1 (a compression bomb?)", l.max_ratio),
                Limit::Time => format!("took longer than {:?}", l.max_time),
                Limit::Depth | Limit::Entries => String::new(),
            };
            self.note(status, Reason::Limit(limit), detail);
            return if limit.ends_object() { Flow::Stop } else { Flow::Continue };
        }
        self.note(status, Reason::Corrupt, e.to_string());
        Flow::Continue
    }

    /// Reads one member: pushes its name, checks depth, walks it.
    fn member(&mut self, r: &mut dyn Read, name: String, depth: u32, page: Option<u32>) -> Flow {
        self.path.push(name);
        let flow = if depth > self.ex.limits.max_depth {
            self.note(
                Status::Skipped,
                Reason::Limit(Limit::Depth),
                format!("nested more than {} containers deep", self.ex.limits.max_depth),
            );
            Flow::Continue
        } else if let Err(e) = self.budget.check_time() {
            self.fail(e, false)
        } else {
            self.stream(r, depth, page)
        };
        self.path.pop();
        flow
    }

    /// Sniffs and walks the current stream.
    fn stream(&mut self, r: &mut dyn Read, depth: u32, page: Option<u32>) -> Flow {
        let mut head = Vec::new();
        let error = match read_head(r, &mut head) {
            Ok(error) => error,
            Err(e) => return self.fail(e, false),
        };
        let mut chained = (&head[..]).chain(Rest { inner: r, error, ended: false });
        self.stream_with_head(&mut chained, &head, depth, page)
    }

    fn stream_with_head(&mut self, r: &mut dyn Read, head: &[u8], depth: u32, page: Option<u32>) -> Flow {
        let kind = sniff::sniff(head, self.current_name());
        let container = matches!(
            kind,
            Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd | Kind::Zip | Kind::Tar | Kind::SevenZip
        );
        if container && head.len() >= 64 && self.heads.iter().any(|h| h == head) {
            self.note(
                Status::Skipped,
                Reason::Recursive,
                "a copy of a container it is inside (quine)".into(),
            );
            return Flow::Continue;
        }
        if container {
            self.heads.push(head.to_vec());
        }
        let flow = match kind {
            Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd => self.decompress(r, kind, head, depth),
            Kind::Tar => self.tar(r, depth),
            Kind::Zip => self.spooled_zip(r, depth),
            #[cfg(feature = "sevenz")]
            Kind::SevenZip => self.spooled_7z(r, depth),
            #[cfg(not(feature = "sevenz"))]
            Kind::SevenZip => {
                self.note(
                    Status::Skipped,
                    Reason::Unsupported,
                    "this build opens no 7z (feature `sevenz`)".into(),
                );
                Flow::Continue
            }
            Kind::Pdf => self.pdf(r, depth),
            Kind::Cfb => self.cfb(r, depth),
            #[cfg(feature = "mail")]
            Kind::Eml => self.eml(r, depth),
            #[cfg(feature = "mail")]
            Kind::Mbox => self.mbox(r, depth),
            #[cfg(not(feature = "mail"))]
            Kind::Eml | Kind::Mbox => {
                self.note(
                    Status::Partial,
                    Reason::Unsupported,
                    "this build parses no mail (feature `mail`); read as text".into(),
                );
                let enc = TextEncoding::detect(head);
                self.text(&mut Filtered::new(r, enc.filter()), kind, page)
            }
            Kind::Rtf => self.text(&mut Filtered::new(r, markup::Rtf::default()), kind, page),
            Kind::Html => {
                let enc = TextEncoding::detect(head);
                self.text(
                    &mut Filtered::new(Filtered::new(r, enc.filter()), markup::Html::default()),
                    kind,
                    page,
                )
            }
            #[cfg(feature = "datalake")]
            Kind::Parquet => self.parquet(r, page),
            #[cfg(feature = "datalake")]
            Kind::Avro => self.avro(r, page),
            #[cfg(not(feature = "datalake"))]
            Kind::Parquet | Kind::Avro => {
                self.note(
                    Status::Partial,
                    Reason::Unsupported,
                    format!(
                        "{} columns are not decoded by this version; scanned for printable runs only",
                        kind.name()
                    ),
                );
                self.text(&mut Filtered::new(r, TextEncoding::Binary.filter()), kind, page)
            }
            Kind::Text | Kind::Binary => {
                let enc = TextEncoding::detect(head);
                self.text(&mut Filtered::new(r, enc.filter()), kind, page)
            }
        };
        if container {
            self.heads.pop();
        }
        flow
    }

    /// Hands a text stream to the visitor.
    fn text(&mut self, r: &mut dyn Read, kind: Kind, page: Option<u32>) -> Flow {
        let mut counting = CountingRead { inner: r, n: 0 };
        let part = Part { members: &self.path, page, kind };
        let result = self.v.text(&part, &mut counting);
        self.summary.parts += 1;
        self.summary.text_bytes += counting.n;
        match result {
            Ok(()) => Flow::Continue,
            Err(e) => self.fail(e, counting.n > 0),
        }
    }

    /// Text already in memory (mail headers, PDF pages).
    fn text_bytes(&mut self, text: &[u8], kind: Kind, page: Option<u32>) -> Flow {
        self.text(&mut &text[..], kind, page)
    }

    /// Reads a whole stream into memory for a parser that needs it all, up to the member
    /// limit. `None` when it did not fit or could not be read (recorded).
    fn read_bounded(&mut self, r: &mut dyn Read, what: &str) -> Option<Vec<u8>> {
        let cap = self.ex.limits.max_member_bytes;
        let mut data = Vec::new();
        match r.take(cap + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > cap => {
                self.note(
                    Status::Skipped,
                    Reason::Limit(Limit::MemberBytes),
                    format!("{what} larger than {cap} bytes cannot be parsed in memory"),
                );
                None
            }
            Ok(_) => Some(data),
            Err(e) => {
                self.fail(e, false);
                None
            }
        }
    }
}

struct CountingRead<'r> {
    inner: &'r mut dyn Read,
    n: u64,
}

impl Read for CountingRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// Scans each text stream with a [`Scanner`].
struct ScanVisitor<'s, F> {
    scanner: &'s Scanner,
    on: &'s mut F,
}

impl<F: FnMut(Event<'_>)> Visitor for ScanVisitor<'_, F> {
    fn text(&mut self, part: &Part<'_>, text: &mut dyn Read) -> io::Result<()> {
        let on = &mut *self.on;
        self.scanner
            .scan_reader(text, |finding| {
                on(Event::Finding { members: part.members, page: part.page, finding })
            })
            .map(|_| ())
    }

    fn note(&mut self, note: Note) {
        (self.on)(Event::Note(note));
    }
}
