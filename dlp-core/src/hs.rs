//! The Hyperscan backend (cargo feature `hyperscan`): a thin safe layer over `hyperscan-sys`
//! and the translation of a pattern's syntax tree into Hyperscan's PCRE dialect.
//!
//! Hyperscan only generates candidates here: it reports every offset where a match of a
//! pattern ends, and the pure-Rust regex confirms each candidate in a small window before it.
//! A pattern Hyperscan cannot compile as written is compiled in prefilter mode (a superset of
//! its matches); one it cannot compile at all stays with the pure-Rust engine. Either way the
//! findings are the pure-Rust engine's.

use hyperscan_sys as ffi;
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr, CString};
use std::fmt::Write as _;
use std::ptr;

/// A compiled block-mode database. Immutable once built, so shareable between threads.
pub(crate) struct Database(*mut ffi::hs_database_t);

// SAFETY: Hyperscan databases are read-only after compilation; the library documents them as
// safe to use from many threads at once (each with its own scratch).
unsafe impl Send for Database {}
unsafe impl Sync for Database {}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: the pointer came from hs_compile_multi and is freed once.
        unsafe { ffi::hs_free_database(self.0) };
    }
}

/// Per-thread scratch space for one database.
pub(crate) struct Scratch(*mut ffi::hs_scratch_t);

// SAFETY: a scratch is used by one thread at a time (it lives in the engine's per-stream
// scratch, which is never shared), and may move between threads.
unsafe impl Send for Scratch {}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: the pointer came from hs_alloc_scratch and is freed once.
        unsafe { ffi::hs_free_scratch(self.0) };
    }
}

/// How a pattern went into the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// As written: Hyperscan reports exactly the pattern's match ends.
    Exact,
    /// Prefilter mode: Hyperscan reports the ends of a superset of its matches.
    Prefilter,
}

/// One pattern to compile: its engine id and syntax tree.
pub(crate) struct Expr<'a> {
    pub id: u32,
    pub hir: &'a Hir,
}

/// Whether this build can run Hyperscan on this CPU (it needs SSSE3 on x86-64).
pub(crate) fn platform_error() -> Option<String> {
    // SAFETY: no arguments; only inspects the CPU.
    let rc = unsafe { ffi::hs_valid_platform() };
    (rc != ffi::HS_SUCCESS as c_int).then(|| {
        format!("Hyperscan does not support this CPU (hs_valid_platform returned {rc}; it needs SSSE3)")
    })
}

