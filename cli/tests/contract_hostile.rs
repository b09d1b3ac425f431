//! Hostile files against a data contract, each through `tributary check
//! --registry R --rule hostile` as a user runs it: the exact verdict, reasons
//! and row errors, and the peak memory under GNU time (as
//! `hostile_corpus.rs` measures it) within [`MAX_RSS_KIB`], run under
//! Lambda's limit of 1,024 open files. The files are made here (some are
//! large: a 100 MB field, a million keys) in a temporary folder.
//!
//! `cargo test -p tributary-cli --test contract_hostile -- --nocapture`
//! prints each case's peak RSS and time.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

/// The most any case may take: the engine's buffers, a record up to the
/// 16 MiB `max_record_bytes`, the uniqueness budget and its spill buffers.
const MAX_RSS_KIB: u64 = 128 * 1024;

/// Lambda's limit on open file descriptors, applied to every check here.
const LAMBDA_OPEN_FILES: u32 = 1024;

fn gnu_time() -> &'static str {
    let path = "/usr/bin/time";
    assert!(
        Path::new(path).is_file(),
        "GNU time measures the peak memory here: `apt-get install time` (scripts/test.sh does)"
    );
    path
}

/// A registry with one csv rule, `hostile`, whose settings are `rule`: its
/// keys (`columns:`, `limits:`…) one a line, and list items (`- …`) under
/// them, whatever their indentation in the test's source.
fn registry(rule: &str) -> String {
    let mut text = String::from(
        "version: 1
tenants:
  - id: hostile
    sources:
      - id: hostile-ftp
        host: 127.0.0.1
        protocol: ftp
        username: u
        password: {env: HOSTILE_FTP_PASSWORD}
        directories: [/in]
        rules:
          - id: hostile
            match: {glob: \"/in/*.csv\"}
            dataset: hostile
            format: csv
",
    );
    for line in rule.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let indent = if line.starts_with("- ") { 14 } else { 12 };
        writeln!(text, "{:indent$}{line}", "").unwrap();
    }
    text
}

/// What one check printed and cost.
struct Checked {
    report: Value,
    rss_kib: u64,
    elapsed: Duration,
}

/// A case's folder: the registry and the file.
struct Case {
    dir: TempDir,
    name: &'static str,
}

impl Case {
    fn new(name: &'static str, rule: &str) -> Case {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("registry.yaml"), registry(rule)).unwrap();
        Case { dir, name }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join(format!("{}.csv", self.name))
    }

    /// Writes the file from `write`, through a buffer (never whole in memory).
    fn write(&self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> &Self {
        let mut out = BufWriter::new(std::fs::File::create(self.file()).unwrap());
        write(&mut out).unwrap();
        out.flush().unwrap();
        self
    }

    fn bytes(&self, data: &[u8]) -> &Self {
        std::fs::write(self.file(), data).unwrap();
        self
    }

    /// `tributary check` on the file with the rule, under GNU time and
    /// Lambda's open-file limit; asserts the exit code matches the verdict.
    fn check(&self) -> Checked {
        let measured = self.dir.path().join("rss");
        let binary = assert_cmd::cargo::cargo_bin("tributary");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {LAMBDA_OPEN_FILES} && exec \"$@\""))
            .arg("sh")
            .arg(gnu_time())
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&measured)
            .arg(binary)
            .arg("check")
            .arg(self.file())
            .arg("--registry")
            .arg(self.dir.path().join("registry.yaml"))
            .args(["--rule", "hostile"]);
        let started = Instant::now();
        let out = command.output().unwrap();
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{}: no JSON report ({e}): {stdout}\n{stderr}", self.name));
        let expected_code = if report["verdict"] == "accepted" {
            0
        } else {
            1
        };
        assert_eq!(
            out.status.code(),
            Some(expected_code),
            "{}: {stdout}\n{stderr}",
            self.name
        );
        let rss_kib: u64 = std::fs::read_to_string(&measured)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        println!(
            "{}: {} in {:.2?}, peak RSS {} KiB",
            self.name, report["verdict"], elapsed, rss_kib
        );
        assert!(
            rss_kib <= MAX_RSS_KIB,
            "{}: peak RSS {rss_kib} KiB",
            self.name
        );
        Checked {
            report,
            rss_kib,
            elapsed,
        }
    }
}

