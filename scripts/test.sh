#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs what the tests
# need (Debian packages, a Python venv), makes fresh interop fixtures with tools
# no one here wrote, checks formatting and lints, and runs every test.
#
#   bash scripts/test.sh
#
# Builds and the venv are cached outside the clone, in $TRIBUTARY_CACHE_DIR
# (default ~/.cache/tributary), so a second run is quick.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE_DIR=${TRIBUTARY_CACHE_DIR:-$HOME/.cache/tributary}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
VENV=$CACHE_DIR/venv
LINT_VENV=$CACHE_DIR/venv-lint
mkdir -p "$CACHE_DIR"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

step "System packages"
missing=()
for cmd in gzip pigz bzip2; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
[[ -x /usr/sbin/vsftpd ]] || missing+=(vsftpd)
# GNU time: the hostile-corpus test measures each check's peak memory with it.
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" \
        || fail "could not install ${missing[*]}: install them with apt-get"
fi
for cmd in gzip pigz bzip2 python3 cargo; do
    command -v "$cmd" >/dev/null || fail "$cmd is required (apt-get install $cmd)"
done
echo "gzip, pigz, bzip2, vsftpd, GNU time, python3 and cargo are present"

step "SAM template: cfn-lint, SAM transform, IAM wildcards ($LINT_VENV)"
# Before anything is compiled, so a broken template fails in seconds. cfn-lint and
# the SAM translator get their own venv: they pin other boto3 versions than moto.
# Warnings fail the run too: cfn-lint is pinned, so a warning is never news from an
# upgrade but a real finding on our template (a missing UpdateReplacePolicy, an unused
# parameter, a hard-coded partition); silence one deliberately, on the resource, with
# Metadata: {cfn-lint: {config: {ignore_checks: [Wxxxx]}}} and a comment saying why.
# Informational findings are shown without failing.
if [[ ! -x $LINT_VENV/bin/python ]]; then
    python3 -m venv "$LINT_VENV"
fi
"$LINT_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-lint.txt
(
    export AWS_DEFAULT_REGION=us-east-1
    lint() { "$LINT_VENV/bin/cfn-lint" --non-zero-exit-code warning "$@"; }
    lint sam/template.yaml || fail "cfn-lint found problems in sam/template.yaml"
    # cfn-lint checks SAM resources against SAM's schema only: lint what they become.
    translated=$(mktemp --suffix=.json)
    trap 'rm -f "$translated"' EXIT
    "$LINT_VENV/bin/python" scripts/sam_translate.py sam/template.yaml "$translated" \
        || fail "the SAM transform of sam/template.yaml failed"
    lint "$translated" || fail "cfn-lint found problems in the SAM transform of sam/template.yaml"
    "$LINT_VENV/bin/python" scripts/check_template_iam.py sam/template.yaml "$translated" \
        || fail "sam/template.yaml grants wildcard actions"
    # ...and the check still catches what it is for.
    "$LINT_VENV/bin/python" scripts/check_template_iam.py --self-test sam/template.yaml >/dev/null \
        || fail "check_template_iam.py no longer catches wildcard grants"
    # Encryption at rest, TLS-only bucket and queues, a DLQ behind every queue, PITR,
    # log retention: on what the template becomes, and the check proves itself too.
    "$LINT_VENV/bin/python" scripts/check_template_posture.py "$translated" \
        || fail "sam/template.yaml lost a security or dead-letter property"
    "$LINT_VENV/bin/python" scripts/check_template_posture.py --self-test sam/template.yaml \
        || fail "check_template_posture.py no longer catches what it checks"
)
echo "sam/template.yaml passes cfn-lint (as written and transformed), the IAM and the posture checks"

step "vsftpd login user"
# vsftpd logs in system users only: a dedicated one with no privileges and a
# fresh random password each run (vsftpd listens on 127.0.0.1 only, in the test).
export TRIBUTARY_VSFTPD_USER=tributary-ftp
TRIBUTARY_VSFTPD_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export TRIBUTARY_VSFTPD_PASSWORD
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo)
if ! id "$TRIBUTARY_VSFTPD_USER" >/dev/null 2>&1; then
    "${as_root[@]}" useradd --create-home --shell /bin/bash "$TRIBUTARY_VSFTPD_USER"
