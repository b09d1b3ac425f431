//! Data contracts through the engine: records split into fields exactly as
//! written (quotes, escapes, line breaks inside fields), each error placed at
//! the right physical line, record and byte offset whatever the chunking, and
//! the verdict and report `validate` gives.

use std::io::{BufReader, Write};

use proptest::prelude::*;
use tributary::contract::spec::default_null_values;
use tributary::contract::{
    Check, ColumnSpec, Contract, ContractSpec, ExtraColumns, InvalidAction, OnInvalid, RowChecker,
    Scalar,
};
use tributary::engine::count::count_and_check_rows;
use tributary::engine::spec::{Format, Limits, ParseSpec, ValidationSpec};
use tributary::engine::{Verdict, validate};

fn contract_spec(columns: Vec<ColumnSpec>) -> ContractSpec {
    ContractSpec {
        columns,
        primary_key: Vec::new(),
        null_values: default_null_values(),
        extra_columns: ExtraColumns::Reject,
        on_invalid: OnInvalid::default(),
        default_timezone: "UTC".into(),
    }
}

/// A csv field as written: quoted when it holds a delimiter, quote or line break.
fn write_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// The 1-based line of byte `at`: `\n`, `\r\n` and a lone `\r` end lines.
fn line_of(text: &[u8], at: usize) -> u64 {
    let mut line = 1;
    let mut i = 0;
    while i < at {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') && i + 1 < at => {
                line += 1;
                i += 1;
            }
            b'\r' | b'\n' => line += 1,
            _ => {}
        }
        i += 1;
    }
    line
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", ",", "\"", "\n", "\r", "\r\n", " ", "é", "x"]),
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every value of a chosen one breaks `allowed`: the errors are exactly the
    /// records holding it, each at the line, record and offset where it starts.
    #[test]
    fn errors_land_on_the_right_record_line_and_offset(
        rows in prop::collection::vec(prop::collection::vec(value(), 3), 1..30),
        endings in prop::collection::vec(prop::sample::select(vec!["\n", "\r\n", "\r", "\n\n", "\r\n\r\n"]), 31),
        bom in any::<bool>(),
        capacity in 1usize..64,
        forbidden_pick in any::<prop::sample::Index>(),
    ) {
        let all: Vec<&String> = rows.iter().flatten().filter(|v| !v.is_empty()).collect();
        prop_assume!(!all.is_empty());
        let forbidden = forbidden_pick.get(&all).to_string();
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str("c0,c1,c2");
        text.push_str(endings[0]);
        let mut starts = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            starts.push(text.len());
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    text.push(',');
                }
                write_field(&mut text, v);
            }
            text.push_str(endings[i + 1]);
        }
        // Every value but the forbidden one is allowed, in each column.
        let columns = (0..3)
            .map(|j| {
                let mut c = ColumnSpec::new(format!("c{j}"), "string");
                let mut allowed: Vec<Scalar> = rows
                    .iter()
                    .map(|r| r[j].clone())
                    .filter(|v| *v != forbidden)
                    .map(Scalar)
                    .collect();
                allowed.push(Scalar("never".into()));
                c.allowed = Some(allowed);
                c
            })
            .collect();
        let contract = Contract::compile(&contract_spec(columns)).unwrap();
        let checker = RowChecker::new(&contract, 10_000, 1 << 20);
        let reader = BufReader::with_capacity(capacity, text.as_bytes());
        let stats = count_and_check_rows(reader, &ParseSpec::new(Format::Csv), &Limits::default(), Some(checker)).unwrap();
        let outcome = stats.contract.unwrap();
        prop_assert_eq!(outcome.rows, rows.len() as u64);
        let mut expected = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                if *v == forbidden {
                    expected.push((line_of(text.as_bytes(), starts[i]), i as u64 + 1, starts[i] as u64, format!("c{j}"), v.clone()));
                }
            }
        }
        let found: Vec<_> = outcome
            .row_errors
            .iter()
            .map(|e| {
                assert_eq!(e.check, Check::Allowed);
                (e.line, e.record, e.offset, e.column.clone().unwrap(), e.value.clone().unwrap())
            })
            .collect();
        prop_assert_eq!(found, expected);
    }
}

fn sales_spec() -> ValidationSpec {
    let mut id = ColumnSpec::new("id", "bigint");
    id.unique = true;
    let mut amount = ColumnSpec::new("amount", "decimal(8,2)");
    amount.min = Some(Scalar("0".into()));
    let mut spec = ValidationSpec::new(Format::Csv);
    spec.layers = Some(Vec::new());
    spec.contract = Some(contract_spec(vec![
        id,
        amount,
        ColumnSpec::new("day", "date"),
    ]));
    spec
}

