//! Compression (gzip, bzip2, xz, zstd) and archives (tar, zip), walked member by member.

use super::limits::{Compressed, Counted, Limit, Limited};
use super::{Flow, Kind, Reason, Status, Walk};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::rc::Rc;

/// Largest xz dictionary accepted (a hostile header could ask for 4 GiB).
const XZ_MEM_LIMIT_KIB: u32 = 256 * 1024;
/// Largest zstd window accepted.
const ZSTD_MAX_WINDOW: u64 = 128 * 1024 * 1024;
/// Largest dictionary (and header buffers) a 7z archive may ask for.
#[cfg(feature = "sevenz")]
const SEVENZ_MEM_LIMIT_KIB: usize = 256 * 1024;
/// Zips (and other random-access documents) inside other containers are spooled to memory
/// up to this size, then to a temporary file.
const SPOOL_IN_MEMORY: usize = 8 * 1024 * 1024;

impl Walk<'_> {
    /// A compressed stream: its content is one member.
    pub(super) fn decompress(&mut self, r: &mut dyn Read, kind: Kind, head: &[u8], depth: u32) -> Flow {
        let consumed = Rc::new(Cell::new(0));
        let counted = Counted { inner: r, count: consumed.clone() };
        let decoder: Box<dyn Read + '_> = match kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(counted, true, XZ_MEM_LIMIT_KIB)),
            _ => Box::new(MultiZstd { src: BufReader::new(counted), dec: None }),
        };
        let inner = inner_name(self.current_name(), kind, head);
        let budget = self.budget;
        let cap = (self.ex.limits.max_member_bytes, Limit::MemberBytes);
        let mut limited = Limited::new(decoder, budget, cap, true, Compressed::Consumed(consumed));
        self.member(&mut limited, inner, depth + 1, None)
    }

    /// A tar archive, streamed entry by entry.
    pub(super) fn tar(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        let mut archive = tar::Archive::new(r);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => return self.fail(e, false),
        };
        let mut count = 0u64;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let flow = self.fail(e, count > 0);
                    return flow;
                }
            };
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse()) {
                continue;
            }
            count += 1;
            if count > self.ex.limits.max_entries {
                return self.entries_limit();
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let size = entry.size();
            let cap = (self.ex.limits.max_member_bytes, Limit::MemberBytes);
            // The tar crate ends a truncated last entry early without an error.
            let exact = Exact { inner: &mut entry, left: size };
            let mut limited = Limited::new(exact, self.budget, cap, false, Compressed::None);
            if self.member(&mut limited, name, depth + 1, None) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    pub(super) fn entries_limit(&mut self) -> Flow {
        let max = self.ex.limits.max_entries;
        self.note(
            Status::Partial,
            Reason::Limit(Limit::Entries),
            format!("more than {max} members; the rest were not read"),
        );
        Flow::Continue
    }

    /// A zip inside another container: spooled (memory, then a temporary file) so that its
    /// central directory can be read, up to the member limit.
    pub(super) fn spooled_zip(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        match self.spool(r, "zip") {
            Some(mut spool) => self.zip(&mut spool, depth),
            None => Flow::Continue,
        }
    }

    /// Copies a stream into a seekable spool, up to the member limit.
    pub(super) fn spool(
        &mut self,
        r: &mut dyn Read,
        what: &str,
    ) -> Option<BufReader<tempfile::SpooledTempFile>> {
        let cap = self.ex.limits.max_member_bytes;
        let mut spool = tempfile::SpooledTempFile::new(SPOOL_IN_MEMORY);
        match io::copy(&mut r.take(cap + 1), &mut spool) {
            Ok(n) if n > cap => {
                self.note(
                    Status::Skipped,
                    Reason::Limit(Limit::MemberBytes),
                    format!("{what} larger than {cap} bytes inside another container is not opened"),
                );
                None
            }
            Ok(_) => match spool.rewind() {
                Ok(()) => Some(BufReader::new(spool)),
                Err(e) => {
                    self.note(Status::Skipped, Reason::Corrupt, format!("temporary file: {e}"));
                    None
                }
            },
            Err(e) => {
                self.fail(e, false);
                None
            }
        }
    }

    /// A 7z inside another container: spooled like a zip.
    #[cfg(feature = "sevenz")]
    pub(super) fn spooled_7z(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        match self.spool(r, "7z archive") {
            Some(mut spool) => self.sevenz(&mut spool, depth),
            None => Flow::Continue,
        }
    }

    /// A 7z archive through sevenz-rust2: one decoding thread, dictionaries capped, each entry
    /// a member. Encrypted archives (headers or data) are reported as encrypted.
    #[cfg(feature = "sevenz")]
    pub(super) fn sevenz<R: Read + Seek>(&mut self, rs: &mut R, depth: u32) -> Flow {
        use sevenz_rust2::{ArchiveReader, Error, Password};
        let opened = super::pdf::contain(|| {
            ArchiveReader::new_with_memory_limit(&mut *rs, Password::empty(), SEVENZ_MEM_LIMIT_KIB)
        });
        let mut reader = match opened {
            Ok(Ok(r)) => r,
            Ok(Err(Error::PasswordRequired | Error::MaybeBadPassword(_))) => {
                self.note(Status::Skipped, Reason::Encrypted, "password-protected 7z archive".into());
                return Flow::Continue;
            }
            Ok(Err(e)) => {
                self.note(Status::Skipped, Reason::Corrupt, format!("7z: {e}"));
                return Flow::Continue;
            }
            Err(panic) => {
                self.note(Status::Skipped, Reason::ParserCrash, format!("7z reader panicked: {panic}"));
                return Flow::Continue;
            }
        };
        reader.set_thread_count(1);
        let max_entries = self.ex.limits.max_entries;
        let cap = (self.ex.limits.max_member_bytes, Limit::MemberBytes);
        let (mut count, mut stop, mut too_many) = (0u64, false, false);
        let result = super::pdf::contain(|| {
            reader.for_each_entries(|entry, rd| {
                if entry.is_directory || !entry.has_stream {
                    return Ok(true);
                }
                count += 1;
                if count > max_entries {
                    too_many = true;
                    return Err(Error::Other("entry limit".into()));
                }
                let mut limited = Limited::new(rd, self.budget, cap, true, Compressed::None);
                if self.member(&mut limited, entry.name.clone(), depth + 1, None) == Flow::Stop {
                    stop = true;
                    return Err(Error::Other("stopped".into()));
                }
                // The rest of an entry left unread (a limit) is decoded and dropped, as solid
                // blocks must be.
                io::copy(&mut limited.inner, &mut io::sink())?;
                Ok(true)
            })
        });
        if stop {
            return Flow::Stop;
        }
        if too_many {
            return self.entries_limit();
        }
        match result {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(Error::PasswordRequired | Error::MaybeBadPassword(_))) => {
                self.note(Status::Skipped, Reason::Encrypted, "password-protected 7z entries".into());
                Flow::Continue
            }
            Ok(Err(e)) => {
                self.note(Status::Partial, Reason::Corrupt, format!("7z: {e}"));
                Flow::Continue
            }
            Err(panic) => {
                self.note(Status::Partial, Reason::ParserCrash, format!("7z reader panicked: {panic}"));
                Flow::Continue
            }
        }
    }

    /// A zip: an OOXML or ODF package, or a plain archive.
    pub(super) fn zip<R: Read + Seek>(&mut self, rs: &mut R, depth: u32) -> Flow {
        let mut archive = match zip::ZipArchive::new(&mut *rs) {
            Ok(a) => a,
            Err(e) => return self.zip_error(e, false),
        };
        if archive.index_for_name("[Content_Types].xml").is_some() {
            drop(archive);
            return self.ooxml(rs, depth);
        }
        if is_odf(&mut archive) {
            drop(archive);
            return self.odf(rs, depth);
        }
        if let Some(detail) = overlapping_entries(&mut archive) {
            self.note(Status::Skipped, Reason::Limit(Limit::Ratio), detail);
            return Flow::Continue;
        }
        self.zip_members(&mut archive, depth, |_| true)
    }

    /// Walks the members of a zip for which `wanted(name)` holds.
    pub(super) fn zip_members<R: Read + Seek>(
        &mut self,
        archive: &mut zip::ZipArchive<R>,
        depth: u32,
        wanted: impl Fn(&str) -> bool,
    ) -> Flow {
        let mut count = 0u64;
        for i in 0..archive.len() {
            let (name, encrypted, is_dir, compressed) = match archive.by_index_raw(i) {
                Ok(f) => (
                    f.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("entry-{}", i + 1)),
                    f.encrypted(),
                    f.is_dir(),
                    f.compression() != zip::CompressionMethod::Stored,
                ),
                Err(e) => {
                    self.path.push(format!("entry-{}", i + 1));
                    let flow = self.zip_error(e, false);
                    self.path.pop();
                    if flow == Flow::Stop {
                        return flow;
                    }
                    continue;
                }
            };
            if is_dir || !wanted(&name) {
                continue;
            }
            count += 1;
            if count > self.ex.limits.max_entries {
                return self.entries_limit();
            }
            if encrypted {
                self.path.push(name);
                self.note(Status::Skipped, Reason::Encrypted, "password-protected zip entry".into());
                self.path.pop();
                continue;
            }
            let flow = match archive.by_index(i) {
                Ok(mut file) => {
                    let declared = file.compressed_size();
                    let cap = (self.ex.limits.max_member_bytes, Limit::MemberBytes);
                    let ratio = if compressed { Compressed::Declared(declared) } else { Compressed::None };
                    let mut limited = Limited::new(&mut file, self.budget, cap, true, ratio);
                    self.member(&mut limited, name, depth + 1, None)
                }
                Err(e) => {
                    self.path.push(name);
                    let flow = self.zip_error(e, false);
                    self.path.pop();
                    flow
                }
            };
            if flow == Flow::Stop {
                return flow;
            }
        }
        Flow::Continue
    }

    pub(super) fn zip_error(&mut self, e: zip::result::ZipError, started: bool) -> Flow {
        match e {
            zip::result::ZipError::Io(io) => self.fail(io, started),
            zip::result::ZipError::UnsupportedArchive(msg)
                if msg == zip::result::ZipError::PASSWORD_REQUIRED =>
            {
                self.note(Status::Skipped, Reason::Encrypted, "password-protected zip entry".into());
                Flow::Continue
            }
            zip::result::ZipError::UnsupportedArchive(msg) => {
                self.note(Status::Skipped, Reason::Unsupported, format!("zip: {msg}"));
                Flow::Continue
            }
            other => {
                self.note(Status::Skipped, Reason::Corrupt, format!("zip: {other}"));
                Flow::Continue
            }
        }
    }

    /// An OLE2 compound file: a password-protected OOXML wrapper (reported as encrypted), an
    /// Excel 97–2003 workbook (read with calamine when built in), or another legacy Office file
    /// (printable runs only, reported as partial).
    pub(super) fn cfb(&mut self, r: &mut dyn Read, depth: u32) -> Flow {
        let Some(data) = self.read_bounded(r, "OLE2 compound file") else { return Flow::Continue };
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let has = |name: &str| memchr::memmem::find(&data, &utf16(name)).is_some();
        if has("EncryptedPackage") || has("EncryptionInfo") {
            self.note(Status::Skipped, Reason::Encrypted, "password-protected Office document".into());
            return Flow::Continue;
        }
        if has("Workbook") || has("Book") {
            if let Some(flow) = self.spreadsheet_bytes(&data, depth, false) {
                return flow;
            }
        }
        self.note(
            Status::Partial,
            Reason::Unsupported,
            "legacy Office binary (doc/ppt/msg): scanned for printable runs only".into(),
        );
        let mut filtered =
            super::decode::Filtered::new(&data[..], super::decode::TextEncoding::Binary.filter());
        self.text(&mut filtered, Kind::Cfb, None)
    }
}

