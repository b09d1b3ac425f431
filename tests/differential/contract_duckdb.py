#!/usr/bin/env python3
"""Differential test: tributary's data-contract checks against DuckDB.

    contract_duckdb.py --tributary PATH [--seed N] [--rows N] [--only TEXT] [--workdir DIR]
    contract_duckdb.py --self-test      [--seed N] [--rows N] [--only TEXT] [--workdir DIR]

What it is for: tributary checks every row of a csv or tsv file against a
rule's contract (typed columns, nullable, unique, primary key, min/max,
pattern, lengths, allowed values; docs/contracts.md). This script builds
files with a known mix of valid and invalid values, runs `tributary check` on
each and DuckDB on the same file, and compares, per check, the physical lines
each side finds invalid. DuckDB is an independent reading of the same rules:
`read_csv` with explicitly typed columns and `store_rejects=true` gives the
type errors, SQL predicates on the loaded table give the other checks. The
rule's `format` (csv, or tsv: delim='\\t'), `header` (false: header=false, the
columns by position) and `extra_columns` (the file's other columns are read
as VARCHAR and not checked) are given to both sides.

The cases:
  * generated: ~2,000 rows (deterministic seed) with a column of every type,
    valid values in many spellings and a controlled mix of invalid ones per
    check; one csv file each with \\n, \\r\\n and \\r line ends, one tsv, one
    without a header, and one with four columns the contract does not name
    (three in the middle, one at the end) under extra_columns: ignore, then
    the same file under extra_columns: reject (only the header is rejected);
  * hostile: ragged rows, integers past 64 bits, 40-digit decimals, NaN/inf,
    impossible dates, byte-order marks, mixed line ends, quoted line breaks,
    padded numbers, invalid UTF-8, typed equality in unique and primary keys,
    tsv quoting, header: false (line 1 is data), extra columns at the start,
    middle and end (ignore, then reject);
  * difference: one small case for each entry of KNOWN_DIFFERENCES.

jsonl is not compared: DuckDB 2.0.1's read_json/read_ndjson has no
store_rejects, and with ignore_errors a value that is not of its column's
type loads as NULL, like a JSON null or a missing field; the type errors
would be the script's inference, not DuckDB's reading.

Where DuckDB's semantics differ from the spec on purpose (it rounds `1.005`
into DECIMAL(12,2), tributary rejects it), the comparison is not loosened: the
difference is named in KNOWN_DIFFERENCES, a case shows it, and the test
asserts that the two sides differ exactly there. If either side changes, the
test fails. Every case also carries what the spec says tributary must report;
tributary is held to that too.

How the two sides are lined up (each step is checked, see --self-test):
  * lines: tributary reports the physical line where a record starts (\\n,
    \\r\\n and a lone \\r each end a line; quoted line breaks count; without a
    header the first record is line 1). DuckDB's reject `line` counts records
    (the header, or without one the first record, = 1; it also counts blank
    lines, which no case has) and its `line_byte_position` is the record's byte
    offset, 1-based at the start of the file and after a \\n or \\r line end
    but 0-based after \\r\\n. This script parses each file itself, tracking
    where every record starts, maps DuckDB's line to a record and asserts the
    byte offsets agree; the records are also compared field by field with
    Python's csv module and with DuckDB reading every column as VARCHAR.
  * one read per column: the column typed, every other one VARCHAR. Type
    errors of that column come from DuckDB's rejects, and its other checks
    run on the rows DuckDB loaded; a table's rows are, in order, the records
    DuckDB did not reject (insertion order is preserved; the count is
    asserted). So a value takes part in `unique` exactly when its own column
    read it, as the spec says, whatever the rest of its row holds. The
    primary key gets a read with all of its columns typed. Values are loaded
    into tables first: `SELECT v::varchar` straight over a typed read_csv
    folds the cast away and returns the text as written.
  * what is compared: `columns` and `type` findings always; another check of
    a column only on lines where neither side found a type error in that
    column, DuckDB loaded the row in that column's read, and neither side
    found a `columns` error.
  * `unique` and `primary_key` flag the second and later occurrences in file
    order (row_number() over the value, ordered by record); a
    count(*) over the value would flag the first occurrence too.
  * DuckDB has no option refusing NaN and infinities in a DOUBLE: for a
    column without allow_non_finite the script reports them as type errors
    (isnan/isinf on the loaded value).

--self-test runs only the DuckDB side, and asserts it reports exactly what each
case expects (the spec's findings, with the named differences applied), plus
the line-mapping checks above. Run it before tributary's side exists, and
whenever DuckDB is upgraded.

Needs: duckdb (pinned in scripts/requirements-test.txt), e.g.
    python3 -m venv /tmp/venv-duck && /tmp/venv-duck/bin/pip install duckdb==2.0.1
    $VENV/bin/python tests/differential/contract_duckdb.py --self-test

Exit status: 0 when every difference is explained, 1 when one is not (or a
named difference no longer shows), 2 when the harness itself fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

# ---------------------------------------------------------------------------
# The differences between tributary and DuckDB that are there on purpose.
# Each was seen on DuckDB 2.0.1 (Python package), with read_csv as this script
# calls it; the text says what DuckDB did. A case of kind "difference" shows
# each one, and the comparison requires that the two sides differ exactly on
# the lines it names.

KNOWN_DIFFERENCES: dict[str, str] = {
    "integer_fraction_rounded": (
        "DuckDB reads a fraction into INTEGER/BIGINT by rounding half away from zero: "
        "'1.5'->2, '2.5'->3, '-2.5'->-3, '1.4999'->1, '.5'->1, '5.'->5, '1.0'->1. "
        "tributary rejects any fraction (type)."
    ),
    "integer_exponent": (
        "DuckDB reads '1e3' and '1E3' as 1000, '1e-1' as 0 and '1E18' as 10^18 in INTEGER/BIGINT "
        "('1e10' in INTEGER is out of range for both). tributary rejects an exponent (type)."
    ),
    "integer_hex_binary": (
        "DuckDB reads '0x10'/'0X1F' as 16/31 and '0b101' as 5 in INTEGER/BIGINT "
        "('0o17' is rejected by both). tributary rejects them (type)."
    ),
    "digit_separator_underscore": (
        "DuckDB accepts one '_' between digits: '1_000'->1000 (INTEGER), '1_0.5'->10.50 "
        "(DECIMAL), '1_000.5'->1000.5 (DOUBLE); '1__0', '_10', '10_' are rejected by both. "
        "tributary rejects any '_' (type)."
    ),
    "decimal_rounding": (
        "DuckDB rounds digits past the scale into DECIMAL(12,2): '1.005'->1.01, "
        "'1.004'->1.00, '1.50000000001'->1.50, a 40-digit fraction '0.1234...'->0.12. "
        "tributary never rounds: a non-zero digit past the scale is a type error; "
        "zeros past it ('1.500', '1.' + 40 zeros) are accepted by both."
    ),
    "decimal_exponent": (
        "DuckDB reads '1.2e1'->12.00 and '1e3'->1000.00 into DECIMAL(12,2). "
        "tributary rejects an exponent in a decimal (type)."
    ),
    "double_overflow_to_inf": (
        "DuckDB reads '1e400'->inf, '-1e400'->-inf, '1.8e308'->inf into DOUBLE. tributary "
        "rejects a number that overflows (type) even with allow_non_finite: true. (Without "
        "allow_non_finite both reject it: the script reports DuckDB's infinities as type errors.)"
    ),
    "numeric_trim_set": (
        "DuckDB trims \\n, \\r, \\v and \\f as well as spaces and tabs around INTEGER, BIGINT, "
        "DOUBLE, DECIMAL and DATE values, and before TIMESTAMPTZ values ('\"12\\n\"'->12, "
        "'\\x0b1.25'->1.25). tributary trims only spaces and tabs (type)."
    ),
    "boolean_untrimmed": (
        "DuckDB trims nothing around a BOOLEAN: ' true', 'false ', '\\tyes', ' 1 ' are "
        "rejected. tributary trims spaces and tabs around every non-string value."
    ),
    "timestamp_trailing_tab": (
        "DuckDB's TIMESTAMPTZ refuses a tab right after the time: '2026-01-05 10:00:00\\t' "
        "is rejected, while '... 10:00:00 \\t', '...10:00:00Z\\t' and '...+01:00\\t' are "
        "read (leading tabs are fine too). tributary trims spaces and tabs on both sides."
    ),
    "date_lenient_syntax": (
        "DuckDB's read_csv DATE takes single-digit fields ('2026-1-5', '2026-01-5'), '/' "
        "('2026/01/05'), a 5-digit year ('99999-01-01'), an era ('2026-01-05 BC') and "
        "trailing text ('2026-01-05abc', '2026-01-05.'; SQL CAST rejects trailing text, "
        "read_csv does not). tributary takes exactly YYYY-MM-DD (type)."
    ),
    "date_time_of_day": (
        "DuckDB's DATE drops a time of day: '2026-01-05 10:00', '2026-01-05T10:00:00' and "
        "'2026-01-05 10:00:00+02:00' -> 2026-01-05. tributary rejects a time of day with "
        "the default date format (type)."
    ),
    "special_values": (
        "DuckDB accepts 'infinity', '-infinity' and 'epoch' as DATE (9999-12-31, 0001-01-01, "
        "1970-01-01 in Python) and as TIMESTAMPTZ (infinity, -infinity, 1970-01-01 00:00Z). "
        "tributary rejects them (type). 'today' is rejected by both."
    ),
    "timestamp_hour_24": (
        "DuckDB reads hour 24 as midnight of the next day ('2026-01-05 24:00:00' -> "
        "2026-01-06 00:00). tributary rejects it (type); hour 25 is rejected by both."
    ),
    "timestamp_sub_microsecond": (
        "DuckDB truncates a fraction past the microsecond ('10:00:00.1234567' -> .123456). "
        "tributary rejects a non-zero digit past the sixth (type); '.1234560' and "
        "'.123456000' are accepted by both."
    ),
    "timestamp_date_only": (
        "DuckDB reads a bare date '2026-01-05' as TIMESTAMPTZ midnight. tributary's default "
        "timestamp format needs at least HH:MM (type)."
    ),
    "timestamp_zone_name": (
        "DuckDB accepts a zone name after the time ('2026-01-05 10:00:00 UTC', "
        "'... Europe/Paris' read as 09:00Z). tributary takes only Z or a numeric offset (type)."
    ),
    "timestamp_lowercase_t_z": (
        "tributary accepts RFC 3339's lowercase 't' separator and 'z' offset "
        "('2026-01-05t10:00:00', '2026-01-05 10:00:00z'); DuckDB rejects both (type)."
    ),
    "offset_beyond_23h": (
        "DuckDB accepts an offset of +24:00 ('2026-01-05 10:00:00+24:00' -> 2026-01-04 10:00Z). "
        "tributary rejects offset hours above 23 (type)."
    ),
    "dst_gap": (
        "A local time skipped by a daylight-saving change (Europe/Paris 2026-03-29 02:30) is "
        "read by DuckDB with the offset from before the change (-> 01:30Z). tributary rejects "
        "it (type)."
    ),
    "dst_overlap": (
        "A local time that occurs twice (Europe/Paris 2026-10-25 02:30) is the later instant "
        "for DuckDB (01:30Z) and the earlier one for tributary (00:30Z): with max "
        "'2026-10-25T00:30:00Z' only DuckDB reports max."
    ),
    "regex_unicode_classes": (
        "RE2's \\d, \\w and \\s (DuckDB's regexp_full_match) are ASCII; Rust regex's are "
        "Unicode: '١٢٣' matches ^\\d+$, 'héllo' ^\\w+$ and a no-break space ^\\s$ for "
        "tributary, not for DuckDB (pattern). Generated patterns use [0-9] for this reason."
    ),
    "extra_null_fields": (
        "DuckDB reads a row with more fields than the header when every extra field is null "
        "by nullstr ('1,x,' and '1,x,\"\"', even '1,x,NULL' with nullstr ['', 'NULL']); "
        "with a non-null extra field it reports TOO MANY COLUMNS. tributary reports "
        "`columns` for any field count other than the header's."
    ),
    "header_not_checked": (
        "DuckDB's read_csv with explicit columns and header=true skips the header without "
        "looking at its names, and reads the rows. tributary rejects a header that lacks a "
        "contract column or, with extra_columns: reject (the default), names a column the "
        "contract does not (columns on line 1), and then checks no row: DuckDB alone reports "
        "the rows' findings."
    ),
    "ignored_column_encoding": (
        "DuckDB checks that every field it reads is UTF-8: bytes that are not UTF-8 in a "
        "column the contract does not name (extra_columns: ignore; read as VARCHAR, or BLOB) "
        "reject the row (INVALID ENCODING, which the script reports as a type error of that "
        "column). tributary never reads an ignored column. (Left out of the SELECT, the column "
        "is not checked, but 2.0.1's rejects then name the wrong column for a TIMESTAMPTZ cast "
        "error, so the script selects every column.)"
    ),
    "mixed_line_endings": (
        "DuckDB needs one kind of line end per file: with \\r\\n, \\n and \\r mixed, strict "
        "mode fails ('The CSV Parser state machine reached an invalid state') and "
        "strict_mode=false misreads rows (the first field after each lone \\r came back "
        "empty: '3' read as ''). tributary ends a line at "
        "each of them. DuckDB reads a copy rewritten with \\n line ends instead, and the "
        "script asserts the original still fails in DuckDB."
    ),
}

CHECKS = (
    "type", "nullable", "unique", "primary_key", "allowed", "min", "max",
    "pattern", "min_length", "max_length", "columns",
)
# Checks of a whole row: compared without a column name.
ROW_CHECKS = ("columns", "primary_key")

RULE_ID = "contract-diff"
PASSWORD_ENV = "TRIBUTARY_CONTRACT_DIFF_PASSWORD"
BOM = b"\xef\xbb\xbf"
# A null string DuckDB will never meet, for reading every field as text.
NEVER_NULL = "\x01tributary-never-null\x01"
# The message DuckDB gives for a file mixing line ends (see mixed_line_endings).
MIXED_LINE_ENDS_ERROR = "invalid state"

# A finding: (physical line, check, column or None for ROW_CHECKS).
Finding = tuple


class HarnessError(Exception):
    """The harness itself is wrong (or a tool misbehaved): not a difference."""


def finding(line: int, check: str, column: str | None) -> Finding:
    if check not in CHECKS:
        raise HarnessError(f"unknown check {check!r}")
    return (line, check, None if check in ROW_CHECKS else column)


def describe(f: Finding) -> str:
    line, check, column = f
    return f"line {line} {check}" + (f" {column}" if column else "")


# ---------------------------------------------------------------------------
# Contracts and the registry holding them.


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    unique: bool = False
    format: str | None = None
    timezone: str | None = None
    min: object = None
    max: object = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    allowed: tuple | None = None
    allow_non_finite: bool = False

    def registry_entry(self) -> dict:
        entry: dict = {"name": self.name, "type": self.type}
        if not self.nullable:
            entry["nullable"] = False
        if self.unique:
            entry["unique"] = True
        for key in ("format", "timezone", "min", "max", "min_length", "max_length", "pattern"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        if self.allowed is not None:
            entry["allowed"] = list(self.allowed)
        if self.allow_non_finite:
            entry["allow_non_finite"] = True
        return entry


@dataclass
class Contract:
    """A rule's contract, with the rule's fields that say how its file is split."""

    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    null_values: list[str] = field(default_factory=lambda: [""])
    tenant_timezone: str = "UTC"
    format: str = "csv"  # csv | tsv (the rule's default delimiter: ',' or a tab)
    header: bool = True  # False: columns matched by position, the first record is data
    extra_columns: str = "reject"  # reject | ignore

    @property
    def delimiter(self) -> bytes:
        if self.format not in ("csv", "tsv"):
            raise HarnessError(f"format {self.format!r}: only csv and tsv are compared")
        return b"," if self.format == "csv" else b"\t"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def is_nullable(self, column: Column) -> bool:
        return column.nullable and column.name not in self.primary_key

    def zone(self, column: Column) -> str:
        return column.timezone or self.tenant_timezone


def registry_document(contract: Contract) -> dict:
    rule: dict = {
        "id": RULE_ID,
        "match": {"glob": f"/in/*.{contract.format}"},
        "dataset": "contract-diff",
        "format": contract.format,
        "header": contract.header,
        "columns": [c.registry_entry() for c in contract.columns],
        "null_values": list(contract.null_values),
        "extra_columns": contract.extra_columns,
        "on_invalid": {"action": "reject_file"},
    }
    if contract.primary_key:
        rule["primary_key"] = list(contract.primary_key)
    tenant: dict = {"id": "contract-diff", "sources": [{
        "id": "contract-diff-ftp",
        "host": "localhost",
        "protocol": "ftp",
        "username": "contract-diff",
        "password": {"env": PASSWORD_ENV},
        "directories": ["/in"],
        "rules": [rule],
    }]}
    if contract.tenant_timezone != "UTC":
        tenant["timezone"] = contract.tenant_timezone
    return {"version": 1, "tenants": [tenant]}


def yaml_scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, str):
        # A JSON string is a YAML double-quoted scalar.
        return json.dumps(value, ensure_ascii=False)
    if value == {} or value == []:
        return json.dumps(value)
    raise HarnessError(f"no YAML for {value!r}")


def yaml_lines(value: object, indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(yaml_lines(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {yaml_scalar(item)}")
    else:
        for item in value:  # a list
            if isinstance(item, (dict, list)) and item:
                sub = yaml_lines(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {yaml_scalar(item)}")
    return lines


def registry_yaml(contract: Contract) -> str:
    doc = registry_document(contract)
    text = "# Written by tests/differential/contract_duckdb.py\n" + "\n".join(yaml_lines(doc, 0)) + "\n"
    try:  # PyYAML is optional: when present, check the text reads back as written.
        import yaml  # type: ignore
    except ImportError:
        return text
    if yaml.safe_load(text) != json.loads(json.dumps(doc, default=str)):
        raise HarnessError("the registry YAML does not read back as the document")
    return text


# ---------------------------------------------------------------------------
# The csv structure, as the spec reads it: where each record starts.


@dataclass
class Field:
    raw: bytes
    quoted: bool

    def text(self) -> str:
        return self.raw.decode("utf-8", "surrogateescape")


@dataclass
class Record:
    index: int  # 0 = header, then data records from 1
    line: int  # physical line (1-based) where it starts
    offset: int  # byte offset of its first byte (a leading BOM counts)
    fields: list[Field]
    ending: bytes  # b"\n", b"\r\n", b"\r" or b"" at the end of the file
    stand_in: bool = False  # no header: an empty record 0, not in the file


def parse_records(data: bytes, delimiter: bytes = b",", header: bool = True) -> list[Record]:
    """Splits csv/tsv bytes into records (RFC 4180 quoting; \\n, \\r\\n and a lone \\r
    each end a line), noting each record's physical line and byte offset.
    records[i] is data record i: without a header, records[0] is a stand-in
    (line 0, no fields) and the first record of the file, on line 1, is records[1]."""
    quote, delim, cr, lf = 0x22, ord(delimiter), 0x0D, 0x0A
    records: list[Record] = [] if header else [Record(0, 0, 0, [], b"", stand_in=True)]
    pos = len(BOM) if data.startswith(BOM) else 0
    line = 1
    size = len(data)
    while pos < size:
        start, start_line = pos, line
        fields: list[Field] = []
        ending = b""
        while True:
            if pos < size and data[pos] == quote:
                pos += 1
                value = bytearray()
                while True:
                    if pos >= size:
                        raise HarnessError(f"unterminated quote in the record of line {start_line}")
                    byte = data[pos]
                    if byte == quote:
                        if pos + 1 < size and data[pos + 1] == quote:
                            value.append(quote)
                            pos += 2
                            continue
                        pos += 1
                        break
                    if byte == lf or (byte == cr and not (pos + 1 < size and data[pos + 1] == lf)):
                        line += 1
                    value.append(byte)
                    pos += 1
                fields.append(Field(bytes(value), True))
                if pos < size and data[pos] not in (delim, cr, lf):
                    raise HarnessError(f"text after a closing quote on line {line}")
            else:
                end = pos
                while end < size and data[end] not in (delim, cr, lf):
                    if data[end] == quote:
                        raise HarnessError(f"a quote inside an unquoted field on line {line}")
                    end += 1
                fields.append(Field(data[pos:end], False))
                pos = end
            if pos >= size:
                break
            if data[pos] == delim:
                pos += 1
                continue
            ending = b"\r\n" if data[pos:pos + 2] == b"\r\n" else data[pos:pos + 1]
            pos += len(ending)
            line += 1
            break
        if len(fields) == 1 and not fields[0].raw and not fields[0].quoted:
            raise HarnessError(f"blank line {start_line}: no case should have one")
        records.append(Record(len(records), start_line, start, fields, ending))
    return records


def python_csv_fields(data: bytes, delimiter: bytes = b",") -> list[list[str]]:
    """The same file through Python's csv module, as a cross-check of parse_records."""
    text = data[len(BOM):] if data.startswith(BOM) else data
    return list(csv.reader(io.StringIO(text.decode("utf-8", "surrogateescape"), newline=""),
                           delimiter=delimiter.decode(), strict=True))


