#!/usr/bin/env bash
# Peak memory of the engine, measured as a user runs it: the release
# `tributary check` on gzip CSVs of growing size, max RSS from GNU time
# (/usr/bin/time -f %M, in KiB). The engine streams, so the peak must not grow
# with the file.
#
#   bash scripts/measure_memory.sh [SIZE_MIB ...]     (default: 10 200 1024)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE_DIR=${TRIBUTARY_CACHE_DIR:-$HOME/.cache/tributary}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
for cmd in pigz /usr/bin/time python3; do
    command -v "$cmd" >/dev/null || { echo "measure_memory.sh: needs $cmd (apt-get install pigz time)" >&2; exit 1; }
done
cargo build --release --locked -p tributary-cli
BIN=$CARGO_TARGET_DIR/release/tributary
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
sizes=("$@")
((${#sizes[@]})) || sizes=(10 200 1024)
printf '%-12s %-14s %-14s %-10s %s\n' "decoded" "gzip file" "max RSS" "verdict" "rows"
for mib in "${sizes[@]}"; do
    python3 scripts/fixtures/gen_csv.py --mib "$mib" | pigz -p 2 > "$WORK/sales.csv.gz"
    /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" check "$WORK/sales.csv.gz" --min-rows 1 > "$WORK/report.json"
    python3 - "$WORK" "$mib" <<'PY'
import json, os, sys
work, mib = sys.argv[1], sys.argv[2]
report = json.load(open(os.path.join(work, "report.json")))
rss_kib = int(open(os.path.join(work, "rss")).read().split()[-1])
gz = os.path.getsize(os.path.join(work, "sales.csv.gz"))
print(f"{mib + ' MiB':<12} {gz / 2**20:>8.1f} MiB   {rss_kib / 1024:>8.1f} MiB   {report['verdict']:<10} {report['rows']}")
PY
    rm -f "$WORK/sales.csv.gz"
done
