#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60) with cargo-fuzz (libFuzzer).
# Seeds: the detector files for load_detectors, the demo folder for scan_stream.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# it use the sanitizer flags. Not part of tests/run.sh: fuzzing is open-ended.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECONDS_PER_TARGET="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/load_detectors corpus/scan_stream
cp ../patterns/*.toml corpus/load_detectors/
find ../corpora/demo -type f -exec cp {} corpus/scan_stream/ \;
for target in scan_stream load_detectors; do
    echo "== fuzzing $target for ${SECONDS_PER_TARGET}s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048
done