def rewrite_with_lf_endings(data: bytes, records: list[Record], delimiter: bytes = b",") -> bytes:
    """The same records with every line end outside quotes made \\n (for DuckDB,
    which cannot read a file mixing line ends); quoted fields are kept byte for byte."""
    out = bytearray(BOM if data.startswith(BOM) else b"")
    for record in (r for r in records if not r.stand_in):
        out += delimiter.join(
            b'"' + f.raw.replace(b'"', b'""') + b'"' if f.quoted else f.raw for f in record.fields
        )
        out += b"\n" if record.ending else b""
    return bytes(out)


def count_line_breaks(data: bytes) -> int:
    return len(re.findall(rb"\r\n|\r|\n", data))


# ---------------------------------------------------------------------------
# Cases: a file, its contract, what the spec says and where DuckDB differs.


@dataclass
class Case:
    name: str
    kind: str  # generated | hostile | difference
    about: str
    contract: Contract
    data: bytes
    expected: set  # findings the spec gives (what tributary must report)
    # (difference name, side that alone reports it, finding)
    differences: set = field(default_factory=set)
    # A KNOWN_DIFFERENCES name when DuckDB cannot read the file as it is and
    # reads a copy with \n line ends (the harness asserts the original fails).
    duckdb_reads_copy: str | None = None
    # The file's columns as DuckDB reads them, in file order (default: the
    # contract's): with extra columns, the contract's and the others (VARCHAR).
    read_columns: list | None = None
    # When the header is rejected: the columns its errors must name.
    header_columns: set | None = None

    @property
    def records(self) -> list[Record]:
        return parse_records(self.data, self.contract.delimiter, self.contract.header)

    @property
    def file_columns(self) -> list[str]:
        return self.read_columns or [c.name for c in self.contract.columns]

    @property
    def expected_duckdb(self) -> set:
        only_tributary = {f for _, side, f in self.differences if side == "tributary"}
        only_duckdb = {f for _, side, f in self.differences if side == "duckdb"}
        return (self.expected - only_tributary) | only_duckdb

    @property
    def difference_names(self) -> set:
        names = {name for name, _, _ in self.differences}
        if self.duckdb_reads_copy:
            names.add(self.duckdb_reads_copy)
        return names


@dataclass
class Row:
    """A data row for build_case: its fields (str, or bytes for invalid UTF-8),
    the spec's findings ("check:column", or "columns"/"primary_key"), and, when
    DuckDB reports otherwise, what it reports and the difference explaining it."""

    fields: list
    expect: str = ""
    duckdb: str | None = None
    diff: str | None = None
    end: str | None = None  # line end after this row (default: the case's)
    quote: frozenset = frozenset()  # field positions quoted even when not needed
    at_line: int | None = None  # the physical line, worked out by hand: asserted


def serialize_field(value: str | bytes, force_quote: bool, delimiter: bytes = b",") -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    if force_quote or any(c in raw for c in (delimiter, b'"', b"\r", b"\n")):
        return b'"' + raw.replace(b'"', b'""') + b'"'
    return raw


def parse_expectations(text: str, line: int) -> set:
    out = set()
    for item in text.split():
        check, _, column = item.partition(":")
        out.add(finding(line, check, column or None))
    return out