/// Compiles `exprs` into one database. Patterns that fail as written are retried in
/// prefilter mode, and those that still fail are left out. Returns the database (`None` if no
/// pattern compiled), each compiled pattern's id and mode, and each left-out id with the
/// reason.
#[allow(clippy::type_complexity)]
pub(crate) fn compile(exprs: &[Expr<'_>]) -> (Option<Database>, Vec<(u32, Mode)>, Vec<(u32, String)>) {
    let mut items: Vec<(u32, CString, Mode)> = Vec::new();
    let mut left_out = Vec::new();
    for e in exprs {
        match CString::new(to_pcre(e.hir)) {
            Ok(s) => items.push((e.id, s, Mode::Exact)),
            Err(_) => left_out.push((e.id, "pattern text holds a NUL byte".to_string())),
        }
    }
    loop {
        if items.is_empty() {
            return (None, Vec::new(), left_out);
        }
        let texts: Vec<*const c_char> = items.iter().map(|(_, s, _)| s.as_ptr()).collect();
        let flags: Vec<c_uint> = items
            .iter()
            .map(|(_, _, m)| if *m == Mode::Prefilter { ffi::HS_FLAG_PREFILTER } else { 0 })
            .collect();
        let ids: Vec<c_uint> = items.iter().map(|(id, _, _)| *id).collect();
        let mut db = ptr::null_mut();
        let mut err = ptr::null_mut();
        let n = c_uint::try_from(items.len()).unwrap_or(c_uint::MAX);
        // SAFETY: the three arrays hold `n` elements and outlive the call; the strings are
        // NUL-terminated; db and err are valid out-pointers.
        let rc = unsafe {
            ffi::hs_compile_multi(
                texts.as_ptr(),
                flags.as_ptr(),
                ids.as_ptr(),
                n,
                ffi::HS_MODE_BLOCK,
                ptr::null(),
                &mut db,
                &mut err,
            )
        };
        if rc == ffi::HS_SUCCESS as c_int {
            let modes = items.iter().map(|(id, _, m)| (*id, *m)).collect();
            return (Some(Database(db)), modes, left_out);
        }
        let (message, index) = if err.is_null() {
            (format!("hs_compile_multi returned {rc}"), -1)
        } else {
            // SAFETY: on failure err points to a compile error until freed below.
            let (m, i) = unsafe {
                let e = &*err;
                let m = if e.message.is_null() {
                    String::from("unknown error")
                } else {
                    CStr::from_ptr(e.message).to_string_lossy().into_owned()
                };
                (m, e.expression)
            };
            // SAFETY: freed once.
            unsafe { ffi::hs_free_compile_error(err) };
            (m, i)
        };
        match usize::try_from(index).ok().filter(|&i| i < items.len()) {
            Some(i) if items[i].2 == Mode::Exact => items[i].2 = Mode::Prefilter,
            Some(i) => {
                let (id, _, _) = items.remove(i);
                left_out.push((id, message));
            }
            // Not specific to one pattern: nothing can be compiled.
            None => {
                left_out.extend(items.drain(..).map(|(id, _, _)| (id, message.clone())));
            }
        }
    }
}

impl Database {
    /// Allocates a scratch space for this database.
    pub(crate) fn alloc_scratch(&self) -> Result<Scratch, String> {
        let mut s = ptr::null_mut();
        // SAFETY: self.0 is a valid database; s is a valid out-pointer.
        let rc = unsafe { ffi::hs_alloc_scratch(self.0, &mut s) };
        if rc == ffi::HS_SUCCESS as c_int {
            Ok(Scratch(s))
        } else {
            Err(format!("hs_alloc_scratch returned {rc}"))
        }
    }

    /// Scans `data`, appending `(id, end offset)` for every match end Hyperscan reports.
    pub(crate) fn scan(
        &self,
        data: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<(u32, u32)>,
    ) -> Result<(), String> {
        let len = c_uint::try_from(data.len()).map_err(|_| "block over 4 GiB".to_string())?;
        // SAFETY: data is valid for len bytes; scratch belongs to this database and is used by
        // this thread only; `out` outlives the call and on_match only pushes to it.
        let rc = unsafe {
            ffi::hs_scan(
                self.0,
                data.as_ptr().cast(),
                len,
                0,
                scratch.0,
                Some(on_match),
                (out as *mut Vec<(u32, u32)>).cast(),
            )
        };
        if rc == ffi::HS_SUCCESS as c_int {
            Ok(())
        } else {
            Err(format!("hs_scan returned {rc}"))
        }
    }
}

unsafe extern "C" fn on_match(
    id: c_uint,
    _from: c_ulonglong,
    to: c_ulonglong,
    _flags: c_uint,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: ctx is the `out` vector passed to hs_scan, alive and unaliased for the call.
    let out = unsafe { &mut *ctx.cast::<Vec<(u32, u32)>>() };
    // Blocks are under 4 GiB (checked before the scan), so offsets fit.
    out.push((id, u32::try_from(to).unwrap_or(u32::MAX)));
    0
}

/// `hir` in Hyperscan's PCRE dialect, byte for byte (no UTF-8 mode, ASCII `\b`). Look-around
/// assertions Hyperscan lacks are dropped, which only widens the set of matches: fine for
/// candidates that the Rust regex confirms.
pub(crate) fn to_pcre(hir: &Hir) -> String {
    let mut out = String::new();
    write_pcre(hir, &mut out);
    out
}

fn write_byte(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() {
        out.push(char::from(b));
    } else {
        let _ = write!(out, "\\x{b:02x}");
    }
}

fn write_pcre(hir: &Hir, out: &mut String) {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(lit) => lit.0.iter().for_each(|&b| write_byte(out, b)),
        HirKind::Class(class) => {
            let mut ranges: Vec<(u8, u8)> = match class {
                Class::Bytes(c) => c.ranges().iter().map(|r| (r.start(), r.end())).collect(),
                Class::Unicode(c) => c
                    .ranges()
                    .iter()
                    .filter(|r| u32::from(r.start()) < 256)
                    .map(|r| {
                        let lo = u8::try_from(u32::from(r.start())).unwrap_or(u8::MAX);
                        let hi = u8::try_from(u32::from(r.end())).unwrap_or(u8::MAX);
                        (lo, hi)
                    })
                    .collect(),
            };
            ranges.sort_unstable();
            if ranges.is_empty() {
                // Matches nothing; Hyperscan has no empty class, so the pattern fails to
                // compile here and stays with the Rust engine.
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (a, b) in ranges {
                write_byte(out, a);
                if b > a {
                    out.push('-');
                    write_byte(out, b);
                }
            }
            out.push(']');
        }
        HirKind::Look(look) => match look {
            Look::Start => out.push_str("\\A"),
            Look::End => out.push_str("\\z"),
            Look::StartLF => out.push_str("(?m:^)"),
            Look::EndLF => out.push_str("(?m:$)"),
            Look::WordAscii | Look::WordUnicode => out.push_str("\\b"),
            Look::WordAsciiNegate | Look::WordUnicodeNegate => out.push_str("\\B"),
            // \b{start}, \b{end}, half boundaries and CRLF anchors: dropped (a superset).
            _ => {}
        },
        HirKind::Repetition(r) => {
            out.push_str("(?:");
            write_pcre(&r.sub, out);
            out.push(')');
            match (r.min, r.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (m, None) => {
                    let _ = write!(out, "{{{m},}}");
                }
                (m, Some(n)) if m == n => {
                    let _ = write!(out, "{{{m}}}");
                }
                (m, Some(n)) => {
                    let _ = write!(out, "{{{m},{n}}}");
                }
            }
        }
        HirKind::Capture(c) => {
            out.push_str("(?:");
            write_pcre(&c.sub, out);
            out.push(')');
        }
        HirKind::Concat(subs) => subs.iter().for_each(|s| write_pcre(s, out)),
        HirKind::Alternation(subs) => {
            out.push_str("(?:");
            for (i, s) in subs.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write_pcre(s, out);
            }
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(p: &str) -> Hir {
        regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(p).unwrap()
    }

    #[test]
    fn translation_is_byte_exact() {
        assert_eq!(to_pcre(&hir(r"\bghp_[A-Za-z0-9]{36}\b")), r"\bghp\x5f(?:[0-9A-Za-z]){36}\b");
        assert_eq!(to_pcre(&hir(r"(?i)akia")), r"[Aa][Kk][Ii][Aa]");
        assert_eq!(to_pcre(&hir(r"a(?P<value>b|c.)?")), r"a(?:(?:(?:b|c[\x00-\x09\x0b-\xff])))?");
    }

    #[test]
    fn reports_every_match_end_and_prefilters_what_it_cannot_compile() {
        let (a, b, c) = (hir(r"\b\d{3}-\d{2}\b"), hir(r"x{2,4}"), hir(r"[a-z]{1,3000}\b"));
        let exprs = [Expr { id: 7, hir: &a }, Expr { id: 9, hir: &b }, Expr { id: 11, hir: &c }];
        let (db, modes, left_out) = compile(&exprs);
        assert!(left_out.is_empty(), "{left_out:?}");
        assert!(modes.contains(&(7, Mode::Exact)) && modes.contains(&(9, Mode::Exact)), "{modes:?}");
        assert!(modes.iter().any(|&(id, _)| id == 11));
        let db = db.unwrap();
        let mut scratch = db.alloc_scratch().unwrap();
        let mut hits = Vec::new();
        db.scan(b"123-45 xxxx 1234-56", &mut scratch, &mut hits).unwrap();
        hits.retain(|h| h.0 != 11);
        hits.sort_unstable();
        assert_eq!(hits, vec![(7, 6), (9, 9), (9, 10), (9, 11)]);
    }
}
