#!/usr/bin/env bash
# Smoke test of the Lambda bootstraps under `cargo lambda watch`, the runtime
# emulator the team runs functions in locally. The end-to-end test
# (tests/e2e/ingest_path.rs) calls the handlers as library functions; this runs the
# real `poller`, `ingester`, `dlq-redrive`, `catalog-trigger` and `sla-monitor` binaries, each in the Lambda runtime
# loop, with their configuration from the environment, against a moto server, and invokes
# them with the sample events in events/ through `cargo lambda invoke`. It
# proves what the library test cannot: the bootstrap (main.rs), reading the
# environment at cold start, the event as Lambda serialises it, and the
# response or error as Lambda returns it.
#
#   bash scripts/lambda_smoke.sh      # scripts/test.sh runs it after the cargo tests
#
# Needs the test venv with moto ($TRIBUTARY_CACHE_DIR/venv, made by scripts/test.sh);
# installs cargo-lambda (pinned in scripts/requirements-lambda.txt) into its own venv.
# Builds go to $CARGO_TARGET_DIR, the test script's, and reuse what `cargo test
# --workspace` compiled: after it, only the functions' binaries are compiled and linked.
# That is why the functions are not started by `cargo lambda watch` itself: it builds them with
# `cargo run --bin`, without the dev-dependencies' features (tokio's `process`, shared's
# `embedded-ftp`, ...), which compiles tokio, hyper and the whole AWS SDK a second time
# (+12 minutes on 2 cores from a cold cache). Instead watch runs with --only-lambda-apis
# (the runtime API emulator and the invoke endpoint, no cargo) and this script starts
# the binaries, built with the test build's features, attached to it as Lambda would.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE_DIR=${TRIBUTARY_CACHE_DIR:-$HOME/.cache/tributary}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
VENV=$CACHE_DIR/venv
LAMBDA_VENV=$CACHE_DIR/venv-lambda
CARGO_LAMBDA_VERSION=$(sed -n 's/^cargo-lambda==//p' scripts/requirements-lambda.txt)

# The functions get their configuration from the env file this script writes, and from
# nothing else: no AWS_* or TRIBUTARY_* variable of the caller's reaches them.
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(AWS|TRIBUTARY)_' || true)

started=$SECONDS
say() { printf 'lambda_smoke: %s\n' "$*"; }
fail() {
    printf 'lambda_smoke: FAILED: %s\n' "$*" >&2
    exit 1
}

# --- Tools -------------------------------------------------------------------------
command -v cargo >/dev/null || fail "cargo is required (https://rustup.rs)"
command -v python3 >/dev/null || fail "python3 is required (apt-get install python3 python3-venv)"
command -v curl >/dev/null || fail "curl is required (apt-get install curl)"
command -v setsid >/dev/null || fail "setsid is required (apt-get install util-linux)"
[[ -x $VENV/bin/moto_server && -x $VENV/bin/python ]] \
    || fail "moto is required in $VENV: run scripts/test.sh once, or
    python3 -m venv $VENV && $VENV/bin/pip install -r scripts/requirements-test.txt"
PYTHON=$VENV/bin/python
if [[ ! -x $LAMBDA_VENV/bin/python ]]; then
    python3 -m venv "$LAMBDA_VENV" || fail "could not create $LAMBDA_VENV (apt-get install python3-venv)"
fi
"$LAMBDA_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-lambda.txt \
    || fail "could not install cargo-lambda: $LAMBDA_VENV/bin/pip install -r scripts/requirements-lambda.txt"
# cargo finds `cargo lambda` as cargo-lambda on PATH.
export PATH=$LAMBDA_VENV/bin:$PATH
version=$(cargo lambda --version) || fail "\`cargo lambda --version\` does not run (is $LAMBDA_VENV/bin/cargo-lambda executable?)"
[[ $version == "cargo-lambda $CARGO_LAMBDA_VERSION "* ]] \
    || fail "expected cargo-lambda $CARGO_LAMBDA_VERSION, found: $version"
say "$version"

