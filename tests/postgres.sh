#!/usr/bin/env bash
# A PostgreSQL server for the state-store tests, on 127.0.0.1 (port DLP_EMU_PG_PORT, 5433),
# with database and user `dlp` (password `dlp`), data in tests/.run/pg.
#
# Usage: bash tests/postgres.sh start|stop|status   (from any directory)
#   start   installs Debian's postgresql if no initdb is found, creates the cluster on first
#           use, starts it unless it runs, waits until it answers, prints
#           `export DLP_TEST_POSTGRES=postgres://dlp:dlp@127.0.0.1:5433/dlp` and writes that
#           line to tests/.run/pg.env. PostgreSQL refuses to run as root: as root, the
#           cluster is owned by and run as the `postgres` user (created by the package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUN=$PWD/tests/.run
DATA=$RUN/pg
PORT=${DLP_EMU_PG_PORT:-5433}
URL="postgres://dlp:dlp@127.0.0.1:$PORT/dlp"

die() { echo "postgres.sh: $*" >&2; exit 1; }

pg_bin() {
    local d
    if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
}

as_owner() { # run a command as the cluster's owner
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

answers() { as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }

cmd_start() {
    BIN=$(pg_bin)
    if [ -z "$BIN" ]; then
        echo "== apt-get install postgresql" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        BIN=$(pg_bin)
        [ -n "$BIN" ] || die "no initdb after installing postgresql"
    fi
    mkdir -p "$RUN"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        # postgres must reach the data folder through every parent.
        d=$RUN
        while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
        [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
        pwfile=$(mktemp)
        echo dlp >"$pwfile"
        chmod 644 "$pwfile"
        as_owner "$BIN/initdb" -D "$DATA" -U dlp --pwfile="$pwfile" -A scram-sha-256 --no-sync >"$RUN/pg-initdb.log" 2>&1 \
            || { rm -f "$pwfile"; cat "$RUN/pg-initdb.log" >&2; die "initdb failed"; }
        rm -f "$pwfile"
    fi
    if ! answers; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $PORT -k $DATA -c fsync=off -c max_connections=200" start >/dev/null \
            || { tail -20 "$DATA/server.log" >&2; die "the server did not start"; }
    fi
    for _ in $(seq 100); do answers && break; sleep 0.2; done
    answers || die "the server does not answer on 127.0.0.1:$PORT"
    if ! PGPASSWORD=dlp "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U dlp -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dlp'" | grep -q 1; then
        PGPASSWORD=dlp "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U dlp -d postgres -qc "CREATE DATABASE dlp" >/dev/null
    fi
    echo "export DLP_TEST_POSTGRES=$URL" | tee "$RUN/pg.env"
}

cmd_stop() {
    BIN=$(pg_bin)
    [ -n "$BIN" ] && [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null || true
    rm -f "$RUN/pg.env"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) BIN=$(pg_bin); [ -n "$BIN" ] && answers && echo "postgres: up (127.0.0.1:$PORT)" || { echo "postgres: down"; exit 1; } ;;
    *) die "usage: bash tests/postgres.sh start|stop|status" ;;
esac
