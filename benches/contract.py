#!/usr/bin/env python3
"""Data contracts, whole programs on one file: `tributary check` applying a
contract (typed columns and per-row checks, docs/contracts.md) against DuckDB
counting the invalid rows of the same gzip CSV with the same checks, and
against bare gzip decoding of that file (flate2 on zlib-rs, the engine's own
decoder, and `gzip -dc`). Each peer runs --runs times, interleaved (a noisy
neighbour hurts them alike); medians of wall time, MB/s of decoded data, peak
RSS from GNU time (`/usr/bin/time -f %M`, as scripts/measure_memory.sh: time's
child is forked from a small C process, so its figure is the peer's own).

    $VENV/bin/python benches/contract.py [--mib 512] [--runs 3] [--json FILE]
        [--tributary PATH] [--inflate PATH] [--peers tributary,duckdb,inflate,gzip-dc]
        [--mib 100,1024,5120 --peers tributary --runs 1]     (memory figures)

The file is generated here, streaming and deterministic (--seed): 8 typed
columns (bigint key, int, bigint, decimal(12,2), date, timestamp, a string
with a pattern and lengths, a string from an allowed set) with a controlled
share of invalid rows (--invalid-share, default 0.1%), each invalid in exactly
one way the generator knows (a bad decimal, an int out of range, a pattern
miss, a duplicate key...), so the expected invalid-row count is exact. Beside
it goes a registry with the contract (rule `contract-bench`, and
`contract-bench-nounique` without the `unique` check for the memory runs: an
exact `unique` holds every key, so its memory grows with the file).

No ratio is reported unless tributary and DuckDB both find exactly the rows
and invalid rows the generator made (and the bare decoders the decoded size):
a fast wrong answer cannot win. Where the two tools' documented semantics
differ (DuckDB drops a row failing a cast before the uniqueness window; it
rounds `1.005` into decimal(12,2) and reads `24:00:00` as midnight next day,
which tributary rejects), the generated data avoids the difference: duplicate
keys only repeat keys of fully valid rows, and no value sits on those edges.

Peers:
  tributary  `tributary check FILE --registry R --rule ID` (the release binary,
             --tributary, default $CARGO_TARGET_DIR/release/tributary)
  duckdb     this script's `duckdb` subcommand, in its own process: PyPI duckdb,
             `SET threads TO 2`, read_csv with the typed columns and
             store_rejects (cast failures), SQL predicates for the other checks,
             the key's repeats by one GROUP BY (--duckdb-unique window:
             row_number() over the key, the textbook form, slower)
  inflate    bare flate2 (zlib-rs) MultiGzDecoder, 256 KiB reads: the example
             `shared/examples/inflate.rs` (--inflate, default
             $CARGO_TARGET_DIR/release/examples/inflate; built with
             `cargo build --locked --profile bench -p tributary --example inflate`)
  gzip-dc    `gzip -dc FILE > /dev/null` (C zlib, decoding only)

Goals: tributary ≥ 1.5× DuckDB's speed, ≥ 0.5× bare inflate's, peak RSS
≤ 128 MiB. Needs python3 with duckdb (scripts/requirements-test.txt), gzip
(or pigz with --compressor pigz) and GNU time.
"""

import argparse
import collections
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# --------------------------------------------------------------------------
# The contract: one description, from which the registry YAML and DuckDB's SQL
# are both written. Bounds stay off the generated values' edges.

STATUSES = ["new", "paid", "refunded", "cancelled"]
COLUMNS = [
    {"name": "order_id", "type": "bigint", "sql": "BIGINT", "nullable": False, "unique": True},
    {"name": "store_id", "type": "int", "sql": "INTEGER", "min": 1, "max": 5000},
    {"name": "customer_id", "type": "bigint", "sql": "BIGINT", "nullable": False, "min": 1},
    {"name": "amount", "type": "decimal(12,2)", "sql": "DECIMAL(12,2)", "min": 0, "max": 1000000},
    {"name": "sold_on", "type": "date", "sql": "DATE", "min": "2020-01-01", "max": "2026-12-31"},
    {"name": "sold_at", "type": "timestamp", "sql": "TIMESTAMP", "timezone": "UTC",
     "min": "2020-01-01T00:00:00", "max": "2026-12-31T23:59:59"},
    {"name": "sku", "type": "string", "sql": "VARCHAR", "pattern": "^SKU-[0-9]{6}$",
     "min_length": 10, "max_length": 10},
    {"name": "status", "type": "string", "sql": "VARCHAR", "allowed": STATUSES},
]
HEADER = ",".join(c["name"] for c in COLUMNS) + "\n"
RULE = "contract-bench"
RULE_NO_UNIQUE = "contract-bench-nounique"
FILE_NAME = "contract.csv.gz"