/// The parts of a row error a case asserts (the value only where given).
fn row_error(line: u64, record: u64, column: Option<&str>, check: &str, message: &str) -> Value {
    json!({"line": line, "record": record, "column": column, "check": check, "message": message})
}

/// Asserts the report's row errors, compared on the fields `expected` has.
fn assert_row_errors(checked: &Checked, expected: &[Value]) {
    let found = checked.report["row_errors"].as_array().unwrap();
    let found: Vec<Value> = found
        .iter()
        .zip(expected)
        .map(|(error, want)| {
            let fields = want.as_object().unwrap().keys();
            Value::Object(fields.map(|k| (k.clone(), error[k].clone())).collect())
        })
        .collect();
    assert_eq!(
        checked.report["row_errors"].as_array().unwrap().len(),
        expected.len(),
        "{:#}",
        checked.report["row_errors"]
    );
    assert_eq!(found, expected);
}

fn reasons(checked: &Checked) -> Vec<String> {
    checked.report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ragged_rows_are_each_a_columns_error() {
    let checked = Case::new(
        "ragged",
        "columns:
           - {name: id, type: bigint}
           - {name: name, type: string}
           - {name: amount, type: \"decimal(10,2)\"}",
    )
    .bytes(b"id,name,amount\n1,a,1.00\n2,b\n3,c,3.00,extra\n\n4,d,4.00\n5\n")
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["3 of 5 rows break the contract: columns (3)"]
    );
    assert_eq!(checked.report["rows"], 5);
    assert_eq!(checked.report["invalid_rows"], 3);
    assert_row_errors(
        &checked,
        &[
            row_error(3, 2, None, "columns", "has 2 fields, expected 3"),
            row_error(4, 3, None, "columns", "has 4 fields, expected 3"),
            // The empty line 5 is no record.
            row_error(7, 5, None, "columns", "has 1 fields, expected 3"),
        ],
    );
}

#[test]
fn a_100_mb_field_is_rejected_by_max_record_bytes_without_being_held() {
    let checked = Case::new(
        "huge-field",
        "columns:
           - {name: id, type: bigint}
           - {name: blob, type: string, max_length: 100}",
    )
    .write(|out| {
        out.write_all(b"id,blob\n1,short\n2,\"")?;
        // 100 MB in one quoted field, line breaks and delimiters included.
        let block = b"0123456789abcdef,\n\"\"".repeat(50);
        for _ in 0..(100_000_000 / block.len()) {
            out.write_all(&block)?;
        }
        out.write_all(b"\"\n3,after\n")
    })
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["csv: record 3 is longer than 16777216 bytes"]
    );
    // Stopped at the limit: the field was never held whole (asserted by the
    // peak RSS, well under the 100 MB it would take).
    assert!(
        checked.rss_kib < 64 * 1024,
        "peak RSS {} KiB",
        checked.rss_kib
    );
}

