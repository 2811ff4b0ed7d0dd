//! A table for people: one row per finding, sorted by object and offset.

use super::{sort, Coverage, Record, Sink};
use dlp_core::Scanner;
use std::io::{self, Write};

pub struct Table {
    out: Box<dyn Write + Send>,
    records: Vec<Record>,
}

impl Table {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Table { out, records: Vec::new() }
    }
}

impl Sink for Table {
    fn finding(&mut self, record: Record) -> io::Result<()> {
        self.records.push(record);
        Ok(())
    }

    fn finish(mut self: Box<Self>, _: &Coverage, _: &Scanner) -> io::Result<()> {
        sort(&mut self.records);
        let rows: Vec<[String; 4]> = self
            .records
            .iter()
            .map(|r| {
                let line = r.location.line.map_or_else(String::new, |l| format!(":{l}"));
                let value = match &r.quote {
                    Some(q) => q.escape_debug().to_string(),
                    None => r.redacted.clone(),
                };
                [format!("{}{line}", r.object), r.info_type.to_string(), r.likelihood.to_string(), value]
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
            writeln!(self.out, "{}", line.trim_end())?;
        }
        self.out.flush()
    }
}
