#!/usr/bin/env bash
# Peak-memory check: scan one 2 GiB file and fail if dlp-worker's maximum resident set size
# reaches LIMIT_MIB (default 200 MiB).
#
# Usage: benches/memory.sh            (from any directory)
# Env:   SIZE_MB=2048      size of the generated file in MiB
#        BIG=FILE          file to scan (default corpora/generated/big.txt; generated if missing)
#        LIMIT_MIB=200     fail at or above this peak RSS
#        ENGINE=rust       dlp-worker --engine (hyperscan needs a build with --features hyperscan)
#        SKIP_BUILD=1      use the existing target/release/dlp-worker
#        DLP_WORKER=PATH   dlp-worker binary (default target/release/dlp-worker; implies no build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZE_MB="${SIZE_MB:-2048}"
BIG="${BIG:-corpora/generated/big.txt}"
LIMIT_MIB="${LIMIT_MIB:-200}"
ENGINE="${ENGINE:-rust}"
BIN="${DLP_WORKER:-$ROOT/target/release/dlp-worker}"
[ -n "${DLP_WORKER:-}" ] && SKIP_BUILD=1
TIME=/usr/bin/time
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dlp-memory.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

die() { echo "memory.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "$TIME (GNU time) is required: apt-get install time"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== cargo build --release -p dlp-worker" >&2
    cargo build --release -p dlp-worker >&2
fi
[ -x "$BIN" ] || die "$BIN not found (build failed or SKIP_BUILD=1 without a build)"

want=$((SIZE_MB * 1024 * 1024))
if [ ! -f "$BIG" ] || [ "$(stat -c %s "$BIG")" -ne "$want" ]; then
    echo "== generating $BIG (${SIZE_MB} MiB)" >&2
    mkdir -p "$(dirname "$BIG")"
    python3 corpora/generate.py big "$BIG.tmp" --size-mb "$SIZE_MB" >&2
    mv "$BIG.tmp" "$BIG"
fi
SIZE=$(stat -c %s "$BIG")

echo "== scanning $BIG ($SIZE bytes)" >&2
rc=0
"$TIME" -v -o "$WORK/time.txt" "$BIN" scan "$BIG" --engine "$ENGINE" --format jsonl --output /dev/null \
    2> "$WORK/stderr" || rc=$?
# dlp-worker exits 1 when it finds something (this file has findings): that is not a failure.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "memory.sh: dlp-worker exited $rc:" >&2
    tail -n 20 "$WORK/stderr" >&2
    exit 1
fi

rss_kb=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$WORK/time.txt")
[ -n "$rss_kb" ] || die "could not read 'Maximum resident set size' from /usr/bin/time -v"
rss_mib=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')

echo "dlp-worker scan ($ENGINE engine) of $SIZE bytes: peak RSS ${rss_mib} MiB (${rss_kb} KB), wall ${wall}, exit ${rc}"
if [ "$rss_kb" -ge $((LIMIT_MIB * 1024)) ]; then
    echo "FAIL: peak RSS ${rss_mib} MiB >= ${LIMIT_MIB} MiB" >&2
    exit 1
fi
echo "OK: peak RSS ${rss_mib} MiB < ${LIMIT_MIB} MiB"