#[test]
fn integers_past_64_bits_are_out_of_range_not_wrapped() {
    let checked = Case::new(
        "big-integers",
        "columns:
           - {name: small, type: int}
           - {name: big, type: bigint}",
    )
    .bytes(
        b"small,big\n\
          1,9223372036854775807\n\
          2,9223372036854775808\n\
          3,-9223372036854775809\n\
          4,340282366920938463463374607431768211456\n\
          2147483648,-9223372036854775808\n\
          -2147483648,18446744073709551615\n\
          5,000000000000000000000000000000000000000001\n",
    )
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["5 of 7 rows break the contract: big: type (4), small: type (1)"]
    );
    let out_of = |line, record, column: &str, ty: &str, value: &str| {
        let mut error = row_error(
            line,
            record,
            Some(column),
            "type",
            &format!("out of the range of {ty}"),
        );
        error["value"] = json!(value);
        error
    };
    assert_row_errors(
        &checked,
        &[
            out_of(3, 2, "big", "bigint", "9223372036854775808"),
            out_of(4, 3, "big", "bigint", "-9223372036854775809"),
            out_of(
                5,
                4,
                "big",
                "bigint",
                "340282366920938463463374607431768211456",
            ),
            out_of(6, 5, "small", "int", "2147483648"),
            out_of(7, 6, "big", "bigint", "18446744073709551615"),
        ],
    );
}

#[test]
fn decimals_of_40_digits_are_refused_never_rounded() {
    let nines38 = "9".repeat(38);
    let forty = "1234567890".repeat(4);
    let file = format!(
        "a,b\n\
         {nines38},123456789012345678901234567890123456.78\n\
         {forty},1\n\
         1,1.{forty}\n\
         2,1.50{zeros}\n\
         0000{nines38},-0.01\n\
         -{forty},-{forty}\n",
        zeros = "0".repeat(38)
    );
    let checked = Case::new(
        "decimal-40-digits",
        "columns:
           - {name: a, type: \"decimal(38,0)\"}
           - {name: b, type: \"decimal(38,2)\"}",
    )
    .bytes(file.as_bytes())
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["3 of 6 rows break the contract: a: type (2), b: type (2)"]
    );
    let too_many = |line, record, column: &str, ty: &str, value: &str| {
        let mut error = row_error(
            line,
            record,
            Some(column),
            "type",
            &format!("too many digits before the point for {ty}"),
        );
        error["value"] = json!(value);
        error
    };
    assert_row_errors(
        &checked,
        &[
            too_many(3, 2, "a", "decimal(38,0)", &forty),
            row_error(
                4,
                3,
                Some("b"),
                "type",
                "more decimals than decimal(38,2) holds (values are never rounded)",
            ),
            too_many(7, 6, "a", "decimal(38,0)", &format!("-{forty}")),
            too_many(7, 6, "b", "decimal(38,2)", &format!("-{forty}")),
        ],
    );
}

#[test]
fn nan_is_refused_unless_allowed_and_then_within_no_bounds() {
    let checked = Case::new(
        "nan",
        "columns:
           - {name: x, type: double}
           - {name: y, type: double, allow_non_finite: true, min: 0}",
    )
    .bytes(b"x,y\nNaN,1\n1,NaN\n1,inf\nnan,-inf\n1e400,0\n-0.0,1e308\n")
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["4 of 6 rows break the contract: x: type (3), y: min (2)"]
    );
    let non_finite = "NaN or infinity, and the column does not allow them";
    assert_row_errors(
        &checked,
        &[
            row_error(2, 1, Some("x"), "type", non_finite),
            row_error(3, 2, Some("y"), "min", "below the column's min"),
            row_error(5, 4, Some("x"), "type", non_finite),
            row_error(5, 4, Some("y"), "min", "below the column's min"),
            row_error(6, 5, Some("x"), "type", "out of the range of double"),
        ],
    );
}

#[test]
fn impossible_dates_are_not_real_days() {
    let checked = Case::new(
        "impossible-dates",
        "columns:
           - {name: d, type: date}
           - {name: t, type: timestamp}",
    )
    .bytes(
        b"d,t\n\
          2026-02-30,2026-02-28T00:00:00Z\n\
          2026-02-28,2026-02-30T12:00:00Z\n\
          2024-02-29,2024-02-29 23:59:59\n\
          2025-02-29,2026-04-31 00:00\n\
          2026-02-28,2026-02-28T24:00:00Z\n",
    )
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["4 of 5 rows break the contract: t: type (3), d: type (2)"]
    );
    let date = "not a real date (no such day or time)";
    let timestamp = "not a real timestamp (no such day or time)";
    assert_row_errors(
        &checked,
        &[
            row_error(2, 1, Some("d"), "type", date),
            row_error(3, 2, Some("t"), "type", timestamp),
            row_error(5, 4, Some("d"), "type", date),
            row_error(5, 4, Some("t"), "type", timestamp),
            row_error(6, 5, Some("t"), "type", timestamp),
        ],
    );
}

