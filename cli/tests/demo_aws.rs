//! `tributary demo --aws` and the ops commands against AWS APIs — a moto
//! server — run as a user runs them: the built binary as a process, with the
//! `TRIBUTARY_*` variables the SAM template gives the functions, the standard
//! `AWS_ENDPOINT_URL` and static credentials.

use std::collections::BTreeMap;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;
use tributary::aws::dynamodb::DynamoLedger;

use tributary_testkit::moto::{
    glue_job, moto, notify_queue_of_created_objects, queue_pair, unique,
};

/// The stack as the template makes it, on moto: table, raw bucket notifying
/// the catalog queue, the three queues with their DLQs, topic, a Glue job per
/// dataset. Returns the functions' environment.
async fn stack() -> BTreeMap<&'static str, String> {
    let moto = moto();
    let dynamodb = moto.dynamodb().await;
    let sqs = moto.sqs().await;
    let s3 = moto.s3().await;
    let glue = moto.glue().await;
    let table = unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    let bucket = moto.bucket(&s3).await;
    let (poll, poll_dlq) = queue_pair(&sqs, 3).await;
    let (ingest, ingest_dlq) = queue_pair(&sqs, 3).await;
    let (catalog, catalog_dlq) = queue_pair(&sqs, 3).await;
    notify_queue_of_created_objects(&s3, &sqs, &bucket, &catalog).await;
    let topic = moto
        .sns()
        .await
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let mut overrides = Vec::new();
    for dataset in ["sales", "stock", "payments", "ledger"] {
        overrides.push(format!("{dataset}={}", glue_job(&glue, 10).await));
    }
    BTreeMap::from([
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("TRIBUTARY_TABLE", table),
        ("TRIBUTARY_BUCKET", bucket),
        ("TRIBUTARY_S3_PATH_STYLE", "true".to_owned()),
        ("TRIBUTARY_TOPIC_ARN", topic),
        ("TRIBUTARY_POLL_QUEUE_URL", poll),
        ("TRIBUTARY_POLL_DLQ_URL", poll_dlq),
        ("TRIBUTARY_INGEST_QUEUE_URL", ingest),
        ("TRIBUTARY_INGEST_DLQ_URL", ingest_dlq),
        ("TRIBUTARY_CATALOG_QUEUE_URL", catalog),
        ("TRIBUTARY_CATALOG_DLQ_URL", catalog_dlq),
        ("TRIBUTARY_MAX_RECEIVES", "3".to_owned()),
        ("TRIBUTARY_JOB_OVERRIDES", overrides.join(",")),
    ])
}

fn tributary(env: &BTreeMap<&'static str, String>) -> Command {
    let mut command = Command::cargo_bin("tributary").unwrap();
    command.env_remove("AWS_PROFILE").envs(env);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_on_aws_apis_and_the_ops_commands_read_what_it_left() {
    let env = stack().await;
    let dir = TempDir::new().unwrap();

    let out = tributary(&env)
        .args(["demo", "--aws", "--json", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let summary: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(summary["backends"], "AWS");
    let landed = summary["landed"].as_array().unwrap();
    assert_eq!(landed.len(), 6, "{summary:#}");
    let bucket = &env["TRIBUTARY_BUCKET"];
    for file in landed {
        let key = file["key"].as_str().unwrap();
        assert_eq!(file["file"], format!("s3://{bucket}/{key}"));
    }
    // The objects are in the bucket, decoded (the CSV's rows plus its header).
    let s3 = moto().s3().await;
    let sales = landed
        .iter()
        .find(|f| f["path"] == "/acme/outgoing/sales_2026-12-02.csv.gz")
        .unwrap();
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(sales["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(std::str::from_utf8(&body).unwrap().lines().count(), 401);

    assert_eq!(summary["rejected"].as_array().unwrap().len(), 3);
    assert_eq!(summary["dead_letters"].as_array().unwrap().len(), 3);
    // The contract's rejection has its report in the bucket, under quarantine/.
    let broken = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/acme/outgoing/sales_2026-12-05.csv")
        .unwrap();
    let report_key = broken["report"].as_str().unwrap();
    assert!(
        report_key.contains("quarantine/tenant=acme-retail/dataset=sales/"),
        "{report_key}"
    );
    assert_eq!(summary["sla_breaches"][0]["rule"], "acme-returns");
    // Glue runs started through the real S3 → SQS notifications.
    let jobs = summary["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 6, "{summary:#}");
    assert!(
        jobs.iter()
            .all(|j| j["run_id"].as_str().unwrap().starts_with("jr_"))
    );
    assert!(!summary["alerts"].as_array().unwrap().is_empty());

    tributary(&env)
        .args(["status"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"acme-retail\s+acme-ftp\s+\d\d-\d\d \d\d:\d\d:\d\d complete\s+0\s+0\s+4\s+3\s+0",
            )
            .unwrap(),
        )
        .stdout(predicate::str::contains("ingest DLQ depth: 3"));
    let out = tributary(&env)
        .args(["files", "--tenant", "globex-bank", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let files: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(files.as_array().unwrap().len(), 2, "{files:#}");

    tributary(&env)
        .args(["dlq", "list", "--error-kind", "rejected"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 dead letter(s) matched of 3 scanned (dry run",
        ));

    // A rule made less strict, pushed, and the short file redriven: it lands.
    let registry = std::fs::read_to_string(dir.path().join("registry.yaml")).unwrap();
    let fixed = dir.path().join("fixed.yaml");
    std::fs::write(&fixed, registry.replace("min_rows: 10", "min_rows: 1")).unwrap();
    tributary(&env)
        .args(["registry", "push"])
        .arg(&fixed)
        .assert()
        .success()
        .stdout(predicate::str::contains("+            min_rows: 1"))
        .stdout(predicate::str::contains("as registry v2"));
    tributary(&env)
        .args([
            "dlq",
            "redrive",
            "--json",
            "--rule",
            "acme-sales",
            "--max",
            "1",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"moved\": 1"));
    tributary(&env)
        .args(["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ingest DLQ depth: 2"));
}
