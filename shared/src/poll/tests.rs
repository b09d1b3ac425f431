//! Tests of file selection against rules loaded from a real registry.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};

use super::select::{Candidate, ListedFile, Observation, Readiness, SourceRules, observe, select};
use crate::ports::listing::{EntryKind, ListEntry, Precision};
use crate::registry::Registry;

const REGISTRY: &str = r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        protocol: ftp
        username: u
        password: {env: P}
        directories: [/in]
        rules:
          - id: sales-gz
            match: {glob: "/in/sales_*.csv.gz"}
            dataset: sales
            format: csv
          - id: any-sales
            match: {glob: "/in/sales_*"}
            dataset: sales_other
            format: csv
            stability: {require_unchanged: false, min_age_secs: 300}
          - id: marked
            match: {regex: "/in/batch_[0-9]+\\.jsonl"}
            dataset: batch
            format: jsonl
            stability: {require_unchanged: false, marker_suffix: ".done"}
"#;

fn registry() -> Registry {
    let registry = Registry::from_yaml_str(REGISTRY).unwrap();
    registry.validate().unwrap();
    registry
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, h, m, s).unwrap()
}

fn file(path: &str, size: u64, mtime: DateTime<Utc>, precision: Precision) -> ListedFile {
    ListedFile {
        path: path.into(),
        size: Some(size),
        mtime: Some(mtime),
        precision,
        raw: format!("raw line of {path}"),
    }
}

fn run(
    files: &[ListedFile],
    previous: &HashMap<String, Observation>,
    now: DateTime<Utc>,
) -> Vec<Candidate> {
    let registry = registry();
    let source = &registry.tenants[0].sources[0];
    let rules = SourceRules::compile(source).unwrap();
    select(&rules, files, previous, now, chrono::Duration::zero())
}

fn readiness(candidates: &[Candidate], path: &str) -> Readiness {
    candidates
        .iter()
        .find(|c| c.file.path == path)
        .map(|c| c.readiness.clone())
        .unwrap_or_else(|| panic!("{path} not among candidates"))
}

#[test]
fn the_first_matching_rule_wins_and_others_match_none() {
    let files = [
        file("/in/sales_1.csv.gz", 10, at(9, 0, 0), Precision::Second),
        file("/in/sales_1.txt", 10, at(9, 0, 0), Precision::Second),
        file("/in/other.csv", 10, at(9, 0, 0), Precision::Second),
    ];
    let got = run(&files, &HashMap::new(), at(10, 0, 0));
    let rules: Vec<Option<&str>> = got.iter().map(|c| c.rule_id.as_deref()).collect();
    assert_eq!(rules, vec![Some("sales-gz"), Some("any-sales"), None]);
    assert_eq!(
        readiness(&got, "/in/other.csv"),
        Readiness::NotYet("matches no rule".into())
    );
}

#[test]
fn an_unchanged_file_is_taken_at_the_second_look_only() {
    let first = [file(
        "/in/sales_1.csv.gz",
        10,
        at(9, 0, 0),
        Precision::Second,
    )];
    let got = run(&first, &HashMap::new(), at(10, 0, 0));
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet("first seen now; taken once unchanged at the next poll".into())
    );

    let previous: HashMap<_, _> = observe(&first, &HashMap::new(), at(10, 0, 0))
        .into_iter()
        .collect();
    let got = run(&first, &previous, at(10, 10, 0));
    assert_eq!(got[0].readiness, Readiness::Ready);

    let grown = [file(
        "/in/sales_1.csv.gz",
        25,
        at(10, 5, 0),
        Precision::Second,
    )];
    let got = run(&grown, &previous, at(10, 10, 0));
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet("changed since the previous poll (size 10 → 25)".into())
    );
}

#[test]
fn min_age_allows_for_the_listing_s_precision() {
    // Listed as 09:55 with minute precision: it may have been written at 09:55:59.
    let files = [file("/in/sales_1.txt", 10, at(9, 55, 0), Precision::Minute)];
    let got = run(&files, &HashMap::new(), at(10, 0, 30));
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet("modified 271s ago, the rule wants at least 300s".into())
    );
    let got = run(&files, &HashMap::new(), at(10, 1, 0));
    assert_eq!(got[0].readiness, Readiness::Ready);

    let unknown = [ListedFile {
        mtime: None,
        ..files[0].clone()
    }];
    let got = run(&unknown, &HashMap::new(), at(12, 0, 0));
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet(
            "the listing gives no modification time, so min_age_secs (300) cannot be checked"
                .into()
        )
    );
}

#[test]
fn a_marker_file_gates_its_file_and_is_never_data_itself() {
    let data = file("/in/batch_7.jsonl", 10, at(9, 0, 0), Precision::Second);
    let marker = file("/in/batch_7.jsonl.done", 0, at(9, 1, 0), Precision::Second);
    let got = run(std::slice::from_ref(&data), &HashMap::new(), at(10, 0, 0));
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet("no marker file /in/batch_7.jsonl.done yet".into())
    );
    let got = run(&[data, marker.clone()], &HashMap::new(), at(10, 0, 0));
    assert_eq!(got.len(), 1, "the marker is not a candidate");
    assert_eq!(got[0].readiness, Readiness::Ready);

    // A file that only ends like a marker, with no file it would mark, is listed.
    let got = run(&[marker], &HashMap::new(), at(10, 0, 0));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].file.path, "/in/batch_7.jsonl.done");
}

#[test]
fn versions_are_stable_for_an_unchanged_file_and_new_for_a_changed_one() {
    let a = [file(
        "/in/sales_1.csv.gz",
        10,
        at(9, 0, 0),
        Precision::Second,
    )];
    let v1 = run(&a, &HashMap::new(), at(10, 0, 0))[0]
        .version
        .clone()
        .unwrap();
    let v2 = run(&a, &HashMap::new(), at(11, 0, 0))[0]
        .version
        .clone()
        .unwrap();
    assert_eq!(v1, v2);
    assert_eq!(v1.version_key(), format!("10@{}", at(9, 0, 0).timestamp()));
    assert_eq!(v1.source, "acme-ftp");

    // Re-uploaded with the same size but a new mtime: a new version.
    let b = [file(
        "/in/sales_1.csv.gz",
        10,
        at(9, 30, 0),
        Precision::Second,
    )];
    let v3 = run(&b, &HashMap::new(), at(10, 0, 0))[0]
        .version
        .clone()
        .unwrap();
    assert_ne!(v1.version_key(), v3.version_key());
}

#[test]
fn a_file_without_a_size_has_no_version_and_waits() {
    let files = [ListedFile {
        size: None,
        ..file("/in/sales_1.txt", 0, at(9, 0, 0), Precision::Second)
    }];
    let got = run(&files, &HashMap::new(), at(10, 0, 0));
    assert_eq!(got[0].version, None);
    assert_eq!(
        got[0].readiness,
        Readiness::NotYet("the listing gives no size".into())
    );
}

#[test]
fn only_regular_files_become_listed_files() {
    let entry = |kind| ListEntry {
        name: "x y.csv".into(),
        kind,
        size: Some(3),
        mtime: None,
        mtime_precision: Precision::Second,
        raw: "raw".into(),
    };
    let listed = ListedFile::from_entry("/in/", &entry(EntryKind::File)).unwrap();
    assert_eq!(listed.path, "/in/x y.csv");
    assert!(ListedFile::from_entry("/in", &entry(EntryKind::Dir)).is_none());
    let link = EntryKind::Symlink {
        target: "/etc/passwd".into(),
    };
    assert!(ListedFile::from_entry("/in", &entry(link)).is_none());
}
