//! `tributary check` run as a user runs it: the built binary, real files, exit
//! codes and the JSON it prints.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;
use tributary::engine::data_key::DataKey;
use tributary::engine::layers::whole_file_gcm;
use tributary_testkit::compress::{Level, gzip};

fn tributary() -> Command {
    Command::cargo_bin("tributary").unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

const CSV: &[u8] = b"id,name,amount\n1,\"a, b\",2.5\n2,\"multi\nline\",3\n3,c,4\n";

/// Runs `tributary check ARGS`, expecting `code`, and parses stdout as JSON.
fn check(args: &[&str], code: i32) -> Value {
    let output = tributary()
        .arg("check")
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn an_accepted_file_prints_its_report_and_exits_0() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "sales.csv.gz", &gzip(CSV, Level::Default));
    let report = check(&[file.to_str().unwrap(), "--min-rows", "3"], 0);
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["reasons"], serde_json::json!([]));
    assert_eq!(report["rows"], 3);
    assert_eq!(report["layers"], serde_json::json!(["gzip"]));
    assert_eq!(report["decoded_bytes"], CSV.len());
    assert_eq!(report["received_bytes"], gzip(CSV, Level::Default).len());
    assert_eq!(report["received_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_rejected_file_exits_1_with_its_reasons() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "sales.csv", CSV);
    let report = check(
        &[
            file.to_str().unwrap(),
            "--max-rows",
            "2",
            "--required-columns",
            "id,currency",
        ],
        1,
    );
    assert_eq!(report["verdict"], "rejected");
    assert_eq!(
        report["reasons"],
        serde_json::json!([
            "3 rows, more than max_rows (2)",
            "header lacks required columns: currency"
        ])
    );
}

#[test]
fn flags_choose_format_layers_and_header() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "feed.dat",
        &gzip(b"{\"a\":1}\n\n{\"a\":2}\n", Level::Default),
    );
    let report = check(
        &[
            file.to_str().unwrap(),
            "--format",
            "jsonl",
            "--layers",
            "gzip",
        ],
        0,
    );
    assert_eq!(report["rows"], 2);
    assert_eq!(report["layers"], serde_json::json!(["gzip"]));

    let file = write(dir.path(), "noheader.csv", b"1,a\n2,b\n");
    let report = check(&[file.to_str().unwrap(), "--no-header"], 0);
    assert_eq!(report["rows"], 2);
    assert_eq!(report["header"], Value::Null);
}

#[test]
fn an_encrypted_file_is_checked_with_a_key_file() {
    let dir = TempDir::new().unwrap();
    let key = DataKey::from_bytes([3; 32]);
    let data = whole_file_gcm::encrypt(&gzip(CSV, Level::Default), &key, b"", [8; 12]).unwrap();
    let file = write(dir.path(), "sales.csv.gz.enc", &data);
    let key_text = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
    let key_file = write(dir.path(), "key.b64", format!("{key_text}\n").as_bytes());
    let report = check(
        &[
            file.to_str().unwrap(),
            "--key-file",
            key_file.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(report["layers"], serde_json::json!(["aes-256-gcm", "gzip"]));
    assert_eq!(report["rows"], 3);

    let wrong = write(
        dir.path(),
        "wrong.b64",
        base64::engine::general_purpose::STANDARD
            .encode([4u8; 32])
            .as_bytes(),
    );
    let report = check(
        &[
            file.to_str().unwrap(),
            "--key-file",
            wrong.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(
        report["reasons"][0],
        "aes-256-gcm: authentication failed (wrong key, wrong associated data or tampered data)"
    );
}

#[test]
fn usage_and_configuration_errors_exit_2_with_a_message() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "sales.csv.enc",
        b"0123456789012345678901234567890",
    );
    let path = file.to_str().unwrap();

    tributary()
        .args(["check", path])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "layer aes-256-gcm needs a decryption key, and none is configured",
        ));
    tributary()
        .args(["check", path, "--layers", "gzip,zip"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown layer `zip`"));
    tributary()
        .args(["check", "/nonexistent/file.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot open /nonexistent/file.csv",
        ));
    tributary()
        .args(["check", path, "--format", "parquet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown format `parquet`"));
    tributary()
        .args(["check", path, "--format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--format xml needs --record-element NAME",
        ));

    let secret = "c2VjcmV0LWtleS10aGF0LWlzLXRvby1zaG9ydA==";
    let bad_key = write(dir.path(), "short.b64", secret.as_bytes());
    tributary()
        .args(["check", path, "--key-file", bad_key.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("key must be 32 bytes"))
        .stderr(predicate::str::contains(secret).not());
}
