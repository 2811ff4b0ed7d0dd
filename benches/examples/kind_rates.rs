//! Quick per-kind throughput of the full detector library, for profiling work between
//! criterion runs: best of `REPEAT` (default 3) passes per corpus kind, one core.
//!
//! `cargo run --release -p dlp-benches --example kind_rates [KIND…]`; with
//! `--features hyperscan` the Hyperscan engine runs beside the Rust one (findings must agree).

use dlp_benches::read_every_byte;
use dlp_core::{Engine, Scanner};
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
    let mut engines = vec![Engine::Rust];
    if Engine::HYPERSCAN_BUILT {
        engines.push(Engine::Hyperscan);
    }
    let mut scanners = Vec::new();
    for &e in &engines {
        let t = Instant::now();
        scanners.push(Scanner::builder().builtin()?.engine(e).build()?);
        println!("{e} engine: built in {:.2} s", t.elapsed().as_secs_f64());
    }
    if std::env::var_os("PLAN").is_some() {
        for (e, s) in engines.iter().zip(&scanners) {
            s.plan().iter().for_each(|l| println!("{e}: {l}"));
        }
    }
    print!("{:12} {:>8} {:>10}", "kind", "MB", "read MB/s");
    engines.iter().for_each(|e| print!(" {:>10} {:>9}", format!("{e} MB/s"), "vs read"));
    println!(" {:>10}", "findings");
    let (mut all_bytes, mut all_secs) = (0usize, vec![0f64; engines.len()]);
    for (kind, files) in dlp_benches::kinds() {
        if !only.is_empty() && !only.iter().any(|o| o == kind) {
            continue;
        }
        let total: usize = files.iter().map(Vec::len).sum();
        let mb = total as f64 / 1e6;
        let (read, _) = best_of(repeat, || files.iter().map(|f| read_every_byte(f)).sum());
        print!("{kind:12} {mb:8.1} {:10.1}", mb / read);
        let mut counts = Vec::new();
        for (i, scanner) in scanners.iter().enumerate() {
            let (secs, n) = best_of(repeat, || files.iter().map(|f| scanner.scan_bytes(f).len()).sum());
            print!(" {:10.1} {:9.4}", mb / secs, read / secs);
            all_secs[i] += secs;
            counts.push(n);
        }
        println!(" {:>10}", counts.iter().map(usize::to_string).collect::<Vec<_>>().join("/"));
        all_bytes += total;
    }
    print!("{:12} {:8.1} {:10}", "(together)", all_bytes as f64 / 1e6, "");
    all_secs.iter().for_each(|s| print!(" {:10.1} {:9}", all_bytes as f64 / 1e6 / s, ""));
    println!();
    Ok(())
}
