//! Office documents: OOXML (DOCX/PPTX/XLSX) parts found through their OPC relationships,
//! ODF (ODT/ODP/ODS), and spreadsheet cells through calamine.

use super::limits::{hit, limit_of, Compressed, Limit, Limited};
use super::{Flow, Kind, Reason, Status, Walk};
use quick_xml::events::Event as XmlEvent;
use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Seek};

/// Largest relationships or manifest part read (they are small in real packages).
const MAX_META_PART: u64 = 4 * 1024 * 1024;

/// Relationship types (the last segment of the type URI) whose target holds text.
const TEXT_RELATIONSHIPS: &[&str] = &[
    "officeDocument",
    "header",
    "footer",
    "comments",
    "commentsExtended",
    "threadedComment",
    "footnotes",
    "endnotes",
    "slide",
    "notesSlide",
    "notesMaster",
    "core-properties",
    "extended-properties",
    "custom-properties",
    "glossaryDocument",
    "diagramData",
    "chart",
];

/// Relationship types whose target is an embedded file, walked like an archive member.
const EMBEDDED_RELATIONSHIPS: &[&str] = &["package", "oleObject", "aFChunk"];

impl Walk<'_> {
    /// An OOXML package: walks the relationship graph from `_rels/.rels`, extracts the text of
    /// text-bearing parts, reads workbooks through calamine, and walks embedded files.
    pub(super) fn ooxml<R: Read + Seek>(&mut self, rs: &mut R, depth: u32) -> Flow {
        let mut archive = match zip::ZipArchive::new(&mut *rs) {
            Ok(a) => a,
            Err(e) => return self.zip_error(e, false),
        };
        let mut queue: VecDeque<String> = VecDeque::from([String::new()]);
        let mut seen: HashSet<String> = HashSet::new();
        let mut text_parts: Vec<String> = Vec::new();
        let mut embedded: Vec<String> = Vec::new();
        let mut workbook = None;
        while let Some(part) = queue.pop_front() {
            if seen.len() as u64 > self.ex.limits.max_entries {
                break;
            }
            let rels_path = rels_of(&part);
            let Some(rels) = read_small(&mut archive, &rels_path) else { continue };
            for rel in relationships(&rels) {
                let target = resolve(&part, &rel.target);
                if !seen.insert(target.clone()) || archive.index_for_name(&target).is_none() {
                    continue;
                }
                let kind = rel.kind.rsplit('/').next().unwrap_or("").to_string();
                let is_workbook = kind == "officeDocument"
                    && (target.ends_with(".bin") || content_is_workbook(&mut archive, &target));
                if is_workbook {
                    workbook = Some(target.clone());
                } else if TEXT_RELATIONSHIPS.contains(&kind.as_str())
                    || (!cfg!(feature = "spreadsheets") && (kind == "worksheet" || kind == "sharedStrings"))
                {
                    text_parts.push(target.clone());
                } else if EMBEDDED_RELATIONSHIPS.contains(&kind.as_str()) {
                    embedded.push(target.clone());
                }
                queue.push_back(target);
            }
        }
        if text_parts.is_empty() && workbook.is_none() {
            self.note(Status::Skipped, Reason::Corrupt, "OOXML package without a main document part".into());
            return Flow::Continue;
        }
        let mut count = 0u64;
        for part in text_parts {
            count += 1;
            if count > self.ex.limits.max_entries {
                return self.entries_limit();
            }
            if self.xml_part(&mut archive, &part, depth) == Flow::Stop {
                return Flow::Stop;
            }
        }
        for part in embedded {
            if self.zip_members(&mut archive, depth, |n| n == part) == Flow::Stop {
                return Flow::Stop;
            }
        }
        drop(archive);
        if workbook.is_some() {
            if let Some(flow) = self.spreadsheet(rs, depth, false) {
                return flow;
            }
        }
        Flow::Continue
    }

    /// An ODF package: refused as encrypted when its manifest says so; spreadsheets through
    /// calamine; the text of `content.xml`, `styles.xml` (headers, footers) and `meta.xml`.
    pub(super) fn odf<R: Read + Seek>(&mut self, rs: &mut R, depth: u32) -> Flow {
        let mut archive = match zip::ZipArchive::new(&mut *rs) {
            Ok(a) => a,
            Err(e) => return self.zip_error(e, false),
        };
        if let Some(manifest) = read_small(&mut archive, "META-INF/manifest.xml") {
            if memchr::memmem::find(&manifest, b"encryption-data").is_some() {
                self.note(Status::Skipped, Reason::Encrypted, "password-protected OpenDocument file".into());
                return Flow::Continue;
            }
        }
        let spreadsheet = read_small(&mut archive, "mimetype")
            .is_some_and(|m| m.starts_with(b"application/vnd.oasis.opendocument.spreadsheet"));
        for part in ["styles.xml", "meta.xml"] {
            if archive.index_for_name(part).is_some()
                && self.xml_part(&mut archive, part, depth) == Flow::Stop
            {
                return Flow::Stop;
            }
        }
        drop(archive);
        // Spreadsheets by sheet through calamine; other documents, or a spreadsheet calamine
        // cannot read, as the text of content.xml.
        if spreadsheet {
            if let Some(flow) = self.spreadsheet(rs, depth, true) {
                return flow;
            }
        }
        if let Err(e) = rs.rewind() {
            return self.fail(e, false);
        }
        let mut archive = match zip::ZipArchive::new(&mut *rs) {
            Ok(a) => a,
            Err(e) => return self.zip_error(e, false),
        };
        if archive.index_for_name("content.xml").is_some() {
            return self.xml_part(&mut archive, "content.xml", depth);
        }
        Flow::Continue
    }

    /// Extracts one XML part's text as a member named by its path.
    fn xml_part<R: Read + Seek>(&mut self, archive: &mut zip::ZipArchive<R>, part: &str, depth: u32) -> Flow {
        self.path.push(part.to_string());
        let flow = if depth + 1 > self.ex.limits.max_depth {
            self.note(Status::Skipped, Reason::Limit(Limit::Depth), "nested too deep".into());
            Flow::Continue
        } else {
            match archive.by_name(part) {
                Ok(mut file) => {
                    let ratio = if file.compression() == zip::CompressionMethod::Stored {
                        Compressed::None
                    } else {
                        Compressed::Declared(file.compressed_size())
                    };
                    let cap = (self.ex.limits.max_member_bytes, Limit::MemberBytes);
                    let limited = Limited::new(&mut file, self.budget, cap, true, ratio);
                    let mut text = XmlText::new(BufReader::new(limited));
                    self.text(&mut text, Kind::Zip, None)
                }
                Err(e) => self.zip_error(e, false),
            }
        };
        self.path.pop();
        flow
    }

    /// Reads every sheet of a workbook held in `rs` (XLSX, XLSB, XLS, ODS). `None` when this
    /// build has no spreadsheet reader, or, with `fallback`, when calamine cannot open the
    /// workbook (after a note) so that the caller reads it another way.
    pub(super) fn spreadsheet<R: Read + Seek>(
        &mut self,
        rs: &mut R,
        depth: u32,
        fallback: bool,
    ) -> Option<Flow> {
        #[cfg(feature = "spreadsheets")]
        {
            if let Err(e) = rs.rewind() {
                return Some(self.fail(e, false));
            }
            let Some(data) = self.read_bounded(rs, "workbook") else { return Some(Flow::Continue) };
            self.spreadsheet_bytes(&data, depth, fallback)
        }
        #[cfg(not(feature = "spreadsheets"))]
        {
            let _ = (rs, depth, fallback);
            None
        }
    }

    /// As [`Walk::spreadsheet`], for a workbook in memory; each sheet is a member named after
    /// it, rendered as tab-separated lines (line N is row N, so a header row gives columns).
    pub(super) fn spreadsheet_bytes(&mut self, data: &[u8], depth: u32, fallback: bool) -> Option<Flow> {
        #[cfg(feature = "spreadsheets")]
        {
            use calamine::Reader as _;
            if depth + 1 > self.ex.limits.max_depth {
                self.note(Status::Skipped, Reason::Limit(Limit::Depth), "nested too deep".into());
                return Some(Flow::Continue);
            }
            if let Some((limit, detail)) = zip_bomb_declared(data, &self.ex.limits) {
                self.note(Status::Skipped, Reason::Limit(limit), detail);
                return Some(Flow::Continue);
            }
            let opened = super::pdf::contain(|| calamine::open_workbook_auto_from_rs(io::Cursor::new(data)));
            let mut book = match opened {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    let (reason, text) = spreadsheet_error(data, e);
                    if fallback && reason != Reason::Encrypted {
                        let detail = format!(
                            "spreadsheet reader: {text}; read as document text instead (no sheet names)"
                        );
                        self.note(Status::Partial, Reason::Corrupt, detail);
                        return None;
                    }
                    self.note(Status::Skipped, reason, format!("spreadsheet: {text}"));
                    return Some(Flow::Continue);
                }
                Err(panic) => {
                    self.note(
                        Status::Skipped,
                        Reason::ParserCrash,
                        format!("spreadsheet reader panicked: {panic}"),
                    );
                    return Some(Flow::Continue);
                }
            };
            let cap = self.ex.limits.max_member_bytes;
            for (i, name) in book.sheet_names().into_iter().enumerate() {
                if i as u64 >= self.ex.limits.max_entries {
                    return Some(self.entries_limit());
                }
                if let Err(e) = self.budget.check_time() {
                    return Some(self.fail(e, true));
                }
                self.path.push(name.clone());
                let mut sheet = SheetText::new(cap);
                // XLSX and XLSB stream cell by cell; XLS and ODS were parsed when opened.
                let read = super::pdf::contain(|| -> Result<(), String> {
                    match &mut book {
                        calamine::Sheets::Xlsx(x) => {
                            let mut cells = x.worksheet_cells_reader(&name).map_err(|e| e.to_string())?;
                            while let Some(c) = cells.next_cell().map_err(|e| e.to_string())? {
                                let (r, col) = c.get_position();
                                if !sheet.cell(r, col, c.get_value()) {
                                    break;
                                }
                            }
                        }
                        calamine::Sheets::Xlsb(x) => {
                            let mut cells = x.worksheet_cells_reader(&name).map_err(|e| e.to_string())?;
                            while let Some(c) = cells.next_cell().map_err(|e| e.to_string())? {
                                let (r, col) = c.get_position();
                                if !sheet.cell(r, col, c.get_value()) {
                                    break;
                                }
                            }
                        }
                        other => {
                            let range = other.worksheet_range(&name).map_err(|e| e.to_string())?;
                            let (r0, c0) = range.start().unwrap_or((0, 0));
                            for (r, c, v) in range.used_cells() {
                                let v = data_ref(v);
                                if !sheet.cell(r0 + r as u32, c0 + c as u32, &v) {
                                    break;
                                }
                            }
                        }
                    }
                    Ok(())
                });
                let mut flow = self.text_bytes(&sheet.out, Kind::Zip, None);
                match read {
                    Ok(Ok(())) if sheet.cut => self.note(
                        Status::Partial,
                        Reason::Limit(Limit::MemberBytes),
                        "sheet text longer than the member limit".into(),
                    ),
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => self.note(Status::Partial, Reason::Corrupt, format!("sheet: {e}")),
                    Err(panic) => {
                        self.note(
                            Status::Partial,
                            Reason::ParserCrash,
                            format!("spreadsheet reader panicked: {panic}"),
                        );
                        flow = Flow::Continue;
                    }
                }
                self.path.pop();
                if flow == Flow::Stop {
                    return Some(flow);
                }
            }
            Some(Flow::Continue)
        }
        #[cfg(not(feature = "spreadsheets"))]
        {
            let _ = (data, depth, fallback);
            None
        }
    }
}

