#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60) with cargo-fuzz (libFuzzer).
# Seeds: the detector files for load_detectors, the demo folder for scan_stream, and the
# generated format and hostile corpora (corpora/formats.py, corpora/hostile.py) for the
# extraction targets (extract_walk, text_filters, ooxml, mail). Pass target names after
# SECONDS to run only those.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# it use the sanitizer flags. Not part of tests/run.sh: fuzzing is open-ended.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECONDS_PER_TARGET="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(scan_stream load_detectors extract_walk text_filters ooxml mail)
mkdir -p corpus/load_detectors corpus/scan_stream corpus/extract_walk corpus/text_filters corpus/ooxml corpus/mail
cp ../patterns/*.toml corpus/load_detectors/
find ../corpora/demo -type f -exec cp {} corpus/scan_stream/ \;
# Seeds for the extraction targets (needs the Python writer libraries; see corpora/README.md).
if [ ! -d seeds ]; then
    mkdir -p seeds
    python3 ../corpora/formats.py seeds/formats >/dev/null || echo "formats corpus not generated; seeding with demo files only"
    python3 ../corpora/hostile.py seeds/hostile >/dev/null || true
fi
find seeds -type f -size -200k ! -name expected.json -exec cp {} corpus/extract_walk/ \; 2>/dev/null || true
find ../corpora/demo -type f -exec cp {} corpus/extract_walk/ \;
cp seeds/formats/*.html seeds/formats/*.rtf seeds/formats/*.txt corpus/text_filters/ 2>/dev/null || true
(cd corpus/ooxml && unzip -o -q -j ../../seeds/formats/report.docx 'word/*.xml' 2>/dev/null) || true
cp seeds/formats/*.eml seeds/formats/*.mbox corpus/mail/ 2>/dev/null || true
for target in "${TARGETS[@]}"; do
    echo "== fuzzing $target for ${SECONDS_PER_TARGET}s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048
done
