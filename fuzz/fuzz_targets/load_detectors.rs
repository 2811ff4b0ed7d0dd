//! Any text as a detector file: loading and compiling return a value or an error naming the
//! file; a scanner that builds scans its own definition without panicking.
#![no_main]

use dlp_core::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Scanner::builder().load_str("fuzz.toml", text).and_then(|b| b.build()) {
        Ok(scanner) => {
            let _ = scanner.scan_bytes(data);
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.toml"), "{e}"),
    }
});
