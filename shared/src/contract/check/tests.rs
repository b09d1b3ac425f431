//! The row checker on small files: every check, the header, jsonl records,
//! keys in memory and past the budget.

use super::*;
use crate::contract::spec::{ColumnSpec, ContractSpec, OnInvalid, Scalar, default_null_values};

fn contract(columns: Vec<ColumnSpec>, primary_key: &[&str]) -> Contract {
    Contract::compile(&ContractSpec {
        columns,
        primary_key: primary_key.iter().map(|k| k.to_string()).collect(),
        null_values: default_null_values(),
        extra_columns: ExtraColumns::Reject,
        on_invalid: OnInvalid::default(),
        default_timezone: "UTC".into(),
    })
    .unwrap()
}

fn sales() -> Contract {
    let mut order = ColumnSpec::new("order_id", "bigint");
    order.unique = true;
    order.nullable = Some(false);
    let mut amount = ColumnSpec::new("amount", "decimal(12,2)");
    amount.min = Some(Scalar("0".into()));
    amount.max = Some(Scalar("1000".into()));
    let mut sku = ColumnSpec::new("sku", "string");
    sku.pattern = Some("SKU-[0-9]{3}".into());
    sku.max_length = Some(7);
    let mut status = ColumnSpec::new("status", "string");
    status.allowed = Some(vec![Scalar("new".into()), Scalar("paid".into())]);
    contract(
        vec![
            ColumnSpec::new("store", "int"),
            order,
            amount,
            sku,
            status,
            ColumnSpec::new("day", "date"),
        ],
        &["store", "order_id"],
    )
}

/// Splits a line on commas (no quoting in these tests).
fn fields(line: &str) -> (Vec<u8>, Vec<usize>) {
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for field in line.split(',') {
        data.extend_from_slice(field.as_bytes());
        ends.push(data.len());
    }
    (data, ends)
}

/// Checks a csv text with a header, one record per line.
fn check_csv(contract: &Contract, text: &str, key_memory: usize) -> ContractOutcome {
    let mut checker = RowChecker::new(contract, 100, key_memory);
    feed_csv(&mut checker, text);
    checker.finish()
}

/// Feeds a csv text with a header, one record per line, to `checker`.
fn feed_csv(checker: &mut RowChecker<'_>, text: &str) {
    let mut offset = 0u64;
    for (i, line) in text.lines().enumerate() {
        let (data, ends) = fields(line);
        let f = Fields {
            data: &data,
            ends: &ends,
            gap: 0,
        };
        if i == 0 {
            checker.header(f);
        } else {
            let at = RecordAt {
                line: i as u64 + 1,
                record: i as u64,
                offset,
            };
            checker.csv_record(at, line.as_bytes(), f).unwrap();
        }
        offset += line.len() as u64 + 1;
    }
}

