//! Text decoding: every text stream reaches the engine as UTF-8 (or, for binary content, as
//! its printable runs), through streaming filters that hold no more than one buffer.
//!
//! - A UTF-8 BOM is dropped; UTF-16 LE/BE is recognised by its BOM or, without one, by the
//!   pattern of NUL bytes of ASCII-range text; UTF-16 is transcoded to UTF-8.
//! - Text that is not valid UTF-8 is read as Windows-1252 (a superset of Latin-1's printable
//!   range, as browsers do).
//! - Binary content keeps its runs of 4 or more printable ASCII bytes and turns every other
//!   byte into NUL (line breaks stay), so offsets and lines in findings are those of the
//!   original bytes.

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::io::{self, Read};

/// A streaming byte transformation.
pub trait Filter {
    /// Transforms `input`, appending to `out`. State carries across calls.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>);
    /// Flushes what is held back at the end of input.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// A reader that passes another reader's bytes through a [`Filter`].
pub struct Filtered<R, F> {
    inner: R,
    filter: F,
    inbuf: Box<[u8]>,
    pending: Pending,
}

impl<R: Read, F: Filter> Filtered<R, F> {
    /// Wraps `inner`.
    pub fn new(inner: R, filter: F) -> Self {
        Filtered { inner, filter, inbuf: vec![0; 64 * 1024].into_boxed_slice(), pending: Pending::default() }
    }
}

impl<R: Read, F: Filter> Read for Filtered<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Filtered { inner, filter, inbuf, pending } = self;
        pending.read(buf, |out| {
            let n = loop {
                match inner.read(inbuf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                filter.finish(out);
                return Ok(false);
            }
            filter.feed(&inbuf[..n], out);
            Ok(true)
        })
    }
}

/// Output made ahead of a reader, handed out in reads: the one buffer behind every
/// extraction adapter that produces text in pieces (filters, XML text, table rows).
#[derive(Default)]
pub(crate) struct Pending {
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pending {
    /// Copies pending bytes into `buf`. While none are pending, `refill` appends the next
    /// piece to its (empty) argument and returns whether more may follow.
    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        mut refill: impl FnMut(&mut Vec<u8>) -> io::Result<bool>,
    ) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            self.done = !refill(&mut self.out)?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The encoding of a text stream, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (or ASCII); a BOM is dropped.
    Utf8,
    /// UTF-16 little-endian, with or without BOM.
    Utf16Le,
    /// UTF-16 big-endian, with or without BOM.
    Utf16Be,
    /// Not UTF-8: read as Windows-1252.
    Windows1252,
    /// Not text: printable runs only.
    Binary,
}

impl TextEncoding {
    /// Judges `head`, a stream's first bytes.
    pub fn detect(head: &[u8]) -> TextEncoding {
        if head.starts_with(b"\xEF\xBB\xBF") {
            return TextEncoding::Utf8;
        }
        if let Some(e) = utf16_bom(head) {
            return e;
        }
        if let Some(e) = utf16_without_bom(head) {
            return e;
        }
        if looks_binary(head) {
            return TextEncoding::Binary;
        }
        match std::str::from_utf8(head) {
            Ok(_) => TextEncoding::Utf8,
            // A sequence cut at the end of the head is fine.
            Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
            Err(_) => TextEncoding::Windows1252,
        }
    }

    /// A name for coverage records.
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Windows1252 => "windows-1252",
            TextEncoding::Binary => "binary",
        }
    }

    /// The filter that turns this encoding into what the engine reads.
    pub fn filter(self) -> TextFilter {
        match self {
            TextEncoding::Utf8 => TextFilter::Utf8 { started: false, bom: Vec::new() },
            TextEncoding::Utf16Le => TextFilter::Decode(UTF_16LE.new_decoder()),
            TextEncoding::Utf16Be => TextFilter::Decode(UTF_16BE.new_decoder()),
            TextEncoding::Windows1252 => TextFilter::Decode(WINDOWS_1252.new_decoder_without_bom_handling()),
            TextEncoding::Binary => TextFilter::Strings(Strings::default()),
        }
    }
}