/// A zip whose declared sizes say it inflates beyond the limits (checked before a parser
/// that reads whole parts into memory).
#[cfg(feature = "spreadsheets")]
fn zip_bomb_declared(data: &[u8], limits: &super::Limits) -> Option<(Limit, String)> {
    let mut archive = zip::ZipArchive::new(io::Cursor::new(data)).ok()?;
    for i in 0..archive.len() {
        let Ok(f) = archive.by_index_raw(i) else { continue };
        let (size, packed) = (f.size(), f.compressed_size().max(1));
        if size > limits.max_member_bytes {
            let name = f.name().unwrap_or_default();
            return Some((
                Limit::MemberBytes,
                format!("part {name} declares {size} bytes, over the member limit"),
            ));
        }
        if size > limits.ratio_grace && size / packed > limits.max_ratio {
            let name = f.name().unwrap_or_default();
            return Some((
                Limit::Ratio,
                format!("part {name} declares a {}:1 compression ratio", size / packed),
            ));
        }
    }
    None
}

/// A sheet as tab-separated lines: line N is row N and cells keep their columns, so a header
/// row in row 1 names the columns. Cells arrive in row order; the text stops at a cap.
#[cfg(feature = "spreadsheets")]
struct SheetText {
    out: Vec<u8>,
    row: u32,
    col: u32,
    cap: u64,
    cut: bool,
}

