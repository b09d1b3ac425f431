#!/usr/bin/env python3
"""Times whole validators on the same file, side by side, in one run: each
command runs N times in turn (interleaved, so a noisy neighbour hurts them
alike), and the median wall time, MB/s of decoded data and peak RSS (from
wait4, the kernel's own accounting of the child) are printed, with each one's
ratio to the first command. The commands' JSON reports must agree on rows and
SHA-256, so a fast wrong answer cannot win.

    python3 benches/compare.py --decoded-bytes N --runs 3 \\
        --case 'tributary=target/release/tributary check f.csv.gz' \\
        --case 'python=python3 benches/python_validator.py f.csv.gz'

`--json FILE` also writes the figures for `benches/run.sh` to quote.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def run_once(argv):
    """Runs argv to its end; returns (seconds, max RSS in KiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read stdout before waiting: a report larger than the pipe would block.
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"compare.py: {argv[0]} exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return elapsed, usage.ru_maxrss, out


def digest(report_bytes):
    """The figures every validator must agree on."""
    report = json.loads(report_bytes)
    return report.get("rows"), report.get("received_sha256"), report.get("verdict")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", action="append", required=True, help="NAME=COMMAND")
    parser.add_argument("--decoded-bytes", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-report", action="append", default=[],
                        help="NAME of a case that prints no JSON report (a bare decoder)")
    parser.add_argument("--json")
    args = parser.parse_args()

    cases = []
    for spec in args.case:
        name, _, command = spec.partition("=")
        cases.append((name, shlex.split(command)))
    times = {name: [] for name, _ in cases}
    rss = {name: [] for name, _ in cases}
    answers = {}
    for _ in range(args.runs):
        for name, argv in cases:
            elapsed, max_rss, out = run_once(argv)
            times[name].append(elapsed)
            rss[name].append(max_rss)
            if name not in args.no_report:
                answers.setdefault(name, digest(out))
    distinct = set(answers.values())
    if len(distinct) > 1:
        sys.exit(f"compare.py: the validators disagree: {answers}")

    first = cases[0][0]
    base = statistics.median(times[first])
    results = []
    print(f"{'case':<24} {'median s':>9} {'MB/s':>9} {'vs ' + first:>14} {'peak RSS':>10}")
    for name, _ in cases:
        median = statistics.median(times[name])
        mbps = args.decoded_bytes / median / 1e6
        ratio = base / median
        peak = max(rss[name]) / 1024
        results.append({"case": name, "median_s": median, "runs_s": times[name],
                        "mb_per_s": mbps, "speed_vs_first": ratio, "peak_rss_mib": peak})
        print(f"{name:<24} {median:>9.2f} {mbps:>9.1f} {ratio:>13.2f}x {peak:>7.1f} MiB")
    if answers:
        rows, sha, verdict = next(iter(distinct))
        print(f"all reports agree: {verdict}, {rows} rows, sha256 {sha}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"decoded_bytes": args.decoded_bytes, "runs": args.runs,
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
