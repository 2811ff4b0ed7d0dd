//! Quick per-kind throughput of the full detector library, for profiling work between
//! criterion runs: best of `REPEAT` (default 3) passes per corpus kind, one core.
//!
//! `cargo run --release -p dlp-benches --example kind_rates [KIND…]`

use dlp_benches::read_every_byte;
use dlp_core::Scanner;
use std::hint::black_box;
use std::time::Instant;

fn best_of(repeat: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        n = black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let repeat = std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let scanner = Scanner::builder().builtin()?.build()?;
    if std::env::var_os("PLAN").is_some() {
        scanner.plan().iter().for_each(|l| println!("{l}"));
    }
    println!(
        "{:12} {:>10} {:>10} {:>12} {:>9} {:>10}",
        "kind", "MB", "MB/s", "read MB/s", "ratio", "findings"
    );
    let (mut all_bytes, mut all_secs) = (0usize, 0f64);
    for (kind, files) in dlp_benches::kinds() {
        if !only.is_empty() && !only.iter().any(|o| o == kind) {
            continue;
        }
        let total: usize = files.iter().map(Vec::len).sum();
        let (read, _) = best_of(repeat, || files.iter().map(|f| read_every_byte(f)).sum());
        let (secs, n) = best_of(repeat, || files.iter().map(|f| scanner.scan_bytes(f).len()).sum());
        let mb = total as f64 / 1e6;
        println!("{kind:12} {mb:10.1} {:10.1} {:12.1} {:9.4} {n:10}", mb / secs, mb / read, read / secs);
        all_bytes += total;
        all_secs += secs;
    }
    println!(
        "{:12} {:10.1} {:10.1}",
        "(together)",
        all_bytes as f64 / 1e6,
        all_bytes as f64 / 1e6 / all_secs
    );
    Ok(())
}
