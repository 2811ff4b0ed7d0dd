//! PDF: page text, annotation and form-field text, and embedded files, through a
//! [`PdfBackend`]. The default backend runs pdf_oxide in-process on a large-stack thread with
//! panics caught; [`super::sandbox::SandboxPdf`] runs it in child processes that may crash.
//!
//! Encryption is checked here, not trusted to the parser: pdf_oxide (like lopdf) returns
//! empty text for a document it cannot decrypt. A document with `/Encrypt` that the empty
//! user password does not open is reported as encrypted, never as clean.

use super::limits::{Limit, Limits};
use super::{Flow, Kind, Reason, Status, Walk};
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// What a PDF backend yields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfItem {
    /// The text of one page (1-based), including its annotations and form-field values.
    Page {
        /// 1-based page number.
        number: u32,
        /// The text.
        text: String,
    },
    /// A file embedded in the document.
    File {
        /// Its name.
        name: String,
        /// Its bytes.
        data: Vec<u8>,
    },
}

/// How a PDF extraction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfOutcome {
    /// Every page was read.
    Done,
    /// The document is encrypted and the empty user password does not open it.
    Encrypted,
    /// Stopped at a limit after the items already yielded.
    Limit(Limit),
    /// The parser refused the document (message).
    Corrupt(String),
    /// The parser crashed: panic, abort, stack overflow, out of memory, or deadline in a
    /// sandbox (message).
    Crashed(String),
}

/// Extracts a PDF's content.
pub trait PdfBackend: Send + Sync {
    /// Reads `data`, calling `emit` for each page and embedded file, within `limits`
    /// (`max_time` from `started`; `max_member_bytes` of text in all).
    fn extract(
        &self,
        data: &[u8],
        limits: &Limits,
        started: Instant,
        emit: &mut dyn FnMut(PdfItem),
    ) -> PdfOutcome;
}

/// pdf_oxide in this process, on a thread with a 64 MiB stack, panics caught.
#[derive(Debug, Default, Clone, Copy)]
pub struct InProcessPdf;

/// Stack for threads that run third-party parsers: deep recursion on hostile input should
/// not overflow it (an overflow aborts the process).
#[cfg(feature = "pdf")]
const PARSER_STACK: usize = 64 * 1024 * 1024;

impl PdfBackend for InProcessPdf {
    fn extract(
        &self,
        data: &[u8],
        limits: &Limits,
        started: Instant,
        emit: &mut dyn FnMut(PdfItem),
    ) -> PdfOutcome {
        #[cfg(feature = "pdf")]
        {
            let (tx, rx) = std::sync::mpsc::channel();
            let outcome = std::thread::scope(|s| {
                let worker = std::thread::Builder::new()
                    .name("pdf".into())
                    .stack_size(PARSER_STACK)
                    .spawn_scoped(s, move || {
                        let run = catch_unwind(AssertUnwindSafe(|| {
                            oxide(data, limits, started, &mut |i| {
                                let _ = tx.send(i);
                            })
                        }));
                        run.unwrap_or_else(|p| PdfOutcome::Crashed(panic_text(&*p)))
                    });
                match worker {
                    Ok(handle) => handle.join().unwrap_or_else(|p| PdfOutcome::Crashed(panic_text(&*p))),
                    Err(e) => PdfOutcome::Crashed(format!("cannot start parser thread: {e}")),
                }
            });
            for item in rx.try_iter() {
                emit(item);
            }
            outcome
        }
        #[cfg(not(feature = "pdf"))]
        {
            let _ = (data, limits, started, emit);
            PdfOutcome::Corrupt("this build has no PDF support (feature `pdf`)".into())
        }
    }
}

/// The default backend: in-process pdf_oxide when built with the `pdf` feature.
pub(super) fn default_backend() -> Option<Arc<dyn PdfBackend>> {
    if cfg!(feature = "pdf") {
        Some(Arc::new(InProcessPdf))
    } else {
        None
    }
}