GOAL_VS_DUCKDB = 1.5
GOAL_VS_INFLATE = 0.5
GOAL_RSS_MIB = 128


def registry_yaml():
    """The registry: one tenant, one source, the contract's two rules."""

    def scalar(value):
        # JSON strings and numbers are valid YAML flow scalars.
        return json.dumps(value)

    def rule(rule_id, unique):
        lines = [
            f"          - id: {rule_id}",
            '            match: {glob: "/bench/contract_*.csv.gz"}',
            f"            dataset: {rule_id}",
            "            format: csv",
            "            header: true",
            "            layers: [gzip]",
            "            columns:",
        ]
        for col in COLUMNS:
            lines.append(f"              - name: {col['name']}")
            lines.append(f"                type: {col['type']}")
            if col.get("nullable") is False:
                lines.append("                nullable: false")
            if col.get("unique") and unique:
                lines.append("                unique: true")
            for key in ("timezone", "min", "max", "min_length", "max_length", "pattern"):
                if key in col:
                    lines.append(f"                {key}: {scalar(col[key])}")
            if "allowed" in col:
                lines.append(f"                allowed: [{', '.join(col['allowed'])}]")
        lines += [
            '            null_values: [""]',
            "            extra_columns: reject",
            "            on_invalid:",
            "              action: quarantine_rows",
            "              max_invalid_ratio: 0.01",
        ]
        return "\n".join(lines)

    return "\n".join([
        "# Written by benches/contract.py: the contract its generated file is checked against.",
        "version: 1",
        "tenants:",
        "  - id: bench",
        "    timezone: UTC",
        "    sources:",
        "      - id: bench-ftp",
        "        host: localhost",
        "        protocol: ftp",
        "        username: bench",
        "        password: {env: TRIBUTARY_BENCH_FTP_PASSWORD}",
        "        directories: [/bench]",
        "        rules:",
        rule(RULE, unique=True),
        rule(RULE_NO_UNIQUE, unique=False),
        "",
    ])


def duckdb_sql(path, unique):
    """DuckDB's query: typed read (cast failures go to reject_errors), then one
    flag per row for the other checks, and the key's repeats."""

    def lit(col, value):
        if col["sql"] in ("DATE", "TIMESTAMP"):
            return f"{col['sql']} '{str(value).replace('T', ' ')}'"
        return str(value)

    def quote(text):
        return "'" + text.replace("'", "''") + "'"

    columns = "{" + ", ".join(f"{quote(c['name'])}: {quote(c['sql'])}" for c in COLUMNS) + "}"
    checks = []
    for col in COLUMNS:
        name = col["name"]
        if col.get("nullable") is False:
            checks.append(f"{name} IS NULL")
        if "min" in col:
            checks.append(f"{name} < {lit(col, col['min'])}")
        if "max" in col:
            checks.append(f"{name} > {lit(col, col['max'])}")
        if "pattern" in col:
            checks.append(f"NOT regexp_full_match({name}, {quote(col['pattern'])})")
        if "min_length" in col:
            checks.append(f"length({name}) < {col['min_length']}")
        if "max_length" in col:
            checks.append(f"length({name}) > {col['max_length']}")
        if "allowed" in col:
            checks.append(f"{name} NOT IN ({', '.join(quote(v) for v in col['allowed'])})")
    key = next(c["name"] for c in COLUMNS if c.get("unique"))
    scan = f"""read_csv({quote(path)}, header = true, delim = ',', quote = '"',
                        escape = '"', nullstr = '', auto_detect = false,
                        columns = {columns}, store_rejects = true)"""
    bad = f"({' OR '.join(checks)})"
    if unique is None:
        return f"""
            SELECT count(*) AS rows, count(*) FILTER (WHERE coalesce({bad}, false)) AS invalid
            FROM {scan}"""
    # Uniqueness: a key's first row stays valid, each repeat is invalid; nulls
    # take no part. No column gives DuckDB the file order, so which row is
    # "first" is its choice in both forms; the generated file makes that moot
    # (a repeated key and its first row fail no other check).
    if unique == "window":
        # The textbook form: row_number() over the key.
        return f"""
            SELECT count(*) AS rows,
                   count(*) FILTER (WHERE coalesce(bad, false) OR coalesce(dup, false)) AS invalid
            FROM (
                SELECT {bad} AS bad,
                       ({key} IS NOT NULL AND row_number() OVER (PARTITION BY {key}) > 1) AS dup
                FROM {scan}
            )"""
    # One hash aggregate by key (DuckDB's faster form, the default): a group of
    # n rows has n - 1 repeats, plus one if a row of it fails another check.
    return f"""
        SELECT sum(n) AS rows,
               sum(CASE WHEN {key} IS NULL THEN nb ELSE n - 1 + (nb > 0)::INTEGER END) AS invalid
        FROM (
            SELECT {key}, count(*) AS n, count(*) FILTER (WHERE coalesce(bad, false)) AS nb
            FROM (SELECT {key}, {bad} AS bad FROM {scan})
            GROUP BY {key}
        )"""


