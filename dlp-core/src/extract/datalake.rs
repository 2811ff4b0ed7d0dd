//! Data-lake files: Parquet (record API of the `parquet` crate) and Avro object container
//! files (`apache-avro`). Both become tab-separated text with a header row of column names, so
//! the engine reports each value's `column` and 1-based `row` (record number).
//!
//! Records stream one at a time; Parquet needs random access, so a Parquet stream is first
//! copied to an anonymous temporary file (up to the object size limit).

use super::limits::Limit;
use super::{Flow, Kind, Reason, Status, Walk};
use std::io::{self, Read};

/// A reader that renders rows from a fallible iterator as tab-separated lines, after a header
/// line. Third-party iterators run with panics caught.
struct Rows<I> {
    rows: I,
    pending: super::decode::Pending,
    /// The header line, sent first.
    header: Option<Vec<u8>>,
    /// A panic ended the rows.
    broken: bool,
}

impl<I: Iterator<Item = Result<Vec<String>, String>>> Rows<I> {
    fn new(header: &[String], rows: I) -> Self {
        let mut line = Vec::new();
        push_line(&mut line, header.iter().map(String::as_str));
        Rows { rows, pending: Default::default(), header: Some(line), broken: false }
    }
}

fn push_line<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        super::push_cell(out, cell);
    }
    out.push(b'\n');
}

impl<I: Iterator<Item = Result<Vec<String>, String>>> Read for Rows<I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Rows { rows, pending, header, broken } = self;
        pending.read(buf, |out| {
            if let Some(line) = header.take() {
                *out = line;
                return Ok(true);
            }
            if *broken {
                return Ok(false);
            }
            match super::pdf::contain(|| rows.next()) {
                Ok(Some(Ok(cells))) => push_line(out, cells.iter().map(String::as_str)),
                Ok(Some(Err(e))) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                Ok(None) => return Ok(false),
                Err(panic) => {
                    *broken = true;
                    return Err(io::Error::other(format!("reader panicked: {panic}")));
                }
            }
            Ok(true)
        })
    }
}

fn parquet_cell(f: &parquet::record::Field) -> String {
    use parquet::record::Field;
    match f {
        Field::Null => String::new(),
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => String::from_utf8_lossy(b.data()).into_owned(),
        other => other.to_string(),
    }
}

fn avro_cell(v: &apache_avro::types::Value) -> String {
    use apache_avro::types::Value;
    match v {
        Value::Null => String::new(),
        Value::String(s) | Value::Enum(_, s) => s.clone(),
        Value::Bytes(b) | Value::Fixed(_, b) => String::from_utf8_lossy(b).into_owned(),
        Value::Union(_, inner) => avro_cell(inner),
        Value::Boolean(b) => b.to_string(),
        Value::Int(n) | Value::Date(n) => n.to_string(),
        Value::Long(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(f) => f.to_string(),
        other => serde_json::Value::try_from(other.clone())
            .map(|j| j.to_string())
            .unwrap_or_else(|_| format!("{other:?}")),
    }
}

impl Walk<'_> {
    /// A Parquet file: its rows as a table.
    pub(super) fn parquet(&mut self, r: &mut dyn Read, page: Option<u32>) -> Flow {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let mut file = match tempfile::tempfile() {
            Ok(f) => f,
            Err(e) => {
                self.note(Status::Skipped, Reason::Corrupt, format!("temporary file for Parquet: {e}"));
                return Flow::Continue;
            }
        };
        let cap = self.ex.limits.max_object_bytes;
        match io::copy(&mut r.take(cap + 1), &mut file) {
            Ok(n) if n > cap => {
                self.note(
                    Status::Skipped,
                    Reason::Limit(Limit::ObjectBytes),
                    "Parquet file larger than the object limit".into(),
                );
                return Flow::Continue;
            }
            Ok(_) => {}
            Err(e) => return self.fail(e, false),
        }
        let opened = super::pdf::contain(|| SerializedFileReader::new(file));
        let reader = match opened {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let reason = if e.to_string().to_ascii_lowercase().contains("encrypt") {
                    Reason::Encrypted
                } else {
                    Reason::Corrupt
                };
                self.note(Status::Skipped, reason, format!("Parquet: {e}"));
                return Flow::Continue;
            }
            Err(panic) => {
                self.note(Status::Skipped, Reason::ParserCrash, format!("Parquet reader panicked: {panic}"));
                return Flow::Continue;
            }
        };
        let header: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.path().parts().join("."))
            .collect();
        let iter = match reader.get_row_iter(None) {
            Ok(it) => it,
            Err(e) => {
                self.note(Status::Skipped, Reason::Corrupt, format!("Parquet: {e}"));
                return Flow::Continue;
            }
        };
        let rows = iter.map(|row| {
            row.map(|row| row.get_column_iter().map(|(_, f)| parquet_cell(f)).collect())
                .map_err(|e| format!("Parquet: {e}"))
        });
        self.text(&mut Rows::new(&header, rows), Kind::Parquet, page)
    }

    /// An Avro object container file: its records as a table (top-level fields as columns).
    pub(super) fn avro(&mut self, r: &mut dyn Read, page: Option<u32>) -> Flow {
        let opened = super::pdf::contain(|| apache_avro::Reader::new(r));
        let reader = match opened {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => {
                self.note(Status::Skipped, Reason::Corrupt, format!("Avro: {e}"));
                return Flow::Continue;
            }
            Err(panic) => {
                self.note(Status::Skipped, Reason::ParserCrash, format!("Avro reader panicked: {panic}"));
                return Flow::Continue;
            }
        };
        let header: Vec<String> = match reader.writer_schema() {
            apache_avro::Schema::Record(rec) => rec.fields.iter().map(|f| f.name.clone()).collect(),
            _ => vec!["value".into()],
        };
        let rows = reader.map(|v| match v {
            Ok(apache_avro::types::Value::Record(fields)) => {
                Ok(fields.iter().map(|(_, v)| avro_cell(v)).collect())
            }
            Ok(other) => Ok(vec![avro_cell(&other)]),
            Err(e) => Err(format!("Avro: {e}")),
        });
        self.text(&mut Rows::new(&header, rows), Kind::Avro, page)
    }
}