fn summary(outcome: &ContractOutcome) -> Vec<String> {
    outcome
        .row_errors
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e.line,
                e.column.as_deref().unwrap_or("-"),
                e.check,
                e.value.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

const HEADER: &str = "store,order_id,amount,sku,status,day";

#[test]
fn a_clean_file_has_no_errors() {
    let text = format!(
        "{HEADER}\n1,10,12.50,SKU-001,new,2026-01-01\n1,11,0,SKU-002,paid,\n2,12,1000,SKU-003,new,2026-12-31\n"
    );
    let outcome = check_csv(&sales(), &text, usize::MAX);
    assert_eq!(outcome.rows, 3);
    assert_eq!(outcome.invalid_rows, 0);
    assert!(outcome.row_errors.is_empty() && outcome.checks.is_empty());
    assert!(outcome.reasons(&sales()).is_empty());
}

#[test]
fn every_check_names_line_column_check_and_value() {
    let text = format!(
        "{HEADER}\n\
         1,10,12.50,SKU-001,new,2026-01-01\n\
         x,11,12.505,SKU-1,old,2026-02-30\n\
         1,,-1,SKU-0001,paid,2026-01-01\n\
         1,10,1001,SKU-002,new,2026-01-01\n\
         1,12,1,SKU-003\n"
    );
    let c = sales();
    let outcome = check_csv(&c, &text, usize::MAX);
    assert_eq!(
        summary(&outcome),
        vec![
            "3 store type x",
            "3 amount type 12.505",
            "3 sku pattern SKU-1",
            "3 status allowed old",
            "3 day type 2026-02-30",
            "4 order_id nullable -",
            "4 amount min -1",
            "4 sku pattern SKU-0001",
            "4 sku max_length SKU-0001",
            "5 amount max 1001",
            "5 order_id unique 10",
            "5 - primary_key -",
            "6 - columns -",
        ]
    );
    assert_eq!(outcome.invalid_rows, 4);
    assert_eq!(outcome.rows, 5);
    let dup = outcome
        .row_errors
        .iter()
        .find(|e| e.check == Check::Unique)
        .unwrap();
    assert_eq!(dup.message, "duplicate of line 2");
    let key = outcome
        .row_errors
        .iter()
        .find(|e| e.check == Check::PrimaryKey)
        .unwrap();
    assert_eq!(key.message, "duplicate key (store, order_id) of line 2");
    let reasons = outcome.reasons(&c);
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].starts_with("4 of 5 rows break the contract: "),
        "{reasons:?}"
    );
    let sku_pattern = outcome
        .checks
        .iter()
        .find(|c| c.column.as_deref() == Some("sku") && c.check == Check::Pattern)
        .unwrap();
    assert_eq!(sku_pattern.rows, 2);
}

#[test]
fn header_mistakes_reject_the_file() {
    let outcome = check_csv(
        &sales(),
        "store,order_id,order_id,sku,status,day,extra\n1,2,3,4,5,6,7\n",
        usize::MAX,
    );
    assert_eq!(
        outcome.file_problems,
        vec![
            "header: column `order_id` appears more than once in the header",
            "header: column `amount` is missing from the header",
            "header: column `extra` is in the header but not in the contract (extra_columns: reject)",
        ]
    );
    assert_eq!(
        outcome.rows, 0,
        "rows are not checked against a header that does not match"
    );
    assert!(
        outcome
            .row_errors
            .iter()
            .all(|e| e.line == 1 && e.check == Check::Columns)
    );
}

#[test]
fn duplicates_past_the_memory_budget_are_found_exactly() {
    let mut text = String::from(HEADER);
    text.push('\n');
    for i in 0..3_000u64 {
        // order_id repeats every 1,000 rows; (store, order_id) every 2,000.
        text.push_str(&format!(
            "{},{},1,SKU-001,new,2026-01-01\n",
            (i / 1_000) % 2,
            i % 1_000
        ));
    }
    let in_memory = check_csv(&sales(), &text, usize::MAX);
    let spilled = check_csv(&sales(), &text, 4_096);
    // No memory at all: every duplicate is found at the end, and the report
    // still says errors were left out.
    let all_late = check_csv(&sales(), &text, 0);
    for outcome in [&in_memory, &spilled, &all_late] {
        assert_eq!(outcome.invalid_rows, 2_000);
        let count = |check| {
            outcome
                .checks
                .iter()
                .find(|c| c.check == check)
                .map(|c| c.rows)
        };
        assert_eq!(count(Check::Unique), Some(2_000));
        assert_eq!(count(Check::PrimaryKey), Some(1_000));
        assert_eq!(outcome.row_errors.len(), 100);
        assert!(outcome.row_errors_truncated);
        // The first errors are rows 1,001… (line 1,002…), each naming its first.
        let first = &outcome.row_errors[0];
        assert_eq!((first.line, first.check), (1_002, Check::Unique));
        assert_eq!(first.message, "duplicate of line 2");
        // Found in memory or after the spill, the error shows the value.
        assert_eq!(first.value.as_deref(), Some("0"));
    }
}