def duckdb_main(argv):
    """The DuckDB peer, in its own process: prints a JSON report."""
    parser = argparse.ArgumentParser(prog="contract.py duckdb")
    parser.add_argument("file")
    parser.add_argument("--no-unique", action="store_true")
    parser.add_argument("--unique", choices=["group", "window"], default="group")
    parser.add_argument("--temp-dir", default=tempfile.gettempdir())
    args = parser.parse_args(argv)
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(f"SET temp_directory = '{args.temp_dir}'")
    start = time.perf_counter()
    # fetchall, not fetchone: the reject tables appear once the result is consumed whole.
    [(rows, invalid)] = con.execute(duckdb_sql(args.file, None if args.no_unique else args.unique)).fetchall()
    # One reject_errors row per failed cast: a line with two counts once.
    (rejected,) = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT scan_id, file_id, line FROM reject_errors)"
    ).fetchone()
    json.dump({
        "rows": rows + rejected,
        "invalid_rows": invalid + rejected,
        "rejected_by_cast": rejected,
        "query_s": time.perf_counter() - start,
        "duckdb": duckdb.__version__,
        "unique_form": None if args.no_unique else args.unique,
    }, sys.stdout)
    print()


# --------------------------------------------------------------------------
# The generator. A few ~1 MiB templates of random rows are made once, with the
# order id as a `{k}` placeholder, and cycled with fresh ids (gzip's 32 KiB
# window cannot see the repetition). Ids are 10^12 + (g × an odd constant mod
# 2^40): unique, 13 digits, in no particular order.

ID_BASE = 10**12
ID_MUL = 0x9E3779B97  # odd: a bijection of [0, 2^40)
ID_MASK = (1 << 40) - 1
ID_DIGITS = 13
TEMPLATES = 8
TEMPLATE_BYTES = 1 << 20


def _digits(rng, n):
    return f"{rng.randrange(10**n):0{n}d}"


def _day(rng, year=None):
    return f"{year or rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _clock(rng, hour=None):
    hour = rng.randrange(24) if hour is None else hour
    return f"{hour:02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def _cents(rng):
    return f"{rng.randrange(100):02d}"


