//! A table for people: one row per finding, sorted by object and offset.

use super::Record;
use std::io::{self, Write};

/// Writes the table for sorted `records`.
pub fn write(out: &mut dyn Write, records: &[Record]) -> io::Result<()> {
    let rows: Vec<[String; 4]> = records
        .iter()
        .map(|r| {
            let line = r.location.line.map_or_else(String::new, |l| format!(":{l}"));
            // Members inside the object (`!`-joined, after its base name) and the PDF page.
            let base = r.object.rsplit('/').next().unwrap_or(&r.object);
            let members = r.location.path.strip_prefix(base).unwrap_or("");
            let page = r.location.page.map_or_else(String::new, |p| format!(" page {p}"));
            let value = match &r.quote {
                Some(q) => q.escape_debug().to_string(),
                None => r.redacted.clone(),
            };
            [
                format!("{}{members}{page}{line}", r.object),
                r.subtype
                    .as_ref()
                    .map_or_else(|| r.info_type.to_string(), |t| format!("{} ({t})", r.info_type)),
                r.likelihood.to_string(),
                value,
            ]
        })
        .collect();
    let header = ["LOCATION", "INFO_TYPE", "LIKELIHOOD", "VALUE"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