def build_case(
    name: str,
    kind: str,
    about: str,
    contract: Contract,
    rows: list[Row],
    *,
    header: list[str] | None = None,
    header_expect: str = "",
    header_diff: str | None = None,
    ending: str = "\n",
    header_end: str | None = None,
    bom: bool = False,
    final_ending: bool = True,
    duckdb_reads_copy: str | None = None,
    read_columns: list[str] | None = None,
) -> Case:
    """The file of `rows` (after a header unless the contract has none), in
    the contract's format, and what each side should report on it."""
    delimiter = contract.delimiter
    out = bytearray(BOM if bom else b"")
    if contract.header:
        names = header if header is not None else [c.name for c in contract.columns]
        out += delimiter.join(serialize_field(n, False, delimiter) for n in names)
        out += (header_end or ending).encode()
    elif header is not None or header_expect or header_end:
        raise HarnessError(f"{name}: a header for a contract without one")
    expected = parse_expectations(header_expect, 1)
    differences = {(header_diff, "tributary", f) for f in expected} if header_diff else set()
    line = 2 if contract.header else 1
    for number, row in enumerate(rows, start=1):
        if row.at_line is not None and row.at_line != line:
            raise HarnessError(f"{name}: row {number} starts on line {line}, not {row.at_line}")
        text = delimiter.join(serialize_field(v, i in row.quote, delimiter) for i, v in enumerate(row.fields))
        last = number == len(rows)
        end = b"" if last and not final_ending else (row.end or ending).encode()
        out += text + end
        spec = parse_expectations(row.expect, line)
        duck = parse_expectations(row.duckdb, line) if row.duckdb is not None else spec
        if spec != duck:
            if row.diff not in KNOWN_DIFFERENCES:
                raise HarnessError(f"{name}: row {number} differs without a known difference")
            differences |= {(row.diff, "tributary", f) for f in spec - duck}
            differences |= {(row.diff, "duckdb", f) for f in duck - spec}
        expected |= spec
        line += count_line_breaks(text) + (1 if end else 0)
    return Case(name, kind, about, contract, bytes(out), expected, differences, duckdb_reads_copy, read_columns)


# ---------------------------------------------------------------------------
# Generated cases: a column of every type, valid values in many spellings, and
# a controlled mix of invalid ones. Each cell is generated with its typed value
# (the key), so the expected findings follow from the keys: type errors and
# nulls by construction, min/max/pattern/lengths/allowed from a reference
# evaluation, unique and primary key from the keys in file order.


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_OF_TYPE = _Sentinel("NOT_OF_TYPE")
NULL = _Sentinel("NULL")

# Invalid values both sides reject (each checked by --self-test on DuckDB).
BAD_INT = ["abc", "12a", "1,000", "1 000", "2147483648", "-2147483649", "99999999999999999999",
           "0o17", "1__0", "_10", "10_", "- 1", "+-1", "١٢", "\u00a012", "NaN", "  ", "1e10", "x1"]
BAD_BIGINT = ["abc", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
              "340282366920938463463374607431768211456", "12a", "1,5", "0o7", "١٢٣"]
BAD_DOUBLE = ["abc", "1,5", "1.5.5", "e5", "1e", "--1", "0x1p3", "NaN", "nan", "inf", "-inf",
              "Infinity", "1e400", "-1e400", "1.5d", "١.٥"]
BAD_DECIMAL_12_2 = ["abc", "1.2.3", "10000000000", "99999999999.5",
                    "1234567890123456789012345678901234567890", "0x10", ".", "-", "1,50", "$5"]
BAD_DECIMAL_4_1 = ["1234.5", "x", "1.2.3", "10000"]
BAD_BOOLEAN = ["on", "off", "2", "tru", "yess", "-1", "01", "00", "truee", "ja", "nope"]
BAD_DATE = ["2026-02-30", "2026-13-01", "2026-00-10", "2026-01-00", "20260105", "today",
            "2025-02-29", "+2026-01-05", "2026-01-051", "２０２６-01-05", "2026-04-31"]
BAD_DATE_DMY = ["31/02/2026", "2026-01-05", "05/13/2026", "05/01/2026x", "5.1.2026", "00/01/2026"]
BAD_TIMESTAMP = ["2026-02-30 10:00:00", "2026-01-05 10", "2026-01-05 25:00:00",
                 "2026-01-05 10:61:00", "2026-01-05 23:59:60", "yesterday",
                 "2026-13-05 10:00:00", "10:00:00"]
BAD_TIMESTAMP_DMY = ["31/02/2026 10:00", "2026-01-05 10:00", "05/01/2026 24:00",
                     "05/01/2026 10:60", "05/01/2026 10:00:00", "05-01-2026 10:00",
                     "05/13/2026 10:00"]
BOOLEAN_WORDS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
                 "false": False, "f": False, "no": False, "n": False, "0": False}
