//! The data-contract differential test: `tests/differential/contract_duckdb.py`
//! generates csv and tsv files (random and hostile; with and without a header;
//! with columns the contract does not name, under `extra_columns: ignore` and
//! `reject`), checks each with this build's `tributary check` and with DuckDB
//! (`read_csv` with typed columns and `store_rejects`, SQL predicates for the
//! other checks), and fails unless the invalid records per check are the same
//! on both sides, or differ exactly where docs/contracts.md says the semantics
//! differ on purpose (each such difference is named in the script and shown by
//! a case of its own).

use std::path::Path;
use std::process::Command;

/// The Python with DuckDB: `$TRIBUTARY_PYTHON` (scripts/test.sh's venv), else
/// `python3`. Fails, saying how to install, when DuckDB is missing.
fn python_with_duckdb() -> String {
    let python = std::env::var("TRIBUTARY_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let found = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "DuckDB is needed by this test: `{python} -m pip install -r scripts/requirements-test.txt` \
         (or set TRIBUTARY_PYTHON to a venv's python that has it)"
    );
    python
}

#[test]
fn tributary_and_duckdb_find_the_same_invalid_records() {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/differential/contract_duckdb.py");
    let output = Command::new(python_with_duckdb())
        .arg(&script)
        .arg("--tributary")
        .arg(assert_cmd::cargo::cargo_bin("tributary"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the differential test failed:\n{stdout}\n{stderr}"
    );
    // The script ran every case and showed every named difference.
    assert!(
        stdout.contains("RESULT: every difference is explained"),
        "{stdout}"
    );
    let shown = stdout
        .lines()
        .find_map(|l| l.strip_prefix("named differences shown: "))
        .unwrap_or_default();
    let (seen, of) = shown.split_once(" of ").unwrap_or_default();
    assert!(!seen.is_empty() && seen == of, "{shown}");
    assert!(
        stdout.lines().filter(|l| l.ends_with(" ok")).count() >= 49,
        "{stdout}"
    );
}