#[cfg(feature = "spreadsheets")]
impl SheetText {
    fn new(cap: u64) -> SheetText {
        SheetText { out: Vec::new(), row: 0, col: 0, cap, cut: false }
    }

    /// Adds a cell (0-based position); false once the cap is reached.
    fn cell(&mut self, row: u32, col: u32, value: &calamine::DataRef<'_>) -> bool {
        use calamine::DataRef as D;
        use std::io::Write as _;
        let start = self.out.len();
        if row > self.row {
            self.out.extend(std::iter::repeat_n(b'\n', (row - self.row) as usize));
            self.row = row;
            self.col = 0;
        } else if row < self.row || col < self.col {
            self.out.push(b'\n'); // out of order: keep it on a line of its own
            self.col = 0;
        }
        self.out.extend(std::iter::repeat_n(b'\t', col.saturating_sub(self.col) as usize));
        self.col = col;
        let _ = match value {
            D::Empty | D::Error(_) => Ok(()),
            D::SharedString(s) => {
                super::push_cell(&mut self.out, s);
                Ok(())
            }
            D::String(s) | D::DateTimeIso(s) | D::DurationIso(s) => {
                super::push_cell(&mut self.out, s);
                Ok(())
            }
            D::Int(n) => write!(self.out, "{n}"),
            // Whole numbers print without exponent or fraction, so long IDs keep their digits.
            D::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => write!(self.out, "{f:.0}"),
            D::Float(f) => write!(self.out, "{f}"),
            D::Bool(b) => write!(self.out, "{b}"),
            // Dates as people write them (a date of birth must read as one), not serial numbers.
            D::DateTime(d) if d.is_datetime() => {
                let (y, mo, day, h, mi, sec, _) = d.to_ymd_hms_milli();
                if (h, mi, sec) == (0, 0, 0) {
                    write!(self.out, "{y:04}-{mo:02}-{day:02}")
                } else {
                    write!(self.out, "{y:04}-{mo:02}-{day:02} {h:02}:{mi:02}:{sec:02}")
                }
            }
            D::DateTime(d) => write!(self.out, "{}", d.as_f64()),
        };
        if self.out.len() as u64 > self.cap {
            self.out.truncate(start.min(self.cap as usize));
            self.cut = true;
            return false;
        }
        true
    }
}

