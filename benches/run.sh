#!/usr/bin/env bash
# The validator's performance figures, each beside a baseline measured in the
# same run (these machines are shared and noisy: ratios, not absolute times,
# are what carries from one run to the next). benches/README.md explains the
# goals and quotes the latest figures.
#
#   bash benches/run.sh [--mib 512] [--runs 3] [--skip-criterion]
#
# 1. criterion (`shared/benches/engine.rs`): the engine on a generated CSV,
#    gzip and gzip inside Tink's streaming AEAD, against bare flate2 gzip decoding
#    of the same bytes; the stages alone (csv counter vs the csv crate, SHA-256 by
#    sha2 and ring).
# 2. Whole programs on one gzip CSV made by scripts/fixtures/gen_csv.py and
#    `gzip -6`: the release `tributary check` against the Python validator a team
#    would write (benches/python_validator.py) and `gzip -dc` (C zlib decoding
#    alone, no validation), each run --runs times, interleaved (benches/compare.py).
#
# Needs python3 and gzip; builds with the `bench` profile (release + symbols for
# profilers) into $CARGO_TARGET_DIR. The data goes to a temporary folder and is
# removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE_DIR=${TRIBUTARY_CACHE_DIR:-$HOME/.cache/tributary}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}

MIB=512
RUNS=3
CRITERION=1
while (($#)); do
    case $1 in
        --mib) MIB=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --skip-criterion) CRITERION=0; shift ;;
        *) echo "usage: bash benches/run.sh [--mib N] [--runs N] [--skip-criterion]" >&2; exit 2 ;;
    esac
done
for cmd in python3 gzip cargo; do
    command -v "$cmd" >/dev/null || { echo "benches/run.sh: needs $cmd (apt-get install $cmd)" >&2; exit 1; }
done
step() { printf '\n==> %s\n' "$*"; }

step "Machine"
printf '%s, %s cores, %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" \
    "$(nproc)" "$(grep -o -m1 -w sha_ni /proc/cpuinfo || echo 'no SHA extensions')"

if ((CRITERION)); then
    step "Engine against bare flate2 on a ${MIB} MiB CSV (criterion)"
    TRIBUTARY_BENCH_MIB=$MIB TRIBUTARY_BENCH_CASES=gzip,tink,stages \
        cargo bench --locked -p tributary --bench engine
    python3 benches/criterion_summary.py "$CARGO_TARGET_DIR/criterion" "csv_${MIB}MiB" \
        baseline/flate2_gzip_decode
    python3 benches/criterion_summary.py "$CARGO_TARGET_DIR/criterion" "sha256_of_gzip_${MIB}MiB" sha2
fi

step "tributary check against a Python validator on the same ${MIB} MiB gzip CSV"
cargo build --locked --profile bench -p tributary-cli
BIN=$CARGO_TARGET_DIR/release/tributary
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 scripts/fixtures/gen_csv.py --mib "$MIB" > "$WORK/sales.csv"
DECODED=$(stat -c %s "$WORK/sales.csv")
gzip -6 < "$WORK/sales.csv" > "$WORK/sales.csv.gz"
rm "$WORK/sales.csv"
printf 'sales.csv.gz: %s bytes, %s decoded\n' "$(stat -c %s "$WORK/sales.csv.gz")" "$DECODED"
python3 benches/compare.py --decoded-bytes "$DECODED" --runs "$RUNS" --no-report gzip-dc \
    --json "$WORK/compare.json" \
    --case "tributary=$BIN check $WORK/sales.csv.gz --min-rows 1" \
    --case "python=python3 benches/python_validator.py $WORK/sales.csv.gz --min-rows 1" \
    --case "gzip-dc=sh -c 'gzip -dc $WORK/sales.csv.gz > /dev/null'"
python3 - "$WORK/compare.json" <<'PY'
import json, sys
r = {c["case"]: c for c in json.load(open(sys.argv[1]))["results"]}
speedup = r["python"]["median_s"] / r["tributary"]["median_s"]
print(f"tributary is {speedup:.1f}x the Python validator's speed (goal: 12x)")
PY
