//! `tributary ls` run as a user runs it, against an embedded libunftp server on an
//! ephemeral port: what the poller sees, rule by rule.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;
use tributary::ftp::Password;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};

const USER: &str = "tenant";
const PASSWORD: &str = "pw-Zq81-not-for-logs";

struct Setup {
    dir: TempDir,
    _server: EmbeddedFtpServer,
    _runtime: tokio::runtime::Runtime,
    port: u16,
}

fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("root");
    for (path, body) in [
        ("in/sales_1.csv.gz", &b"not really gzip"[..]),
        ("in/batch_1.jsonl", b"{}\n"),
        ("in/batch_1.jsonl.done", b""),
        ("in/batch_2.jsonl", b"{}\n"),
        ("in/sub/deep file.csv", b"id\n1\n"),
        ("in/readme.txt", b"hello"),
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(EmbeddedFtpServer::start(
            EmbeddedFtpOptions::new(&root).credentials(USER, Password::new(PASSWORD)),
        ))
        .unwrap();
    let port = server.port();
    Setup {
        dir,
        _server: server,
        _runtime: runtime,
        port,
    }
}

fn registry(setup: &Setup, password_file: &Path) -> std::path::PathBuf {
    let yaml = format!(
        r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: {USER}
        password: {{file: "{password}"}}
        directories: [/in]
        recursive: true
        max_depth: 2
        rules:
          - id: sales
            match: {{glob: "/in/sales_*.csv.gz"}}
            dataset: sales
            format: csv
          - id: batch
            match: {{regex: "/in/batch_[0-9]+\\.jsonl"}}
            dataset: batch
            format: jsonl
            stability: {{require_unchanged: false, marker_suffix: ".done"}}
          - id: deep
            match: {{glob: "/in/sub/*.csv"}}
            dataset: deep
            format: csv
            stability: {{require_unchanged: false}}
"#,
        port = setup.port,
        password = password_file.display()
    );
    let path = setup.dir.path().join("registry.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn ls_json(registry: &Path, extra: &[&str]) -> Vec<Value> {
    let output = Command::cargo_bin("tributary")
        .unwrap()
        .arg("ls")
        .arg("--registry")
        .arg(registry)
        .args(["--source", "acme-ftp", "--json"])
        .args(extra)
        .assert()
        .code(0)
        .get_output()
        .clone();
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

fn row<'a>(rows: &'a [Value], path: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["path"] == path)
        .unwrap_or_else(|| panic!("{path} not listed: {rows:?}"))
}

#[test]
fn shows_each_file_with_its_rule_and_readiness() {
    let setup = setup();
    let registry = registry(&setup, &setup.dir.path().join("password"));
    let rows = ls_json(&registry, &[]);
    assert_eq!(
        rows.len(),
        5,
        "the marker file is not listed as data: {rows:?}"
    );

    let sales = row(&rows, "/in/sales_1.csv.gz");
    assert_eq!(sales["rule"], "sales");
    assert_eq!(sales["size"], 15);
    assert_eq!(sales["stable"], false);
    assert_eq!(
        sales["why"],
        "first seen now; taken once unchanged at the next poll"
    );
    assert!(sales["mtime"].as_str().unwrap().ends_with('Z'));
    assert!(sales["version"].as_str().unwrap().starts_with("15@"));

    assert_eq!(row(&rows, "/in/batch_1.jsonl")["stable"], true);
    let waiting = row(&rows, "/in/batch_2.jsonl");
    assert_eq!(waiting["stable"], false);
    assert_eq!(waiting["why"], "no marker file /in/batch_2.jsonl.done yet");

    let deep = row(&rows, "/in/sub/deep file.csv");
    assert_eq!(deep["rule"], "deep");
    assert_eq!(deep["stable"], true);

    let readme = row(&rows, "/in/readme.txt");
    assert_eq!(readme["rule"], Value::Null);
    assert_eq!(readme["why"], "matches no rule");
}

#[test]
fn a_second_look_judges_unchanged_files_as_the_poller_does() {
    let setup = setup();
    let registry = registry(&setup, &setup.dir.path().join("password"));
    let rows = ls_json(&registry, &["--second-look", "1"]);
    assert_eq!(row(&rows, "/in/sales_1.csv.gz")["stable"], true);
}

#[test]
fn the_table_names_its_columns() {
    let setup = setup();
    let registry = registry(&setup, &setup.dir.path().join("password"));
    Command::cargo_bin("tributary")
        .unwrap()
        .arg("ls")
        .arg("--registry")
        .arg(&registry)
        .args(["--source", "acme-ftp"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("PATH"))
        .stdout(predicate::str::contains("/in/sub/deep file.csv"))
        .stdout(predicate::str::contains(
            "no marker file /in/batch_2.jsonl.done yet",
        ));
}

#[test]
fn a_wrong_password_or_source_is_a_clear_error() {
    let setup = setup();
    let wrong = setup.dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-password").unwrap();
    let registry = registry(&setup, &wrong);
    Command::cargo_bin("tributary")
        .unwrap()
        .arg("ls")
        .arg("--registry")
        .arg(&registry)
        .args(["--source", "acme-ftp"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("source acme-ftp"))
        .stderr(predicate::str::contains("530"))
        .stderr(predicate::str::contains("not-the-password").not());

    Command::cargo_bin("tributary")
        .unwrap()
        .arg("ls")
        .arg("--registry")
        .arg(&registry)
        .args(["--source", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no source `nope`"))
        .stderr(predicate::str::contains("acme-ftp"));

    // --password-file wins over the registry's reference.
    let output = Command::cargo_bin("tributary")
        .unwrap()
        .arg("ls")
        .arg("--registry")
        .arg(&registry)
        .args(["--source", "acme-ftp", "--json", "--password-file"])
        .arg(setup.dir.path().join("password"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 5);
}