#[test]
fn a_bom_inside_a_field_is_data_not_whitespace() {
    // The file's own BOM is skipped (the header matches); one inside a field
    // is three bytes of the value: not an int, not an allowed code, not the
    // pattern. Offsets count the leading BOM.
    let checked = Case::new(
        "mid-bom",
        "columns:
           - {name: id, type: int}
           - {name: code, type: string, allowed: [A, B]}
           - {name: name, type: string, pattern: \"[a-z]+\"}",
    )
    .bytes(
        "\u{FEFF}id,code,name\n1,A,abc\n\u{FEFF}2,A,abc\n3,\u{FEFF}A,abc\n4,B,ab\u{FEFF}c\n"
            .as_bytes(),
    )
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(checked.report["header"], json!(["id", "code", "name"]));
    assert_eq!(
        reasons(&checked),
        ["3 of 4 rows break the contract: id: type (1), code: allowed (1), name: pattern (1)"]
    );
    let mut errors = [
        row_error(3, 2, Some("id"), "type", "not a valid int"),
        row_error(
            4,
            3,
            Some("code"),
            "allowed",
            "not one of the allowed values",
        ),
        row_error(
            5,
            4,
            Some("name"),
            "pattern",
            "does not match the column's pattern",
        ),
    ];
    errors[0]["value"] = json!("\u{FEFF}2");
    errors[0]["offset"] = json!(3 + 13 + 8);
    errors[1]["value"] = json!("\u{FEFF}A");
    errors[2]["value"] = json!("ab\u{FEFF}c");
    assert_row_errors(&checked, &errors);
}

#[test]
fn mixed_line_endings_give_editor_lines() {
    // LF, CRLF and a lone CR each end a line, inside a quoted field too; an
    // empty line is no record.
    let checked = Case::new(
        "mixed-line-endings",
        "columns:
           - {name: id, type: bigint, unique: true}
           - {name: note, type: string}",
    )
    .bytes(b"id,note\r\n1,a\n2,b\r3,\"x\r\ny\"\r\n4,d\n\r\n5,e\r5,f\n6,\"\n\n\"\r7,g")
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(checked.report["rows"], 8);
    assert_eq!(
        reasons(&checked),
        ["1 of 8 rows break the contract: id: unique (1)"]
    );
    let mut duplicate = row_error(9, 6, Some("id"), "unique", "duplicate of line 8");
    duplicate["offset"] = json!(9 + 4 + 4 + 10 + 4 + 2 + 4);
    assert_row_errors(&checked, &[duplicate]);
    // The rows after it: line 10 for the quoted field with two line breaks,
    // then line 13.
    let tail = Case::new(
        "mixed-line-endings-tail",
        "columns:
           - {name: id, type: bigint, min: 100}
           - {name: note, type: string}",
    )
    .bytes(b"id,note\r\n100,a\n6,\"\n\n\"\r7,g")
    .check();
    assert_row_errors(
        &tail,
        &[
            row_error(3, 2, Some("id"), "min", "below the column's min"),
            row_error(6, 3, Some("id"), "min", "below the column's min"),
        ],
    );
}

#[test]
fn a_column_repeated_in_the_header_rejects_the_file() {
    let checked = Case::new(
        "repeated-column",
        "columns:
           - {name: id, type: bigint}
           - {name: name, type: string}",
    )
    .bytes(b"id,name,id\n1,a,2\n")
    .check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["header: column `id` appears more than once in the header"]
    );
    assert_eq!(checked.report["invalid_rows"], 0);
    assert_row_errors(
        &checked,
        &[row_error(
            1,
            0,
            Some("id"),
            "columns",
            "appears more than once in the header",
        )],
    );
}

