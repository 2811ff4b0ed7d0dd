#!/usr/bin/env bash
# Fan-out throughput: one `sweep --enqueue-sqs` of a moto bucket, scanned by 1, 2 and 3
# `listen --sqs` worker processes sharing a PostgreSQL state store. For each worker count:
# a fresh database and queue, the sweep, then the workers until every object is recorded.
# Prints one table: workers, seconds from the sweep's start to the last record, objects/s,
# and the speed-up over one worker.
#
# Usage: benches/fanout.sh            (from any directory; starts moto and PostgreSQL with
#                                      tests/emulators.sh and tests/postgres.sh)
# Env:   OBJECTS=5000     objects in the bucket (200 B to 4 KiB of text, every 10th with a card)
#        WORKERS="1 2 3"  worker counts to run
#        BATCH=50         objects per work item
#        DLP_WORKER=PATH  dlp-worker binary (default target/release/dlp-worker, built if missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OBJECTS="${OBJECTS:-5000}"
WORKERS="${WORKERS:-1 2 3}"
BATCH="${BATCH:-50}"
BIN="${DLP_WORKER:-$ROOT/target/release/dlp-worker}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dlp-fanout.XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$BIN" ]; then
    echo "== cargo build --release -p dlp-worker" >&2
    cargo build --release -p dlp-worker >&2
fi
bash tests/emulators.sh start >&2
bash tests/postgres.sh start >&2
# shellcheck disable=SC1091
source tests/.run/env
# shellcheck disable=SC1091
source tests/.run/pg.env
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$DLP_TEST_S3" XDG_DATA_HOME="$WORK/data" XDG_CONFIG_HOME="$WORK/config"
export AWS_CONFIG_FILE=/nonexistent/aws-config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials
unset AWS_SESSION_TOKEN AWS_PROFILE

BUCKET="fanout-bench-$$"
python3 tests/stores.py many s3 "$BUCKET" "$OBJECTS" --seed 9 >&2
count() { psql "$1" -At -c "SELECT COUNT(*) FROM objects WHERE outcome <> 'error'"; }

printf '%-8s %10s %10s %9s\n' workers seconds objects/s speed-up
base=""
for w in $WORKERS; do
    db_name="fanout_bench_${$}_$w"
    psql "$DLP_TEST_POSTGRES" -qc "DROP DATABASE IF EXISTS $db_name" -c "CREATE DATABASE $db_name" >/dev/null
    db="${DLP_TEST_POSTGRES%/*}/$db_name"
    queue=$(python3 tests/stores.py queue s3 "fanout-bench-$$-$w" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queue_url"])')
    start=$(date +%s.%N)
    "$BIN" sweep "s3://$BUCKET" --state "$db" --enqueue-sqs "$queue" --enqueue-batch "$BATCH" -q >/dev/null 2>"$WORK/sweep.log" \
        || { cat "$WORK/sweep.log" >&2; exit 1; }
    PIDS=()
    for i in $(seq 1 "$w"); do
        "$BIN" listen --sqs "$queue" --state "$db" --wait 1 -o /dev/null "s3://$BUCKET" 2>"$WORK/worker-$w-$i.log" &
        PIDS+=($!)
    done
    deadline=$(( $(date +%s) + 600 ))
    while [ "$(count "$db")" -lt "$OBJECTS" ]; do
        if [ "$(date +%s)" -gt "$deadline" ]; then
            tail -5 "$WORK"/worker-"$w"-*.log >&2
            echo "fanout.sh: $w workers did not record $OBJECTS objects in 600 s" >&2
            exit 1
        fi
        sleep 0.1
    done
    end=$(date +%s.%N)
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    secs=$(python3 -c "print(f'{$end - $start:.1f}')")
    rate=$(python3 -c "print(f'{$OBJECTS / ($end - $start):.0f}')")
    [ -z "$base" ] && base=$rate
    speedup=$(python3 -c "print(f'{$rate / $base:.2f}x')")
    printf '%-8s %10s %10s %9s\n' "$w" "$secs" "$rate" "$speedup"
    psql "$DLP_TEST_POSTGRES" -qc "DROP DATABASE IF EXISTS $db_name" >/dev/null
done
