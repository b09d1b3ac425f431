#!/usr/bin/env python3
"""Prints one criterion group's medians as MiB/s, each with its ratio to a
baseline of the same group and run (criterion's own files, under
$CARGO_TARGET_DIR/criterion/GROUP/BENCH/new/).

    python3 benches/criterion_summary.py TARGET/criterion csv_512MiB baseline/flate2_gzip_decode
"""

import json
import os
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    root, group = sys.argv[1], sys.argv[2]
    baseline = sys.argv[3] if len(sys.argv) == 4 else None
    group_dir = os.path.join(root, group)
    if not os.path.isdir(group_dir):
        sys.exit(f"criterion_summary.py: no results in {group_dir}: did the bench run?")
    rows = []
    for dirpath, _, files in os.walk(group_dir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            estimates = json.load(f)
        per_iter_ns = estimates["median"]["point_estimate"]
        throughput = (bench.get("throughput") or {}).get("Bytes")
        mib_s = throughput / (per_iter_ns / 1e9) / 2**20 if throughput else None
        rows.append((bench["function_id"], per_iter_ns, mib_s))
    if not rows:
        sys.exit(f"criterion_summary.py: no results in {group_dir}")
    base = next((r for r in rows if r[0] == baseline), None)
    print(f"{group}: criterion medians")
    print(f"  {'bench':<44} {'median':>10} {'MiB/s':>9} {'vs baseline':>12}")
    for name, ns, mib_s in sorted(rows):
        ratio = f"{base[1] / ns:.2f}x" if base else "-"
        rate = f"{mib_s:.1f}" if mib_s else "-"
        print(f"  {name:<44} {ns / 1e6:>8.1f}ms {rate:>9} {ratio:>12}")


if __name__ == "__main__":
    main()