fi
echo "$TRIBUTARY_VSFTPD_USER:$TRIBUTARY_VSFTPD_PASSWORD" | "${as_root[@]}" chpasswd
echo "user $TRIBUTARY_VSFTPD_USER ready"

step "Python venv ($VENV)"
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
# The FTP integration tests start pyftpdlib with this interpreter.
export TRIBUTARY_PYTHON=$VENV/bin/python
# The AWS adapter tests start this moto server (AWS APIs on 127.0.0.1).
export TRIBUTARY_MOTO=$VENV/bin/moto_server

step "Interop fixtures made by gzip, pigz, bzip2, cryptography and tink"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" scripts/fixtures/interop_fixtures.py "$WORK/interop" --rows 20000
export TRIBUTARY_INTEROP_DIR=$WORK/interop
"$VENV/bin/python" scripts/fixtures/tink_fixtures.py generate "$WORK/tink"
export TRIBUTARY_TINK_FIXTURES=$WORK/tink
# The interop test writes Rust-encrypted streams here; Tink must decrypt them.
export TRIBUTARY_TINK_RUST_OUT=$WORK/tink-rust

step "Crates for every target (cargo fetch)"
# Everything below that reads the dependency graph offline (cargo deny runs
# `cargo metadata` for all targets) needs every target's crates on disk, not only
# the host's that a build downloads: on a fresh CARGO_HOME it fails without this.
cargo fetch --locked

step "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The cargo-fuzz crate is its own workspace (cargo-fuzz builds it with nightly and
# sanitizers); its bins only wrap tributary-fuzz-targets, whose corpora the tests
# replay. Type-checking them here keeps them building as that crate changes.
cargo check --manifest-path fuzz/Cargo.toml --bins --locked

step "Dependencies: advisories, licences, banned crates, sources (cargo deny, deny.toml)"
TOOLS=$CACHE_DIR/tools
if [[ ! -x $TOOLS/bin/cargo-deny ]]; then
    cargo install cargo-deny --version 0.20.2 --locked --root "$TOOLS"
fi
deny() { PATH=$TOOLS/bin:$PATH cargo deny --locked "$@"; }
deny --offline check bans licenses sources
# The RustSec advisory database is a git repository on GitHub. Where a snapshot of it
# is at hand (the team's handbook folder beside the clone, or TRIBUTARY_ADVISORY_SNAPSHOT),
# unpack it where deny.toml's db-path points and check offline against it; otherwise
# let cargo deny fetch the live database.
ADVISORY_SNAPSHOT=${TRIBUTARY_ADVISORY_SNAPSHOT:-$PWD/../shared/rustsec-advisory-db.tar.gz}
if [[ -f $ADVISORY_SNAPSHOT ]]; then
    export TRIBUTARY_ADVISORY_DB_PATH=$CACHE_DIR/advisory-dbs
    rm -rf "$TRIBUTARY_ADVISORY_DB_PATH"
    mkdir -p "$TRIBUTARY_ADVISORY_DB_PATH"
    tar -xzf "$ADVISORY_SNAPSHOT" -C "$TRIBUTARY_ADVISORY_DB_PATH"
    echo "advisories from the snapshot $ADVISORY_SNAPSHOT"
    deny --offline check advisories
else
    echo "no advisory snapshot at $ADVISORY_SNAPSHOT: fetching the live RustSec database"
    deny check advisories
fi

step "Tests"
cargo test --workspace --locked -- --skip chaos_run
# The chaos run on its own, after the rest: its faults race the FTP data timeout
# (2 s), so with the e2e binary's other tests beside it on a 2-core runner a file's
# fate can shift; alone, its tally (printed) is comparable from run to run.
cargo test -p tributary-e2e --locked --test e2e chaos_run -- --nocapture

step "Tink decrypts what tributary's stream writer produced"
"$VENV/bin/python" scripts/fixtures/tink_fixtures.py verify "$TRIBUTARY_TINK_RUST_OUT"

step "Lambdas under cargo lambda watch, invoked with events/ ($CACHE_DIR/venv-lambda)"
# The real poller and ingester binaries in the Lambda runtime emulator, against moto:
# bootstrap, environment, event parsing and response shapes (the tests above call the
# handlers as library functions).
bash scripts/lambda_smoke.sh