#[test]
fn a_file_that_keeps_its_contract_is_accepted_with_no_row_errors() {
    let text = "id,amount,day\n1,1.50,2026-01-01\n2,,2026-01-02\n";
    let report = validate(
        text.as_bytes(),
        "f.csv",
        &sales_spec(),
        None,
        std::io::sink(),
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!((report.rows, report.invalid_rows), (2, 0));
    assert!(report.row_errors.is_empty());
}

#[test]
fn a_broken_contract_rejects_the_file_and_the_report_says_where() {
    let text = "\u{feff}id,amount,day\r\n1,1.505,2026-01-01\r\n\"2\",-1,2026-02-30\r\n1,3,\r\n";
    let report = validate(
        text.as_bytes(),
        "f.csv",
        &sales_spec(),
        None,
        std::io::sink(),
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(report.invalid_rows, 3);
    assert_eq!(report.reasons.len(), 1);
    assert!(
        report.reasons[0].starts_with("3 of 3 rows break the contract: "),
        "{}",
        report.reasons[0]
    );
    let errors: Vec<_> = report
        .row_errors
        .iter()
        .map(|e| (e.line, e.record, e.offset, e.column.as_deref(), e.check))
        .collect();
    // The BOM counts in offsets: line 2 starts at byte 3 + 15.
    assert_eq!(
        errors,
        vec![
            (2, 1, 18, Some("amount"), Check::Type),
            (3, 2, 38, Some("amount"), Check::Min),
            (3, 2, 38, Some("day"), Check::Type),
            (4, 3, 57, Some("id"), Check::Unique),
        ]
    );
    assert_eq!(report.row_errors[3].message, "duplicate of line 2");
    // The report serializes with the field names the issue and docs promise.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["invalid_rows"], 3);
    assert_eq!(json["row_errors"][0]["check"], "type");
    assert_eq!(json["row_errors"][0]["value"], "1.505");
    assert_eq!(json["checks"][0]["rows"], 1);
}

#[test]
fn quarantine_rows_accepts_within_its_limits() {
    let mut spec = sales_spec();
    let contract = spec.contract.as_mut().unwrap();
    contract.on_invalid = OnInvalid {
        action: InvalidAction::QuarantineRows,
        max_invalid_rows: Some(1),
        max_invalid_ratio: None,
    };
    let one_bad = "id,amount,day\n1,1,2026-01-01\n2,x,2026-01-01\n3,1,2026-01-01\n";
    let report = validate(one_bad.as_bytes(), "f.csv", &spec, None, std::io::sink()).unwrap();
    assert_eq!(report.verdict, Verdict::Accepted);
    assert_eq!(report.invalid_rows, 1);
    let two_bad = "id,amount,day\n1,1,2026-01-01\n2,x,2026-01-01\n3,y,2026-01-01\n";
    let report = validate(two_bad.as_bytes(), "f.csv", &spec, None, std::io::sink()).unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].contains("more than max_invalid_rows (1)"),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_header_that_does_not_match_rejects_whatever_on_invalid_says() {
    let mut spec = sales_spec();
    spec.contract.as_mut().unwrap().on_invalid.action = InvalidAction::QuarantineRows;
    let text = "id,amount\n1,1\n";
    let report = validate(text.as_bytes(), "f.csv", &spec, None, std::io::sink()).unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(
        report.reasons,
        vec!["header: column `day` is missing from the header"]
    );
}

#[test]
fn gzip_jsonl_is_checked_by_field_name() {
    let mut spec = sales_spec();
    spec.parse = ParseSpec::new(Format::Jsonl);
    spec.layers = None;
    let text =
        "{\"id\": 1, \"amount\": 2.5, \"day\": \"2026-01-01\"}\n\n{\"id\": 1, \"amount\": \"3\"}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let report = validate(&bytes[..], "f.jsonl.gz", &spec, None, std::io::sink()).unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    let errors: Vec<_> = report
        .row_errors
        .iter()
        .map(|e| (e.line, e.record, e.offset, e.check))
        .collect();
    assert_eq!(errors, vec![(3, 2, 47, Check::Unique)]);
}

#[test]
fn a_contract_the_engine_cannot_compile_is_a_rule_problem() {
    let mut spec = sales_spec();
    spec.contract.as_mut().unwrap().columns[0].r#type = "integer".into();
    let error = validate(&b"id\n"[..], "f.csv", &spec, None, std::io::sink()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("columns[0].type: unknown type `integer`"),
        "{error}"
    );
}

/// A scratch file that fails: on every write (the disk is full), or only when
/// flushed at the end.
struct FailingScratch {
    on_write: bool,
}

impl Write for FailingScratch {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.on_write {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        } else {
            Ok(buf.len())
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    }
}

/// A full `/tmp` is not the file's fault: the file is not judged (no
/// verdict, no rejection report) but fails as misconfigured, for ops to give
/// the function more ephemeral storage and reprocess. Mid-file or at the end.
#[test]
fn a_full_scratch_disk_is_misconfigured_not_a_rejection() {
    let mut spec = sales_spec();
    spec.contract.as_mut().unwrap().on_invalid = OnInvalid {
        action: InvalidAction::QuarantineRows,
        max_invalid_rows: Some(10),
        max_invalid_ratio: None,
    };
    let text = "id,amount,day\n1,oops,2026-01-01\n2,1.00,2026-01-02\n";
    for on_write in [true, false] {
        let mut scratch = FailingScratch { on_write };
        let result = tributary::engine::validate_keeping_invalid_records(
            text.as_bytes(),
            "f.csv",
            &spec,
            None,
            std::io::sink(),
            &mut scratch,
        );
        let error = result.expect_err("a failed scratch file cannot give a verdict");
        assert_eq!(
            error.kind(),
            tributary::failure::FailureKind::Misconfigured,
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains("no space left on device"), "{message}");
        assert!(message.contains("ephemeral storage"), "{message}");
    }
}