/// A borrowed view of a cell value.
#[cfg(feature = "spreadsheets")]
fn data_ref(v: &calamine::Data) -> calamine::DataRef<'_> {
    use calamine::{Data as A, DataRef as B};
    match v {
        A::Int(n) => B::Int(*n),
        A::Float(f) => B::Float(*f),
        A::String(s) => B::SharedString(s),
        A::Bool(b) => B::Bool(*b),
        A::DateTime(d) => B::DateTime(*d),
        A::DateTimeIso(s) => B::DateTimeIso(s.clone()),
        A::DurationIso(s) => B::DurationIso(s.clone()),
        A::Error(e) => B::Error(e.clone()),
        A::Empty => B::Empty,
    }
}

/// The reason a workbook did not open. calamine's auto-detection hides a password error
/// behind "cannot detect file format", so each reader is asked again.
#[cfg(feature = "spreadsheets")]
fn spreadsheet_error(data: &[u8], e: calamine::Error) -> (Reason, String) {
    use calamine::{open_workbook_from_rs, Ods, OdsError, Xls, XlsError, Xlsx, XlsxError};
    let rs = io::Cursor::new(data);
    let encrypted = matches!(open_workbook_from_rs::<Xlsx<_>, _>(rs.clone()), Err(XlsxError::Password))
        || matches!(open_workbook_from_rs::<Xls<_>, _>(rs.clone()), Err(XlsError::Password))
        || matches!(open_workbook_from_rs::<Ods<_>, _>(rs), Err(OdsError::Password));
    if encrypted {
        (Reason::Encrypted, "password-protected workbook".into())
    } else {
        (Reason::Corrupt, e.to_string())
    }
}

