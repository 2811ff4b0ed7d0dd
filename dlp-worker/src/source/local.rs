//! Local targets: files, directories (recursive, following symbolic links), `file://` URLs
//! and `-` for stdin.

use super::filter::Filter;
use super::{Gate, Input, Job, Listed, ObjectRef};
use std::path::{Path, PathBuf};

/// Lists one target, calling `emit` for each object, filtered file, skip and error, in
/// file-name order. Stops early (returning false) when `emit` returns false (the consumer
/// has gone away).
pub fn list(
    target: &str,
    filter: &Filter,
    gate: &mut dyn FnMut(&ObjectRef) -> Gate,
    emit: &mut dyn FnMut(Listed) -> bool,
) -> bool {
    if target == "-" {
        let obj = ObjectRef { name: "stdin".into(), base_name: "stdin".into(), ..Default::default() };
        return emit(Listed::Object(Box::new(Job { obj, input: Input::Stdin })));
    }
    let path = match parse_target(target) {
        Ok(p) => p,
        Err(error) => return emit(Listed::Error { object: target.to_string(), error }),
    };
    let walker = walkdir::WalkDir::new(&path).follow_links(true).sort_by_file_name();
    for entry in walker {
        let keep_going = match entry {
            Ok(e) if e.file_type().is_dir() => true,
            Ok(e) if e.file_type().is_file() => {
                if accepts(filter, &path, &e) {
                    let job = job_for(e.path());
                    match gate(&job.obj) {
                        Gate::Scan => emit(Listed::Object(Box::new(job))),
                        Gate::Pass(reason) => emit(Listed::Passed(reason)),
                        Gate::Stop => return false,
                    }
                } else {
                    emit(Listed::Filtered)
                }
            }
            Ok(e) => emit(Listed::Skipped {
                object: display(e.path()),
                reason: "not_regular_file",
                detail: "not a regular file (device, socket or pipe)".into(),
            }),
            Err(e) => {
                let object = e.path().map_or_else(|| display(&path), display);
                emit(Listed::Error { object, error: walk_error(&e) })
            }
        };
        if !keep_going {
            return false;
        }
    }
    true
}

/// A path from a plain path or a `file://` URL; other URL schemes are refused with a reason.
fn parse_target(target: &str) -> Result<PathBuf, String> {
    if let Some(rest) = target.strip_prefix("file://") {
        let decoded = percent_decode(rest).ok_or_else(|| format!("{target:?} has a bad %-escape"))?;
        if !decoded.starts_with('/') {
            return Err(format!("{target:?}: file:// URLs need an absolute path, e.g. file:///data/exports"));
        }
        return Ok(PathBuf::from(decoded));
    }
    if let Some((scheme, _)) = target.split_once("://") {
        return Err(format!(
            "{scheme}:// is not a known URL scheme; give a path, a file:// URL, s3://, gs://, az:// or -"
        ));
    }
    Ok(PathBuf::from(target))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether the filters keep this file; globs see its path below the target directory (its
/// name when the target is the file itself).
fn accepts(filter: &Filter, root: &Path, e: &walkdir::DirEntry) -> bool {
    let rel = match e.path().strip_prefix(root) {
        Ok(r) if !r.as_os_str().is_empty() => display(r),
        _ => e.file_name().to_string_lossy().into_owned(),
    };
    if !filter.needs_metadata() {
        return filter.accepts(&rel, None, None);
    }
    // Unreadable metadata is not a reason to skip: the scan reports the read error.
    let meta = e.metadata().ok();
    let modified = meta.as_ref().and_then(|m| m.modified().ok()).map(chrono::DateTime::<chrono::Utc>::from);
    filter.accepts(&rel, meta.map(|m| m.len()), modified)
}

fn job_for(path: &Path) -> Job {
    let meta = std::fs::metadata(path).ok();
    let obj = ObjectRef {
        name: display(path),
        base_name: path.file_name().map_or_else(|| display(path), |n| n.to_string_lossy().into_owned()),
        key: display(path),
        size: meta.as_ref().map(|m| m.len()),
        last_modified: meta.and_then(|m| m.modified().ok()).map(chrono::DateTime::<chrono::Utc>::from),
        ..Default::default()
    };
    Job { obj, input: Input::File(path.to_path_buf()) }
}

/// A path for output; bytes that are not UTF-8 become U+FFFD.
pub fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn walk_error(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symbolic link loop back to {}; remove the link", display(ancestor));
    }
    if let Some(p) = e.path() {
        let is_link = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && std::fs::metadata(p).is_err() {
            let to = std::fs::read_link(p).map_or_else(|_| "?".into(), |t| display(&t));
            return format!("broken symbolic link to {to}; fix or remove the link");
        }
    }
    match e.io_error() {
        Some(io) if io.kind() == std::io::ErrorKind::NotFound => "no such file or directory".into(),
        Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user that can read it, or exclude it".into()
        }
        Some(io) => io.to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("a/b").unwrap(), PathBuf::from("a/b"));
        assert_eq!(parse_target("file:///tmp/a%20b").unwrap(), PathBuf::from("/tmp/a b"));
        assert!(parse_target("file://rel").unwrap_err().contains("absolute"));
        assert!(parse_target("ftp://x").unwrap_err().contains("not a known URL scheme"));
        assert!(parse_target("file:///%zz").is_err());
    }
}