UTC = timezone.utc
TS_MIN = datetime(2020, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -éßøÅ東京😀,\"'"

Value = tuple  # (text as written, key)


def random_case(rng: random.Random, word: str) -> str:
    return "".join(c.upper() if rng.random() < 0.3 else c for c in word)


def pad(rng: random.Random, text: str, both: str = " \t") -> str:
    """Sometimes surrounds text with spaces/tabs (ignored by every non-string type)."""
    roll = rng.random()
    if roll < 0.85:
        return text
    return rng.choice(["", *both]) + text + rng.choice(["", *both])


def int_text(rng: random.Random, value: int) -> str:
    forms = [str(value)] * 6
    if value >= 0:
        forms += [f"+{value}", f"0{value}", f"00{value}"]
    return pad(rng, rng.choice(forms))


def decimal_text(rng: random.Random, value: Decimal, scale: int) -> str:
    fixed = f"{value:.{scale}f}"
    forms = [fixed] * 4 + [fixed + "0", fixed.rstrip("0").rstrip(".") or "0"]
    if fixed.startswith("0."):
        forms.append(fixed[1:])
    if value >= 0:
        forms.append("+" + fixed)
    return pad(rng, rng.choice(forms))


def double_text(rng: random.Random, value: float) -> Value:
    text = rng.choice([repr(value), f"{value:.3f}", f"{value:e}", f"{value:.1f}", f"{value:E}"])
    if text.startswith("0.") and rng.random() < 0.5:
        text = text[1:]
    return pad(rng, text), float(text)


def timestamp_text(rng: random.Random, instant: datetime) -> str:
    """An ISO 8601 spelling of instant: 'T' or space, seconds and fraction when
    needed (or not), Z / an offset / nothing (the tenant's zone is UTC)."""
    minutes = rng.choice([0, 0, 0, 120, -180, 330, 60])
    local = instant.astimezone(timezone(timedelta(minutes=minutes)))
    text = local.strftime("%Y-%m-%d") + rng.choice("T ") + local.strftime("%H:%M")
    if local.second or local.microsecond or rng.random() < 0.7:
        text += local.strftime(":%S")
        if local.microsecond:
            text += f".{local.microsecond:06d}" + rng.choice(["", "", "000"])
    if minutes == 0:
        text += rng.choice(["", "", "Z", "+00:00"])
    else:
        sign = "+" if minutes > 0 else "-"
        hours, mins = divmod(abs(minutes), 60)
        forms = [f"{sign}{hours:02d}:{mins:02d}", f"{sign}{hours:02d}{mins:02d}"]
        if mins == 0:
            forms.append(f"{sign}{hours:02d}")
        text += rng.choice(forms)
    # DuckDB trims only spaces after a timestamp (timestamp_trailing_tab).
    return rng.choice(["", "", "", " ", "\t"]) + text + rng.choice(["", "", "", " "])


def random_instant(rng: random.Random, low: datetime, high: datetime, whole_minutes=False) -> datetime:
    seconds = rng.randrange(int((high - low).total_seconds()) + 1)
    instant = low + timedelta(seconds=seconds)
    if whole_minutes:
        return instant.replace(second=0)
    if rng.random() < 0.3:
        instant = instant.replace(microsecond=rng.randrange(1_000_000))
        if instant > high:
            instant = high
    return instant


def random_date(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randrange((high - low).days + 1))


def random_name(rng: random.Random, length: int) -> str:
    chars = [rng.choice(NAME_ALPHABET) for _ in range(length)]
    if rng.random() < 0.05:  # a quoted line break: records no longer match lines
        chars[rng.randrange(length)] = rng.choice(["\n", "\r"])
    return "".join(chars)


@dataclass
class GeneratedColumn:
    column: Column
    valid: Callable[[random.Random, int], Value]
    # check -> a value failing it (key NOT_OF_TYPE for "type")
    invalid: dict


def generated_columns() -> list[GeneratedColumn]:
    def bad(pool):
        return lambda rng, i: (rng.choice(pool), NOT_OF_TYPE)

    def ints(low, high):
        def make(rng, i):
            v = rng.randint(low, high)
            return int_text(rng, v), v
        return make

    def decimals(low_cents, high_cents):
        def make(rng, i):
            v = Decimal(rng.randint(low_cents, high_cents)).scaleb(-2)
            return decimal_text(rng, v, 2), v
        return make

    def instants(low, high, text_of, whole_minutes=False):
        def make(rng, i):
            t = random_instant(rng, low, high, whole_minutes)
            return text_of(rng, t), t
        return make

    def dates(low, high, text_of):
        def make(rng, i):
            d = random_date(rng, low, high)
            return text_of(rng, d), d
        return make

    iso_date = lambda rng, d: pad(rng, d.isoformat())  # noqa: E731
    dmy_date = lambda rng, d: pad(rng, d.strftime("%d/%m/%Y"), " ")  # noqa: E731
    dmy_time = lambda rng, t: pad(rng, t.strftime("%d/%m/%Y %H:%M"), " ")  # noqa: E731
    allowed_tiers = {Decimal("0.5"): ["0.5", ".5", "+0.5", "0.50"], Decimal("1.0"): ["1", "1.0", "01.0", "1.00"],
                     Decimal("2.5"): ["2.5", "2.50", " 2.5"]}

    def tier(rng, i):
        v = rng.choice(list(allowed_tiers))
        return rng.choice(allowed_tiers[v]), v

    def tier_not_allowed(rng, i):
        v = rng.choice([Decimal("0.7"), Decimal("3.0"), Decimal("10.5"), Decimal("-0.5"), Decimal("999.9")])
        return decimal_text(rng, v, 1), v

    def level(rng, i):
        v = rng.choice([1, 2, 3, 5, 8])
        return int_text(rng, v), v

    def level_not_allowed(rng, i):
        v = rng.choice([0, 4, 6, 7, 9, 13, -1, 100])
        return int_text(rng, v), v

    def score(rng, i):
        if rng.random() < 0.05:
            return rng.choice([("-0.0", -0.0), ("0", 0.0), ("1e-400", 0.0), (".5", 0.5), ("2.", 2.0)])
        return double_text(rng, round(rng.uniform(-1000, 1000), rng.choice([0, 1, 2, 3, 6])))

    def flag(rng, i):
        word = rng.choice(list(BOOLEAN_WORDS))
        return random_case(rng, word), BOOLEAN_WORDS[word]  # no padding: boolean_untrimmed

    def sku_pattern_miss(rng, i):
        text = rng.choice([f"SKU-{i:05d}", f"sku-{i:06d}", f"SKU-{i:06d}X", f"SKU-{i:06d}\n",
                           f"SKU-{i:06d} ", f" SKU-{i:06d}", f"SKU-١٢٣{i % 1000:03d}", f"SKU_{i:06d}"])
        return text, text

    def name(rng, i):
        text = random_name(rng, rng.randint(3, 12))
        return text, text

    def name_short(rng, i):
        if rng.random() < 0.5:
            text = rng.choice(["ab", "é", "x", "東京", "😀"])
        else:
            text = random_name(rng, rng.randint(1, 2))
        return text, text

    def name_long(rng, i):
        text = rng.choice(["abcdefghijklm", "é" * 13, "a\u0301" * 7]) if rng.random() < 0.5 \
            else random_name(rng, rng.randint(13, 20))
        return text, text

    def status(rng, i):
        text = rng.choice(["new", "paid", "refunded"])
        return text, text

    def status_not_allowed(rng, i):
        text = rng.choice(["NEW", "Paid", "cancelled", " new", "new ", "refund"])
        return text, text

    return [
        GeneratedColumn(
            Column("id", "bigint", nullable=False, unique=True),
            lambda rng, i: (int_text(rng, 10_000_000_000 + 7 * i), 10_000_000_000 + 7 * i),
            {"type": bad(BAD_BIGINT)}),
        GeneratedColumn(  # primary key with seq; (i % 100, i // 100) never repeats
            Column("region", "int", min=0, max=99),
            lambda rng, i: (int_text(rng, i % 100), i % 100),
            {"type": bad(BAD_INT),
             "min": lambda rng, i: (int_text(rng, -(i % 100) - 1), -(i % 100) - 1),
             "max": lambda rng, i: (int_text(rng, 100 + i % 100), 100 + i % 100)}),
        GeneratedColumn(
            Column("seq", "bigint"),
            lambda rng, i: (int_text(rng, i // 100), i // 100),
            {"type": bad(BAD_BIGINT)}),
        GeneratedColumn(
            Column("qty", "int", nullable=False, min=0, max=10000),
            ints(0, 10000),
            {"type": bad(BAD_INT), "min": ints(-2147483648, -1), "max": ints(10001, 2147483647)}),
        GeneratedColumn(
            Column("level", "int", allowed=(1, 2, 3, 5, 8)),
            level,
            {"type": bad(BAD_INT), "allowed": level_not_allowed}),
        GeneratedColumn(
            Column("score", "double", min=-1000, max=1000),
            score,
            {"type": bad(BAD_DOUBLE),
             "min": lambda rng, i: double_text(rng, -1000.5 - rng.random() * 1e6),
             "max": lambda rng, i: rng.choice([("1e4", 1e4), ("2E3", 2e3),
                                               double_text(rng, 1000.001 + rng.random() * 1e6)])}),
        GeneratedColumn(
            Column("amount", "decimal(12,2)", min=0, max=1000000),
            decimals(0, 100_000_000),
            {"type": bad(BAD_DECIMAL_12_2), "min": decimals(-10_000_000, -1),
             "max": decimals(100_000_001, 999_999_999_999)}),
        GeneratedColumn(
            Column("tier", "decimal(4,1)", allowed=("0.5", "1.0", "2.5")),
            tier,
            {"type": bad(BAD_DECIMAL_4_1), "allowed": tier_not_allowed}),
        GeneratedColumn(
            Column("flag", "boolean", nullable=False),
            flag,
            {"type": bad(BAD_BOOLEAN)}),
        GeneratedColumn(
            Column("day", "date", min="2020-01-01", max="2030-12-31"),
            dates(date(2020, 1, 1), date(2030, 12, 31), iso_date),
            {"type": bad(BAD_DATE), "min": dates(date(1000, 1, 1), date(2019, 12, 31), iso_date),
             "max": dates(date(2031, 1, 1), date(9999, 12, 31), iso_date)}),
        GeneratedColumn(
            Column("ship_day", "date", format="%d/%m/%Y"),
            dates(date(1990, 1, 1), date(2040, 12, 31), dmy_date),
            {"type": bad(BAD_DATE_DMY)}),
        GeneratedColumn(
            Column("created_at", "timestamp", min="2020-01-01T00:00:00Z", max="2030-12-31T23:59:59Z"),
            instants(TS_MIN, TS_MAX, timestamp_text),
            {"type": bad(BAD_TIMESTAMP),
             "min": instants(datetime(1990, 1, 1, tzinfo=UTC), TS_MIN - timedelta(microseconds=1), timestamp_text),
             "max": instants(TS_MAX + timedelta(seconds=1), datetime(2040, 1, 1, tzinfo=UTC), timestamp_text)}),
        GeneratedColumn(
            Column("local_at", "timestamp", format="%d/%m/%Y %H:%M",
                   min="2020-01-01T00:00:00Z", max="2030-12-31T23:59:59Z"),
            instants(TS_MIN, TS_MAX, dmy_time, whole_minutes=True),
            {"type": bad(BAD_TIMESTAMP_DMY),
             "min": instants(datetime(1990, 1, 1, tzinfo=UTC), TS_MIN - timedelta(minutes=1), dmy_time, True),
             "max": instants(datetime(2031, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC), dmy_time, True)}),
        GeneratedColumn(
            Column("sku", "string", unique=True, pattern="^SKU-[0-9]{6}$"),
            lambda rng, i: (f"SKU-{i:06d}", f"SKU-{i:06d}"),
            {"pattern": sku_pattern_miss}),
        GeneratedColumn(
            Column("name", "string", min_length=3, max_length=12),
            name,
            {"min_length": name_short, "max_length": name_long}),
        GeneratedColumn(
            Column("status", "string", nullable=False, allowed=("new", "paid", "refunded")),
            status,
            {"allowed": status_not_allowed}),
    ]


def typed_bound(column: Column, value: object) -> object:
    """A bound or allowed value of the contract as the key type of its column."""
    kind = column.type
    if kind in ("int", "bigint"):
        return int(value)
    if kind == "double":
        return float(value)
    if kind.startswith("decimal"):
        return Decimal(str(value))
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return date.fromisoformat(str(value))
    if kind == "timestamp":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value


def reference_checks(contract: Contract, column: Column, key: object) -> list[str]:
    """What the spec says about one cell, given its typed value (unique and
    primary key aside): a reference evaluation for the generated cases."""
    if key is NOT_OF_TYPE:
        return ["type"]
    if key is NULL:
        return [] if contract.is_nullable(column) else ["nullable"]
    failed = []
    if column.min is not None and key < typed_bound(column, column.min):
        failed.append("min")
    if column.max is not None and key > typed_bound(column, column.max):
        failed.append("max")
    if column.pattern is not None and not re.fullmatch(column.pattern, key):
        failed.append("pattern")
    if column.min_length is not None and len(key) < column.min_length:
        failed.append("min_length")
    if column.max_length is not None and len(key) > column.max_length:
        failed.append("max_length")
    if column.allowed is not None and key not in {typed_bound(column, a) for a in column.allowed}:
        failed.append("allowed")
    return failed


# Columns the contract does not name, for the extra_columns cases: after
# which contract column each comes (three in the middle, two of them side by
# side, and one at the end).
EXTRA_COLUMNS_AFTER = {"qty": ["note"], "local_at": ["memo", "ref"], "status": ["trailing"]}


def extra_text(rng: random.Random) -> str:
    """A value of a column the contract does not name: anything but bytes that
    are not UTF-8 (see ignored_column_encoding), never checked."""
    roll = rng.random()
    if roll < 0.4:
        return random_name(rng, rng.randint(1, 16))  # delimiters, quotes, line breaks
    if roll < 0.6:
        return rng.choice(["", "NULL", "  ", "\t"])
    if roll < 0.8:
        return rng.choice(BAD_INT + BAD_DATE + BAD_BOOLEAN)
    return rng.choice(["x" * 200, "1\t2,3;4|5", '"', '""', "a\r\nb", "\u00a0", "\ufeff", "SKU-000001"])


def generated_case(name: str, seed: int, rows: int, ending: str, *, fmt: str = "csv", header: bool = True,
                   extra_columns: bool = False) -> Case:
    """`rows` generated rows. fmt and header are the rule's; extra_columns adds
    the columns of EXTRA_COLUMNS_AFTER to the file, with extra_columns: ignore."""
    rng = random.Random(seed)
    gen = generated_columns()
    contract = Contract([g.column for g in gen], primary_key=["region", "seq"], null_values=["", "NULL"],
                        format=fmt, header=header, extra_columns="ignore" if extra_columns else "reject")
    names = [c.name for c in contract.columns]
    if extra_columns:
        names = [n for c in contract.columns for n in [c.name, *EXTRA_COLUMNS_AFTER.get(c.name, [])]]
    extras = [n for n in names if n not in {c.name for c in contract.columns}]
    by_name = {g.column.name: g for g in gen}
    # What can go wrong in each column: its invalid kinds, plus a null where
    # nulls are not allowed, plus a repeated value in unique columns.
    kinds = [(g.column.name, k) for g in gen for k in g.invalid]
    kinds += [(g.column.name, "nullable") for g in gen if not contract.is_nullable(g.column)]
    kinds += [("id", "unique"), ("sku", "unique"), ("region+seq", "primary_key")]

    table: list[dict] = []  # per row: column -> (text as written, key)
    for i in range(rows):
        row = {}
        for g in gen:
            if contract.is_nullable(g.column) and rng.random() < 0.03:
                text = rng.choice(contract.null_values)
                row[g.column.name] = (text, NULL)
            else:
                row[g.column.name] = g.valid(rng, i)
        roll = rng.random()
        count = 0 if roll < 0.55 else 1 if roll < 0.88 else 2
        taken: set = set()
        for col, kind in rng.sample(kinds, 6):
            if count == 0:
                break
            cols = col.split("+")  # a list: set order would vary between runs
            if taken.intersection(cols):
                continue
            earlier = None
            if kind in ("unique", "primary_key"):
                keys = [r for r in table if all(r[c][1] not in (NULL, NOT_OF_TYPE) for c in cols)]
                if not keys:
                    continue
                earlier = rng.choice(keys)
            taken.update(cols)
            count -= 1
            if kind == "nullable":
                row[col] = (rng.choice(contract.null_values), NULL)
            elif kind in ("unique", "primary_key"):
                for c in cols:  # the same typed value, perhaps spelled differently
                    text, key = earlier[c][:2]
                    row[c] = (int_text(rng, key), key) if isinstance(key, int) else (text, key)
            else:
                row[col] = by_name[col].invalid[kind](rng, i)
        table.append(row)

    out_rows = []
    seen: dict = {c.name: set() for c in contract.columns if c.unique}
    seen_pk: set = set()
    for row in table:
        expect = [f"{check}:{c.name}" for c in contract.columns
                  for check in reference_checks(contract, c, row[c.name][1])]
        for c in seen:
            key = row[c][1]
            if key in (NULL, NOT_OF_TYPE):
                continue
            if key in seen[c]:
                expect.append(f"unique:{c}")
            seen[c].add(key)
        pk = tuple(row[c][1] for c in contract.primary_key)
        if not any(k in (NULL, NOT_OF_TYPE) for k in pk):
            if pk in seen_pk:
                expect.append("primary_key")
            seen_pk.add(pk)
        texts = [row[n][0] if n in row else extra_text(rng) for n in names]
        # Quote some fields that need no quotes ("" is a null; a quoted "NULL"
        # is left out: the spec does not say whether it is one).
        quote = frozenset(i for i, t in enumerate(texts) if t != "NULL" and rng.random() < 0.04)
        out_rows.append(Row(texts, " ".join(expect), quote=quote))
    about = (f"{rows} rows, seed {seed}, {fmt}{'' if header else ' without a header'}, {ending!r} line ends, "
             f"every type and check" + (f"; extra columns {', '.join(extras)} (ignored)" if extras else ""))
    return build_case(name, "generated", about, contract, out_rows, ending=ending,
                      header=names if contract.header else None, read_columns=names if extra_columns else None)


def extra_columns_reject_twin(name: str, case: Case) -> Case:
    """The same file as `case` (extra_columns: ignore) under the default
    extra_columns: reject: each extra column in the header rejects the file,
    and no row is checked. DuckDB does not look at the header (header_not_checked)
    and reads the rows, the extra columns as VARCHAR, as in `case`."""
    if case.contract.extra_columns != "ignore" or not case.contract.header:
        raise HarnessError(f"{case.name}: a reject twin needs extra_columns: ignore and a header")
    contract = replace(case.contract, extra_columns="reject")
    header_error = finding(1, "columns", None)
    d = "header_not_checked"
    differences = {(d, "tributary", header_error)} | {(d, "duckdb", f) for f in case.expected_duckdb}
    extras = {n for n in case.file_columns if n not in {c.name for c in contract.columns}}
    about = f"the file of {case.name} with extra_columns: reject: its header names {len(extras)} extra columns"
    return Case(name, case.kind, about, contract, case.data, {header_error}, differences,
                case.duckdb_reads_copy, case.read_columns, header_columns=extras)


# ---------------------------------------------------------------------------
# Hostile cases, written by hand: each row says what the spec expects.


def hostile_cases() -> list[Case]:
    C = Column
    cases = []
    cases.append(build_case(
        "ragged-rows", "hostile", "rows with fewer or more fields than the header",
        Contract([C("a", "int"), C("b", "string"), C("c", "int")]),
        [Row(["1", "x", "2"]),
         Row(["3", "y"], "columns"),
         Row(["4", "z", "5", "6"], "columns"),
         Row(["7", "w", "8"]),
         Row(["9"], "columns"),
         Row(["x", "q", "y", "z"], "columns"),
         Row(["10", "v", ""]),
         Row(["11", "u", "12", ""], "columns", duckdb="", diff="extra_null_fields"),
         Row(["12", "s", "13", "NULL"], "columns"),
         Row(["13", "t", "14"])],
        final_ending=False))
    cases.append(build_case(
        "big-numbers", "hostile", "integers past 32 and 64 bits, decimals with 38-41 digits",
        Contract([C("i", "int"), C("b", "bigint"), C("d38", "decimal(38,0)"), C("d", "decimal(12,2)")]),
        [Row(["2147483647", "9223372036854775807", "9" * 38, "9999999999.99"]),
         Row(["-2147483648", "-9223372036854775808", "-" + "9" * 38, "-9999999999.99"]),
         Row(["2147483648", "9223372036854775808", "1" + "0" * 38, "10000000000.00"],
             "type:i type:b type:d38 type:d"),
         Row(["-2147483649", "-9223372036854775809", "1234567890" * 4, "1234567890" * 4],
             "type:i type:b type:d38 type:d"),
         Row(["99999999999999999999", "18446744073709551616", "0001", "0" * 40 + "1.5"], "type:i type:b"),
         Row(["1", "340282366920938463463374607431768211456", "1." + "0" * 40, "1." + "0" * 40], "type:b"),
         Row(["0", "-0", "-0", "-0.00"])]))
    cases.append(build_case(
        "non-finite", "hostile", "NaN and infinities, refused (x) and allowed (y, unique)",
        Contract([C("x", "double"), C("y", "double", unique=True, allow_non_finite=True)]),
        [Row(["NaN", "NaN"], "type:x"),
         Row(["nan", "nan"], "type:x unique:y"),
         Row(["inf", "inf"], "type:x"),
         Row(["-Infinity", "+inf"], "type:x unique:y"),
         Row(["INF", "-inf"], "type:x"),
         Row(["1e400", "0.0"], "type:x"),
         Row(["-1e400", "-0.0"], "type:x unique:y"),
         Row(["1e308", "1e308"]),
         Row(["1.7976931348623157e308", "1.0e308"], "unique:y"),
         Row(["4.9e-324", "1e-400"], "unique:y"),
         Row(["-0", "infinity"], "unique:y")]))
    cases.append(build_case(
        "impossible-dates", "hostile", "days that do not exist, leap years, second 60",
        Contract([C("d", "date"), C("t", "timestamp"), C("f", "date", format="%d/%m/%Y")]),
        [Row(["2024-02-29", "2024-02-29 12:00:00", "29/02/2024"]),
         Row(["2026-02-30", "2026-02-30 10:00:00", "30/02/2026"], "type:d type:t type:f"),
         Row(["2025-02-29", "2025-02-29T00:00", "29/02/2025"], "type:d type:t type:f"),
         Row(["2026-04-31", "2026-01-05 23:59:60", "31/04/2026"], "type:d type:t type:f"),
         Row(["2026-12-31", "2026-12-31 23:59:59.999999", "31/12/2026"]),
         Row(["9999-12-31", "9999-12-31T23:59:59Z", "31/12/9999"])]))
    cases.append(build_case(
        "byte-order-marks", "hostile", "a BOM before the header and BOMs inside values",
        Contract([C("n", "int"), C("s", "string", pattern="^[a-z]+$", min_length=2)]),
        [Row(["1", "abc"]),
         Row(["\ufeff2", "abc"], "type:n"),
         Row(["3", "ab\ufeffc"], "pattern:s"),
         Row(["4", "\ufeff"], "pattern:s min_length:s"),
         Row(["5\ufeff", "ok"], "type:n"),
         Row(["6", "zz"])],
        bom=True))
    cases.append(build_case(
        "mixed-line-endings", "hostile", "\\r\\n, \\n and \\r in one file, also inside quotes",
        Contract([C("n", "int"), C("s", "string")]),
        [Row(["1", "a"], end="\n", at_line=2),
         Row(["x", "b"], "type:n", end="\r", at_line=3),
         Row(["3", "c\r\nd"], end="\r\n", at_line=4),
         Row(["y", "e"], "type:n", end="\n", at_line=6),
         Row(["5", "f\rg\nh"], end="\r", at_line=7),
         Row(["z", "i"], "type:n", end="\r\n", at_line=10),
         Row(["7", "j"], end="\r", at_line=11),
         Row(["w", "k"], "type:n", at_line=12)],
        header_end="\r\n", final_ending=False, duckdb_reads_copy="mixed_line_endings"))
    cases.append(build_case(
        "cr-line-endings", "hostile", "old Mac line ends (\\r only), \\n inside quotes",
        Contract([C("n", "int", min=0), C("s", "string", max_length=5)]),
        [Row(["1", "a\nb"], at_line=2),
         Row(["x", "c"], "type:n", at_line=4),
         Row(["-1", "d\r\ne"], "min:n", at_line=5),
         Row(["4", "toolong"], "max_length:s", at_line=7)],
        ending="\r"))
    cases.append(build_case(
        "quoted-line-breaks", "hostile", "records spanning lines: line, record and offset differ",
        Contract([C("id", "int", unique=True), C("note", "string", max_length=20), C("n", "int", min=0)]),
        [Row(["1", "plain", "5"], at_line=2),
         Row(["2", "two\nlines", "5"], at_line=3),
         Row(["3", "three\n\nlines", "x"], "type:n", at_line=5),
         Row(["2", "dup", "5"], "unique:id", at_line=8),
         Row(["4", '"quoted", with comma', "-1"], "min:n", at_line=9),
         Row(["5", "crlf\r\ninside", "5"], at_line=10),
         Row(["6", "abcdefghij\nabcdefghij", "5"], "max_length:note", at_line=12),
         Row(["7", "\n", "5"], at_line=14),
         Row(["8", "", ""], at_line=16),
         Row(["x", "end", "5"], "type:id", at_line=17)],
        final_ending=False))
    cases.append(build_case(
        "padded-values", "hostile", "spaces and tabs around values; blank is not null",
        Contract([C("i", "int"), C("b", "bigint"), C("x", "double"), C("d", "decimal(6,2)"),
                  C("day", "date"), C("ts", "timestamp"), C("s", "string", allowed=("x",)),
                  C("f", "date", format="%d/%m/%Y")]),
        [Row([" 12 ", "\t34\t", " 1.5 ", "\t2.50 ", " 2026-01-05 ", " 2026-01-05 10:00:00 ", "x", " 05/01/2026 "]),
         Row(["\t \t12", "34 \t", "\t1e3", " -.5", "\t2026-01-05\t", "\t2026-01-05T10:00:00Z ", "x", "05/01/2026"]),
         Row(["  ", "  ", "  ", "  ", "  ", "  ", " x", "  "],
             "type:i type:b type:x type:d type:day type:ts allowed:s type:f"),
         Row(["", "", "", "", "", "", "", ""], quote=frozenset(range(8))),
         Row([" 12 ", " 34", "1.5 ", " 2.5", "2026-01-05 ", "2026-01-05 10:00 ", "x ", "05/01/2026 "],
             "allowed:s", quote=frozenset(range(8))),
         Row(["1 2", "3 4", "1. 5", "1 .5", "2026 -01-05", "2026-01-05 10: 00", "x", "05 /01/2026"],
             "type:i type:b type:x type:d type:day type:ts type:f")]))
    cases.append(build_case(
        "invalid-utf8", "hostile", "bytes that are not UTF-8, in strings and numbers",
        Contract([C("n", "int"), C("s", "string"), C("k", "int")]),
        [Row(["1", "ok", "1"]),
         Row(["2", b"bad\xff", "1"], "type:s"),
         Row([b"3\xfe", "ok", "1"], "type:n"),
         Row(["4", b"\xc3\x28", "1"], "type:s"),
         Row(["5", "fine", "1"]),
         Row(["6", b"\xed\xa0\x80", "1"], "type:s"),
         Row(["7", "é", "1"])]))
    cases.append(build_case(
        "typed-equality", "hostile", "unique compares typed values: 007 = +7, 1.5 = 1.50, offsets",
        Contract([C("i", "int", unique=True), C("d", "decimal(5,2)", unique=True),
                  C("t", "timestamp", unique=True), C("day", "date", unique=True),
                  C("b", "boolean", unique=True), C("s", "string", unique=True),
                  C("k", "int", allowed=(7, -3))]),
        [Row(["7", "1.5", "2026-01-05T10:00:00Z", "2026-01-05", "true", "a", "7"]),
         Row(["007", "1.50", "2026-01-05T12:00:00+02:00", " 2026-01-05", "false", "A", "007"],
             "unique:i unique:d unique:t unique:day"),
         Row(["+7", "01.500", "2026-01-05 10:00:00", "2026-01-06", "YES", "a ", "+7"],
             "unique:i unique:d unique:t unique:b"),
         Row([" 8", "1.51", "2026-01-05T10:00:00.000001Z", "2026-01-07", "n", "a", "-3"],
             "unique:b unique:s"),
         Row(["9", "-0", "2026-01-05T10:00:00.000000Z", "2026-01-08", "", "", "-03"], "unique:t"),
         Row(["10", "0.00", "2026-01-05T08:00:00-02:00", "2026-01-09", "", "", "8"],
             "unique:d unique:t allowed:k"),
         Row(["11", "", "", "", "", "", ""]),
         Row(["12", "", "", "", "", "", ""])]))
    cases.append(build_case(
        "primary-key-typed", "hostile", "a composite key: typed equality, nulls, type errors",
        Contract([C("a", "int"), C("b", "string"), C("c", "date")], primary_key=["a", "b"]),
        [Row(["1", "x", "2026-01-01"]),
         Row(["01", "x", "2026-01-02"], "primary_key"),
         Row(["1", "X", "2026-01-03"]),
         Row(["", "x", "2026-01-04"], "nullable:a"),
         Row(["", "x", "2026-01-05"], "nullable:a"),
         Row(["q", "x", "2026-01-06"], "type:a"),
         Row(["+1", " x", "2026-01-07"]),
         Row(["+1", "X", ""], "primary_key"),
         Row(["2", "", " "], "nullable:b type:c")]))
    cases.append(build_case(
        "tsv-fields", "hostile", "tsv: commas are data, tabs in values are quoted, quoted line breaks",
        Contract([C("n", "int"), C("s", "string", max_length=10), C("d", "decimal(6,2)")], format="tsv"),
        [Row(["1", "a,b", "1.50"], at_line=2),
         Row(["2", "x\ty", "2"], at_line=3),
         Row(["\t3\t", "q", "3"], at_line=4),
         Row(["4", 'say "hi"', " 4 "], at_line=5),
         Row(["5", "two\nlines", "5"], at_line=6),
         Row(["1,5", "s", "6"], "type:n", at_line=8),
         Row(["7", "", "1,50"], "type:d", at_line=9),
         Row(["8", "a;b|c,d", "8"], at_line=10),
         Row(["9", "x"], "columns", at_line=11),
         Row(["10", "x", "1", "extra"], "columns", at_line=12),
         Row(["", "", ""], quote=frozenset(range(3)), at_line=13),
         Row(["11", "abcdefghijk", "1"], "max_length:s", at_line=14),
         Row(["12", "\t", "1"], at_line=15),
         Row(["x\ty", "z", "1"], "type:n", at_line=16)],
        final_ending=False))
    cases.append(build_case(
        "no-header", "hostile", "header: false: the first record is data on line 1, even one that reads as a header",
        Contract([C("id", "int", unique=True), C("s", "string"), C("d", "date")], header=False),
        [Row(["x", "a", "2026-01-05"], "type:id", at_line=1),
         Row(["1", "b", "2026-02-30"], "type:d", at_line=2),
         Row(["1", "c\nd", "2026-01-05"], "unique:id", at_line=3),
         Row(["2", "e"], "columns", at_line=5),
         Row(["3", "f", "2026-01-05", "x"], "columns", at_line=6),
         Row(["id", "s", "d"], "type:id type:d", at_line=7),
         Row(["4", "g", "2026-01-06"], at_line=8)],
        final_ending=False))
    cases.append(build_case(
        "no-header-ragged-first", "hostile", "header: false: a first record with too few fields is a row error",
        Contract([C("a", "int"), C("b", "string")], header=False),
        [Row(["1"], "columns", at_line=1),
         Row(["2", "x"], at_line=2),
         Row(["y", "z"], "type:a", at_line=3),
         Row(["3", "w", "v"], "columns", at_line=4)],
        ending="\r\n"))
    names = ["lead", "a", "mid", "b", "end"]
    extra = build_case(
        "extra-columns", "hostile", "extra_columns: ignore, columns at the start, middle and end: "
        "never checked, but the row must still have the header's fields",
        Contract([C("a", "int", min=0, unique=True), C("b", "string", pattern="^[a-z]+$")],
                 extra_columns="ignore"),
        [Row(["zz", "1", "anything", "ok", "z"], at_line=2),
         Row(["", "-1", "", "ok", ""], "min:a", at_line=3),
         Row(["1,2\n3", "2", "4", "Bad", '"q"'], "pattern:b", at_line=4),
         Row(["x", "x", "1e400", "ok", "2026-02-30"], "type:a", at_line=6),
         Row(["n", "3", "NULL", "ok", "\t"], at_line=7),
         Row(["n", "4", "m", "ok"], "columns", at_line=8),
         Row(["n", "5", "m", "ok", "e", "more"], "columns", at_line=9),
         Row(["n", "1", "m", "ok", "e"], "unique:a", at_line=10),
         Row(["\ufeff", "6", '"', "ok", "\r"], at_line=11),
         Row(["n", "7", "m", b"\xff", "e"], "type:b", at_line=13)],
        header=names, read_columns=names)
    cases += [extra, extra_columns_reject_twin("extra-columns-reject", extra)]
    return cases


# ---------------------------------------------------------------------------
# One small case per known difference: rows where the two sides part, next to
# rows where they agree.


def difference_cases() -> list[Case]:
    C = Column

    def case(diff, columns, rows, **kw):
        contract = kw.pop("contract", None) or Contract(columns)
        return build_case(f"diff-{diff.replace('_', '-')}", "difference", KNOWN_DIFFERENCES[diff],
                          contract, rows, **kw)

    def differs(fields, tributary, duckdb, diff, **kw):
        return Row(fields, tributary, duckdb=duckdb, diff=diff, **kw)

    d = "integer_fraction_rounded"
    out = [case(d, [C("i", "int"), C("b", "bigint")], [
        differs(["1.5", "-2.5"], "type:i type:b", "", d),
        differs(["2.5", "1.0"], "type:i type:b", "", d),
        differs([".5", "5."], "type:i type:b", "", d),
        differs(["1.4999", "7"], "type:i", "", d),
        Row(["7", "7"])])]
    d = "integer_exponent"
    out.append(case(d, [C("i", "int"), C("b", "bigint")], [
        differs(["1e3", "1E18"], "type:i type:b", "", d),
        differs(["1E3", "2e0"], "type:i type:b", "", d),
        differs(["1e-1", "7"], "type:i", "", d),
        Row(["1e10", "1e19"], "type:i type:b")]))
    d = "integer_hex_binary"
    out.append(case(d, [C("i", "int"), C("b", "bigint")], [
        differs(["0x10", "0X1F"], "type:i type:b", "", d),
        differs(["0b101", "7"], "type:i", "", d),
        Row(["0o17", "x10"], "type:i type:b")]))
    d = "digit_separator_underscore"
    out.append(case(d, [C("i", "int"), C("d", "decimal(12,2)"), C("x", "double")], [
        differs(["1_000", "1_0.5", "1_000.5"], "type:i type:d type:x", "", d),
        Row(["1__0", "_1.5", "_1"], "type:i type:d type:x"),
        Row(["10_", "1.5_", "1.5_"], "type:i type:d type:x"),
        Row(["1000", "10.5", "1000.5"])]))
    d = "decimal_rounding"
    out.append(case(d, [C("d", "decimal(12,2)")], [
        differs(["1.005"], "type:d", "", d),
        differs(["1.004"], "type:d", "", d),
        differs(["1.50000000001"], "type:d", "", d),
        differs(["0." + "1234567890" * 4], "type:d", "", d),
        Row(["1.500"]),
        Row(["1." + "0" * 40])]))
    d = "decimal_exponent"
    out.append(case(d, [C("d", "decimal(12,2)")], [
        differs(["1.2e1"], "type:d", "", d),
        differs(["1e3"], "type:d", "", d),
        Row(["12.00"])]))
    d = "double_overflow_to_inf"
    out.append(case(d, [C("x", "double"), C("y", "double", allow_non_finite=True)], [
        differs(["1e400", "1e400"], "type:x type:y", "type:x", d),
        differs(["0", "-1e400"], "type:y", "", d),
        differs(["0", "1.8e308"], "type:y", "", d),
        Row(["1e308", "inf"]),
        Row(["inf", "-inf"], "type:x")]))
    d = "numeric_trim_set"
    out.append(case(d, [C("i", "int"), C("x", "double"), C("d", "decimal(6,2)"), C("day", "date"),
                        C("ts", "timestamp")], [
        differs(["12\n", "\r1.5", "\x0b1.25", "\x0c2026-01-05", "\n2026-01-05 10:00:00"],
                "type:i type:x type:d type:day type:ts", "", d),
        differs(["\r\n12", "1.5\r\n", "1.25\x0c", "2026-01-05\n", "\x0b2026-01-05 10:00:00"],
                "type:i type:x type:d type:day type:ts", "", d),
        Row(["\t12 ", " 1.5\t", " 1.25 ", "\t2026-01-05 ", " 2026-01-05 10:00:00"]),
        Row(["12\u00a0", "\u20031.5", "1.25\u3000", "\u00a02026-01-05", "2026-01-05 10:00:00\n"],
            "type:i type:x type:d type:day type:ts")]))
    d = "boolean_untrimmed"
    out.append(case(d, [C("b", "boolean")], [
        differs([" true"], "", "type:b", d),
        differs(["false "], "", "type:b", d),
        differs(["\tyes"], "", "type:b", d),
        differs([" 1 "], "", "type:b", d),
        Row(["TRUE"]), Row(["n"]), Row(["on"], "type:b")]))
    d = "timestamp_trailing_tab"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05 10:00:00\t"], "", "type:ts", d),
        differs(["2026-01-05T10:00:00.5\t"], "", "type:ts", d),
        Row(["2026-01-05T10:00:00Z \t"]), Row(["2026-01-05 10:00:00 \t"]),
        Row(["2026-01-05T10:00:00+01:00\t"]), Row(["\t2026-01-05 10:00:00 "])]))
    d = "date_lenient_syntax"
    out.append(case(d, [C("day", "date")], [
        *[differs([v], "type:day", "", d) for v in
          ["2026-1-5", "2026-01-5", "2026/01/05", "99999-01-01", "2026-01-05 BC", "2026-01-05abc", "2026-01-05."]],
        Row(["2026-01-05"]), Row(["+2026-01-05"], "type:day"), Row(["2026-01-051"], "type:day")]))
    d = "date_time_of_day"
    out.append(case(d, [C("day", "date")], [
        *[differs([v], "type:day", "", d) for v in
          ["2026-01-05 10:00", "2026-01-05T10:00:00", "2026-01-05 10:00:00+02:00"]],
        Row(["2026-01-05"])]))
    d = "special_values"
    out.append(case(d, [C("day", "date"), C("ts", "timestamp")], [
        differs(["infinity", "infinity"], "type:day type:ts", "", d),
        differs(["-infinity", "-infinity"], "type:day type:ts", "", d),
        differs(["epoch", "epoch"], "type:day type:ts", "", d),
        Row(["today", "today"], "type:day type:ts")]))
    d = "timestamp_hour_24"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05 24:00:00"], "type:ts", "", d),
        differs(["2026-01-05T24:00"], "type:ts", "", d),
        Row(["2026-01-05 25:00:00"], "type:ts"), Row(["2026-01-05 23:59:59"])]))
    d = "timestamp_sub_microsecond"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05 10:00:00.1234567"], "type:ts", "", d),
        differs(["2026-01-05T10:00:00.123456789Z"], "type:ts", "", d),
        Row(["2026-01-05 10:00:00.1234560"]), Row(["2026-01-05 10:00:00.123456000Z"])]))
    d = "timestamp_date_only"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05"], "type:ts", "", d),
        Row(["2026-01-05 00:00"])]))
    d = "timestamp_zone_name"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05 10:00:00 UTC"], "type:ts", "", d),
        differs(["2026-01-05 10:00:00 Europe/Paris"], "type:ts", "", d),
        Row(["2026-01-05 10:00:00+01:00"])]))
    d = "timestamp_lowercase_t_z"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05t10:00:00"], "", "type:ts", d),
        differs(["2026-01-05 10:00:00z"], "", "type:ts", d),
        Row(["2026-01-05T10:00:00Z"])]))
    d = "offset_beyond_23h"
    out.append(case(d, [C("ts", "timestamp")], [
        differs(["2026-01-05 10:00:00+24:00"], "type:ts", "", d),
        Row(["2026-01-05 10:00:00+23:59"]), Row(["2026-01-05 10:00:00-23:00"])]))
    d = "dst_gap"
    out.append(case(d, [C("ts", "timestamp", timezone="Europe/Paris")], [
        differs(["2026-03-29 02:30:00"], "type:ts", "", d),
        Row(["2026-03-29 01:30:00"]), Row(["2026-03-29 03:30:00"]),
        Row(["2026-03-29T02:30:00+01:00"])]))
    d = "dst_overlap"
    out.append(case(d, [C("ts", "timestamp", timezone="Europe/Paris", max="2026-10-25T00:30:00Z")], [
        differs(["2026-10-25 02:30:00"], "", "max:ts", d),
        Row(["2026-10-25 01:30:00"]),
        Row(["2026-10-25T02:30:00+01:00"], "max:ts"),
        Row(["2026-10-25 03:30:00"], "max:ts")]))
    d = "regex_unicode_classes"
    out.append(case(d, [C("dg", "string", pattern=r"^\d+$"), C("wd", "string", pattern=r"^\w+$"),
                        C("sp", "string", pattern=r"^\s$")], [
        differs(["١٢٣", "héllo", "\u00a0"], "", "pattern:dg pattern:wd pattern:sp", d),
        Row(["123", "hello", " "]),
        Row(["12a", "hé llo", "x"], "pattern:dg pattern:wd pattern:sp")]))
    d = "extra_null_fields"
    out.append(case(d, [C("a", "int"), C("b", "string")], [
        differs(["1", "x", ""], "columns", "", d),
        differs(["2", "y", "", ""], "columns", "", d),
        differs(["3", "z", ""], "columns", "", d, quote=frozenset({2})),
        Row(["4", "w", "q"], "columns"),
        Row(["5", "v"])]))
    d = "header_not_checked"
    out.append(case(d, [C("id", "int"), C("name", "string")], [
        Row(["1", "a"]), Row(["2", "b"])],
        header=["id", "nmae"], header_expect="columns", header_diff=d))
    d = "ignored_column_encoding"
    names = ["a", "note", "b", "end"]
    out.append(case(d, [], [
        differs(["1", b"caf\xe9", "x", "e"], "", "type:note", d),
        differs(["2", "ok", "y", b"\xff"], "", "type:end", d),
        differs(["3", b"\xc3\x28", "z", b"\xfe"], "", "type:note type:end", d),
        Row(["4", "ok", b"\xff", "e"], "type:b"),
        Row(["x", "ok", "z", "e"], "type:a"),
        Row(["5", "ok", "z", "e"])],
        contract=Contract([C("a", "int"), C("b", "string")], extra_columns="ignore"),
        header=names, read_columns=names))
    return out