#[test]
fn jsonl_records_are_checked_by_field_name() {
    let c = sales();
    let mut checker = RowChecker::new(&c, 100, usize::MAX);
    let lines = [
        r#"{"store": 1, "order_id": "10", "amount": 12.50, "sku": "SKU-001", "status": "new", "day": "2026-01-01"}"#,
        r#"{"store": 1, "order_id": 11, "amount": 1e2, "sku": 7, "status": null, "day": "2026-01-01", "extra": 1}"#,
        r#"{"store": 1, "order_id": 12, "order_id": 13, "amount": [1], "sku": "SKU-002"}"#,
        r#"[1, 2]"#,
        r#"{"store": 1} trailing"#,
    ];
    for (i, line) in lines.iter().enumerate() {
        let at = RecordAt {
            line: i as u64 + 1,
            record: i as u64 + 1,
            offset: 0,
        };
        checker.json_record(at, line.as_bytes()).unwrap();
    }
    let outcome = checker.finish();
    assert_eq!(
        summary(&outcome),
        vec![
            "2 extra columns -",
            "2 amount type 1e2",
            "2 sku type 7",
            "3 order_id columns -",
            "3 amount type -",
            "4 - columns -",
            "5 - columns -",
        ]
    );
    assert_eq!(outcome.invalid_rows, 4);
}

#[test]
fn nulls_follow_null_values_and_take_no_part_in_uniqueness() {
    let mut code = ColumnSpec::new("code", "int");
    code.unique = true;
    let c = Contract::compile(&ContractSpec {
        columns: vec![code],
        primary_key: Vec::new(),
        null_values: vec!["".into(), "NULL".into()],
        extra_columns: ExtraColumns::Reject,
        on_invalid: OnInvalid::default(),
        default_timezone: "UTC".into(),
    })
    .unwrap();
    let outcome = check_csv(&c, "code\nNULL\n\nNULL\n  \n1\n", usize::MAX);
    assert_eq!(summary(&outcome), vec!["5 code type   "]);
}

#[test]
fn values_in_errors_are_cut_to_64_characters() {
    let c = sales();
    let long = "é".repeat(100);
    let text = format!("{HEADER}\n1,1,1,{long},new,2026-01-01\n");
    let outcome = check_csv(&c, &text, usize::MAX);
    let value = outcome.row_errors[0].value.as_deref().unwrap();
    assert_eq!(value.chars().count(), 65, "64 characters and an ellipsis");
}

#[test]
fn invalid_records_are_kept_as_received_even_past_the_memory_budget() {
    let c = sales();
    let mut text = String::from(HEADER);
    text.push('\n');
    for i in 0..300u64 {
        // order_id repeats every 100 rows; row 5 is also bad on its own.
        let amount = if i == 5 { "x" } else { "1" };
        text.push_str(&format!(
            "{i},{},{amount},SKU-001,new,2026-01-01\n",
            i % 100
        ));
    }
    for budget in [usize::MAX, 512] {
        let mut kept = Vec::new();
        let mut checker = RowChecker::new(&c, 10, budget).keep_invalid_records(&mut kept);
        feed_csv(&mut checker, &text);
        let outcome = checker.finish();
        assert_eq!(outcome.invalid_rows, 201, "budget {budget}");
        let records: Vec<serde_json::Value> = std::str::from_utf8(&kept)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Every duplicate is there with its text, whether it was found at
        // once or after the spill; row 5 once more for its own error.
        let mut lines: Vec<u64> = records
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 201, "budget {budget}");
        let dup = records.iter().find(|r| r["line"] == 102).unwrap();
        assert_eq!(dup["text"], "100,0,1,SKU-001,new,2026-01-01");
        assert!(
            dup["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["check"] == "unique")
        );
    }
}