/// `c0,c1,…,c99999`.
fn wide_header(columns: usize) -> String {
    (0..columns)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn a_header_of_100_000_columns_is_read_in_bounded_time_and_memory() {
    const WIDTH: usize = 100_000;
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "{}", wide_header(WIDTH))?;
        for key in [1, 2, 2] {
            let row: Vec<String> = (0..WIDTH)
                .map(|i| if i == WIDTH - 1 { key } else { i }.to_string())
                .collect();
            writeln!(out, "{}", row.join(","))?;
        }
        Ok(())
    };
    // Only three of the columns are in the contract: with `extra_columns:
    // ignore` the rows are read and checked by name, the last column too.
    let ignore = Case::new(
        "wide-header-ignore",
        "extra_columns: ignore
         columns:
           - {name: c0, type: int}
           - {name: c50000, type: string, pattern: \"50000\"}
           - {name: c99999, type: bigint, unique: true}",
    );
    let checked = ignore.write(write).check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(
        reasons(&checked),
        ["1 of 3 rows break the contract: c99999: unique (1)"]
    );
    assert_row_errors(
        &checked,
        &[row_error(
            4,
            3,
            Some("c99999"),
            "unique",
            "duplicate of line 3",
        )],
    );
    assert!(
        checked.elapsed < Duration::from_secs(20),
        "{:?}",
        checked.elapsed
    );
    // With `extra_columns: reject`, 99,997 unknown columns: one verdict, its
    // reasons and row errors capped, the count exact.
    let reject = Case::new(
        "wide-header-reject",
        "columns:
           - {name: c0, type: int}
           - {name: c50000, type: string}
           - {name: c99999, type: bigint}",
    );
    let checked = reject.write(write).check();
    assert_eq!(checked.report["verdict"], "rejected");
    let reasons = reasons(&checked);
    assert_eq!(reasons.len(), 100);
    assert_eq!(
        reasons[0],
        "header: column `c1` is in the header but not in the contract (extra_columns: reject)"
    );
    assert_eq!(
        checked.report["checks"],
        json!([{"column": null, "check": "columns", "rows": WIDTH - 3}])
    );
    assert_eq!(checked.report["row_errors"].as_array().unwrap().len(), 100);
    assert_eq!(checked.report["row_errors_truncated"], true);
    assert!(
        checked.elapsed < Duration::from_secs(20),
        "{:?}",
        checked.elapsed
    );
}

/// The 2^`blocks` strings of `blocks` two-byte blocks, each `Aa` or `BB`:
/// all distinct, all with the same polynomial hash `h = h * 31 + byte` (as
/// Java's `String.hashCode`), whatever the word size, since `Aa` and `BB`
/// hash alike.
fn colliding_keys(blocks: u32) -> impl Iterator<Item = String> {
    (0..1u64 << blocks).map(move |n| {
        (0..blocks)
            .map(|bit| if n >> bit & 1 == 1 { "BB" } else { "Aa" })
            .collect()
    })
}