def all_cases(seed: int, rows: int) -> list[Case]:
    cases = [
        generated_case("generated-lf", seed, rows, "\n"),
        generated_case("generated-crlf", seed + 1, rows, "\r\n"),
        generated_case("generated-cr", seed + 2, rows, "\r"),
        generated_case("generated-tsv", seed + 3, rows, "\n", fmt="tsv"),
        generated_case("generated-no-header", seed + 4, rows, "\r\n", header=False),
    ]
    extra = generated_case("generated-extra-columns", seed + 5, rows, "\n", extra_columns=True)
    cases += [extra, extra_columns_reject_twin("generated-extra-columns-reject", extra)]
    return cases + hostile_cases() + difference_cases()


# ---------------------------------------------------------------------------
# The DuckDB side.


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_read_type(column: Column) -> str:
    """The type read_csv reads a column as."""
    kind = column.type
    simple = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
              "boolean": "BOOLEAN", "date": "DATE"}
    if kind in simple:
        return simple[kind]
    if kind.startswith("decimal("):
        return "DECIMAL" + kind[len("decimal"):]
    if kind == "timestamp":
        # timestampformat applies to TIMESTAMP only; TIMESTAMPTZ reads ISO with
        # offsets, a value without one in the session's time zone.
        return "TIMESTAMP" if column.format else "TIMESTAMPTZ"
    raise HarnessError(f"no DuckDB type for {kind}")


