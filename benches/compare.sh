#!/usr/bin/env bash
# Throughput comparison on the mixed benchmark corpus:
#   cat (plain read)  vs  ripgrep with the same detector regexes  vs  dlp-worker scan (and its
#   Hyperscan engine, when built with it),
# each single-threaded and with all cores. Prints one table.
#
# Usage: benches/compare.sh            (from any directory)
# Env:   SIZE_MB=64       corpus size when it has to be generated
#        CORPUS=DIR       scan this directory instead of corpora/generated/mixed
#        REPEAT=3         runs per command; the fastest (lowest wall time) is reported
#        SKIP_BUILD=1     use the existing target/release/dlp-worker
#        RG=PATH          ripgrep binary to use (default: rg on PATH, installed with cargo if missing)
#        DLP_WORKER=PATH  dlp-worker binary (default target/release/dlp-worker; implies no build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZE_MB="${SIZE_MB:-64}"
CORPUS="${CORPUS:-corpora/generated/mixed}"
REPEAT="${REPEAT:-3}"
BIN="${DLP_WORKER:-$ROOT/target/release/dlp-worker}"
[ -n "${DLP_WORKER:-}" ] && SKIP_BUILD=1
TIME=/usr/bin/time
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dlp-compare.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

die() { echo "compare.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "$TIME (GNU time) is required: apt-get install time"
command -v python3 >/dev/null || die "python3 is required"

# 1. Build ---------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # With libhs present, build the Hyperscan engine too, so its rows join the table.
    BUILD_FEATURES=()
    if pkg-config --exists libhs 2>/dev/null; then BUILD_FEATURES=(--features hyperscan); fi
    echo "== cargo build --release -p dlp-worker ${BUILD_FEATURES[*]}" >&2
    cargo build --release -p dlp-worker "${BUILD_FEATURES[@]}" >&2
fi
[ -x "$BIN" ] || die "$BIN not found (build failed or SKIP_BUILD=1 without a build)"

# 2. Corpus --------------------------------------------------------------------------------------
if [ ! -d "$CORPUS" ] || [ -z "$(ls -A "$CORPUS" 2>/dev/null)" ]; then
    echo "== generating $CORPUS (${SIZE_MB} MiB)" >&2
    python3 corpora/generate.py mixed "$CORPUS" --size-mb "$SIZE_MB" >&2
fi
mapfile -t FILES < <(find "$CORPUS" -type f | LC_ALL=C sort)
[ "${#FILES[@]}" -gt 0 ] || die "no files in $CORPUS"
BYTES=$(cat "${FILES[@]}" | wc -c)

# 3. ripgrep -------------------------------------------------------------------------------------
RG="${RG:-}"
if [ -z "$RG" ]; then
    if command -v rg >/dev/null; then
        RG="$(command -v rg)"
    else
        echo "== rg not found: cargo install ripgrep --locked" >&2
        cargo install ripgrep --locked >&2
        RG="${CARGO_HOME:-$HOME/.cargo}/bin/rg"
    fi
fi
[ -x "$RG" ] || die "ripgrep not found at $RG"

# Flags that make rg compare like for like: bytes with ASCII \b \d \w (--no-unicode), no BOM
# sniffing or transcoding (-E none), no binary-file heuristics (-a), no ignore files; larger regex
# and lazy-DFA limits so the full detector set compiles and is not starved of cache.
RG_FLAGS=()
for f in --no-unicode "--encoding=none" -a --no-ignore --no-config \
         "--regex-size-limit=1G" "--dfa-size-limit=1G"; do
    if "$RG" $f -c -e x /dev/null >/dev/null 2>&1 || [ $? -eq 1 ]; then
        RG_FLAGS+=("$f")
    else
        echo "note: this rg does not accept $f; running without it" >&2
    fi
done

# 4. Detector regexes -> rg patterns file -------------------------------------------------------
"$BIN" detectors list --format json > "$WORK/detectors.json" \
    || die "'dlp-worker detectors list --format json' failed"
python3 - "$WORK/detectors.json" "$WORK/all_patterns.txt" <<'PY'
import json, re, sys
dets = json.load(open(sys.argv[1]))
n_det = n_pat = skipped = 0
with open(sys.argv[2], "w") as out:
    for d in dets:
        n_det += 1
        for p in d.get("patterns", []):
            if "\n" in p or "\r" in p:  # a -f file holds one pattern per line
                skipped += 1
                print(f"note: skipping multi-line pattern of {d.get('id')}", file=sys.stderr)
                continue
            # rg joins -f patterns with '|' into one regex: named groups would collide
            # ("duplicate capture group name") and a leading (?i) could leak into later
            # alternatives, so make groups non-capturing and wrap each pattern in (?:...).
            p = re.sub(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", "(?:", p)
            out.write("(?:" + p + ")\n")
            n_pat += 1
print(f"== {n_det} detectors, {n_pat} patterns" + (f" ({skipped} skipped)" if skipped else ""),
      file=sys.stderr)
PY
# rg's line-oriented engine refuses some patterns (e.g. ones that can match a literal \n). If the
# whole set does not compile, keep only the patterns that compile on their own.
if "$RG" "${RG_FLAGS[@]}" -c -f "$WORK/all_patterns.txt" /dev/null >/dev/null 2>"$WORK/rg.err" \
   || [ $? -eq 1 ]; then
    cp "$WORK/all_patterns.txt" "$WORK/patterns.txt"
else
    echo "note: rg rejects the full pattern set ($(head -c 300 "$WORK/rg.err" | tr '\n' ' ')...);" \
         "testing patterns one by one" >&2
    : > "$WORK/patterns.txt"
    dropped=0
    while IFS= read -r p; do
        if "$RG" "${RG_FLAGS[@]}" -c -e "$p" /dev/null >/dev/null 2>&1 || [ $? -eq 1 ]; then
            printf '%s\n' "$p" >> "$WORK/patterns.txt"
        else
            dropped=$((dropped + 1))
            echo "note: rg cannot compile: $p" >&2
        fi
    done < "$WORK/all_patterns.txt"
    echo "note: $dropped pattern(s) left out of the rg runs" >&2
fi
[ -s "$WORK/patterns.txt" ] || die "no usable patterns for rg"
NPAT=$(wc -l < "$WORK/patterns.txt")

# 5. Timing --------------------------------------------------------------------------------------
NCPU=$(nproc)
echo "== corpus: $CORPUS, ${#FILES[@]} files, $BYTES bytes; $NCPU cores; $NPAT rg patterns;" \
     "best of $REPEAT" >&2
cat "${FILES[@]}" > /dev/null   # warm the page cache
cat "${FILES[@]}" > /dev/null

RESULTS="$WORK/results.tsv"
: > "$RESULTS"

# run LABEL OKCODES CMD...   (OKCODES: space-separated exit codes that count as success)
run() {
    local label="$1" ok="$2"; shift 2
    local best="" i rc line wall user sys rss
    for ((i = 1; i <= REPEAT; i++)); do
        rc=0
        "$TIME" -o "$WORK/time.out" -f '%e %U %S %M' "$@" > "$WORK/stdout" 2> "$WORK/stderr" || rc=$?
        if [[ " $ok " != *" $rc "* ]]; then
            echo "compare.sh: '$label' exited $rc:" >&2
            tail -n 20 "$WORK/stderr" >&2
            exit 1
        fi
        # GNU time prefixes "Command exited with non-zero status N" on failure: take the last line.
        line=$(tail -n 1 "$WORK/time.out")
        read -r wall user sys rss <<< "$line"
        if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
            best="$wall $user $sys $rss"
        fi
    done
    printf '%s\t%s\n' "$label" "$best" >> "$RESULTS"
    echo "   $label: $best (wall user sys rssKB)" >&2
}

run "cat" "0" cat "${FILES[@]}"
run "rg (1 thread)" "0 1" "$RG" "${RG_FLAGS[@]}" -c --threads 1 -f "$WORK/patterns.txt" "${FILES[@]}"
cp "$WORK/stdout" "$WORK/rg_counts.txt"
run "rg ($NCPU threads)" "0 1" "$RG" "${RG_FLAGS[@]}" -c -f "$WORK/patterns.txt" "${FILES[@]}"
# dlp-worker exits 1 when it finds something: that is success here.
run "dlp-worker (1 thread)" "0 1" env DLP_THREADS=1 "$BIN" scan "$CORPUS" --format jsonl --output /dev/null
run "dlp-worker ($NCPU threads)" "0 1" env -u DLP_THREADS "$BIN" scan "$CORPUS" --format jsonl --output /dev/null
# The Hyperscan engine, when this dlp-worker was built with it (same findings by design).
if "$BIN" scan --engine hyperscan --format jsonl - < /dev/null > /dev/null 2>&1; then
    run "dlp-worker hs (1 thread)" "0 1" env DLP_THREADS=1 "$BIN" scan "$CORPUS" --engine hyperscan --format jsonl --output /dev/null
    run "dlp-worker hs ($NCPU threads)" "0 1" env -u DLP_THREADS "$BIN" scan "$CORPUS" --engine hyperscan --format jsonl --output /dev/null
else
    echo "note: $BIN has no Hyperscan engine (build with --features hyperscan and libhyperscan-dev); no hs rows" >&2
fi

RG_LINES=$(awk -F: '{ s += $NF } END { print s + 0 }' "$WORK/rg_counts.txt")

# 6. Table ---------------------------------------------------------------------------------------
python3 - "$RESULTS" "$BYTES" "$NCPU" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
nbytes, ncpu = int(sys.argv[2]), int(sys.argv[3])
data = {}
for label, vals in rows:
    wall, user, sys_, rss = vals.split()
    data[label] = (float(wall), float(user) + float(sys_), int(rss))
dlp1 = data.get("dlp-worker (1 thread)")
dlpn = data.get(f"dlp-worker ({ncpu} threads)")
hs1 = data.get("dlp-worker hs (1 thread)")
mb = nbytes / 1e6
hdr = ("tool", "wall s", "CPU s", "MB/s wall", "MB/s/core", "peak RSS MiB", "wall vs dlp")
print(f"\ncorpus: {nbytes} bytes ({nbytes / 2**20:.1f} MiB); MB = 10^6 bytes; "
      "MB/s/core = bytes / (user+sys CPU s)")
print(f"{hdr[0]:<26}{hdr[1]:>9}{hdr[2]:>9}{hdr[3]:>11}{hdr[4]:>11}{hdr[5]:>14}{hdr[6]:>13}")
for label, (wall, cpu, rss) in data.items():
    ref = dlp1 if ("1 thread" in label or label == "cat") else dlpn
    ratio = f"{wall / ref[0]:.2f}x" if ref and ref[0] > 0 else "-"
    mbs = f"{mb / wall:.1f}" if wall > 0 else "inf"
    mbc = f"{mb / cpu:.1f}" if cpu > 0 else "inf"
    print(f"{label:<26}{wall:>9.2f}{cpu:>9.2f}{mbs:>11}{mbc:>11}{rss / 1024:>14.1f}{ratio:>13}")
print("\nwall vs dlp = tool wall time / dlp-worker wall time at the same thread count "
      "(cat and 1-thread rows vs dlp-worker 1 thread); < 1 means the tool is faster.")
if hs1 and dlp1:
    print(f"Hyperscan engine vs Rust engine, 1 thread: {dlp1[0] / hs1[0]:.2f}x the speed.")
PY
echo "rg: $NPAT patterns, $RG_LINES matching lines (rg -c counts lines, not matches;" \
     "it does no validation, hotwords or reporting)."