/// ODF packages name their type in a `mimetype` member.
fn is_odf<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> bool {
    let Ok(file) = archive.by_name("mimetype") else { return false };
    let mut head = Vec::new();
    file.take(100).read_to_end(&mut head).is_ok() && head.starts_with(b"application/vnd.oasis.opendocument")
}

/// A zip whose entries' data overlap (several entries inflating the same bytes) is a
/// compression bomb of the "better zip bomb" kind; no honest zip writer produces one.
fn overlapping_entries<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Option<String> {
    let mut spans = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let Ok(f) = archive.by_index_raw(i) else { continue };
        let start = f.header_start();
        let end = f.data_start().unwrap_or(start).saturating_add(f.compressed_size());
        spans.push((start, end));
    }
    spans.sort_unstable();
    let overlaps = spans.windows(2).filter(|w| w[1].0 < w[0].1).count();
    (overlaps > 0).then(|| {
        format!(
            "{overlaps} of {} entries overlap others (a zip bomb); the archive was not extracted",
            spans.len()
        )
    })
}

/// The name of a compressed stream's content: the gzip header's file name when there is
/// one, else the container's name without its compression suffix.
fn inner_name(outer: &str, kind: Kind, head: &[u8]) -> String {
    if kind == Kind::Gzip {
        if let Some(name) = gzip_file_name(head) {
            return name;
        }
    }
    let base = outer.rsplit('/').next().unwrap_or(outer);
    let lower = base.to_ascii_lowercase();
    for (suffix, replacement) in [
        (".tgz", ".tar"),
        (".taz", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
        (".txz", ".tar"),
        (".tzst", ".tar"),
        (".gz", ""),
        (".gzip", ""),
        (".bz2", ""),
        (".xz", ""),
        (".zst", ""),
        (".zstd", ""),
        (".z", ""),
    ] {
        if lower.ends_with(suffix) && base.len() > suffix.len() {
            return format!("{}{replacement}", &base[..base.len() - suffix.len()]);
        }
    }
    base.to_string()
}

/// FNAME from a gzip member header (RFC 1952), without any directory part.
fn gzip_file_name(head: &[u8]) -> Option<String> {
    let flags = *head.get(3)?;
    if flags & 0x08 == 0 {
        return None;
    }
    let mut pos = 10;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*head.get(10)?, *head.get(11)?]) as usize;
        pos = 12 + xlen;
    }
    let rest = head.get(pos..)?;
    let end = memchr::memchr(0, rest)?;
    // FNAME is ISO 8859-1.
    let name: String = rest[..end].iter().map(|&b| b as char).collect();
    let name = name.rsplit(['/', '\\']).next().unwrap_or("").to_string();
    (!name.is_empty()).then_some(name)
}

