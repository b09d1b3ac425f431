//! `tributary schema infer` run as a user runs it, and what onboarding does
//! with its output: pasted under a rule, the registry validates and `check`
//! accepts the file the proposal came from.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;
use tributary::registry::Registry;
use tributary_testkit::compress::{Level, bzip2, gzip};

fn tributary() -> Command {
    Command::cargo_bin("tributary").unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Runs `tributary schema infer FILE ARGS`, expecting exit 0; its stdout and stderr.
fn infer(file: &Path, args: &[&str]) -> (String, String) {
    let output = tributary()
        .args(["schema", "infer"])
        .arg(file)
        .args(args)
        .assert()
        .code(0)
        .get_output()
        .clone();
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

const SALES: &str = "order_id,store,amount,paid,sold_on,sold_at,sku\n\
    1001,7,12.50,yes,2026-01-31,2026-01-31T10:00:00Z,SKU-1\n\
    1002,7,-3.1,no,2026-02-01,2026-02-01 11:00:00+01:00,SKU-2\n\
    1003,8,0,y,2026-02-02,2026-02-02T00:00:00Z,SKU-3\n";

const SALES_YAML: &str = "columns:
  - name: order_id
    type: int
    nullable: false
  - name: store
    type: int
    nullable: false
  - name: amount
    type: decimal(4,2)
    nullable: false
  - name: paid
    type: boolean
    nullable: false
  - name: sold_on
    type: date
    nullable: false
  - name: sold_at
    type: timestamp
    nullable: false
  - name: sku
    type: string
    nullable: false
# primary_key: [order_id]   # unique and never null in the sample; uncomment to enforce
";

/// A registry with one rule for `glob`, its fields (`format`…) and `fields`
/// (the command's output) pasted under it.
fn registry_with(glob: &str, format: &str, fields: &str) -> String {
    let mut rule = format!(
        "version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        protocol: ftp
        username: u
        password: {{env: ACME_FTP_PASSWORD}}
        directories: [/in]
        rules:
          - id: onboarded
            match: {{glob: \"{glob}\"}}
            dataset: sales
            format: {format}
"
    );
    for line in fields.lines() {
        rule.push_str("            ");
        rule.push_str(line);
        rule.push('\n');
    }
    rule
}

/// Pastes `yaml` under a rule, then: the library loads and validates the
/// registry, `registry validate` says it is valid, and `check` accepts `file`.
fn onboard(dir: &Path, file: &Path, format: &str, yaml: &str) {
    let text = registry_with("/in/*", format, yaml);
    let registry = Registry::from_yaml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    if let Err(problems) = registry.validate() {
        panic!("{problems:?}\n{text}");
    }
    assert!(
        registry
            .find_rule("onboarded")
            .unwrap()
            .2
            .contract("UTC")
            .is_some()
    );
    let path = write(dir, "registry.yaml", text.as_bytes());
    tributary()
        .args(["registry", "validate"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid (1 tenants"));
    let output = tributary()
        .arg("check")
        .arg(file)
        .arg("--registry")
        .arg(&path)
        .args(["--rule", "onboarded"])
        .assert()
        .get_output()
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verdict"], "accepted", "{report:#}\n{text}");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_csv_with_a_header_gives_typed_columns_that_check_accepts() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "sales.csv", SALES.as_bytes());
    let (stdout, stderr) = infer(&file, &[]);
    assert_eq!(
        stdout,
        format!(
            "# tributary schema infer sales.csv (csv)\n# sampled 3 rows\n\
             # every type accepts every sampled value; review before use, rows past the sample may differ\n\
             {SALES_YAML}"
        )
    );
    assert_eq!(stderr, "");
    onboard(dir.path(), &file, "csv", &stdout);
}

#[test]
fn a_gzip_csv_is_read_through_its_layers() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "sales.csv.gz",
        &gzip(SALES.as_bytes(), Level::Default),
    );
    let (stdout, _) = infer(&file, &[]);
    assert!(stdout.starts_with("# tributary schema infer sales.csv.gz (csv, layers: gzip)\n"));
    assert!(stdout.ends_with(SALES_YAML), "{stdout}");
    onboard(dir.path(), &file, "csv", &stdout);

    // A `.tsv.bz2` is tsv under bzip2; `--rows` bounds the sample.
    let file = write(
        dir.path(),
        "sales.tsv.bz2",
        &bzip2(SALES.replace(',', "\t").as_bytes(), Level::Default),
    );
    let (stdout, _) = infer(&file, &["--rows", "2"]);
    assert!(stdout.starts_with("# tributary schema infer sales.tsv.bz2 (tsv, layers: bzip2)\n# sampled 2 rows, the limit"), "{stdout}");
    assert!(
        stdout.contains("  - name: amount\n    type: decimal(4,2)\n"),
        "{stdout}"
    );
    onboard(dir.path(), &file, "tsv", &stdout);
}

#[test]
fn a_jsonl_file_gives_its_fields_in_first_seen_order() {
    let dir = TempDir::new().unwrap();
    let text = "{\"id\": 1, \"at\": \"2026-01-31T10:00:00Z\", \"price\": 1.25}\n\
                {\"id\": 2, \"price\": null, \"ok\": true, \"tags\": \"x\"}\n\
                {\"id\": 3, \"price\": 10, \"ok\": false, \"tags\": \"y\"}\n";
    let file = write(dir.path(), "events.jsonl", text.as_bytes());
    let (stdout, _) = infer(&file, &[]);
    let body = stdout.split_once("columns:\n").unwrap().1;
    assert_eq!(
        body,
        "  - name: id
    type: int
    nullable: false
  - name: at
    type: timestamp
  - name: price
    type: decimal(4,2)
  - name: ok
    type: boolean
  - name: tags
    type: string
# primary_key: [id]   # unique and never null in the sample; uncomment to enforce
"
    );
    onboard(dir.path(), &file, "jsonl", &stdout);
}

#[test]
fn nulls_make_columns_nullable_and_custom_null_values_are_carried() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "nulls.csv",
        b"id;qty;note\n1;NULL;a\n2;5;\n3;;b\n",
    );
    let (stdout, _) = infer(
        &file,
        &[
            "--delimiter",
            ";",
            "--null-value",
            "",
            "--null-value",
            "NULL",
        ],
    );
    assert!(
        stdout.contains(
            "  - name: qty\n    type: int\n  - name: note\n    type: string\nnull_values: [\"\", \"NULL\"]\n"
        ),
        "{stdout}"
    );
    let mut fields = stdout.clone();
    fields.push_str("delimiter: \";\"\n");
    onboard(dir.path(), &file, "csv", &fields);

    // Without the flag, NULL is text: `qty` is a string column.
    let (stdout, _) = infer(&file, &["--delimiter", ";"]);
    assert!(
        stdout.contains("  - name: qty\n    type: string\n"),
        "{stdout}"
    );
}

#[test]
fn ambiguous_dates_are_proposed_with_a_comment() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "dates.csv",
        b"day,at,us\n01/02/2026,25/01/2026 10:30,12/25/2025\n03/04/2026,01/02/2026 23:59,01/31/2026\n",
    );
    let (stdout, stderr) = infer(&file, &[]);
    assert!(
        stdout.contains(
            "  - name: day\n    type: date\n    format: \"%d/%m/%Y\"\n    nullable: false\n    \
             # ambiguous: every sampled value also reads as \"%m/%d/%Y\" (no day above 12); check which one the tenant means\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  - name: at\n    type: timestamp\n    format: \"%d/%m/%Y %H:%M\"\n    nullable: false\n  - name: us\n    type: date\n    format: \"%m/%d/%Y\"\n    nullable: false\n"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "note: day: ambiguous: every sampled value also reads as \"%m/%d/%Y\" (no day above 12); check which one the tenant means\n"
    );
    onboard(dir.path(), &file, "csv", &stdout);
}

#[test]
fn without_a_header_columns_are_numbered() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "plain.csv", b"1,a\n2,b\n");
    let (stdout, _) = infer(&file, &["--no-header"]);
    assert!(
        stdout.contains("  - name: column_1\n    type: int\n"),
        "{stdout}"
    );
    let mut fields = stdout.clone();
    fields.push_str("header: false\n");
    onboard(dir.path(), &file, "csv", &fields);
}

#[test]
fn files_it_cannot_read_exit_1_and_usage_errors_2() {
    let dir = TempDir::new().unwrap();
    let empty = write(dir.path(), "empty.csv", b"");
    tributary()
        .args(["schema", "infer"])
        .arg(&empty)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no records"));
    let mut cut = gzip(SALES.as_bytes(), Level::Default);
    cut.truncate(cut.len() / 2);
    let cut = write(dir.path(), "cut.csv.gz", &cut);
    tributary()
        .args(["schema", "infer"])
        .arg(&cut)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot decode"));
    let enc = write(dir.path(), "secret.csv.enc", b"whatever");
    tributary()
        .args(["schema", "infer"])
        .arg(&enc)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("encrypted (aes-256-gcm)"));
    tributary()
        .args(["schema", "infer"])
        .arg(&empty)
        .args(["--format", "xml"])
        .assert()
        .code(2);
    tributary()
        .args(["schema", "infer"])
        .arg(dir.path().join("missing.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot open"));
}
