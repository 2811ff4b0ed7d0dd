//! The extraction walk through the library API: member paths, decoders, limits and coverage
//! notes, on inputs built here with the same crates' writers.

use dlp_core::extract::{Event, Extractor, Limits, Note, Reason, Status};
use dlp_core::Scanner;
use std::io::Write;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::builder().builtin().expect("builtin").build().expect("build"))
}

/// (member path, info type) of every finding, and every note.
fn walk(ex: &Extractor, data: &[u8], name: &str) -> (Vec<(String, String)>, Vec<Note>) {
    let (mut found, mut notes) = (Vec::new(), Vec::new());
    ex.scan(scanner(), &mut &data[..], name, |e| match e {
        Event::Finding { members, finding, .. } => {
            found.push((members.join("!"), finding.info_type.to_string()))
        }
        Event::Note(n) => notes.push(n),
    })
    .expect("reading a slice cannot fail");
    (found, notes)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *body).unwrap();
    }
    b.into_inner().unwrap()
}

const SSN: &[u8] = b"employee SSN 536-22-8726\n";

#[test]
fn compressed_and_archived_members_are_named_outer_first() {
    let ex = Extractor::new(Limits::default());
    let inner = tar(&[("hr/a.txt", SSN), ("hr/b.txt", b"nothing here\n")]);
    let (found, notes) = walk(&ex, &gzip(&inner), "backup.tgz");
    assert_eq!(found, [("backup.tar!hr/a.txt".to_string(), "US_SOCIAL_SECURITY_NUMBER".to_string())]);
    assert!(notes.is_empty(), "{notes:?}");

    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(SSN).unwrap();
    let (found, _) = walk(&ex, &bz.finish().unwrap(), "notes.txt.bz2");
    assert_eq!(found[0].0, "notes.txt");

    // Two zstd frames back to back are one stream.
    let mut zst =
        ruzstd::encoding::compress_to_vec(&b"first frame\n"[..], ruzstd::encoding::CompressionLevel::Fastest);
    zst.extend(ruzstd::encoding::compress_to_vec(SSN, ruzstd::encoding::CompressionLevel::Fastest));
    let (found, notes) = walk(&ex, &zst, "two.txt.zst");
    assert_eq!(found.len(), 1, "{found:?} {notes:?}");
}

#[test]
fn a_truncated_tar_entry_is_partial_and_its_start_is_scanned() {
    let ex = Extractor::new(Limits::default());
    let mut body = SSN.to_vec();
    body.extend(std::iter::repeat_n(b'x', 4000));
    let mut t = tar(&[("a.txt", &body)]);
    t.truncate(512 + 1000); // the header and the first 1000 bytes of the entry
    let (found, notes) = walk(&ex, &t, "cut.tar");
    assert_eq!(found, [("a.txt".to_string(), "US_SOCIAL_SECURITY_NUMBER".to_string())]);
    assert!(
        notes
            .iter()
            .any(|n| n.members == ["a.txt"] && n.status == Status::Partial && n.reason == Reason::Corrupt),
        "{notes:?}"
    );
}

#[test]
fn utf16_and_windows_1252_text_is_decoded() {
    let ex = Extractor::new(Limits::default());
    let utf16: Vec<u8> = "Müller SSN 536-22-8726\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let (found, _) = walk(&ex, &utf16, "be.txt");
    assert_eq!(found.len(), 1);
    let (found, _) = walk(&ex, b"M\xfcller \x80 SSN 536-22-8726\n", "latin.txt");
    assert_eq!(found.len(), 1);
}

#[test]
fn deeply_nested_mail_is_refused_before_the_parser_sees_it() {
    let ex = Extractor::new(Limits::default());
    let mut msg = Vec::new();
    for _ in 0..1500 {
        msg.extend_from_slice(
            b"From: a@example.org\r\nTo: b@example.org\r\nContent-Type: message/rfc822\r\n\r\n",
        );
    }
    msg.extend_from_slice(b"From: a@example.org\r\nTo: b@example.org\r\n\r\nSSN 536-22-8726\r\n");
    let (_, notes) = walk(&ex, &msg, "deep.eml");
    assert!(
        notes.iter().any(
            |n| n.reason == Reason::Limit(dlp_core::extract::Limit::Depth) && n.status == Status::Skipped
        ),
        "{notes:?}"
    );
}

#[test]
fn member_and_depth_limits_are_reported_with_their_names() {
    let limits = Limits { max_member_bytes: 1000, max_depth: 1, ..Limits::default() };
    let ex = Extractor::new(limits);
    let mut big = SSN.to_vec();
    big.extend(std::iter::repeat_n(b'y', 5000));
    let (found, notes) = walk(&ex, &tar(&[("big.txt", &big)]), "a.tar");
    assert_eq!(found.len(), 1, "the first 1000 bytes are scanned");
    assert!(
        notes.iter().any(|n| n.reason == Reason::Limit(dlp_core::extract::Limit::MemberBytes)),
        "{notes:?}"
    );
    // A tar inside a gzip inside... depth 2 > 1.
    let (found, notes) = walk(&ex, &gzip(&tar(&[("a.txt", SSN)])), "a.tgz");
    assert!(found.is_empty());
    assert!(notes.iter().any(|n| n.reason == Reason::Limit(dlp_core::extract::Limit::Depth)), "{notes:?}");
}
