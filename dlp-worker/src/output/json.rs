//! One JSON document: `{"findings": [...], "coverage": {...}}`.

use super::{Coverage, Record};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct Document<'a> {
    findings: &'a [Record],
    coverage: &'a Coverage,
}

/// Writes the document for sorted `records`.
pub fn write(out: &mut dyn Write, records: &[Record], coverage: &Coverage) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Document { findings: records, coverage })?;
    out.write_all(b"\n")
}