/// The relationships part of a part (`word/document.xml` → `word/_rels/document.xml.rels`);
/// the package's own for the empty name.
fn rels_of(part: &str) -> String {
    match part.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
        None if part.is_empty() => "_rels/.rels".into(),
        None => format!("_rels/{part}.rels"),
    }
}

/// Resolves a relationship target against its source part's folder.
fn resolve(source: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if let Some(abs) = target.strip_prefix('/') {
        return normalize(abs.split('/').collect());
    } else {
        source.rsplit_once('/').map_or(Vec::new(), |(dir, _)| dir.split('/').collect())
    };
    parts.extend(target.split('/'));
    normalize(parts)
}

fn normalize(parts: Vec<&str>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

struct Relationship {
    kind: String,
    target: String,
}

/// Internal relationships of a `.rels` part.
fn relationships(xml: &[u8]) -> Vec<Relationship> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(XmlEvent::Start(e) | XmlEvent::Empty(e)) if e.local_name().as_ref() == b"Relationship" => {
                let (mut kind, mut target, mut external) = (String::new(), String::new(), false);
                for a in e.attributes().flatten() {
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match a.key.local_name().as_ref() {
                        b"Type" => kind = value,
                        b"Target" => target = value,
                        b"TargetMode" => external = value.eq_ignore_ascii_case("External"),
                        _ => {}
                    }
                }
                if !external && !target.is_empty() {
                    out.push(Relationship { kind, target: percent_decode(&target) });
                }
            }
            Ok(XmlEvent::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) =
                std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `[Content_Types].xml` gives `part` a workbook content type.
fn content_is_workbook<R: Read + Seek>(archive: &mut zip::ZipArchive<R>, part: &str) -> bool {
    let Some(types) = read_small(archive, "[Content_Types].xml") else { return false };
    let needle = format!("/{part}\"");
    let Some(at) = memchr::memmem::find(&types, needle.as_bytes()) else { return part.starts_with("xl/") };
    let rest = &types[at..types.len().min(at + 400)];
    memchr::memmem::find(rest, b"sheet.main").is_some() || memchr::memmem::find(rest, b"ms-excel").is_some()
}

/// A small part (relationships, manifest), whole; `None` if missing, unreadable or too big.
fn read_small<R: Read + Seek>(archive: &mut zip::ZipArchive<R>, name: &str) -> Option<Vec<u8>> {
    let file = archive.by_name(name).ok()?;
    let mut data = Vec::new();
    file.take(MAX_META_PART).read_to_end(&mut data).ok()?;
    Some(data)
}

/// Streams the text of an XML document: character data, CDATA and references, with line
/// breaks after paragraphs and rows and tabs after cells. Runs inside a paragraph are not
/// separated, so a value split across formatting runs stays whole.
pub struct XmlText<R: BufRead> {
    reader: quick_xml::Reader<R>,
    buf: Vec<u8>,
    pending: super::decode::Pending,
}

impl<R: BufRead> XmlText<R> {
    /// Reads XML from `inner`.
    pub fn new(inner: R) -> Self {
        let mut reader = quick_xml::Reader::from_reader(inner);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        XmlText { reader, buf: Vec::new(), pending: Default::default() }
    }
}

/// Reads one XML event and appends its text to `out`; false at the end of the document.
fn next_event<R: BufRead>(
    reader: &mut quick_xml::Reader<R>,
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    buf.clear();
    // Limits hit by the inner reader travel inside quick-xml's shared Io error; keep them.
    let event = reader.read_event_into(buf).map_err(|e| match e {
        quick_xml::Error::Io(io) => match limit_of(&io) {
            Some(l) => hit(l),
            None => io::Error::new(io.kind(), io.to_string()),
        },
        other => io::Error::new(io::ErrorKind::InvalidData, format!("XML: {other}")),
    })?;
    match event {
        XmlEvent::Text(t) => {
            let text =
                t.decode().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("XML: {e}")))?;
            out.extend_from_slice(text.as_bytes());
        }
        XmlEvent::CData(t) => out.extend_from_slice(&t),
        XmlEvent::GeneralRef(r) => {
            let name: &[u8] = &r;
            if let Some(c) = r.resolve_char_ref().ok().flatten() {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            } else {
                let s: &[u8] = match name {
                    b"amp" => b"&",
                    b"lt" => b"<",
                    b"gt" => b">",
                    b"quot" => b"\"",
                    b"apos" => b"'",
                    _ => b"",
                };
                out.extend_from_slice(s);
            }
        }
        XmlEvent::Start(e) => separator(out, e.local_name().as_ref(), false),
        XmlEvent::Empty(e) => separator(out, e.local_name().as_ref(), true),
        XmlEvent::End(e) => separator(out, e.local_name().as_ref(), true),
        XmlEvent::Eof => return Ok(false),
        _ => {}
    }
    Ok(true)
}

