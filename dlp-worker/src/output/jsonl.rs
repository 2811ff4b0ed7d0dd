//! JSON Lines: one finding per line, written as it arrives.

use super::{Coverage, Record, Sink};
use dlp_core::Scanner;
use std::io::{self, Write};

pub struct Jsonl {
    out: Box<dyn Write + Send>,
}

impl Jsonl {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Jsonl { out }
    }
}

impl Sink for Jsonl {
    fn finding(&mut self, record: Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &record)?;
        self.out.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>, _: &Coverage, _: &Scanner) -> io::Result<()> {
        self.out.flush()
    }
}
