//! Extraction throughput per format: MB/s of input through `Extractor::walk_reader` into a
//! visitor that drains the text (no pattern matching), with a plain pass over the same text
//! (counting newlines) as the baseline in the same run. Inputs are built from the first 4 MiB of the generated mixed
//! corpus (see the engine bench); PDF and XLSX come from reportlab and openpyxl when Python has
//! them (`pip install reportlab openpyxl`), else those two are left out.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dlp_core::extract::{Extractor, Limits, Note, Part, Visitor};
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

struct Drain(u64);

impl Visitor for Drain {
    fn text(&mut self, _part: &Part<'_>, text: &mut dyn Read) -> std::io::Result<()> {
        self.0 += std::io::copy(text, &mut std::io::sink())?;
        Ok(())
    }
    fn note(&mut self, _note: Note) {}
}

/// 4 MiB of the mixed corpus's text, cut at a line end.
fn text() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("corpora/generated/mixed");
    if !dir.exists() {
        let status = std::process::Command::new("python3")
            .arg(root.join("corpora/generate.py"))
            .args(["mixed", dir.to_str().expect("UTF-8 path"), "--size-mb", "64"])
            .status()
            .expect("python3 runs corpora/generate.py");
        assert!(status.success(), "generating the corpus failed");
    }
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("corpus dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(std::fs::read(f).expect("read").into_iter().filter(|&b| b != 0));
        if out.len() >= 4 << 20 {
            break;
        }
    }
    out.truncate(4 << 20);
    let end = out.iter().rposition(|&b| b == b'\n').unwrap_or(out.len());
    out.truncate(end + 1);
    // Keep it ASCII so every format can carry it unchanged.
    out.iter_mut().for_each(|b| {
        if !b.is_ascii() {
            *b = b'?'
        }
    });
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).expect("bzip2");
    e.finish().expect("bzip2")
}

fn zip(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in parts {
        z.start_file(*name, opts).expect("zip entry");
        z.write_all(body).expect("zip write");
    }
    z.finish().expect("zip").into_inner()
}

fn tar(data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (i, chunk) in data.chunks(256 * 1024).enumerate() {
        let mut h = tar::Header::new_gnu();
        h.set_size(chunk.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("logs/part-{i}.txt"), chunk).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

fn escape(line: &[u8]) -> String {
    String::from_utf8_lossy(line).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn html(data: &[u8]) -> Vec<u8> {
    let mut s = String::from("<!DOCTYPE html><html><body>\n");
    for line in data.split(|&b| b == b'\n') {
        s.push_str("<p>");
        s.push_str(&escape(line));
        s.push_str("</p>\n");
    }
    s.push_str("</body></html>\n");
    s.into_bytes()
}

fn rtf(data: &[u8]) -> Vec<u8> {
    let mut s = String::from("{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\f0 ");
    for line in data.split(|&b| b == b'\n') {
        let l = String::from_utf8_lossy(line).replace('\\', "\\\\").replace('{', "\\{").replace('}', "\\}");
        s.push_str(&l);
        s.push_str("\\par\n");
    }
    s.push('}');
    s.into_bytes()
}

fn docx(data: &[u8]) -> Vec<u8> {
    let mut doc = String::from(
        r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#,
    );
    for line in data.split(|&b| b == b'\n') {
        doc.push_str("<w:p><w:r><w:t xml:space=\"preserve\">");
        doc.push_str(&escape(line));
        doc.push_str("</w:t></w:r></w:p>");
    }
    doc.push_str("</w:body></w:document>");
    zip(&[
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#),
        ("word/document.xml", doc.as_bytes()),
    ])
}

fn eml(data: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut m = String::from("From: a@example.org\r\nTo: b@example.org\r\nSubject: logs\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"logs.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    for chunk in b64.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        m.push_str("\r\n");
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

/// PDF and XLSX from the real writer libraries, when Python has them.
fn python_made(kind: &str, data: &[u8]) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("dlp-bench-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let input = dir.join("in.txt");
    std::fs::write(&input, &data[..data.len().min(1 << 20)]).ok()?;
    let out = dir.join(format!("out.{kind}"));
    let script = match kind {
        "pdf" => "import sys\nfrom reportlab.pdfgen import canvas\nc=canvas.Canvas(sys.argv[2],invariant=1)\ny=800\nfor line in open(sys.argv[1],encoding='ascii',errors='replace'):\n    c.drawString(20,y,line.rstrip()[:120]); y-=11\n    if y<40: c.showPage(); y=800\nc.save()\n",
        _ => "import sys, openpyxl\nwb=openpyxl.Workbook(); ws=wb.active\nfor line in open(sys.argv[1],encoding='ascii',errors='replace'):\n    ws.append(line.rstrip().split(',')[:20])\nwb.save(sys.argv[2])\n",
    };
    let ok = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&input)
        .arg(&out)
        .status()
        .ok()?
        .success();
    let bytes = if ok { std::fs::read(&out).ok() } else { None };
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

fn bench(c: &mut Criterion) {
    let text = text();
    let utf16: Vec<u8> = String::from_utf8_lossy(&text).encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", text.clone()),
        ("utf16le", utf16),
        ("gzip", gzip(&text)),
        ("bzip2", bzip2(&text)),
        ("zip", zip(&[("logs.txt", &text)])),
        ("tar", tar(&text)),
        ("tar.gz", gzip(&tar(&text))),
        ("html", html(&text)),
        ("rtf", rtf(&text)),
        ("docx", docx(&text)),
        ("eml", eml(&text)),
    ];
    for kind in ["pdf", "xlsx"] {
        match python_made(kind, &text) {
            Some(bytes) => inputs.push((kind, bytes)),
            None => eprintln!("extract bench: no {kind} (pip install reportlab openpyxl)"),
        }
    }
    let ex = Extractor::new(Limits { max_total_bytes: 1 << 34, ..Limits::default() });
    let mut g = c.benchmark_group("extract");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("baseline: read every byte (count newlines)", |b| {
        b.iter(|| black_box(&text[..]).iter().filter(|&&c| c == b'\n').count())
    });
    for (name, bytes) in &inputs {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut d = Drain(0);
                ex.walk_reader(&mut &bytes[..], &format!("input.{name}"), &mut d).expect("walk");
                black_box(d.0)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
