//! The function's handler, built by `aws::from_env` as at cold start, driven
//! with the sample events of `events/` against a moto server (SQS ingest queue
//! and DLQ, DynamoDB ledger), and with malformed payloads.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use serde_json::Value;
use tokio::time::Instant;
use tributary::aws::dynamodb::DynamoLedger;
use tributary::failure::FailureKind;
use tributary::lambda::Env;
use tributary::ports::ledger::{Lease, NewFile, Outcome};
use tributary::ports::work_queue::OutgoingMessage;
use tributary::ports::{FileDiscovered, FileState, Ledger, WorkQueue};
use tributary_dlq_redrive::aws::{AwsRedriver, from_env};
use tributary_testkit::moto::{moto, queue_pair, unique};

fn event(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn file(rule: &str, path: &str) -> FileDiscovered {
    FileDiscovered {
        tenant: "acme-retail".into(),
        source: "acme-ftp".into(),
        rule: rule.into(),
        path: path.into(),
        size: 2048,
        mtime: Some("2026-11-21T05:00:00Z".parse().unwrap()),
        discovered_at: "2026-11-21T05:01:00Z".parse().unwrap(),
    }
}

/// The function wired to a fresh table and queue pair on moto, through the
/// same variables the deployment sets.
async fn function() -> AwsRedriver {
    let sqs = moto().sqs().await;
    let (url, dead_url) = queue_pair(&sqs, 3).await;
    let dynamodb = moto().dynamodb().await;
    let table = unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    let env = Env::from_map(HashMap::from([
        ("TRIBUTARY_TABLE".to_owned(), table),
        ("TRIBUTARY_INGEST_QUEUE_URL".to_owned(), url),
        ("TRIBUTARY_INGEST_DLQ_URL".to_owned(), dead_url),
    ]));
    from_env(&env, &moto().sdk_config().await).unwrap()
}

/// `file` as the ingester leaves it: ledger `rejected` or `failed`
/// (misconfigured), the message on the DLQ with the kind and reason.
async fn dead_letter(f: &AwsRedriver, file: &FileDiscovered, kind: FailureKind) {
    let now = Utc::now();
    f.ledger
        .claim(NewFile {
            version: file.version(),
            tenant: file.tenant.clone(),
            rule: file.rule.clone(),
            discovered_at: file.discovered_at,
        })
        .await
        .unwrap();
    let lease = f
        .ledger
        .take_lease(&file.version(), "ingester-1", Duration::minutes(15), now)
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)));
    let outcome = match kind {
        FailureKind::Rejected => Outcome::Rejected {
            sha256: None,
            bytes_in: 2048,
            reason: "missing header column store_id".into(),
            report_key: None,
        },
        kind => Outcome::Failed(tributary::ports::FileError {
            kind,
            reason: "no rule matches".into(),
        }),
    };
    f.ledger
        .finish(&file.version(), "ingester-1", outcome, now)
        .await
        .unwrap();
    f.queue
        .send_batch(&[OutgoingMessage::new(file.encode())])
        .await
        .unwrap();
    let got = f.queue.receive(1, Duration::seconds(60)).await.unwrap();
    assert_eq!(got.len(), 1);
    f.queue
        .dead_letter(&got[0], kind, "see the ledger")
        .await
        .unwrap();
}

fn paths(report: &Value) -> Vec<String> {
    let mut paths: Vec<String> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    paths
}

fn in_a_minute() -> Option<Instant> {
    Some(Instant::now() + std::time::Duration::from_secs(60))
}

