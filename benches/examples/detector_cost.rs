//! Time each builtin detector alone over a corpus, to see where scanning time goes.
//!
//! `cargo run --release -p dlp-benches --example detector_cost [DIR]`
//! (default DIR: corpora/generated/mixed; generate it with corpora/generate.py).

use dlp_core::Scanner;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "corpora/generated/mixed".into());
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.is_file() {
            files.push(std::fs::read(&p)?);
        }
    }
    let total: usize = files.iter().map(Vec::len).sum();
    let all = Scanner::builder().builtin()?.build()?;
    let mut rows = Vec::new();
    for s in all.detectors() {
        let text = format!("[[detector]]\n{}", toml::to_string(&s.spec)?);
        let one = Scanner::builder().load_str(&s.source, &text)?.build()?;
        let t = Instant::now();
        let n: usize = files.iter().map(|f| one.scan_bytes(f).len()).sum();
        rows.push((t.elapsed().as_secs_f64(), s.spec.id.clone(), n));
    }
    let t = Instant::now();
    let n: usize = files.iter().map(|f| all.scan_bytes(f).len()).sum();
    let all_secs = t.elapsed().as_secs_f64();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("{:44} {:>8} {:>10} {:>9}", "detector", "seconds", "MB/s", "findings");
    for (secs, id, n) in rows {
        println!("{id:44} {secs:8.3} {:10.1} {n:9}", total as f64 / secs / 1e6);
    }
    println!(
        "{:44} {all_secs:8.3} {:10.1} {n:9}",
        "(all together, scan_bytes)",
        total as f64 / all_secs / 1e6
    );
    let t = Instant::now();
    let mut n = 0;
    for f in &files {
        all.scan_reader(&f[..], |_| n += 1)?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!("{:44} {secs:8.3} {:10.1} {n:9}", "(all together, scan_reader)", total as f64 / secs / 1e6);
    Ok(())
}
