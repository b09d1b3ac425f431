//! `tributary demo` and the ops commands on its local back-ends, run as a
//! user runs them: the built binary as a process, its output read back and
//! checked against what is on disk.

use std::io::Read;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn tributary() -> Command {
    Command::cargo_bin("tributary").unwrap()
}

/// Runs the demo in `dir` with `--json` and returns the summaries of its passes.
fn demo_json(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let out = tributary()
        .args(["demo", "--json", "--dir"])
        .arg(dir)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

fn paths(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_demo_lands_the_good_files_rejects_the_bad_ones_and_never_ingests_twice() {
    let dir = TempDir::new().unwrap();
    let passes = demo_json(dir.path(), &[]);
    assert_eq!(passes.len(), 1);
    let first = &passes[0];

    assert_eq!(first["discovered"], 9, "{first:#}");
    assert_eq!(
        paths(&first["landed"]),
        [
            "/acme/feeds/stock_2026-12-03.xml",
            "/acme/outgoing/sales_2026-12-01.csv",
            "/acme/outgoing/sales_2026-12-02.csv.gz",
            "/acme/outgoing/sales_2026-12-03.csv.bz2",
            "/globex/out/ledger_2026-12-03.tsv.tink",
            "/globex/out/payments_2026-12-03.csv.gz.enc",
        ]
    );
    let rows: Vec<u64> = first["landed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [120, 250, 400, 300, 2000, 180]);

    // Every landed object is on disk, decoded, under the template's key, and
    // its row count is what the file holds.
    for landed in first["landed"].as_array().unwrap() {
        let key = landed["key"].as_str().unwrap();
        assert!(key.starts_with("raw/tenant="), "{key}");
        let mut text = String::new();
        std::fs::File::open(landed["file"].as_str().unwrap())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let records = if key.ends_with(".xml") {
            text.matches("<Item ").count()
        } else {
            text.lines().count() - 1
        };
        assert_eq!(records as u64, landed["rows"].as_u64().unwrap(), "{key}");
        assert_eq!(landed["sha256"].as_str().unwrap().len(), 64);
    }
    // Decrypted and decompressed: the undone extensions are dropped.
    assert!(
        first["landed"][5]["key"]
            .as_str()
            .unwrap()
            .ends_with("/payments_2026-12-03.csv"),
        "{:#}",
        first["landed"][5]
    );

    // The three bad files: rejected with their reasons and reports, and in the DLQ.
    let rejected = first["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{first:#}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("fewer than min_rows (10)")
    );
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("truncated gzip")
    );
    // The file that breaks its data contract: the reason has columns, checks
    // and counts; the report beside the lake has each row error.
    assert_eq!(
        rejected[2]["reason"],
        "3 of 20 rows break the contract: order_id: unique (1), quantity: min (1), amount: type (1)"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(rejected[2]["report"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(report["invalid_rows"], 3);
    let errors: Vec<(u64, &str, &str)> = report["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap(),
                e["check"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (8, "amount", "type"),
            (13, "order_id", "unique"),
            (16, "quantity", "min")
        ]
    );
    assert_eq!(
        paths(&first["dead_letters"]),
        [
            "/acme/outgoing/sales_2026-11-30.csv",
            "/acme/outgoing/sales_2026-12-04.csv.gz",
            "/acme/outgoing/sales_2026-12-05.csv"
        ]
    );

    // The rule whose file never comes is breached once; a Glue job per
    // landed file; alerts folded per tenant plus the late-file notice.
    let breaches = first["sla_breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["rule"], "acme-returns");
    let mut jobs: Vec<&str> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"].as_str().unwrap())
        .collect();
    jobs.sort_unstable();
    assert_eq!(
        jobs,
        ["ledger", "payments", "sales", "sales", "sales", "stock"]
    );
    let alerts: Vec<&str> = first["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("file late for rule acme-returns")),
        "{alerts:?}"
    );
    assert!(
        alerts.iter().any(|a| a.contains("3 file_rejected")),
        "{alerts:?}"
    );

    // Two more passes over the same server: nothing new, nothing twice, the
    // breach not alerted again.
    let again = demo_json(dir.path(), &["--watch", "--interval", "1", "--passes", "2"]);
    assert_eq!(again.len(), 2);
    for pass in &again {
        assert_eq!(pass["discovered"], 0, "{pass:#}");
        assert_eq!(pass["landed"].as_array().unwrap().len(), 0);
        assert_eq!(pass["jobs"].as_array().unwrap().len(), 0);
        assert_eq!(pass["alerts"].as_array().unwrap().len(), 0);
        assert_eq!(pass["dead_letters"].as_array().unwrap().len(), 3);
        assert_eq!(pass["ledger_totals"]["ingested"], 6);
        assert_eq!(pass["ledger_totals"]["rejected"], 3);
    }
    // Metrics went to their file, not into the summary on stdout.
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"FilesIngested\""), "{metrics}");
}

#[test]
fn the_text_summary_says_what_landed_was_rejected_breached_and_started() {
    let dir = TempDir::new().unwrap();
    tributary()
        .args(["demo", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("Landed in the raw layer (6):"))
        .stdout(predicate::str::contains(
            "why: 3 rows, fewer than min_rows (10)",
        ))
        .stdout(predicate::str::contains(
            "Ingest dead-letter queue (3 message(s)):",
        ))
        .stdout(predicate::str::contains("SLA breaches open (1):"))
        .stdout(predicate::str::contains(
            "Glue jobs that would have started (6):",
        ));
}

#[test]
fn ops_commands_read_and_redrive_what_the_demo_left() {
    let dir = TempDir::new().unwrap();
    demo_json(dir.path(), &[]);
    let local = dir.path().to_str().unwrap();

    tributary()
        .args(["status", "--local", local])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"acme-retail\s+acme-ftp\s+\d\d-\d\d \d\d:\d\d:\d\d complete\s+0\s+0\s+4\s+3\s+0",
            )
            .unwrap(),
        )
        .stdout(predicate::str::contains("ingest DLQ depth: 3"))
        .stdout(predicate::str::contains(
            "acme-retail acme-returns: late since",
        ));

    let out = tributary()
        .args(["files", "--local", local, "--state", "ingested", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let files: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(files.as_array().unwrap().len(), 6);
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["job_run_id"].is_string())
    );

    tributary()
        .args(["files", "--local", local, "--tenant", "nobody"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tenant \"nobody\" is not in the current registry",
        ));

    // list and a dry run move nothing; a filter that matches nothing takes none.
    for args in [
        vec!["dlq", "list", "--local", local],
        vec!["dlq", "redrive", "--dry-run", "--local", local],
    ] {
        tributary()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "3 dead letter(s) matched of 3 scanned (dry run",
            ));
    }
    tributary()
        .args([
            "dlq",
            "redrive",
            "--local",
            local,
            "--tenant",
            "globex-bank",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0 dead letter(s) matched of 3 scanned",
        ));

    let out = tributary()
        .args(["dlq", "redrive", "--json", "--local", local, "--max", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["total"]["moved"], 1, "{report:#}");
    assert_eq!(report["beyond_max"], 2, "{report:#}");
    tributary()
        .args(["status", "--local", local])
        .assert()
        .success()
        .stdout(predicate::str::contains("ingest DLQ depth: 2"));

    // The next pass ingests the redriven file again: still 3 rows, so it is
    // rejected again and back in the DLQ, with one more attempt in the ledger.
    let passes = demo_json(dir.path(), &[]);
    assert_eq!(
        passes[0]["rejected"].as_array().unwrap().len(),
        1,
        "{:#}",
        passes[0]
    );
    assert_eq!(passes[0]["dead_letters"].as_array().unwrap().len(), 3);
}

#[test]
fn registry_push_shows_the_diff_and_stores_a_version() {
    let dir = TempDir::new().unwrap();
    demo_json(dir.path(), &[]);
    let local = dir.path().to_str().unwrap();
    let stored = std::fs::read_to_string(dir.path().join("registry.yaml")).unwrap();
    let edited = stored.replace("min_rows: 10", "min_rows: 2");
    let file = dir.path().join("edited.yaml");
    std::fs::write(&file, &edited).unwrap();
    let file = file.to_str().unwrap();

    tributary()
        .args(["registry", "push", file, "--dry-run", "--local", local])
        .assert()
        .success()
        .stdout(predicate::str::contains("-            min_rows: 10"))
        .stdout(predicate::str::contains("+            min_rows: 2"))
        .stdout(predicate::str::contains("dry run: nothing stored"));
    tributary()
        .args(["registry", "push", file, "--local", local])
        .assert()
        .success()
        .stdout(predicate::str::contains("as registry v2"));
    tributary()
        .args(["registry", "push", file, "--local", local])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to push"));

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, edited.replace("dataset: sales", "dataset: Sales!")).unwrap();
    tributary()
        .args([
            "registry",
            "push",
            broken.to_str().unwrap(),
            "--local",
            local,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("problem(s)"))
        .stderr(predicate::str::contains("tributary registry validate"));
    tributary()
        .args(["status", "--local", local])
        .assert()
        .success()
        .stdout(predicate::str::contains("registry v2;"));
}

#[test]
fn ops_commands_say_what_is_missing() {
    let dir = TempDir::new().unwrap();
    tributary()
        .args(["status", "--local"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds no local back-ends"));
    tributary()
        .args(["dlq", "list"])
        .env_remove("TRIBUTARY_TABLE")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("TRIBUTARY_TABLE is required"))
        .stderr(predicate::str::contains("--local DIR"));
    tributary()
        .args(["status"])
        .env("TRIBUTARY_TABLE", "t")
        .env("TRIBUTARY_INGEST_QUEUE_URL", "http://127.0.0.1:9/q")
        .env("TRIBUTARY_INGEST_DLQ_URL", "http://127.0.0.1:9/d")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no AWS region found"));
    // A region but no credentials anywhere: said before any call is made.
    tributary()
        .args(["files"])
        .env("TRIBUTARY_TABLE", "t")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no AWS credentials found"))
        .stderr(predicate::str::contains("--local DIR"));
    // demo --aws says which variable the template would have set.
    tributary()
        .args(["demo", "--aws", "--dir"])
        .arg(dir.path().join("demo"))
        .env_remove("TRIBUTARY_TABLE")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is required"))
        .stderr(predicate::str::contains("docs/deployment.md"));
    tributary()
        .args(["dlq", "list", "--error-kind", "bogus", "--local"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bogus"));
}

/// No secret — the FTP password, the data keys, in base64 as stored or as
/// hex — appears in anything a demo run writes or prints: its output, the
/// functions' logs, alerts, metrics, the ledger, the queues, the lineage.
#[test]
fn no_secret_reaches_an_output_a_log_or_a_record() {
    use base64::Engine as _;
    let dir = TempDir::new().unwrap();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let out = tributary()
            .args(["demo", "--dir"])
            .arg(dir.path())
            .assert()
            .success()
            .get_output()
            .clone();
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut secrets = Vec::new();
    for name in ["ftp-password", "globex-payments.key", "globex-ledger.key"] {
        let value = std::fs::read_to_string(dir.path().join("secrets").join(name)).unwrap();
        let value = value.trim().to_owned();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&value)
            .unwrap();
        secrets.push(hex::encode(&bytes));
        secrets.push(value);
    }

    let mut written = Vec::new();
    let mut pending = vec![dir.path().to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.ends_with("secrets") || path.ends_with("ftp") {
            continue; // the secrets themselves, and the tenants' (encrypted) files
        }
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            written.push((
                path.clone(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    let log = written
        .iter()
        .find(|(p, _)| p.ends_with("demo.log"))
        .map(|(_, text)| text.clone())
        .unwrap();
    assert!(
        log.lines().count() > 20,
        "the functions logged their work: {log}"
    );
    assert!(written.iter().any(|(p, _)| p.ends_with("ledger.json")));
    for secret in &secrets {
        assert!(secret.len() >= 24, "{secret}");
        for text in &outputs {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in the demo's output"
            );
        }
        for (path, text) in &written {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in {}",
                path.display()
            );
        }
    }
}
