//! EML and MBOX: the input follows a header block (and, for odd lengths, an mbox `From `
//! line), so the fuzzer works on bodies, MIME structure, encodings and attachments.
#![no_main]
use dlp_core::extract::{Extractor, Limits, Note, Part, Visitor};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

struct Drain;

impl Visitor for Drain {
    fn text(&mut self, _part: &Part<'_>, text: &mut dyn Read) -> std::io::Result<()> {
        std::io::copy(text, &mut std::io::sink()).map(|_| ())
    }
    fn note(&mut self, _note: Note) {}
}

fuzz_target!(|data: &[u8]| {
    let mut msg = Vec::new();
    if data.len() % 2 == 1 {
        msg.extend_from_slice(b"From fuzz@example.org Mon Jan  1 00:00:00 2024\n");
    }
    msg.extend_from_slice(b"From: a@example.org\nTo: b@example.org\nMIME-Version: 1.0\n");
    msg.extend_from_slice(data);
    let ex = Extractor::new(Limits { max_entries: 200, ..Limits::default() }).with_pdf_backend(None);
    let _ = ex.walk_reader(&mut &msg[..], "fuzz.eml", &mut Drain);
});
