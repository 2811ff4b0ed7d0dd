//! Any bytes: scanning never panics, and streaming at a small chunk size (the first input
//! byte picks it) reports exactly what a one-shot scan reports.
#![no_main]

use dlp_core::{Likelihood, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn whole() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let b = Scanner::builder().builtin().expect("builtin detectors load");
        b.fingerprint_key(b"fuzz".to_vec()).min_likelihood(Likelihood::VeryUnlikely).build().expect("compile")
    })
}

fn chunked(size: usize) -> &'static Scanner {
    static S: OnceLock<Vec<Scanner>> = OnceLock::new();
    let all = S.get_or_init(|| {
        [1usize, 7, 64, 255, 4096]
            .iter()
            .map(|&c| {
                let b = Scanner::builder().builtin().expect("builtin detectors load");
                b.fingerprint_key(b"fuzz".to_vec())
                    .min_likelihood(Likelihood::VeryUnlikely)
                    .chunk_size(c)
                    .build()
                    .expect("compile")
            })
            .collect()
    });
    &all[size % all.len()]
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let key = |f: &dlp_core::Finding| (f.byte_start, f.byte_end, f.info_type.clone(), f.likelihood);
    let mut want: Vec<_> = whole().scan_bytes(rest).iter().map(key).collect();
    let mut got = Vec::new();
    chunked(usize::from(pick)).scan_reader(rest, |f| got.push(key(&f))).expect("slice reads succeed");
    want.sort();
    got.sort();
    assert_eq!(got, want);
});