/// A UTF-16 byte-order mark, believed only if what follows is not plainly 8-bit text: bytes
/// FF FE before ASCII text (a binary header, a corrupt file) must not turn the text into
/// UTF-16 garbage.
fn utf16_bom(head: &[u8]) -> Option<TextEncoding> {
    let enc = if head.starts_with(b"\xFF\xFE") {
        TextEncoding::Utf16Le
    } else if head.starts_with(b"\xFE\xFF") {
        TextEncoding::Utf16Be
    } else {
        return None;
    };
    let text = |b: u8| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
    let pairs: Vec<&[u8]> = head[2..head.len().min(4098)].chunks_exact(2).collect();
    let ascii_pairs = pairs.iter().filter(|p| text(p[0]) && text(p[1])).count();
    // UTF-16 of ASCII-range text has NULs; CJK in UTF-16 forms such pairs far less often.
    (pairs.len() < 4 || ascii_pairs * 10 < pairs.len() * 6).then_some(enc)
}

/// ASCII-range text in UTF-16 has a NUL in every other byte: at odd offsets in LE, even in BE.
fn utf16_without_bom(head: &[u8]) -> Option<TextEncoding> {
    let h = &head[..head.len().min(4096) & !1];
    if h.len() < 8 {
        return None;
    }
    let pairs = h.len() / 2;
    let even = h.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd = h.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if odd * 10 >= pairs * 7 && even * 20 < pairs {
        Some(TextEncoding::Utf16Le)
    } else if even * 10 >= pairs * 7 && odd * 20 < pairs {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

/// Content is binary when it has NUL bytes (and is not UTF-16) or more than 10 % control
/// bytes other than tab, line breaks, form feed and escape.
pub fn looks_binary(head: &[u8]) -> bool {
    if head.is_empty() || utf16_without_bom(head).is_some() || utf16_bom(head).is_some() {
        return false;
    }
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    let controls =
        head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)).count();
    controls * 10 > head.len()
}

/// The filter for one [`TextEncoding`].
pub enum TextFilter {
    /// Pass-through after dropping a UTF-8 BOM.
    Utf8 {
        /// Whether the first bytes have been judged.
        started: bool,
        /// Up to 2 bytes held while the BOM is undecided.
        bom: Vec<u8>,
    },
    /// Transcoding through encoding_rs.
    Decode(Decoder),
    /// Printable runs.
    Strings(Strings),
}

impl Filter for TextFilter {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match self {
            TextFilter::Utf8 { started, bom } => {
                if *started {
                    out.extend_from_slice(input);
                    return;
                }
                bom.extend_from_slice(input);
                if bom.len() < 3 && b"\xEF\xBB\xBF".starts_with(bom) {
                    return;
                }
                *started = true;
                out.extend_from_slice(bom.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bom));
                *bom = Vec::new();
            }
            TextFilter::Decode(d) => decode(d, input, out, false),
            TextFilter::Strings(s) => s.feed(input, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            TextFilter::Utf8 { bom, .. } => out.append(bom),
            TextFilter::Decode(d) => decode(d, &[], out, true),
            TextFilter::Strings(s) => s.finish(out),
        }
    }
}

fn decode(d: &mut Decoder, mut input: &[u8], out: &mut Vec<u8>, last: bool) {
    loop {
        let room = d.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16);
        let start = out.len();
        out.resize(start + room, 0);
        let (result, read, written, _) = d.decode_to_utf8(input, &mut out[start..], last);
        out.truncate(start + written);
        input = &input[read..];
        if result == encoding_rs::CoderResult::InputEmpty {
            return;
        }
    }
}

/// Keeps runs of at least [`Strings::MIN_RUN`] printable ASCII bytes (and tabs); every other
/// byte becomes NUL (line breaks stay line breaks), so the output is as long as the input and
/// line numbers are those of the original.
#[derive(Default)]
pub struct Strings {
    /// Printable bytes not yet known to form a long enough run.
    pending: Vec<u8>,
    /// The current run is long enough: its bytes pass straight through.
    confirmed: bool,
}