# kind: (field index after order_id, new value; the checks it fails). Field
# indexes: 0 store_id, 1 customer_id, 2 amount, 3 sold_on, 4 sold_at, 5 sku, 6 status.
KINDS = {
    "bad_decimal": (2, lambda r: r.choice([f"{r.randrange(1, 1000)}O.{_cents(r)}",
                                           f"{r.randrange(1, 1000)}.{_cents(r)}.5",
                                           "N/A", f"${r.randrange(1, 1000)}.{_cents(r)}"]),
                    [("amount", "type")]),
    "negative_amount": (2, lambda r: f"-{r.randrange(1, 1000)}.{_cents(r)}", [("amount", "min")]),
    "amount_over_max": (2, lambda r: f"{r.randint(1000001, 9999999)}.{_cents(r)}",
                        [("amount", "max")]),
    "int_overflow": (0, lambda r: str(2**31 + r.randrange(10**6)), [("store_id", "type")]),
    "store_over_max": (0, lambda r: str(r.randint(5001, 99999)), [("store_id", "max")]),
    "null_customer": (1, lambda r: "", [("customer_id", "nullable")]),
    "bad_date": (3, lambda r: r.choice(["2026-02-30", "2025-02-29", "2026-04-31", "2026-13-01",
                                        "2026-00-10"]), [("sold_on", "type")]),
    "date_before_min": (3, lambda r: _day(r, 2019), [("sold_on", "min")]),
    "bad_timestamp": (4, lambda r: f"{_day(r)} {_clock(r, r.randint(25, 29))}",
                      [("sold_at", "type")]),
    "timestamp_after_max": (4, lambda r: f"{_day(r, 2027)} {_clock(r)}", [("sold_at", "max")]),
    "sku_short": (5, lambda r: f"SKU-{_digits(r, 5)}", [("sku", "pattern"), ("sku", "min_length")]),
    "sku_long": (5, lambda r: f"SKU-{_digits(r, 7)}", [("sku", "pattern"), ("sku", "max_length")]),
    "sku_letters": (5, lambda r: f"SKU-{_digits(r, 3)}A{_digits(r, 2)}", [("sku", "pattern")]),
    "status_not_allowed": (6, lambda r: r.choice(["lost", "pending", "NEW", "Paid"]),
                           [("status", "allowed")]),
    # Handled apart: they change the order id itself.
    "null_order_id": (None, None, [("order_id", "nullable")]),
    "duplicate_key": (None, None, [("order_id", "unique")]),
}


def make_template(rng, invalid_share):
    """About 1 MiB of rows with `{k}` placeholders for the order ids; returns
    (text, number of ids it takes, bytes once formatted, rows, kinds counter)."""
    lines, kinds = [], collections.Counter()
    n_ids, size, valid_ids = 0, 0, []
    kind_names = list(KINDS)
    while size < TEMPLATE_BYTES:
        fields = [
            str(rng.randint(1, 5000)),
            str(rng.randint(1, 10**9)),
            f"{rng.randrange(100000)}.{_cents(rng)}",
            _day(rng),
            f"{_day(rng)} {_clock(rng)}",
            f"SKU-{_digits(rng, 6)}",
            rng.choices(STATUSES, weights=[3, 5, 1, 1])[0],
        ]
        kind = rng.choice(kind_names) if rng.random() < invalid_share else None
        if kind == "duplicate_key" and not valid_ids:
            kind = None
        if kind == "null_order_id":
            order, id_len = "", 0
        elif kind == "duplicate_key":
            # Repeats the key of an earlier, fully valid row of this block.
            order, id_len = f"{{{rng.choice(valid_ids)}}}", ID_DIGITS
        else:
            order, id_len = f"{{{n_ids}}}", ID_DIGITS
            if kind is None:
                valid_ids.append(n_ids)
            n_ids += 1
        if kind is not None:
            kinds[kind] += 1
            index, value, _ = KINDS[kind]
            if index is not None:
                fields[index] = value(rng)
        line = ",".join([order] + fields) + "\n"
        lines.append(line)
        size += len(line) - len(order) + id_len
    return "".join(lines), n_ids, size, len(lines), kinds


def generate(out_dir, mib, seed, invalid_share, compressor):
    """Writes FILE_NAME, registry.yaml and expected.json into out_dir; returns
    the expected figures."""
    rng = random.Random(seed)
    templates = [make_template(rng, invalid_share) for _ in range(TEMPLATES)]
    path = os.path.join(out_dir, FILE_NAME)
    cmd = {"gzip": ["gzip", "-6"], "pigz": ["pigz", "-6", "-p", "2"]}[compressor]
    start = time.perf_counter()
    with open(path, "wb") as sink:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=sink)
        out = proc.stdin
        out.write(HEADER.encode())
        decoded, rows, next_g, blocks = len(HEADER), 0, 0, 0
        kinds = collections.Counter()
        target = mib << 20
        while decoded < target:
            text, n_ids, size, n_rows, block_kinds = templates[blocks % TEMPLATES]
            ids = [ID_BASE + ((g * ID_MUL) & ID_MASK) for g in range(next_g, next_g + n_ids)]
            out.write(text.format(*ids).encode())
            next_g += n_ids
            decoded += size
            rows += n_rows
            kinds.update(block_kinds)
            blocks += 1
        out.close()
        if proc.wait() != 0:
            sys.exit(f"contract.py: {cmd[0]} exited {proc.returncode}")
    seconds = time.perf_counter() - start
    checks = collections.Counter()
    for kind, n in kinds.items():
        for check in KINDS[kind][2]:
            checks[check] += n
    invalid = sum(kinds.values())
    expected = {
        "mib": mib, "seed": seed, "invalid_share": invalid_share, "compressor": compressor,
        "decoded_bytes": decoded, "gzip_bytes": os.path.getsize(path), "rows": rows,
        "invalid_rows": {RULE: invalid, RULE_NO_UNIQUE: invalid - kinds["duplicate_key"]},
        "kinds": dict(sorted(kinds.items())),
        "checks": {RULE: [{"column": c, "check": k, "rows": n}
                          for (c, k), n in sorted(checks.items())]},
        "generate_s": seconds,
    }
    expected["checks"][RULE_NO_UNIQUE] = [
        t for t in expected["checks"][RULE] if t["check"] != "unique"]
    with open(os.path.join(out_dir, "registry.yaml"), "w") as f:
        f.write(registry_yaml())
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    return expected