/// Line breaks after paragraphs and rows, tabs after cells.
fn separator(out: &mut Vec<u8>, name: &[u8], closing: bool) {
    let sep: &[u8] = match name {
        b"p" | b"h" | b"tr" | b"table-row" | b"row" | b"si" if closing => b"\n",
        b"br" | b"cr" | b"line-break" if closing => b"\n",
        b"tab" | b"tc" | b"table-cell" | b"c" if closing => b"\t",
        b"s" if closing => b" ",
        _ => return,
    };
    out.extend_from_slice(sep);
}

impl<R: BufRead> Read for XmlText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let XmlText { reader, buf: scratch, pending } = self;
        pending.read(buf, |out| next_event(reader, scratch, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_paths() {
        assert_eq!(rels_of(""), "_rels/.rels");
        assert_eq!(rels_of("word/document.xml"), "word/_rels/document.xml.rels");
        assert_eq!(rels_of("sheet1.xml"), "_rels/sheet1.xml.rels");
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
        assert_eq!(resolve("word/document.xml", "header1.xml"), "word/header1.xml");
        assert_eq!(
            resolve("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(resolve("xl/workbook.xml", "/xl/worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
    }

    #[test]
    fn xml_text_keeps_runs_together() {
        let xml = br#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>card 4556</w:t></w:r><w:r><w:t xml:space="preserve">7375 8689 9855</w:t></w:r></w:p><w:p><w:r><w:t>a &amp; b&#33;</w:t><w:tab/><w:t>c</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:p><w:t>x</w:t></w:p></w:tc></w:tr></w:tbl></w:body></w:document>"#;
        let mut text = String::new();
        XmlText::new(&xml[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text, "card 45567375 8689 9855\na & b!\tc\nx\n\t\n");
    }

    #[cfg(feature = "spreadsheets")]
    #[test]
    fn sheet_cells_keep_positions_digits_and_dates() {
        use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType};
        let mut sheet = SheetText::new(1 << 20);
        assert!(sheet.cell(0, 0, &DataRef::SharedString("name")));
        assert!(sheet.cell(0, 2, &DataRef::String("dob".into())));
        assert!(sheet.cell(1, 1, &DataRef::Float(4556737586899855.0)));
        let date = ExcelDateTime::new(17175.0, ExcelDateTimeType::DateTime, false);
        assert!(sheet.cell(1, 2, &DataRef::DateTime(date)));
        let noon = ExcelDateTime::new(45943.5, ExcelDateTimeType::DateTime, false);
        assert!(sheet.cell(3, 0, &DataRef::DateTime(noon)));
        assert_eq!(
            String::from_utf8(sheet.out).unwrap(),
            "name\t\tdob\n\t4556737586899855\t1947-01-08\n\n2025-10-13 12:00:00"
        );
        let mut small = SheetText::new(10);
        assert!(small.cell(0, 0, &DataRef::SharedString("abc")));
        assert!(!small.cell(0, 1, &DataRef::SharedString("a long cell value")));
        assert!(small.cut && small.out == b"abc");
    }

    #[test]
    fn xml_text_errors_on_garbage_but_does_not_panic() {
        let mut text = String::new();
        let r = XmlText::new(&b"<a><b attr='x></a>"[..]).read_to_string(&mut text);
        assert!(r.is_err() || text.is_empty());
    }
}
