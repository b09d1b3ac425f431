#!/usr/bin/env bash
# Runs the test command the way a new machine meets it: a fresh clone of the
# committed HEAD, an empty CARGO_HOME and an empty TRIBUTARY_CACHE_DIR, both in a
# temporary folder, then `bash .ci/run`. Nothing from ~/.cargo or an earlier
# cache can hide a missing install step. Prints the time it took.
#
#   bash scripts/fresh_machine_check.sh [WORK_DIR]
#
# WORK_DIR (default: a new temporary folder) keeps the clone, CARGO_HOME and the
# cache afterwards, with the run's output in WORK_DIR/ci.log. The team's
# handbook folder is linked beside the clone, as CI lays it, so the advisory
# snapshot is found there.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
[[ -z $(ls -A "$work") ]] || { echo "fresh_machine_check: $work is not empty" >&2; exit 2; }

git clone --quiet "$repo" "$work/tributary"
if [[ -d $repo/../shared ]]; then
    ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
fi
mkdir "$work/cargo-home" "$work/cache"
# The toolchain stays (rustup's, as on every machine of this kind); the registry,
# git checkouts and installed tools start empty.
for tool in cargo rustc rustfmt cargo-fmt cargo-clippy clippy-driver rustdoc; do
    if [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/$tool ]]; then
        mkdir -p "$work/cargo-home/bin"
        ln -s "${CARGO_HOME:-$HOME/.cargo}/bin/$tool" "$work/cargo-home/bin/$tool"
    fi
done

echo "fresh clone of $(git -C "$repo" rev-parse --short HEAD) in $work/tributary"
start=$(date +%s)
status=0
(
    cd "$work/tributary"
    export CARGO_HOME=$work/cargo-home
    export TRIBUTARY_CACHE_DIR=$work/cache
    export PATH=$CARGO_HOME/bin:$PATH
    unset CARGO_TARGET_DIR
    CI=true bash .ci/run </dev/null
) >"$work/ci.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))
tail -n 25 "$work/ci.log"
printf '\nfresh_machine_check: .ci/run exited %d after %dm%02ds (log: %s)\n' \
    "$status" $((elapsed / 60)) $((elapsed % 60)) "$work/ci.log"
exit "$status"
