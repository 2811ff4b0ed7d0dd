//! OOXML: the input becomes the main document part of a well-formed package (content types,
//! relationships, a header part from the second half), so the fuzzer reaches the OPC walk and
//! the XML text extraction instead of failing at the zip layer.
#![no_main]
use dlp_core::extract::{Extractor, Limits, Note, Part, Visitor};
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};

struct Drain;

impl Visitor for Drain {
    fn text(&mut self, _part: &Part<'_>, text: &mut dyn Read) -> std::io::Result<()> {
        std::io::copy(text, &mut std::io::sink()).map(|_| ())
    }
    fn note(&mut self, _note: Note) {}
}

fuzz_target!(|data: &[u8]| {
    let (doc, header) = data.split_at(data.len() / 2);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let parts: [(&str, &[u8]); 5] = [
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#),
        ("word/_rels/document.xml.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/><Relationship Id="r3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="../word/./header1.xml"/></Relationships>"#),
        ("word/document.xml", doc),
        ("word/header1.xml", header),
    ];
    for (name, body) in parts {
        if zip.start_file(name, opts).is_err() || zip.write_all(body).is_err() {
            return;
        }
    }
    let Ok(cursor) = zip.finish() else { return };
    let bytes = cursor.into_inner();
    let ex = Extractor::new(Limits::default()).with_pdf_backend(None);
    let _ = ex.walk_reader(&mut &bytes[..], "fuzz.docx", &mut Drain);
});