/// Fails a stream that ends before its declared size.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("truncated: {} bytes missing", self.left),
            ));
        }
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

/// zstd frames one after another, each decoded as it streams.
struct MultiZstd<R: Read> {
    src: BufReader<R>,
    dec: Option<ruzstd::decoding::FrameDecoder>,
}

impl<R: Read> Read for MultiZstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(dec) = &mut self.dec {
                while dec.can_collect() == 0 && !dec.is_finished() {
                    dec.decode_blocks(&mut self.src, ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
                }
                let n = dec.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.dec = None;
            }
            if self.src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let mut dec = ruzstd::decoding::FrameDecoder::new();
            dec.set_max_window_size(ZSTD_MAX_WINDOW);
            dec.init(&mut self.src)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
            self.dec = Some(dec);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_names() {
        assert_eq!(inner_name("logs.tgz", Kind::Gzip, b""), "logs.tar");
        assert_eq!(inner_name("dir/notes.txt.bz2", Kind::Bzip2, b""), "notes.txt");
        assert_eq!(inner_name("x.ZST", Kind::Zstd, b""), "x");
        assert_eq!(inner_name("blob", Kind::Xz, b""), "blob");
        let mut gz = vec![0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3];
        gz.extend_from_slice(b"../dir/logs.json\0rest");
        assert_eq!(inner_name("a.gz", Kind::Gzip, &gz), "logs.json");
    }
}
