//! The whole extraction walk (sniffing, decompression, archives, OOXML/ODF, HTML, RTF, mail,
//! text decoding) on arbitrary bytes, under small limits. PDF is left out: pdf_oxide is not
//! ours, and in dlp-worker it runs in a sandbox.
#![no_main]
use dlp_core::extract::{Extractor, Limits, Note, Part, Visitor};
use libfuzzer_sys::fuzz_target;
use std::io::Read;
use std::time::Duration;

struct Drain;

impl Visitor for Drain {
    fn text(&mut self, _part: &Part<'_>, text: &mut dyn Read) -> std::io::Result<()> {
        std::io::copy(text, &mut std::io::sink()).map(|_| ())
    }
    fn note(&mut self, _note: Note) {}
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 8 << 20,
        max_member_bytes: 2 << 20,
        max_entries: 200,
        max_time: Duration::from_secs(5),
        ..Limits::default()
    };
    let ex = Extractor::new(limits).with_pdf_backend(None);
    let _ = ex.walk_reader(&mut &data[..], "fuzz.bin", &mut Drain);
});