fn naive_hash(key: &str) -> u64 {
    key.bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

#[test]
fn keys_that_collide_in_a_naive_hash_are_found_exactly() {
    const BLOCKS: u32 = 17;
    let keys = 1usize << BLOCKS;
    assert!(
        colliding_keys(BLOCKS).all(|k| naive_hash(&k) == naive_hash(&"Aa".repeat(17))),
        "the keys collide in the naive hash"
    );
    let rule = "columns:
                  - {name: k, type: string, unique: true}
                  - {name: n, type: bigint}";
    // The colliding keys, then the first again: one exact duplicate.
    let colliding = Case::new("colliding-keys", rule);
    colliding.write(|out| {
        writeln!(out, "k,n")?;
        for (i, key) in colliding_keys(BLOCKS).enumerate() {
            writeln!(out, "{key},{i}")?;
        }
        writeln!(out, "{},0", "Aa".repeat(BLOCKS as usize))
    });
    // The same number of keys of the same length, that do not collide.
    let plain = Case::new("plain-keys", rule);
    plain.write(|out| {
        writeln!(out, "k,n")?;
        for i in 0..keys {
            writeln!(out, "{i:034},{i}")?;
        }
        writeln!(out, "{:034},0", 0)
    });
    let baseline = plain.check();
    let checked = colliding.check();
    for c in [&baseline, &checked] {
        assert_eq!(c.report["verdict"], "rejected");
        assert_eq!(c.report["rows"], keys + 1);
        assert_eq!(
            reasons(c),
            [format!(
                "1 of {} rows break the contract: k: unique (1)",
                keys + 1
            )]
        );
        assert_row_errors(
            c,
            &[row_error(
                keys as u64 + 2,
                keys as u64 + 1,
                Some("k"),
                "unique",
                "duplicate of line 2",
            )],
        );
    }
    // The keyed hash spreads these keys over buckets and partitions like
    // any others (asserted without a clock in `contract::unique`'s tests);
    // the times are printed for whoever reads the log, not compared.
    eprintln!(
        "colliding keys {:?}, plain keys {:?}",
        checked.elapsed, baseline.elapsed
    );
}

#[test]
fn a_million_unique_keys_spill_to_disk_and_stay_exact() {
    const ROWS: u64 = 1_000_000;
    // Four indexes (three unique columns and a primary key) sharing 1 MiB:
    // about 4,600 keys each in memory, the rest spilled, under Lambda's
    // limit on open files.
    let case = Case::new(
        "million-keys",
        "limits: {unique_memory_bytes: 1048576}
         columns:
           - {name: id, type: bigint, unique: true}
           - {name: k, type: string, unique: true}
           - {name: u, type: bigint, unique: true}
           - {name: a, type: int}
           - {name: b, type: bigint}
         primary_key: [a, b]",
    );
    // Row i (record i + 1, line i + 2): id i, except every 100,000th row
    // repeats the id of row i - 50,000; (a, b) unique, except where
    // i % 250,000 == 123,456, which repeats row i - 1's key.
    let id_of = |i: u64| if i % 100_000 == 99_999 { i - 50_000 } else { i };
    let key_of = |i: u64| {
        let j = if i % 250_000 == 123_456 { i - 1 } else { i };
        (j % 1_000, j / 1_000)
    };
    case.write(|out| {
        writeln!(out, "id,k,u,a,b")?;
        for i in 0..ROWS {
            let (a, b) = key_of(i);
            writeln!(out, "{},key-{i},{},{a},{b}", id_of(i), i * 7)?;
        }
        Ok(())
    });
    let checked = case.check();
    assert_eq!(checked.report["verdict"], "rejected");
    assert_eq!(checked.report["rows"], ROWS);
    assert_eq!(checked.report["invalid_rows"], 14);
    assert_eq!(
        reasons(&checked),
        [format!(
            "14 of {ROWS} rows break the contract: id: unique (10), primary_key (4)"
        )]
    );
    let mut expected = Vec::new();
    for i in 0..ROWS {
        if id_of(i) != i {
            let first_line = id_of(i) + 2;
            expected.push(row_error(
                i + 2,
                i + 1,
                Some("id"),
                "unique",
                &format!("duplicate of line {first_line}"),
            ));
        }
        if key_of(i) != (i % 1_000, i / 1_000) {
            expected.push(row_error(
                i + 2,
                i + 1,
                None,
                "primary_key",
                &format!("duplicate key (a, b) of line {}", i + 1),
            ));
        }
    }
    assert_eq!(expected.len(), 14);
    assert_row_errors(&checked, &expected);
}