impl Strings {
    /// Shortest run kept, as `strings` does.
    pub const MIN_RUN: usize = 4;
}

impl Filter for Strings {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &b in input {
            if b == b'\t' || (0x20..0x7f).contains(&b) {
                if self.confirmed {
                    out.push(b);
                } else {
                    self.pending.push(b);
                    if self.pending.len() >= Self::MIN_RUN {
                        out.append(&mut self.pending);
                        self.confirmed = true;
                    }
                }
            } else {
                out.extend(std::iter::repeat_n(0, self.pending.len()));
                out.push(if b == b'\n' { b'\n' } else { 0 });
                self.pending.clear();
                self.confirmed = false;
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend(std::iter::repeat_n(0, self.pending.len()));
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(enc: TextEncoding, input: &[u8], split: usize) -> Vec<u8> {
        let mut f = enc.filter();
        let mut out = Vec::new();
        for part in input.chunks(split.max(1)) {
            f.feed(part, &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn encodings_are_detected() {
        assert_eq!(TextEncoding::detect(b"plain ascii"), TextEncoding::Utf8);
        assert_eq!(TextEncoding::detect("Müller €".as_bytes()), TextEncoding::Utf8);
        assert_eq!(TextEncoding::detect(b"M\xfcller \x80 5"), TextEncoding::Windows1252);
        assert_eq!(TextEncoding::detect(b"\xff\xfeh\x00i\x00"), TextEncoding::Utf16Le);
        let cjk: Vec<u8> =
            "\u{feff}中文测试数据，身份证号码".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(TextEncoding::detect(&cjk), TextEncoding::Utf16Le);
        // FF FE before plain 8-bit text is not a BOM.
        assert_eq!(
            TextEncoding::detect(b"\xff\xfe token ghp_abc and more ASCII text here"),
            TextEncoding::Windows1252
        );
        assert_eq!(TextEncoding::detect(b"h\x00e\x00l\x00l\x00o\x00!\x00"), TextEncoding::Utf16Le);
        assert_eq!(TextEncoding::detect(b"\x00h\x00e\x00l\x00l\x00o\x00!"), TextEncoding::Utf16Be);
        assert_eq!(TextEncoding::detect(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"), TextEncoding::Binary);
        // A multi-byte character cut at the end of the head is still UTF-8.
        assert_eq!(TextEncoding::detect(b"caf\xc3"), TextEncoding::Utf8);
    }

    #[test]
    fn decoding_is_split_invariant() {
        let utf16: Vec<u8> = "\u{feff}SSN 536-22-8726 ü€".encode_utf16().flat_map(u16::to_le_bytes).collect();
        for split in [1, 2, 3, 7, 1000] {
            assert_eq!(run(TextEncoding::Utf16Le, &utf16, split), "SSN 536-22-8726 ü€".as_bytes());
            assert_eq!(run(TextEncoding::Windows1252, b"M\xfcller \x80", split), "Müller €".as_bytes());
            assert_eq!(run(TextEncoding::Utf8, b"\xEF\xBB\xBFab", split), b"ab");
            assert_eq!(run(TextEncoding::Utf8, b"\xEF\xBB", split), b"\xEF\xBB");
        }
    }

    #[test]
    fn strings_keep_offsets() {
        let input = b"\x00\x01AKIAQYLPMN5HHHFPZAM2\x00ab\x00abcd\x02";
        let lines = run(TextEncoding::Binary, b"\x01\nab\x02\nkeep\n", 1);
        assert_eq!(lines, b"\0\n\0\0\0\nkeep\n");
        for split in [1, 2, 5, 100] {
            let out = run(TextEncoding::Binary, input, split);
            assert_eq!(out.len(), input.len());
            assert_eq!(&out, b"\0\0AKIAQYLPMN5HHHFPZAM2\0\0\0\0abcd\0");
        }
    }
}