def generate_main(argv):
    parser = argparse.ArgumentParser(prog="contract.py generate")
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--out", required=True, help="folder for the file, registry and expected counts")
    parser.add_argument("--duckdb-unique", choices=["group", "window"], default="group",
                        help="DuckDB's uniqueness SQL: one GROUP BY (faster) or row_number()")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid-share", type=float, default=0.001)
    parser.add_argument("--compressor", choices=["gzip", "pigz"], default="gzip")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    expected = generate(args.out, args.mib, args.seed, args.invalid_share, args.compressor)
    json.dump(expected, sys.stdout, indent=2)
    print()


# --------------------------------------------------------------------------
# The runs.

def run_once(argv, work, capture=True):
    """Runs argv under GNU time; returns (seconds, peak RSS KiB, exit code, stdout)."""
    rss_file = os.path.join(work, "rss")
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv,
                          stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    # With a non-zero exit, GNU time writes "Command exited with..." first.
    with open(rss_file) as f:
        rss_kib = int(f.read().split()[-1])
    return elapsed, rss_kib, proc.returncode, proc.stdout or b"", proc.stderr


def find_key(report, key):
    """`key` at the report's top level, or in a nested object (the CLI's
    report shape is young)."""
    if key in report:
        return report[key]
    for value in report.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def peers_for(args, path, registry, rule, work):
    """(name, argv, whether it prints a report) for each peer asked for."""
    out = []
    for name in args.peers:
        if name == "tributary":
            if not os.access(args.tributary, os.X_OK):
                sys.exit(f"contract.py: no tributary binary at {args.tributary} "
                         "(cargo build --locked --profile bench -p tributary-cli, or --tributary PATH)")
            out.append((name, [args.tributary, "check", path, "--registry", registry,
                               "--rule", rule], True))
        elif name == "duckdb":
            argv = [args.python, os.path.abspath(__file__), "duckdb", path, "--temp-dir", work,
                    "--unique", args.duckdb_unique]
            if args.no_unique:
                argv.append("--no-unique")
            out.append((name, argv, True))
        elif name == "inflate":
            if not os.access(args.inflate, os.X_OK):
                print(f"contract.py: no bare inflate at {args.inflate}: skipped (cargo build "
                      "--locked --profile bench -p tributary --example inflate)", file=sys.stderr)
                continue
            out.append((name, [args.inflate, path], True))
        elif name == "gzip-dc":
            out.append((name, ["gzip", "-dc", path], False))
        else:
            sys.exit(f"contract.py: unknown peer {name}")
    return out


def check_answer(name, rc, out, err, expected, rule):
    """What is wrong with a peer's answer, or None."""
    if name == "gzip-dc":
        return None if rc == 0 else f"exited {rc}: {err.decode(errors='replace')[-500:]}"
    try:
        report = json.loads(out)
    except ValueError:
        return f"exited {rc}, no JSON report: {err.decode(errors='replace')[-500:]}"
    if name == "inflate":
        got = report.get("decoded_bytes")
        return None if got == expected["decoded_bytes"] else (
            f"decoded {got} bytes, not {expected['decoded_bytes']}")
    want = {"rows": expected["rows"], "invalid_rows": expected["invalid_rows"][rule]}
    got = {k: find_key(report, k) for k in want}
    problems = [f"{k} {got[k]}, expected {want[k]}" for k in want if got[k] != want[k]]
    if name == "tributary":
        # Exit 0 accepted, 1 rejected; the rule quarantines up to 1% of rows.
        verdict = report.get("verdict")
        if (verdict, rc) != ("accepted", 0):
            problems.append(f"verdict {verdict} (exit {rc}), expected accepted (exit 0)")
    elif rc != 0:
        problems.append(f"exited {rc}: {err.decode(errors='replace')[-500:]}")
    return "; ".join(problems) or None


