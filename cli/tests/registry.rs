//! `tributary registry validate` and `tributary check --registry` run as a user
//! runs them.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn tributary() -> Command {
    Command::cargo_bin("tributary").unwrap()
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

const REGISTRY: &str = r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        protocol: ftp
        username: u
        password: {env: ACME_FTP_PASSWORD}
        directories: [/in]
        rules:
          - id: acme-sales
            match: {glob: "/in/*.csv"}
            dataset: sales
            format: csv
            min_rows: 2
            required_columns: [id]
          - id: acme-semicolon
            match: {glob: "/in/*.txt"}
            dataset: semi
            format: csv
            delimiter: ";"
            required_columns: [amount]
          - id: acme-secret
            match: {glob: "/in/*.enc"}
            dataset: secret
            format: csv
            layers: [aes-256-gcm]
            key: {secrets_manager: tributary/acme/key}
"#;

#[test]
fn the_example_registry_is_valid() {
    tributary()
        .args(["registry", "validate"])
        .arg(repo_file("examples/registry.yaml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("valid (3 tenants"));
}

#[test]
fn every_problem_is_printed_with_its_path_and_exit_is_1() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("broken.yaml");
    let broken = REGISTRY
        .replace("min_rows: 2", "min_rows: 20\n            max_rows: 10")
        .replace(
            "password: {env: ACME_FTP_PASSWORD}",
            "password: hunter2-do-not-print",
        )
        .replace("directories: [/in]", "directories: [in]");
    std::fs::write(&file, broken).unwrap();
    let output = tributary()
        .args(["registry", "validate"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("3 problems"))
        .get_output()
        .clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("tenants[0].sources[0].password: given inline"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tenants[0].sources[0].directories[0]: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("tenants[0].sources[0].rules[0].max_rows: must be >= min_rows (20)"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(&file, REGISTRY.replace("min_rows: 2", "min_rowz: 2")).unwrap();
    tributary()
        .args(["registry", "validate"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "typo.yaml:17:13: unknown field `min_rowz`",
        ));
}

#[test]
fn a_missing_registry_file_is_a_usage_error() {
    tributary()
        .args(["registry", "validate", "/nonexistent/registry.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read the registry"));
}

#[test]
fn check_uses_the_rule_and_flags_override_it() {
    let dir = TempDir::new().unwrap();
    let registry = dir.path().join("registry.yaml");
    std::fs::write(&registry, REGISTRY).unwrap();
    let file = dir.path().join("day.csv");
    std::fs::write(&file, "id,amount\n1,2\n").unwrap();
    let args = |extra: &[&str]| {
        let mut cmd = tributary();
        cmd.arg("check")
            .arg(&file)
            .arg("--registry")
            .arg(&registry)
            .args(["--rule", "acme-sales"])
            .args(extra);
        cmd
    };
    args(&[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 rows, fewer than min_rows (2)"));
    args(&["--min-rows", "1"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"verdict\": \"accepted\""));
}

#[test]
fn check_format_flag_keeps_the_rule_s_parse_settings_when_it_agrees() {
    let dir = TempDir::new().unwrap();
    let registry = dir.path().join("registry.yaml");
    std::fs::write(&registry, REGISTRY).unwrap();
    let file = dir.path().join("day.txt");
    std::fs::write(&file, "id;amount\n1;2\n").unwrap();
    for extra in [&[][..], &["--format", "csv"][..]] {
        tributary()
            .arg("check")
            .arg(&file)
            .arg("--registry")
            .arg(&registry)
            .args(["--rule", "acme-semicolon"])
            .args(extra)
            .assert()
            .code(0)
            .stdout(predicate::str::contains("\"amount\""));
    }
}

#[test]
fn check_explains_unknown_rules_and_remote_keys() {
    let dir = TempDir::new().unwrap();
    let registry = dir.path().join("registry.yaml");
    std::fs::write(&registry, REGISTRY).unwrap();
    let file = dir.path().join("x.enc");
    std::fs::write(&file, b"whatever").unwrap();
    tributary()
        .arg("check")
        .arg(&file)
        .arg("--registry")
        .arg(&registry)
        .args(["--rule", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no rule `nope`"))
        .stderr(predicate::str::contains(
            "acme-sales, acme-semicolon, acme-secret",
        ));
    tributary()
        .arg("check")
        .arg(&file)
        .arg("--registry")
        .arg(&registry)
        .args(["--rule", "acme-secret"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the rule's key is in secrets_manager (tributary/acme/key); pass it with --key-file",
        ));
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    let committed = std::fs::read_to_string(repo_file("docs/registry.schema.json")).unwrap();
    let output = tributary()
        .args(["registry", "schema"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(printed, committed);
}