# --- Processes, cleaned up on any exit ----------------------------------------------
WORK=$(mktemp -d)
groups=() # process groups we started (moto, each watch), stopped on exit
cleanup() {
    local status=$?
    for group in "${groups[@]}"; do
        kill -TERM -- "-$group" 2>/dev/null || true
    done
    for group in "${groups[@]}"; do
        for _ in {1..50}; do
            kill -0 -- "-$group" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$group" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in a session (and process group) of its own, logging to $log;
# the group's id is the new process's PID.
start() {
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 </dev/null &
    groups+=("$!")
    last_pid=$!
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $probe (a command) succeeds while process $pid lives.
wait_until() {
    local what=$1 probe=$2 pid=$3 log=$4 seconds=$5
    local deadline=$((SECONDS + seconds))
    until eval "$probe" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || fail "$what exited before answering; its log:
$(cat "$log")"
        ((SECONDS < deadline)) || fail "$what did not answer within ${seconds}s; its log:
$(cat "$log")"
        sleep 0.2
    done
}

# --- Builds: the functions and the helper that makes the AWS resources
# (tests/examples/lambda_smoke_aws.rs), with the targets `cargo test --workspace` selects
# (bins, tests, examples): the dev-dependencies are in the build, so every dependency
# is compiled with the features the tests compiled it with, and is reused. Right after
# the tests this compiles the function crates (their bins) and nothing else; cargo prints
# what it compiles. (--all-targets would add the benchmark.)
say "building the functions and the helper in $CARGO_TARGET_DIR"
build_started=$SECONDS
cargo build --locked --workspace --bins --tests --examples
POLLER=$CARGO_TARGET_DIR/debug/poller
INGESTER=$CARGO_TARGET_DIR/debug/ingester
DLQ_REDRIVE=$CARGO_TARGET_DIR/debug/dlq-redrive
CATALOG_TRIGGER=$CARGO_TARGET_DIR/debug/catalog-trigger
SLA_MONITOR=$CARGO_TARGET_DIR/debug/sla-monitor
HELPER=$CARGO_TARGET_DIR/debug/examples/lambda_smoke_aws
say "built in $((SECONDS - build_started))s"

# --- moto and the resources ---------------------------------------------------------
MOTO_PORT=$(free_port)
start "$WORK/moto.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
wait_until moto_server "curl --silent --output /dev/null --max-time 2 http://127.0.0.1:$MOTO_PORT/moto-api/data.json" \
    "$last_pid" "$WORK/moto.log" 30

aws_env=(
    AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
    AWS_REGION=us-east-1
    AWS_ACCESS_KEY_ID=testing
    AWS_SECRET_ACCESS_KEY=testing
)
{
    printf '%s\n' "${aws_env[@]}"
    env "${aws_env[@]}" "$HELPER" resources || fail "could not create the AWS resources on moto"
    echo RUST_LOG=info
    echo TRIBUTARY_S3_PATH_STYLE=true
    # Read the registry at every invocation: one is pushed half-way through.
    echo TRIBUTARY_REGISTRY_TTL_SECS=0
    echo TRIBUTARY_SMOKE_FTP_PASSWORD=smoke
} >"$WORK/functions.env"
say "moto on port $MOTO_PORT with the table, bucket, queues and topic"

# --- cargo lambda watch and the functions -------------------------------------------
# start_watch NAME: starts `cargo lambda watch --only-lambda-apis` (it builds and starts
# nothing); sets $watch_port, $watch_log.
start_watch() {
    local name=$1
    watch_port=$(free_port)
    watch_log=$WORK/watch-$name.log
    # --timeout: an invocation gets no answer after 60 s rather than hanging the run.
    start "$watch_log" cargo lambda watch --only-lambda-apis --timeout 60 \
        -A 127.0.0.1 -P "$watch_port"
    # Listening is enough: an HTTP request to no function is logged as an error.
    wait_until "cargo lambda watch ($name)" ": >/dev/tcp/127.0.0.1/$watch_port" "$last_pid" "$watch_log" 60
}

# start_function NAME BINARY ENV_FILE: starts BINARY as function NAME attached to the
# emulator on $watch_port, with the variables in ENV_FILE (KEY=VALUE lines; none of them
# is exported here) and those Lambda sets: the runtime API (the emulator routes
# /.rt/NAME/... to function NAME's invocations), the function's name, version and memory;
# sets $function_pid, $function_log.
start_function() {
    local name=$1 binary=$2 env_file=$3 vars
    mapfile -t vars <"$env_file"
    function_log=$WORK/function-$name-$watch_port.log
    start "$function_log" env "${vars[@]}" \
        AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$watch_port/.rt/$name" \
        AWS_LAMBDA_FUNCTION_NAME="$name" \
        AWS_LAMBDA_FUNCTION_VERSION=1 \
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096 \
        "$binary"
    function_pid=$last_pid
}

# invoke FUNCTION EVENT_FILE PORT: the function's response on stdout, the error on stderr,
# its status as invoke's. --output-format json: the response exactly as returned.
invoke() {
    cargo lambda invoke "$1" -A 127.0.0.1 -P "$3" --data-file "$2" --output-format json
}

# Checks for each invocation; on a failure, the watch and function logs are printed.
failed=0
check_failed() {
    printf 'lambda_smoke: FAILED: %s\n' "$*" >&2
    failed=1
}

# expect_response FUNCTION EVENT PORT EXPECTED_JSON: the response equals EXPECTED_JSON.
expect_response() {
    local function=$1 event=$2 port=$3 expected=$4 out err
    out=$WORK/out.json err=$WORK/err.txt
    if ! invoke "$function" "$event" "$port" >"$out" 2>"$err"; then
        check_failed "$function with $event: expected the response $expected, got an error:
$(cat "$out" "$err")"
        return
    fi
    # Compared as JSON values (not text); printed compact.
    if response=$("$PYTHON" -c '
import json, sys
got = json.load(open(sys.argv[1]))
sys.exit(1) if got != json.loads(sys.argv[2]) else print(json.dumps(got))
' "$out" "$expected"); then
        say "ok: $function $event -> $response"
    else
        check_failed "$function with $event: expected the response $expected, got:
$(cat "$out" "$err")"
    fi
}

# The error `cargo lambda invoke` printed, on one line: it prints "Error: TYPE", then the
# message wrapped to the terminal's width under a "×" with "│" continuation marks, then
# advice. The message alone when it is found, else everything.
error_text() {
    local message
    message=$(awk '/^ *× /{p=1} p&&/^ *$/{exit} p' "$@" | sed 's/^[ ×│]*//' | tr -s '\n ' '  ')
    [[ -n $message ]] || message=$(tr -s '\n ' '  ' <"$1")
    printf '%s' "${message% }"
}

# expect_error FUNCTION EVENT PORT TEXT: the invocation fails with an error containing TEXT.
expect_error() {
    local function=$1 event=$2 port=$3 text=$4 out message
    out=$WORK/out.txt
    if invoke "$function" "$event" "$port" >"$out" 2>&1; then
        check_failed "$function with $event: expected an error containing \"$text\", got the response:
$(cat "$out")"
        return
    fi
    message=$(error_text "$out")
    if [[ $message == *"$text"* ]]; then
        say "ok: $function $event -> error: $message"
    else
        check_failed "$function with $event: expected an error containing \"$text\", got:
$(cat "$out")"
    fi
}

show_logs_and_fail() {
    local log
    for log in "$WORK"/watch-*.log "$WORK"/function-*.log; do
        printf '\n--- %s ---\n' "$(basename "$log")" >&2
        cat "$log" >&2
    done
    fail "$1"
}

start_watch main
main_port=$watch_port
start_function poller "$POLLER" "$WORK/functions.env"
start_function ingester "$INGESTER" "$WORK/functions.env"
start_function dlq-redrive "$DLQ_REDRIVE" "$WORK/functions.env"
start_function catalog-trigger "$CATALOG_TRIGGER" "$WORK/functions.env"
start_function sla-monitor "$SLA_MONITOR" "$WORK/functions.env"
say "cargo lambda watch --only-lambda-apis on port $watch_port, poller, ingester, dlq-redrive, catalog-trigger and sla-monitor attached"

# 0. dlq-redrive on the empty ingest DLQ: the report of a run that found nothing; a
#    typo in the filter is refused, not read as "every tenant".
redrive_report() {
    local dry_run=$1
    printf '{"dry_run": %s, "filter": {"tenant": "acme-retail", "source": "acme-ftp", "rule": "acme-daily-sales", "error_kind": "rejected"}, "max": 100, "scanned": 0, "unreadable": 0, "not_matching": 0, "beyond_max": 0, "total": {"matched": 0, "moved": 0, "already_ingested": 0, "failed": 0, "left": 0}, "by_kind": {}, "stopped": "exhausted", "not_returned": 0, "items": []}' "$dry_run"
}
expect_response dlq-redrive events/dlq-redrive-dry-run.json "$main_port" "$(redrive_report true)"
expect_response dlq-redrive events/dlq-redrive.json "$main_port" "$(redrive_report false)"
echo '{"tennant": "acme-retail"}' >"$WORK/dlq-redrive-typo.json"
expect_error dlq-redrive "$WORK/dlq-redrive-typo.json" "$main_port" 'unknown field `tennant`'

# 1. An empty registry: no registry has been pushed.
no_registry="no registry has been pushed yet"
message_id() {
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["Records"][0]["messageId"])' "$1"
}
ingest_message_id=$(message_id events/ingester-sqs.json)
# Without a registry no message can be read against its rule: the whole batch is retried.
expect_response ingester events/ingester-sqs.json "$main_port" \
    "{\"batchItemFailures\": [{\"itemIdentifier\": \"$ingest_message_id\"}]}"
expect_error poller events/poller-schedule.json "$main_port" "$no_registry"
expect_error poller events/poller-manual.json "$main_port" "$no_registry"
# A poll message cannot be helped by a retry either: it is dropped (with an alert), not retried.
expect_response poller events/poller-sqs.json "$main_port" '{"batchItemFailures": []}'
expect_error sla-monitor events/sla-monitor-schedule.json "$main_port" "$no_registry"
# The catalog trigger needs no registry. The sample event's object, in this run's bucket,
# does not exist (moto answers HeadObject 404): acknowledged, nothing to catalog. In
# another bucket it is ignored; either way the message is not retried.
expect_response catalog-trigger events/catalog-trigger-sqs.json "$main_port" '{"batchItemFailures": []}'
sed 's/tributary-rawbucket-1a2b3c4d5e6f/tributary-raw/' events/catalog-trigger-sqs.json \
    >"$WORK/catalog-trigger-own-bucket.json"
expect_response catalog-trigger "$WORK/catalog-trigger-own-bucket.json" "$main_port" '{"batchItemFailures": []}'

# 2. A registry whose one source, acme-ftp (the events' source), has no FTP server: the
#    schedule fans out to it, and polling it fails naming the source.
FTP_PORT=$(free_port) # nothing listens there
cat >"$WORK/registry.yaml" <<EOF
version: 1
tenants:
  - id: acme-retail
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: $FTP_PORT
        protocol: ftp
        username: tributary
        password: {env: TRIBUTARY_SMOKE_FTP_PASSWORD}
        directories: [/outgoing]
        poll_schedule: "*/5 * * * *"
        connect_timeout_secs: 5
        rules:
          - id: acme-daily-sales
            match: {glob: "/outgoing/sales_*.csv.gz"}
            dataset: sales
            format: csv
EOF
# shellcheck disable=SC2046 # KEY=VALUE words
registry_version=$(env "${aws_env[@]}" $(grep '^TRIBUTARY_TABLE=' "$WORK/functions.env") \
    "$HELPER" push "$WORK/registry.yaml") || show_logs_and_fail "could not push the registry"
say "registry version $registry_version pushed (acme-ftp on port $FTP_PORT, where nothing listens)"
expect_response poller events/poller-schedule.json "$main_port" \
    '{"fired_at": "2026-11-21T06:00:00Z", "sent": ["acme-ftp"], "not_due": 0}'
expect_error poller events/poller-manual.json "$main_port" "source acme-ftp: "
# The registry's rule has no SLA: the monitor judges nothing, and says so.
expect_response sla-monitor events/sla-monitor-schedule.json "$main_port" \
    '{"now": "2026-11-21T06:00:00Z", "judged_until": "2026-11-21T05:58:00Z", "windows": 0, "met": 0, "breached": 0, "recovered": 0, "skipped": 0, "notified": 0, "digests": 0, "rules": [], "orphaned": [], "failures": []}'
# From the poll queue, the same failure is transient: the message is retried.
poll_message_id=$(message_id events/poller-sqs.json)
expect_response poller events/poller-sqs.json "$main_port" \
    "{\"batchItemFailures\": [{\"itemIdentifier\": \"$poll_message_id\"}]}"

# 3. A required variable missing: the function stops at cold start, naming it. main.rs
#    returns the error before the runtime loop starts, so nothing reports it to the runtime
#    API, and the invocation is left waiting (Lambda would answer it with
#    Runtime.ExitError) until --timeout. So: the function must exit with a failure status,
#    its log naming the variable, and the invocation must get no response.
grep -v '^TRIBUTARY_BUCKET=' "$WORK/functions.env" >"$WORK/no-bucket.env"
start_watch no-bucket
start "$WORK/invoke-no-bucket.txt" \
    cargo lambda invoke ingester -A 127.0.0.1 -P "$watch_port" --data-file events/ingester-sqs.json
invoke_pid=$last_pid
start_function ingester "$INGESTER" "$WORK/no-bucket.env"
deadline=$((SECONDS + 60))
while kill -0 "$function_pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
done
if kill -0 "$function_pid" 2>/dev/null; then
    exit_status=running
else
    exit_status=0
    wait "$function_pid" || exit_status=$?
fi
sleep 1 # the invocation would have had its answer by now
if kill -0 "$invoke_pid" 2>/dev/null; then
    kill -TERM -- "-$invoke_pid" 2>/dev/null || true # still waiting, as expected
    invoke_status=waiting
else
    invoke_status=0
    wait "$invoke_pid" || invoke_status=$?
fi
exit_line=$(grep -F 'TRIBUTARY_BUCKET' "$function_log" | head -1)
if [[ $invoke_status == 0 ]]; then
    check_failed "ingester without TRIBUTARY_BUCKET: expected no response, got:
$(cat "$WORK/invoke-no-bucket.txt")"
elif [[ $exit_status == running || $exit_status == 0 || -z $exit_line ]]; then
    check_failed "ingester without TRIBUTARY_BUCKET: expected it to exit at cold start naming the variable, status $exit_status (see $(basename "$function_log"))"
else
    say "ok: ingester without TRIBUTARY_BUCKET -> exits at cold start (status $exit_status): $exit_line"
fi

((failed == 0)) || show_logs_and_fail "some checks failed: their FAILED lines are above the watch logs"
say "all checks passed in $((SECONDS - started))s"