def compare_tallies(report, expected, rule):
    """Differences between tributary's per-check tallies and the generator's."""
    tallies = find_key(report, "checks")
    if not isinstance(tallies, list):
        return ["no `checks` tallies in the report"]
    got = {(t.get("column"), t.get("check")): t.get("rows") for t in tallies if t.get("rows")}
    want = {(t["column"], t["check"]): t["rows"] for t in expected["checks"][rule]}
    return [f"{c}/{k}: {got.get((c, k))}, expected {want.get((c, k))}"
            for (c, k) in sorted(set(got) | set(want), key=str) if got.get((c, k)) != want.get((c, k))]


def bench_size(args, mib, data_dir, work):
    expected_path = os.path.join(data_dir, "expected.json")
    expected = None
    if os.path.exists(expected_path):
        with open(expected_path) as f:
            expected = json.load(f)
        if (expected["mib"], expected["seed"], expected["invalid_share"]) != (
                mib, args.seed, args.invalid_share):
            expected = None
    if expected is None:
        print(f"generating {mib} MiB ({args.compressor} -6)...", flush=True)
        expected = generate(data_dir, mib, args.seed, args.invalid_share, args.compressor)
        print(f"  {expected['generate_s']:.1f} s", flush=True)
    else:
        print(f"reusing {os.path.join(data_dir, FILE_NAME)}")
    rule = RULE_NO_UNIQUE if args.no_unique else RULE
    path = os.path.join(data_dir, FILE_NAME)
    registry = os.path.join(data_dir, "registry.yaml")
    print(f"{FILE_NAME}: {expected['gzip_bytes']:,} bytes, {expected['decoded_bytes']:,} decoded, "
          f"{expected['rows']:,} rows, {expected['invalid_rows'][rule]:,} invalid (rule {rule})")

    peers = peers_for(args, path, registry, rule, work)
    times = {name: [] for name, _, _ in peers}
    rss = {name: [] for name, _, _ in peers}
    answers, problems, tally_diffs, extra = {}, {}, [], {}
    for run in range(args.runs):
        for name, argv, reports in peers:
            elapsed, rss_kib, rc, out, err = run_once(argv, work, capture=reports)
            times[name].append(elapsed)
            rss[name].append(rss_kib)
            problem = check_answer(name, rc, out, err, expected, rule)
            if problem:
                problems.setdefault(name, problem)
            if reports and run == 0 and not problem:
                report = json.loads(out)
                keys = ("decoded_bytes",) if name == "inflate" else ("rows", "invalid_rows")
                answers[name] = {k: find_key(report, k) for k in keys}
                if name == "tributary":
                    tally_diffs = compare_tallies(report, expected, rule)
                if name == "duckdb":
                    extra["duckdb_version"] = report["duckdb"]
                    extra["duckdb_rejected_by_cast"] = report["rejected_by_cast"]
                    extra["duckdb_unique_form"] = report["unique_form"]
            print(f"  run {run + 1} {name:<10} {elapsed:7.2f} s  {rss_kib / 1024:7.1f} MiB"
                  f"{'  WRONG: ' + problem if problem else ''}", flush=True)

    decoded = expected["decoded_bytes"]
    first = peers[0][0]
    results = []
    # Speed relative to the first peer only when every answer is right.
    vs = f"{'vs ' + first:>14}" if not problems else ""
    print(f"\n{'case':<12} {'median s':>9} {'MB/s':>9}{vs} {'peak RSS':>11}")
    for name, _, _ in peers:
        median = statistics.median(times[name])
        peak = max(rss[name]) / 1024
        ratio = statistics.median(times[first]) / median
        results.append({"case": name, "median_s": median, "runs_s": times[name],
                        "mb_per_s": decoded / median / 1e6, "peak_rss_mib": peak,
                        "peak_rss_mib_runs": [r / 1024 for r in rss[name]]})
        if not problems:
            results[-1]["speed_vs_first"] = ratio
        print(f"{name:<12} {median:>9.2f} {decoded / median / 1e6:>9.1f}"
              f"{f'{ratio:>13.2f}x' if not problems else ''} {peak:>7.1f} MiB")
    summary = {"mib": mib, "rule": rule, "expected": expected, "runs": args.runs,
               "answers": answers, "problems": problems, "results": results, **extra}
    if tally_diffs:
        summary["tally_differences"] = tally_diffs
        print("tributary's per-check tallies differ from the generator's: " + "; ".join(tally_diffs))
    if problems:
        print("\nNO RATIOS: a peer's answer is wrong:")
        for name, problem in problems.items():
            print(f"  {name}: {problem}")
        return summary, False

    by = {r["case"]: r for r in results}
    print(f"every report agrees: {expected['rows']:,} rows, "
          f"{expected['invalid_rows'][rule]:,} invalid")
    ratios = {}
    if "tributary" in by:
        t = by["tributary"]["median_s"]
        for peer, goal in (("duckdb", GOAL_VS_DUCKDB), ("inflate", GOAL_VS_INFLATE), ("gzip-dc", None)):
            if peer in by:
                ratio = by[peer]["median_s"] / t
                ratios[f"tributary_vs_{peer}"] = ratio
                verdict = "" if goal is None else f" (goal >= {goal}x: {'met' if ratio >= goal else 'missed'})"
                print(f"tributary / {peer}: {ratio:.2f}x{verdict}")
        peak = by["tributary"]["peak_rss_mib"]
        print(f"tributary peak RSS: {peak:.1f} MiB (goal <= {GOAL_RSS_MIB} MiB: "
              f"{'met' if peak <= GOAL_RSS_MIB else 'missed'})")
    summary["ratios"] = ratios
    return summary, True


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "duckdb":
        return duckdb_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "generate":
        return generate_main(sys.argv[2:])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/tributary/target")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="subcommands: `generate --mib N --out DIR` (the file, "
                                            "registry and expected counts only); `duckdb FILE` (the peer)")
    parser.add_argument("--mib", default="512", help="decoded size in MiB, or a comma-separated list")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers", default="tributary,duckdb,inflate,gzip-dc",
                        type=lambda s: [p.strip() for p in s.split(",") if p.strip()])
    parser.add_argument("--tributary", default=os.path.join(target, "release", "tributary"))
    parser.add_argument("--inflate", default=os.path.join(target, "release", "examples", "inflate"))
    parser.add_argument("--python", default=sys.executable, help="the Python with duckdb")
    parser.add_argument("--no-unique", action="store_true",
                        help=f"check with rule {RULE_NO_UNIQUE} (no unique key: flat memory)")
    parser.add_argument("--duckdb-unique", choices=["group", "window"], default="group",
                        help="DuckDB's uniqueness SQL: one GROUP BY (faster) or row_number()")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid-share", type=float, default=0.001)
    parser.add_argument("--compressor", choices=["gzip", "pigz"], default="gzip")
    parser.add_argument("--data", help="keep the generated files in DATA/MIB (reused when they match)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    for cmd in ["/usr/bin/time", args.compressor] + (["gzip"] if "gzip-dc" in args.peers else []):
        if not shutil.which(cmd):
            sys.exit(f"contract.py: needs {cmd} (apt-get install time gzip pigz)")

    print(f"Machine: {os.cpu_count()} cores, "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"peers {', '.join(args.peers)}; {args.runs} runs each, interleaved")
    work = tempfile.mkdtemp(prefix="contract-bench-")
    summaries, ok = [], True
    try:
        for mib in [int(m) for m in args.mib.split(",")]:
            print(f"\n==> {mib} MiB")
            data_dir = os.path.join(args.data, str(mib)) if args.data else os.path.join(work, str(mib))
            os.makedirs(data_dir, exist_ok=True)
            summary, good = bench_size(args, mib, data_dir, work)
            summaries.append(summary)
            ok &= good
            if not args.data:
                shutil.rmtree(data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(summaries) > 1:
        print("\nsize      " + "  ".join(f"{n:>18}" for n in args.peers))
        for s in summaries:
            cells = {r["case"]: f"{r['mb_per_s']:6.1f} MB/s {r['peak_rss_mib']:5.1f} MiB"
                     for r in s["results"]}
            print(f"{s['mib']:>5} MiB " + "  ".join(f"{cells.get(n, '-'):>18}" for n in args.peers))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peers": args.peers, "sizes": summaries}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