#[tokio::test]
async fn the_sample_events_list_then_move_the_rejected_files_of_the_rule() {
    let f = function().await;
    let sales = file("acme-daily-sales", "/outgoing/sales_2026-11-21.csv.gz");
    let other_rule = file("acme-orders", "/outgoing/orders_2026-11-21.csv");
    let misconfigured = file("acme-daily-sales", "/outgoing/sales_2026-11-20.csv.gz");
    dead_letter(&f, &sales, FailureKind::Rejected).await;
    dead_letter(&f, &other_rule, FailureKind::Rejected).await;
    dead_letter(&f, &misconfigured, FailureKind::Misconfigured).await;

    let report = f
        .handle(
            event(include_str!("../../../events/dlq-redrive-dry-run.json")),
            in_a_minute(),
        )
        .await
        .unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(paths(&report), [sales.path.as_str()]);
    assert_eq!(report["items"][0]["outcome"], "would_move");
    assert_eq!(report["items"][0]["error_kind"], "rejected");
    assert_eq!(report["items"][0]["error_reason"], "see the ledger");
    assert_eq!(report["scanned"], 3);
    assert_eq!(report["not_matching"], 2);
    assert_eq!(report["by_kind"]["rejected"]["left"], 1);
    assert_eq!(report["total"]["moved"], 0);
    assert_eq!(report["stopped"], "exhausted");
    assert_eq!(
        report["filter"],
        serde_json::json!({"tenant": "acme-retail", "source": "acme-ftp",
            "rule": "acme-daily-sales", "error_kind": "rejected"})
    );
    assert!(
        f.queue
            .receive(10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(state(&f, &sales).await, FileState::Rejected);

    // Every message is visible again at once, so the real run sees them all.
    let report = f
        .handle(
            event(include_str!("../../../events/dlq-redrive.json")),
            in_a_minute(),
        )
        .await
        .unwrap();
    assert_eq!(report["dry_run"], false);
    assert_eq!(paths(&report), [sales.path.as_str()]);
    assert_eq!(report["items"][0]["outcome"], "moved");
    assert_eq!(report["by_kind"]["rejected"]["moved"], 1);
    assert_eq!(report["total"]["left"], 0);
    assert_eq!(state(&f, &sales).await, FileState::Discovered);
    let moved = f.queue.receive(10, Duration::seconds(30)).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(FileDiscovered::decode(&moved[0].body).unwrap(), sales);
    assert!(moved[0].attributes.is_empty(), "{:?}", moved[0].attributes);

    // The other two stay, visible.
    let mut left = Vec::new();
    for _ in 0..5 {
        left.extend(
            f.queue
                .receive_dead_letters(10, Duration::seconds(30))
                .await
                .unwrap(),
        );
    }
    assert_eq!(left.len(), 2);
    assert_eq!(state(&f, &other_rule).await, FileState::Rejected);
    assert_eq!(state(&f, &misconfigured).await, FileState::Failed);
}

async fn state(f: &AwsRedriver, file: &FileDiscovered) -> FileState {
    f.ledger.get(&file.version()).await.unwrap().unwrap().state
}

#[tokio::test]
async fn a_malformed_payload_is_a_clear_error_and_touches_nothing() {
    let f = function().await;
    let sales = file("acme-daily-sales", "/outgoing/sales_2026-11-21.csv.gz");
    dead_letter(&f, &sales, FailureKind::Rejected).await;
    for (payload, says) in [
        (
            r#"{"tennant":"acme-retail","dry_run":false}"#,
            "invalid redrive request: unknown field `tennant`, expected one of `tenant`, `source`, `rule`, `error_kind`, `max`, `dry_run`",
        ),
        (
            r#"{"error_kind":"poison"}"#,
            "unknown variant `poison`, expected one of `rejected`, `misconfigured`, `transient`, `unknown`",
        ),
        (
            r#"{"max":20000}"#,
            "max must be between 1 and 10000, not 20000",
        ),
    ] {
        let error = f
            .handle(event(payload), in_a_minute())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(says), "{payload}: {error}");
    }
    assert_eq!(state(&f, &sales).await, FileState::Rejected);
    assert!(
        f.queue
            .receive(10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = f
        .queue
        .receive_dead_letters(10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "never received, so visible");
}

#[tokio::test]
async fn a_missing_variable_is_named_at_cold_start() {
    let env = Env::from_map(HashMap::from([(
        "TRIBUTARY_INGEST_QUEUE_URL".to_owned(),
        "http://127.0.0.1:1/123456789012/ingest".to_owned(),
    )]));
    let Err(error) = from_env(&env, &moto().sdk_config().await) else {
        panic!("built without a table");
    };
    assert_eq!(
        error.to_string(),
        "environment variable TRIBUTARY_TABLE is required: the DynamoDB table of the ledger"
    );
}
