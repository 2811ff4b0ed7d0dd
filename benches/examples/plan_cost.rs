//! Where the time goes by search strategy: the builtin detectors grouped by how the engine
//! searches their patterns (`Scanner::plan`: anchored on literals, around hotwords, around
//! required literals, in digit windows, everywhere), each group scanned alone over each
//! corpus kind. A detector whose patterns use several strategies is in each of their groups.
//!
//! `cargo run --release -p dlp-benches --example plan_cost`

use dlp_core::Scanner;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kinds = dlp_benches::kinds();
    let full = Scanner::builder().builtin()?.build()?;
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in full.plan() {
        // "DETECTOR#n: strategy (details)" or "DETECTOR#n: strategy: literals"
        let Some((pattern, how)) = line.split_once(": ") else { continue };
        let detector = pattern.split('#').next().unwrap_or(pattern);
        let strategy = how.split([':', '(']).next().unwrap_or(how).trim();
        groups.entry(strategy.to_string()).or_default().insert(detector.to_string());
    }
    print!("{:18} {:>9}", "strategy", "detectors");
    for (kind, _) in &kinds {
        print!(" {kind:>10}");
    }
    println!("   (MB/s, one core)");
    for (strategy, ids) in &groups {
        let scanner = Scanner::builder().builtin()?.retain(|id| ids.contains(id)).build()?;
        print!("{strategy:18} {:>9}", ids.len());
        for (_, files) in &kinds {
            let total: usize = files.iter().map(Vec::len).sum();
            let t = Instant::now();
            let n: usize = files.iter().map(|f| scanner.scan_bytes(f).len()).sum();
            std::hint::black_box(n);
            print!(" {:>10.1}", total as f64 / t.elapsed().as_secs_f64() / 1e6);
        }
        println!();
    }
    Ok(())
}
