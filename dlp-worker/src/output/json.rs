//! One JSON document: `{"findings": [...], "coverage": {...}}`.

use super::{sort, Coverage, Record, Sink};
use dlp_core::Scanner;
use serde::Serialize;
use std::io::{self, Write};

pub struct Json {
    out: Box<dyn Write + Send>,
    records: Vec<Record>,
}

impl Json {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Json { out, records: Vec::new() }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    findings: &'a [Record],
    coverage: &'a Coverage,
}

impl Sink for Json {
    fn finding(&mut self, record: Record) -> io::Result<()> {
        self.records.push(record);
        Ok(())
    }

    fn finish(mut self: Box<Self>, coverage: &Coverage, _: &Scanner) -> io::Result<()> {
        sort(&mut self.records);
        serde_json::to_writer_pretty(&mut self.out, &Document { findings: &self.records, coverage })?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
