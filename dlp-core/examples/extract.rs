//! Prints the text that extraction hands to the engine for each file given: one
//! `== path [page N]` header per text stream, then its text. Coverage notes go to stderr.
//! Exit code 1 if any note says a part was skipped or only partly read.
//!
//! `cargo run --release -p dlp-core --example extract -- FILE...`

use dlp_core::extract::{Extractor, Limits, Note, Part, Visitor};
use std::io::{Read, Write};

struct Print {
    name: String,
    notes: usize,
}

impl Visitor for Print {
    fn text(&mut self, part: &Part<'_>, text: &mut dyn Read) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        let mut path = self.name.clone();
        for m in part.members {
            path.push('!');
            path.push_str(m);
        }
        match part.page {
            Some(p) => writeln!(out, "== {path} [page {p}]")?,
            None => writeln!(out, "== {path}")?,
        }
        std::io::copy(text, &mut out)?;
        writeln!(out)
    }

    fn note(&mut self, note: Note) {
        self.notes += 1;
        eprintln!(
            "{}!{}: {} {} ({})",
            self.name,
            note.members.join("!"),
            note.status.name(),
            note.reason,
            note.detail
        );
    }
}

fn main() {
    let ex = Extractor::new(Limits::default());
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        let name = arg.rsplit('/').next().unwrap_or(&arg).to_string();
        let mut v = Print { name, notes: 0 };
        match std::fs::File::open(&arg) {
            Ok(mut f) => {
                if let Err(e) = ex.walk_file(&mut f, &arg, &mut v) {
                    eprintln!("{arg}: {e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("{arg}: {e}");
                failed = true;
            }
        }
        failed |= v.notes > 0;
    }
    std::process::exit(i32::from(failed));
}