#[cfg(feature = "pdf")]
fn oxide(data: &[u8], limits: &Limits, started: Instant, emit: &mut dyn FnMut(PdfItem)) -> PdfOutcome {
    let doc = match pdf_oxide::PdfDocument::from_bytes(data.to_vec()) {
        Ok(d) => d,
        Err(e) => {
            let text = e.to_string();
            if text.to_ascii_lowercase().contains("password") || text.to_ascii_lowercase().contains("encrypt")
            {
                return PdfOutcome::Encrypted;
            }
            return PdfOutcome::Corrupt(text);
        }
    };
    // Opening tries the empty password; an unsupported security handler also leaves the
    // document unauthenticated (its text would be ciphertext).
    if !doc.is_authenticated() {
        return PdfOutcome::Encrypted;
    }
    let pages = match doc.page_count() {
        Ok(n) => n,
        Err(pdf_oxide::error::Error::EncryptedPdf) => return PdfOutcome::Encrypted,
        Err(e) => return PdfOutcome::Corrupt(e.to_string()),
    };
    let mut budget = limits.max_member_bytes;
    let mut any_text = false;
    let deadline = started + limits.max_time;
    for i in 0..pages {
        if Instant::now() >= deadline {
            return PdfOutcome::Limit(Limit::Time);
        }
        let mut text = doc.extract_text(i).unwrap_or_default();
        if let Ok(annotations) = doc.get_annotations(i) {
            for a in annotations {
                for (key, value) in [
                    ("subject", a.subject),
                    ("contents", a.contents),
                    (a.field_name.as_deref().unwrap_or("field"), a.field_value),
                ] {
                    if let Some(v) = value.filter(|v| !v.is_empty()) {
                        text.push('\n');
                        text.push_str(key);
                        text.push_str(": ");
                        text.push_str(&v);
                    }
                }
            }
        }
        if text.len() as u64 > budget {
            return PdfOutcome::Limit(Limit::MemberBytes);
        }
        budget -= text.len() as u64;
        any_text |= text.chars().any(|c| !c.is_whitespace());
        emit(PdfItem::Page { number: i as u32 + 1, text });
    }
    // Some encryption revisions (AES-256 R5) open without error yet decrypt to nothing: an
    // encrypted document without a single character is not reported clean.
    if doc.is_encrypted() && !any_text && pages > 0 {
        return PdfOutcome::Encrypted;
    }
    if let Ok(files) = doc.extract_embedded_files() {
        for (name, data) in files {
            if data.len() as u64 > budget {
                return PdfOutcome::Limit(Limit::MemberBytes);
            }
            budget -= data.len() as u64;
            emit(PdfItem::File { name, data });
        }
    }
    PdfOutcome::Done
}

/// Runs a third-party parser call with panics caught.
#[cfg_attr(
    not(any(feature = "mail", feature = "spreadsheets", feature = "datalake", feature = "sevenz")),
    allow(dead_code)
)]
pub(super) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(&*p))
}

/// The message of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

impl Walk<'_> {
    /// A PDF: pages become text parts with their page number, embedded files members.
    pub(super) fn pdf(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        let Some(backend) = self.ex.pdf.clone() else {
            self.note(Status::Skipped, Reason::Unsupported, "this build reads no PDF (feature `pdf`)".into());
            return Flow::Continue;
        };
        let Some(data) = self.read_bounded(r, "PDF") else { return Flow::Continue };
        let mut items = Vec::new();
        let started = self.budget.deadline.get() - self.ex.limits.max_time;
        let outcome = backend.extract(&data, &self.ex.limits, started, &mut |i| items.push(i));
        drop(data);
        let scanned_any = !items.is_empty();
        for item in items {
            let flow = match item {
                PdfItem::Page { number, text } => self.text_bytes(text.as_bytes(), Kind::Pdf, Some(number)),
                PdfItem::File { name, data } => self.member(&mut &data[..], name, depth + 1, None),
            };
            if flow == Flow::Stop {
                return flow;
            }
        }
        let status = if scanned_any { Status::Partial } else { Status::Skipped };
        match outcome {
            PdfOutcome::Done => {}
            PdfOutcome::Encrypted => self.note(
                Status::Skipped,
                Reason::Encrypted,
                "encrypted PDF: the empty password does not open it, or its encryption (e.g. AES-256 revision 5) yields no text".into(),
            ),
            PdfOutcome::Limit(limit) => {
                self.note(
                    status,
                    Reason::Limit(limit),
                    format!("PDF extraction stopped at limit {}", limit.name()),
                );
                if limit.ends_object() {
                    return Flow::Stop;
                }
            }
            PdfOutcome::Corrupt(msg) => self.note(status, Reason::Corrupt, format!("PDF: {msg}")),
            PdfOutcome::Crashed(msg) => self.note(status, Reason::ParserCrash, format!("PDF parser: {msg}")),
        }
        Flow::Continue
    }
}
