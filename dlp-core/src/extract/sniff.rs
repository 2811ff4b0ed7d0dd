//! Type detection by content: magic bytes first, then structure. A name is only a hint, used
//! where content cannot tell (CSV is text either way) and to name decompressed members.

/// Bytes of a stream's start that [`sniff`] looks at.
pub const HEAD: usize = 8192;

/// What a stream holds, as far as extraction is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// bzip2, possibly several streams.
    Bzip2,
    /// xz.
    Xz,
    /// Zstandard.
    Zstd,
    /// A zip file; OOXML, ODF and plain archives are told apart after opening it.
    Zip,
    /// A tar archive (POSIX ustar, GNU, or pre-POSIX with a valid header checksum).
    Tar,
    /// A 7-Zip archive.
    SevenZip,
    /// PDF.
    Pdf,
    /// An OLE2 compound file: legacy Office, or a password-protected OOXML wrapper.
    Cfb,
    /// Rich Text Format.
    Rtf,
    /// HTML.
    Html,
    /// One RFC 5322 mail message.
    Eml,
    /// A Unix mailbox of messages, each starting with a `From ` line.
    Mbox,
    /// Apache Parquet.
    Parquet,
    /// An Avro object container file.
    Avro,
    /// Text (UTF-8, UTF-16 or a legacy single-byte encoding), JSON, CSV, XML included: the
    /// engine reads table headers and keys itself.
    Text,
    /// Anything else: scanned for runs of printable characters, like `strings`.
    Binary,
}

impl Kind {
    /// A short lower-case name for coverage records.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::SevenZip => "7z",
            Kind::Pdf => "pdf",
            Kind::Cfb => "ole2",
            Kind::Rtf => "rtf",
            Kind::Html => "html",
            Kind::Eml => "eml",
            Kind::Mbox => "mbox",
            Kind::Parquet => "parquet",
            Kind::Avro => "avro",
            Kind::Text => "text",
            Kind::Binary => "binary",
        }
    }
}

/// Tells what `head` (a stream's first bytes, up to [`HEAD`]) is. `name` is the object's or
/// member's name, used only as a hint between kinds the bytes cannot tell apart.
pub fn sniff(head: &[u8], name: &str) -> Kind {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"\x1f\x8b\x08") {
        return Kind::Gzip;
    }
    if head.len() >= 10
        && starts(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && head[4..10] == *b"\x31\x41\x59\x26\x53\x59"
    {
        return Kind::Bzip2;
    }
    if starts(b"\xFD7zXZ\x00") {
        return Kind::Xz;
    }
    if starts(b"\x28\xB5\x2F\xFD") {
        return Kind::Zstd;
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Kind::Zip;
    }
    if starts(b"7z\xBC\xAF\x27\x1C") {
        return Kind::SevenZip;
    }
    if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Kind::Cfb;
    }
    if starts(b"PAR1") {
        return Kind::Parquet;
    }
    if starts(b"Obj\x01") {
        return Kind::Avro;
    }
    if memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Kind::Pdf;
    }
    if is_tar(head) {
        return Kind::Tar;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let trimmed = trim_start(text);
    if trimmed.starts_with(b"{\\rtf") {
        return Kind::Rtf;
    }
    if is_html(trimmed) {
        return Kind::Html;
    }
    if text.starts_with(b"From ") && is_mail_headers(after_line(text)) {
        return Kind::Mbox;
    }
    if is_mail_headers(text) {
        return Kind::Eml;
    }
    if super::decode::looks_binary(head) {
        return Kind::Binary;
    }
    let _ = name;
    Kind::Text
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn after_line(b: &[u8]) -> &[u8] {
    memchr::memchr(b'\n', b).map_or(&[][..], |i| &b[i + 1..])
}

/// A ustar magic at offset 257, or a first 512-byte header whose checksum is right (pre-POSIX
/// tar has no magic).
fn is_tar(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    let field = &head[148..156];
    let digits: Vec<u8> = field.iter().copied().filter(|b| (b'0'..=b'7').contains(b)).collect();
    if digits.is_empty() || head[0] == 0 {
        return false;
    }
    let Ok(stored) = u32::from_str_radix(std::str::from_utf8(&digits).unwrap_or("x"), 8) else {
        return false;
    };
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) })
        .sum();
    sum == stored
}

fn is_html(t: &[u8]) -> bool {
    let lower: Vec<u8> = t.iter().take(512).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return true;
    }
    if !lower.starts_with(b"<")
        || lower.starts_with(b"<?xml") && memchr::memmem::find(&lower, b"<html").is_none()
    {
        return false;
    }
    ["<html", "<head", "<body", "<!doctype html"]
        .iter()
        .any(|m| memchr::memmem::find(&lower, m.as_bytes()).is_some())
}

/// The stream starts with an RFC 5322 header block: its first line is a header, and at least
/// two of the first lines are headers that mail carries.
fn is_mail_headers(t: &[u8]) -> bool {
    const KNOWN: [&[u8]; 12] = [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"received",
        b"return-path",
        b"mime-version",
        b"message-id",
        b"delivered-to",
        b"content-type",
        b"reply-to",
        b"cc",
    ];
    let mut known = 0;
    for (i, line) in t.split(|&b| b == b'\n').take(40).enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // folded header
        }
        let Some(colon) = memchr::memchr(b':', line) else { return false };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
            return i > 0 && known >= 2;
        }
        if KNOWN.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            known += 1;
        }
    }
    known >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"\x1f\x8b\x08\x00", ""), Kind::Gzip);
        assert_eq!(sniff(b"BZh91AY&SY....", ""), Kind::Bzip2);
        assert_eq!(sniff(b"\xFD7zXZ\x00\x00", ""), Kind::Xz);
        assert_eq!(sniff(b"\x28\xB5\x2F\xFD..", ""), Kind::Zstd);
        assert_eq!(sniff(b"PK\x03\x04....", ""), Kind::Zip);
        assert_eq!(sniff(b"%PDF-1.7\n", ""), Kind::Pdf);
        assert_eq!(sniff(b"junk\n%PDF-1.4", ""), Kind::Pdf);
        assert_eq!(sniff(b"{\\rtf1\\ansi hello}", ""), Kind::Rtf);
        assert_eq!(sniff(b"  <!DOCTYPE html><p>x", ""), Kind::Html);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><a>x</a>", ""), Kind::Text);
        assert_eq!(sniff(b"name,email\nx,y\n", "a.csv"), Kind::Text);
        assert_eq!(sniff(b"{\"a\": 1}", ""), Kind::Text);
        assert_eq!(
            sniff(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00", ""),
            Kind::Binary
        );
    }

    #[test]
    fn mail() {
        let eml = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody";
        assert_eq!(sniff(eml, ""), Kind::Eml);
        let mbox = b"From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: x\n\nbody\n";
        assert_eq!(sniff(mbox, ""), Kind::Mbox);
        assert_eq!(sniff(b"From here on, text.\nMore text.\n", ""), Kind::Text);
        assert_eq!(sniff(b"Subject: only one header\n\nx", ""), Kind::Text);
    }

    #[test]
    fn tar_with_and_without_magic() {
        let mut h = vec![0u8; 512];
        h[..5].copy_from_slice(b"a.txt");
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(b"00000000005");
        h[156] = b'0';
        let sum: u32 =
            h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) }).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        assert_eq!(sniff(&h, ""), Kind::Tar);
        h[0] = b'b';
        assert_ne!(sniff(&h, ""), Kind::Tar);
    }
}
