//! Ops bring a rejected file back (the end-to-end scenario; see
//! `world.rs` for the servers and how the handlers are driven): a file
//! rejected for a too-strict row bound goes to the ingest DLQ → the registry
//! is fixed and pushed → the dlq-redrive function moves the dead letter back
//! and resets the ledger item → the ingester lands the file → S3 notifies the
//! catalog queue → the catalog trigger starts the dataset's Glue job and
//! records the run in the ledger.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use crate::world::{self, setup};
use chrono::Utc;
use serde_json::json;
use tributary::ports::ledger::FileState;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::registry_store::RegistryStore;
use tributary::ports::{Ledger, ObjectStore};
use tributary::registry::Syntax;

const CSV: &str = "id,amount\n1,10\n2,20\n3,30\n";

/// The registry with the row bound `min_rows`.
fn registry_with(port: u16, min_rows: u64) -> String {
    world::acme_registry(
        port,
        "",
        &format!(
            r#"
          - id: orders
            match: {{glob: "/drop/orders_*"}}
            dataset: orders
            format: csv
            required_columns: [id, amount]
            min_rows: {min_rows}
"#
        ),
    )
}

/// Too strict: the tenant's file has three rows.
fn strict_registry(port: u16) -> String {
    registry_with(port, 5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_file_is_redriven_after_the_fix_and_its_glue_job_starts() {
    let files = BTreeMap::from([("orders_2026-11-21.csv", CSV.as_bytes().to_vec())]);
    let world = setup(strict_registry, files).await;

    // Two polls (stability), then the ingester rejects the file.
    world.scheduled_poll().await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    world.scheduled_poll().await;
    let handled = world.ingest().await;
    assert_eq!(handled.len(), 1);
    let version = handled[0].version();
    let record = world.ledger.get(&version).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Rejected);

    // Ops see it in the DLQ (a dry run lists it and moves nothing).
    let listed = world
        .redriver
        .handle(
            json!({"tenant": "acme", "error_kind": "rejected", "dry_run": true}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["path"], "/drop/orders_2026-11-21.csv");
    assert!(
        world.drain(&world.ingest_url).await.is_empty(),
        "a dry run moves nothing"
    );

    // The rule was too strict: fix it and push the registry.
    let fixed = world
        .registry_store
        .push(Syntax::Yaml, &registry_with(world.ftp_port, 2), Utc::now())
        .await
        .unwrap();
    assert_eq!(fixed, 2);

    // Redrive: the message goes back to the ingest queue, the item is reset.
    let report = world
        .redriver
        .handle(
            json!({"tenant": "acme", "rule": "orders", "error_kind": "rejected"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(report["total"]["moved"], 1, "{report}");
    assert_eq!(report["by_kind"]["rejected"]["moved"], 1, "{report}");
    let record = world.ledger.get(&version).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Discovered);
    assert!(
        world.drain(&world.ingest_dlq).await.is_empty(),
        "the DLQ is empty"
    );

    // The ingester lands it now, under the new registry version.
    let again: Vec<FileDiscovered> = world.ingest().await;
    assert_eq!(again.len(), 1);
    let record = world.ledger.get(&version).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Ingested);
    assert_eq!(record.rows, Some(3));
    assert_eq!(
        record.attempts, 2,
        "one rejected attempt, one after the redrive"
    );
    let key = record.s3_key.clone().unwrap();
    let store = tributary::aws::s3::S3ObjectStore::new(world.s3.clone(), world.bucket.clone());
    assert_eq!(store.get(&key).await.unwrap().unwrap(), CSV.as_bytes());
    assert_eq!(
        store.head(&key).await.unwrap().unwrap().metadata["registry-version"],
        "2"
    );

    // S3 notified the catalog queue; the trigger starts the dataset's job.
    world.catalog().await;
    let runs = world
        .glue
        .get_job_runs()
        .job_name(&world.orders_job)
        .send()
        .await
        .unwrap()
        .job_runs
        .unwrap_or_default();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let arguments = runs[0].arguments().unwrap();
    assert_eq!(arguments["--key"], key);
    assert_eq!(arguments["--bucket"], world.bucket);
    assert_eq!(arguments["--tenant"], "acme");
    assert_eq!(arguments["--dataset"], "orders");
    let record = world.ledger.get(&version).await.unwrap().unwrap();
    assert_eq!(record.job_run_id.as_deref(), runs[0].id());
    assert!(world.drain(&world.catalog_dlq).await.is_empty());

    // Ops heard of the rejection, and nothing else went wrong.
    let alerts = world.alerts().await;
    let events: Vec<&str> = alerts.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(events, ["file_rejected"], "{alerts:#?}");
}
