#!/usr/bin/env python3
"""The validator a team would write without tributary: the baseline of
`benches/run.sh` (goal 2 of the performance issue).

It does what tributary's engine does for a gzip CSV, in idiomatic, streaming
Python with the standard library only: SHA-256 of the bytes as received
(hashlib), gzip decoding (gzip), CSV parsing with quotes (csv), a row count and
a header check, and prints a JSON report like `tributary check`'s. Memory stays
bounded: nothing is read whole.

    python3 benches/python_validator.py FILE.csv.gz [--min-rows N]
"""

import argparse
import csv
import gzip
import hashlib
import io
import json
import sys

READ_SIZE = 1 << 20


class HashingReader(io.RawIOBase):
    """Hashes and counts the bytes as received, as they are read."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.received = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.received += n
        return n


def validate(path, min_rows):
    with open(path, "rb") as raw:
        received = HashingReader(raw)
        decoded = gzip.GzipFile(fileobj=io.BufferedReader(received, READ_SIZE))
        text = io.TextIOWrapper(decoded, encoding="utf-8", newline="")
        reader = csv.reader(text)
        header = next(reader, None)
        rows = sum(1 for _ in reader)
        # Read what may follow the last row, so the hash covers every byte.
        while received.readinto(bytearray(READ_SIZE)):
            pass
    reasons = []
    if rows < min_rows:
        reasons.append(f"{rows} rows, fewer than min_rows ({min_rows})")
    return {
        "verdict": "rejected" if reasons else "accepted",
        "reasons": reasons,
        "received_bytes": received.received,
        "received_sha256": received.sha256.hexdigest(),
        "rows": rows,
        "header": header,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--min-rows", type=int, default=1)
    args = parser.parse_args()
    report = validate(args.file, args.min_rows)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["verdict"] == "accepted" else 1


if __name__ == "__main__":
    sys.exit(main())
