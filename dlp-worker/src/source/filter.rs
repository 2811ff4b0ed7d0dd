//! Which listed objects to scan: include/exclude globs on the key (or the path below the
//! target directory), size bounds, and a modification-time floor. The same filters apply to
//! local folders and buckets.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// The filters of one run.
#[derive(Debug, Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    modified_since: Option<DateTime<Utc>>,
}

impl Filter {
    /// Builds the filters; globs use `*`, `**`, `?`, `[...]` and `{a,b}`, and match the
    /// object's path relative to the target (e.g. `reports/2026/q3.csv`). A glob without `/`
    /// matches the base name in any directory (`*.pdf`).
    pub fn new(
        include: &[String],
        exclude: &[String],
        min_size: Option<u64>,
        max_size: Option<u64>,
        modified_since: Option<DateTime<Utc>>,
    ) -> Result<Filter> {
        if let (Some(lo), Some(hi)) = (min_size, max_size) {
            if lo > hi {
                bail!("--min-size ({lo}) is larger than --max-size ({hi}); nothing would be scanned");
            }
        }
        Ok(Filter {
            include: glob_set(include, "--include")?,
            exclude: glob_set(exclude, "--exclude")?,
            min_size,
            max_size,
            modified_since,
        })
    }

    /// Whether an object at `relative` (its path below the target) passes. `size` and
    /// `modified` are checked when known.
    pub fn accepts(&self, relative: &str, size: Option<u64>, modified: Option<DateTime<Utc>>) -> bool {
        if let Some(inc) = &self.include {
            if !inc.is_match(relative) {
                return false;
            }
        }
        if let Some(exc) = &self.exclude {
            if exc.is_match(relative) {
                return false;
            }
        }
        if let Some(size) = size {
            if self.min_size.is_some_and(|lo| size < lo) || self.max_size.is_some_and(|hi| size > hi) {
                return false;
            }
        }
        match (self.modified_since, modified) {
            (Some(since), Some(m)) => m >= since,
            _ => true,
        }
    }

    /// Whether filters need each local file's size or modification time.
    pub fn needs_metadata(&self) -> bool {
        self.min_size.is_some() || self.max_size.is_some() || self.modified_since.is_some()
    }
}

fn glob_set(globs: &[String], flag: &str) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        // A glob without a slash names files in any directory, as in .gitignore.
        let full = if g.contains('/') { g.clone() } else { format!("**/{g}") };
        let glob = Glob::new(&full).with_context(|| format!("{flag} {g:?} is not a valid glob"))?;
        b.add(glob);
    }
    Ok(Some(b.build().with_context(|| format!("compiling the {flag} globs"))?))
}

/// Parses `--modified-since`: an RFC 3339 time (`2026-11-01T12:00:00Z`), a date
/// (`2026-11-01`, midnight UTC), or an age before now (`36h`, `7d`, `90m`, `2w`).
pub fn parse_since(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    parse_since_at(s, Utc::now())
}

fn parse_since_at(s: &str, now: DateTime<Utc>) -> std::result::Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad =
        || format!("{s:?} is not a time: give 2026-11-01, 2026-11-01T12:00:00Z, or an age like 36h or 7d");
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let age = n.checked_mul(secs_per).and_then(chrono::TimeDelta::try_seconds).ok_or_else(bad)?;
    now.checked_sub_signed(age).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(inc: &[&str], exc: &[&str]) -> Filter {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::new(&v(inc), &v(exc), None, None, None).unwrap()
    }

    #[test]
    fn globs() {
        let pdfs = f(&["*.pdf"], &[]);
        assert!(pdfs.accepts("a.pdf", None, None));
        assert!(pdfs.accepts("x/y/a.pdf", None, None));
        assert!(!pdfs.accepts("a.pdf.txt", None, None));
        let not_logs = f(&[], &["logs/**", "*.tmp"]);
        assert!(!not_logs.accepts("logs/2026/a.txt", None, None));
        assert!(!not_logs.accepts("x/b.tmp", None, None));
        assert!(not_logs.accepts("x/logs.txt", None, None));
        assert!(Filter::new(&["a[".into()], &[], None, None, None).is_err());
    }

    #[test]
    fn sizes_and_times() {
        let now = Utc::now();
        let since = now - chrono::TimeDelta::days(1);
        let flt = Filter::new(&[], &[], Some(10), Some(100), Some(since)).unwrap();
        assert!(flt.accepts("a", Some(10), Some(now)));
        assert!(!flt.accepts("a", Some(9), Some(now)));
        assert!(!flt.accepts("a", Some(101), Some(now)));
        assert!(!flt.accepts("a", Some(50), Some(since - chrono::TimeDelta::seconds(1))));
        assert!(Filter::new(&[], &[], Some(10), Some(5), None).is_err());
    }

    #[test]
    fn since() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s| parse_since_at(s, now).map(|d| d.to_rfc3339());
        assert_eq!(at("2026-11-01").unwrap(), "2026-11-01T00:00:00+00:00");
        assert_eq!(at("2026-11-01T10:00:00+02:00").unwrap(), "2026-11-01T08:00:00+00:00");
        assert_eq!(at("36h").unwrap(), "2026-11-29T00:00:00+00:00");
        assert_eq!(at("1w").unwrap(), "2026-11-23T12:00:00+00:00");
        assert!(at("yesterday").is_err());
        assert!(at("5y").is_err());
        assert!(at("99999999999999999d").is_err());
    }
}