def duckdb_compare_type(column: Column) -> str:
    return "TIMESTAMPTZ" if column.type == "timestamp" else duckdb_read_type(column)


def duckdb_format(fmt: str) -> str:
    """A chrono format as DuckDB's strptime reads it (only what the cases use)."""
    if re.search(r"%[^YmdHMSz%]", fmt):
        raise HarnessError(f"format {fmt!r}: only %Y %m %d %H %M %S %z are translated")
    return fmt


def duckdb_value_expr(contract: Contract, column: Column) -> str:
    """The loaded value as it is compared: timestamps as instants."""
    value = f"p.{sql_ident(column.name)}"
    if column.type == "timestamp" and column.format:
        zone = "UTC" if "%z" in column.format else contract.zone(column)  # %z: DuckDB gives UTC
        return f"timezone({sql_string(zone)}, {value})"
    return value


def duckdb_literal(column: Column, value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"CAST({sql_string(text)} AS {duckdb_compare_type(column)})"


def duckdb_typed_ok(column: Column, value: str = "v") -> str:
    """SQL true when a loaded value is of the contract's type: DuckDB loads NaN
    and infinities into DOUBLE, which a column without allow_non_finite refuses."""
    if column.type == "double" and not column.allow_non_finite:
        return f"NOT (isnan({value}) OR isinf({value}))"
    return "TRUE"


def duckdb_predicates(contract: Contract, column: Column) -> list[tuple[str, str]]:
    """(check, SQL condition on v) for every check of the column but unique."""
    ok = duckdb_typed_ok(column)
    preds = []
    if ok != "TRUE":
        preds.append(("type", f"NOT ({ok})"))
    if not contract.is_nullable(column):
        preds.append(("nullable", "v IS NULL"))
    if column.min is not None:
        preds.append(("min", f"{ok} AND v < {duckdb_literal(column, column.min)}"))
    if column.max is not None:
        preds.append(("max", f"{ok} AND v > {duckdb_literal(column, column.max)}"))
    if column.pattern is not None:
        preds.append(("pattern", f"NOT regexp_full_match(v, {sql_string(column.pattern)})"))
    if column.min_length is not None:
        preds.append(("min_length", f"length(v) < {int(column.min_length)}"))
    if column.max_length is not None:
        preds.append(("max_length", f"length(v) > {int(column.max_length)}"))
    if column.allowed is not None:
        values = ", ".join(duckdb_literal(column, a) for a in column.allowed)
        preds.append(("allowed", f"{ok} AND v NOT IN ({values})"))
    return preds


@dataclass
class DuckDbSide:
    findings: set = field(default_factory=set)
    # column name (or PK_READ) -> physical lines DuckDB did not load in that read
    blind: dict = field(default_factory=dict)
    offsets_checked: int = 0  # rejects whose byte position matched the harness's record
    fields_checked: int = 0  # records compared field by field with DuckDB's VARCHAR read
    reads: int = 0


PK_READ = "<primary key>"


class DuckDbChecker:
    """Runs DuckDB over one case's file: one read_csv per column (that column
    typed, the others VARCHAR), one for the primary key, one all VARCHAR."""

    def __init__(self, case: Case, path: Path):
        import duckdb

        self.case = case
        self.contract = case.contract
        self.records = case.records  # the original: its lines are what counts
        self.path = path
        if case.duckdb_reads_copy:
            self.assert_original_unreadable()
            copy = rewrite_with_lf_endings(case.data, self.records, self.contract.delimiter)
            self.path = path.with_name(path.stem + ".lf" + path.suffix)
            self.path.write_bytes(copy)
            self.read_records = parse_records(copy, self.contract.delimiter, self.contract.header)
            if [r.fields for r in self.read_records] != [r.fields for r in self.records]:
                raise HarnessError(f"{case.name}: the \\n copy does not hold the same records")
        else:
            self.read_records = self.records
        self.con = duckdb.connect()
        self.side = DuckDbSide()

    def read_csv_sql(self, types: dict, extra: str = "", null_values: list | None = None,
                     strict: bool = True) -> str:
        nulls = ", ".join(sql_string(v) for v in (self.contract.null_values if null_values is None else null_values))
        columns = ", ".join(f"{sql_string(n)}: {sql_string(t)}" for n, t in types.items())
        delim = {b",": ",", b"\t": "\\t"}[self.contract.delimiter]
        return (f"read_csv({sql_string(str(self.path))}, header={str(self.contract.header).lower()}, "
                f"auto_detect=false, delim={sql_string(delim)}, quote='\"', escape='\"', "
                f"strict_mode={str(strict).lower()}, parallel=false, "
                f"columns={{{columns}}}, nullstr=[{nulls}]{extra})")

    def text_types(self) -> dict:
        """Every column of the file (the contract's and any extra one) as VARCHAR."""
        return {name: "VARCHAR" for name in self.case.file_columns}

    def assert_original_unreadable(self) -> None:
        """The named difference, as seen: strict mode fails on the original
        file, and strict_mode=false reads other fields than the file holds."""
        import duckdb

        con = duckdb.connect()
        types = self.text_types()
        changed = f"{self.case.name}: {self.case.duckdb_reads_copy} has changed"
        try:
            con.execute(f"SELECT count(*) FROM {self.read_csv_sql(types, ', store_rejects=true')}").fetchall()
        except duckdb.Error as error:
            if MIXED_LINE_ENDS_ERROR not in str(error):
                raise HarnessError(f"{changed}: DuckDB fails otherwise: {error}")
        else:
            raise HarnessError(f"{changed}: DuckDB reads the original file in strict mode")
        try:
            rows = con.execute(f"SELECT * FROM {self.read_csv_sql(types, null_values=[NEVER_NULL], strict=False)}"
                               ).fetchall()
        except duckdb.Error:
            return
        if [list(r) for r in rows] == [[f.text() for f in r.fields] for r in self.records[1:]]:
            raise HarnessError(f"{changed}: DuckDB reads it right with strict_mode=false")

    def record_of_reject(self, line: int, line_byte_position: int) -> Record:
        """DuckDB's reject line counts records (the header, or without one the
        first data record, = 1). Its byte position is the record's first byte,
        1-based at the start of the file and after a \n or \r but 0-based after
        \r\n (seen on 2.0.1: the start of the previous line end, plus 2). Both
        must point at the same record of the harness's parse."""
        index = line - 1 if self.contract.header else line
        if not 1 <= index < len(self.read_records):
            raise HarnessError(f"{self.case.name}: DuckDB reject on line {line}, past the records")
        record = self.read_records[index]
        previous_end = self.read_records[index - 1].ending  # b"" before the first record
        expected = record.offset + (0 if previous_end == b"\r\n" else 1)
        if line_byte_position != expected:
            raise HarnessError(
                f"{self.case.name}: DuckDB line {line} has byte position {line_byte_position}; the "
                f"harness's record {index} starts at byte {record.offset} after {previous_end!r}")
        self.side.offsets_checked += 1
        return self.records[index]

    def load(self, name: str, typed: list[Column]) -> tuple[str, str]:
        """read_csv with `typed` columns typed (the others VARCHAR) into a table,
        and a table mapping its rows to records; the rejects become findings.
        A column the contract does not name (extra_columns: ignore) is read as
        VARCHAR and not checked; it is selected all the same (see
        ignored_column_encoding)."""
        n = self.side.reads
        self.side.reads += 1
        table, mapping = f"read_{n}", f"rows_{n}"
        zones = {self.contract.zone(c) for c in typed if c.type == "timestamp"}
        dates = {c.format for c in typed if c.type == "date" and c.format}
        stamps = {c.format for c in typed if c.type == "timestamp" and c.format}
        if len(zones) > 1 or len(dates) > 1 or len(stamps) > 1:
            raise HarnessError(f"{self.case.name}: one read cannot mix zones or formats ({name})")
        self.con.execute(f"SET TimeZone = {sql_string(zones.pop() if zones else self.contract.tenant_timezone)}")
        extra = f", store_rejects=true, rejects_table='rejects_{n}', rejects_scan='scans_{n}'"
        if dates:
            extra += f", dateformat={sql_string(duckdb_format(dates.pop()))}"
        if stamps:
            extra += f", timestampformat={sql_string(duckdb_format(stamps.pop()))}"
        types = self.text_types()
        types.update({c.name: duckdb_read_type(c) for c in typed})
        self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM {self.read_csv_sql(types, extra)}")
        rejected: set = set()
        rejects = self.con.execute(
            f"SELECT line, line_byte_position, column_name, error_type::VARCHAR, error_message "
            f"FROM rejects_{n} ORDER BY line").fetchall()
        for line, byte_position, column, error_type, message in rejects:
            record = self.record_of_reject(line, byte_position)
            rejected.add(record.index)
            if error_type in ("CAST", "INVALID ENCODING"):
                self.side.findings.add(finding(record.line, "type", column))
            elif error_type in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                self.side.findings.add(finding(record.line, "columns", None))
            else:
                raise HarnessError(f"{self.case.name}: DuckDB {error_type} on line {record.line}: {message}")
        self.side.blind[name] = {self.records[i].line for i in rejected}
        loaded = [r.index for r in self.records[1:] if r.index not in rejected]
        count = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if count != len(loaded):
            raise HarnessError(f"{self.case.name}: DuckDB loaded {count} rows, the harness expects {len(loaded)}")
        self.con.execute(f"CREATE TABLE {mapping} (row_id BIGINT, rec BIGINT, line BIGINT)")
        if loaded:
            self.con.execute(
                f"INSERT INTO {mapping} SELECT unnest($ids), unnest($recs), unnest($lines)",
                {"ids": list(range(len(loaded))), "recs": loaded,
                 "lines": [self.records[i].line for i in loaded]})
        return table, mapping

    def lines_where(self, sql: str) -> list[int]:
        return [row[0] for row in self.con.execute(sql).fetchall()]

    def check_column(self, column: Column) -> None:
        table, mapping = self.load(column.name, [column])
        values = (f"WITH vals AS (SELECT m.line, m.rec, {duckdb_value_expr(self.contract, column)} AS v "
                  f"FROM {table} p JOIN {mapping} m ON p.rowid = m.row_id)")
        for check, condition in duckdb_predicates(self.contract, column):
            for line in self.lines_where(f"{values} SELECT line FROM vals WHERE {condition}"):
                self.side.findings.add(finding(line, check, column.name))
        if column.unique:
            # row_number, not count(*): the first occurrence stays valid.
            sql = (f"{values} SELECT line FROM (SELECT line, row_number() OVER (PARTITION BY v ORDER BY rec) AS nth "
                   f"FROM vals WHERE v IS NOT NULL AND {duckdb_typed_ok(column)}) WHERE nth > 1")
            for line in self.lines_where(sql):
                self.side.findings.add(finding(line, "unique", column.name))

    def check_primary_key(self) -> None:
        key = [self.contract.column(n) for n in self.contract.primary_key]
        table, mapping = self.load(PK_READ, key)
        exprs = ", ".join(f"{duckdb_value_expr(self.contract, c)} AS k{i}" for i, c in enumerate(key))
        present = " AND ".join(
            f"k{i} IS NOT NULL AND {duckdb_typed_ok(c, f'k{i}')}" for i, c in enumerate(key))
        parts = ", ".join(f"k{i}" for i in range(len(key)))
        sql = (f"WITH vals AS (SELECT m.line, m.rec, {exprs} FROM {table} p JOIN {mapping} m ON p.rowid = m.row_id) "
               f"SELECT line FROM (SELECT line, row_number() OVER (PARTITION BY {parts} ORDER BY rec) AS nth "
               f"FROM vals WHERE {present}) WHERE nth > 1")
        for line in self.lines_where(sql):
            self.side.findings.add(finding(line, "primary_key", None))

    def cross_check_fields(self) -> None:
        """DuckDB reading every field as text must see the harness's records:
        the same fields, the rejected ones being ragged or not UTF-8."""
        width = len(self.case.file_columns)
        types = self.text_types()
        n = self.side.reads
        self.side.reads += 1
        extra = f", store_rejects=true, rejects_table='rejects_{n}', rejects_scan='scans_{n}'"
        self.con.execute(
            f"CREATE TABLE read_{n} AS SELECT * FROM {self.read_csv_sql(types, extra, [NEVER_NULL])}")
        rejected = set()
        for line, position in self.con.execute(f"SELECT line, line_byte_position FROM rejects_{n}").fetchall():
            rejected.add(self.record_of_reject(line, position).index)
        for record in self.records[1:]:
            ragged = len(record.fields) != width
            not_utf8 = any(_not_utf8(f.raw) for f in record.fields)
            if (record.index in rejected) != (ragged or not_utf8):
                raise HarnessError(f"{self.case.name}: DuckDB {'rejected' if record.index in rejected else 'read'} "
                                   f"the record of line {record.line}")
        rows = self.con.execute(f"SELECT * FROM read_{n} ORDER BY rowid").fetchall()
        kept = [r for r in self.read_records[1:] if r.index not in rejected]
        if len(rows) != len(kept):
            raise HarnessError(f"{self.case.name}: DuckDB read {len(rows)} rows as text, the harness {len(kept)}")
        for row, record in zip(rows, kept):
            if list(row) != [f.text() for f in record.fields]:
                raise HarnessError(f"{self.case.name}: line {self.records[record.index].line}: "
                                   f"DuckDB reads {row!r}, the harness {[f.text() for f in record.fields]!r}")
            self.side.fields_checked += 1

    def run(self) -> DuckDbSide:
        self.cross_check_fields()
        for column in self.contract.columns:
            self.check_column(column)
        if self.contract.primary_key:
            self.check_primary_key()
        return self.side


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


# ---------------------------------------------------------------------------
# The tributary side.


@dataclass
class TributarySide:
    findings: set
    problems: list  # the report is malformed or inconsistent with the file
    failed: bool = False  # no usable report: nothing to compare


def run_tributary(binary: str, case: Case, csv_path: Path, registry_path: Path) -> TributarySide:
    records = case.records
    limit = len(records) * (len(case.file_columns) + 2) + 100
    command = [binary, "check", str(csv_path), "--registry", str(registry_path),
               "--rule", RULE_ID, "--max-row-errors", str(limit)]
    env = dict(os.environ)
    env[PASSWORD_ENV] = "unused"
    proc = subprocess.run(command, capture_output=True, timeout=600, env=env)
    if proc.returncode not in (0, 1):
        return TributarySide(set(), [f"`{' '.join(command)}` exited {proc.returncode}: "
                                     f"{proc.stderr.decode(errors='replace')[-2000:]}"], failed=True)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as error:
        return TributarySide(set(), [f"stdout is not JSON ({error}): {proc.stdout[:500]!r}"], failed=True)
    if not isinstance(report, dict) or not isinstance(report.get("row_errors"), list):
        return TributarySide(set(), [f"no row_errors list in the report: {proc.stdout[:500]!r}"], failed=True)
    return read_report(case, records, report, proc.returncode)


def read_report(case: Case, records: list[Record], report: dict, exit_code: int) -> TributarySide:
    """tributary's findings, and what in its report disagrees with the file."""
    problems = []
    by_line = {r.line: r for r in records[1:]}
    findings = set()
    header_problem = False
    header_names = set()  # the columns named by the header's errors
    for error in report["row_errors"]:
        if not isinstance(error, dict):
            problems.append(f"a row error that is not an object: {error!r}")
            continue
        check, line = error.get("check"), error.get("line")
        if check not in CHECKS or not isinstance(line, int):
            problems.append(f"row error with check {check!r} and line {line!r}")
            continue
        findings.add(finding(line, check, error.get("column")))
        if line == 1 and check == "columns" and case.contract.header:
            header_problem = True
            header_names.add(error.get("column"))
            continue
        record = by_line.get(line)
        if record is None:
            problems.append(f"row error on line {line}, where no record starts")
        elif (error.get("record"), error.get("offset")) != (record.index, record.offset):
            problems.append(f"line {line}: record {error.get('record')} offset {error.get('offset')}, "
                            f"the file has record {record.index} at byte {record.offset}")
        value = error.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            problems.append(f"line {line}: value {value!r} is not a string of at most 64 characters")
    if not header_problem and report.get("rows") != len(records) - 1:
        problems.append(f"rows {report.get('rows')}, the file has {len(records) - 1} data records")
    invalid = {f[0] for f in findings if f[0] != 1 or not case.contract.header}
    if not header_problem and report.get("invalid_rows") != len(invalid):
        problems.append(f"invalid_rows {report.get('invalid_rows')}, row_errors name {len(invalid)} lines")
    if report.get("row_errors_truncated"):
        problems.append("row_errors_truncated although --max-row-errors exceeds every possible error")
    verdict = "rejected" if findings else "accepted"
    if report.get("verdict") != verdict or exit_code != (1 if findings else 0):
        problems.append(f"verdict {report.get('verdict')} (exit {exit_code}) with {len(findings)} findings")
    if case.header_columns is not None and header_names != case.header_columns:
        problems.append(f"the header's errors name {sorted(map(str, header_names))}, "
                        f"the case expects {sorted(case.header_columns)}")
    if header_problem:  # the header's tally counts its problems, not rows
        return TributarySide(findings, list(dict.fromkeys(problems)))
    tallies: dict = {}
    for f in findings:
        key = (f[2], f[1])
        tallies[key] = tallies.get(key, 0) + 1
    for tally in report.get("checks") or []:
        key = (None if tally.get("check") in ROW_CHECKS else tally.get("column"), tally.get("check"))
        if tally.get("rows") and tally.get("rows") != tallies.get(key, 0):
            problems.append(f"checks: {key} counts {tally.get('rows')} rows, row_errors {tallies.get(key, 0)}")
    return TributarySide(findings, list(dict.fromkeys(problems)))  # each problem once


# ---------------------------------------------------------------------------
# Comparing two sets of findings.


def comparable_findings(left: set, right: set, blind: dict, contract: Contract) -> tuple[set, set]:
    """The findings of each side that the other could have made: a check other
    than `type`/`columns` is left out on lines where either side found a type
    error in that column or a `columns` error, or DuckDB (right) did not load
    the row in that column's read."""
    both = left | right
    type_cells = {(f[0], f[2]) for f in both if f[1] == "type"}
    ragged = {f[0] for f in both if f[1] == "columns"}

    def kept(f: Finding) -> bool:
        line, check, column = f
        if check == "columns":
            return True
        if line in ragged:
            return False
        if check == "type":
            return True
        if check == "primary_key":
            return line not in blind.get(PK_READ, set()) and not any(
                (line, c) in type_cells for c in contract.primary_key)
        return line not in blind.get(column, set()) and (line, column) not in type_cells

    return {f for f in left if kept(f)}, {f for f in right if kept(f)}


@dataclass
class Outcome:
    case: Case
    duckdb: DuckDbSide
    harness_mismatches: list  # DuckDB vs the case's expectations (the self-test)
    tributary: TributarySide | None = None
    compared: int = 0
    explained: set = field(default_factory=set)  # (name, side, finding)
    unexplained: list = field(default_factory=list)  # (side, finding)
    vanished: set = field(default_factory=set)  # named differences that no longer show
    spec_mismatches: list = field(default_factory=list)  # tributary vs the case's expectations

    @property
    def ok(self) -> bool:
        return not (self.harness_mismatches or self.unexplained or self.vanished or self.spec_mismatches
                    or (self.tributary and self.tributary.problems))


def finding_order(f: Finding) -> tuple:
    return (f[0], f[1], f[2] or "")


def diff_sides(left: set, right: set) -> list:
    return sorted([("only expected", f) for f in left - right] + [("only got", f) for f in right - left],
                  key=lambda item: (finding_order(item[1]), item[0]))


def check_case(case: Case, workdir: Path, tributary: str | None) -> Outcome:
    csv_path = workdir / f"{case.name}.{case.contract.format}"
    registry_path = workdir / f"{case.name}.registry.yaml"
    csv_path.write_bytes(case.data)
    registry_path.write_text(registry_yaml(case.contract), encoding="utf-8")

    ours = [[f.text() for f in r.fields] for r in case.records if not r.stand_in]
    if python_csv_fields(case.data, case.contract.delimiter) != ours:
        raise HarnessError(f"{case.name}: Python's csv module splits the file otherwise")

    duck = DuckDbChecker(case, csv_path).run()
    want, got = comparable_findings(case.expected_duckdb, duck.findings, duck.blind, case.contract)
    outcome = Outcome(case, duck, diff_sides(want, got))
    if tributary is None:
        return outcome

    trib = run_tributary(tributary, case, csv_path, registry_path)
    outcome.tributary = trib
    if trib.failed:
        return outcome
    outcome.spec_mismatches = diff_sides(case.expected, trib.findings)
    left, right = comparable_findings(trib.findings, duck.findings, duck.blind, case.contract)
    outcome.compared = len(left | right)
    actual = {("tributary", f) for f in left - right} | {("duckdb", f) for f in right - left}
    declared = {(side, f): name for name, side, f in case.differences}
    outcome.explained = {(declared[a], *a) for a in actual if a in declared}
    outcome.unexplained = sorted((a for a in actual if a not in declared),
                                 key=lambda a: (finding_order(a[1]), a[0]))
    outcome.vanished = {(name, side, f) for (side, f), name in declared.items() if (side, f) not in actual}
    return outcome


# ---------------------------------------------------------------------------
# Running and reporting.


def check_difference_table(cases: list[Case]) -> list[str]:
    shown = {name for c in cases if c.kind == "difference" for name in c.difference_names}
    shown |= {c.duckdb_reads_copy for c in cases if c.duckdb_reads_copy}
    used = {name for c in cases for name in c.difference_names}
    problems = [f"KNOWN_DIFFERENCES[{n!r}] has no case showing it" for n in sorted(set(KNOWN_DIFFERENCES) - shown)]
    problems += [f"a case names {n!r}, which KNOWN_DIFFERENCES lacks" for n in sorted(used - set(KNOWN_DIFFERENCES))]
    return problems


def print_listing(title: str, items: Iterable, limit: int = 25) -> None:
    items = list(items)
    if not items:
        return
    print(f"    {title} ({len(items)}):")
    for item in items[:limit]:
        print(f"      {item}")
    if len(items) > limit:
        print(f"      ... and {len(items) - limit} more")


def report(outcomes: list[Outcome], self_test: bool, version: str) -> bool:
    print(f"\nDuckDB {version}; {len(outcomes)} cases"
          + (" (self-test: DuckDB side only)" if self_test else ""))
    if self_test:
        print(f"{'case':36} {'kind':10} {'rows':>5} {'expected':>8} {'duckdb':>7} {'offsets':>7} {'fields':>6}  result")
    else:
        print(f"{'case':36} {'kind':10} {'rows':>5} {'tributary':>9} {'duckdb':>7} {'compared':>8} "
              f"{'explained':>9} {'unexplained':>11}  result")
    all_ok = True
    for o in outcomes:
        rows = len(o.case.records) - 1
        status = "ok" if o.ok else "FAIL"
        all_ok &= o.ok
        if self_test:
            print(f"{o.case.name:36} {o.case.kind:10} {rows:5} {len(o.case.expected_duckdb):8} "
                  f"{len(o.duckdb.findings):7} {o.duckdb.offsets_checked:7} {o.duckdb.fields_checked:6}  {status}")
        else:
            print(f"{o.case.name:36} {o.case.kind:10} {rows:5} "
                  f"{'failed' if o.tributary.failed else len(o.tributary.findings):>9} "
                  f"{len(o.duckdb.findings):7} {o.compared:8} {len(o.explained):9} {len(o.unexplained):11}  {status}")
        print_listing("DuckDB differs from the case's expectation (harness)",
                      (f"{side}: {describe(f)}" for side, f in o.harness_mismatches))
        if o.tributary is not None:
            print_listing("unexplained: only this side reports",
                          (f"{side}: {describe(f)}" for side, f in o.unexplained))
            print_listing("named differences that no longer show",
                          (f"{name}: {side} should alone report {describe(f)}"
                           for name, side, f in sorted(o.vanished, key=lambda v: (finding_order(v[2]), v[:2]))))
            print_listing("tributary differs from the spec's expectation",
                          (f"{side}: {describe(f)}" for side, f in o.spec_mismatches))
            print_listing("tributary's run or report is wrong", o.tributary.problems)
    counts: dict = {}
    for o in outcomes:
        for check in CHECKS:
            counts[check] = counts.get(check, 0) + sum(1 for f in o.case.expected if f[1] == check)
    print("expected findings per check: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    shown = sorted({n for o in outcomes for n in o.case.difference_names})
    print(f"named differences shown: {len(shown)} of {len(KNOWN_DIFFERENCES)}")
    if not self_test:
        seen = sorted({e[0] for o in outcomes for e in o.explained} |
                      {o.case.duckdb_reads_copy for o in outcomes if o.case.duckdb_reads_copy})
        print(f"named differences seen between the two sides: {len(seen)}")
    print("RESULT: " + ("every difference is explained" if all_ok else "unexplained differences (see FAIL above)"))
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tributary", help="path of the tributary binary")
    parser.add_argument("--self-test", action="store_true",
                        help="run only the DuckDB side and check the harness against the cases")
    parser.add_argument("--seed", type=int, default=20260105, help="seed of the generated cases")
    parser.add_argument("--rows", type=int, default=2000, help="rows of each generated case")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--workdir", help="write the files here and keep them (default: a temporary directory)")
    args = parser.parse_args(argv)
    if not args.self_test and not args.tributary:
        parser.error("--tributary PATH is required (or --self-test)")
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed: pip install -r scripts/requirements-test.txt (duckdb)", file=sys.stderr)
        return 2

    try:
        cases = all_cases(args.seed, args.rows)
        table_problems = check_difference_table(cases)
        if args.only:
            cases = [c for c in cases if args.only in c.name]
        workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="contract-duckdb-"))
        workdir.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for case in cases:
            outcomes.append(check_case(case, workdir, None if args.self_test else args.tributary))
    except HarnessError as error:
        print(f"harness error: {error}", file=sys.stderr)
        return 2
    ok = report(outcomes, args.self_test, duckdb.__version__)
    for problem in table_problems:
        print(f"KNOWN_DIFFERENCES: {problem}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"files kept in {workdir}")
    return 0 if ok and not table_problems else 1


if __name__ == "__main__":
    sys.exit(main())
