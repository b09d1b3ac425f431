//! The ingest path end to end (see `world.rs` for the servers and how the
//! handlers are driven): a tenant's drop folder → the poller's handler
//! (schedule fan-out, then poll-queue messages) → the ingester's handler
//! (ingest-queue batches) → S3, DynamoDB, the ingest DLQ and SNS.
//!
//! The drop folder holds good files (plain, gzip, bzip2, AES-256-GCM), one that
//! fails its row bounds, a corrupt gzip and a file still being written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration as StdDuration;

use crate::world::{self, DATA_KEY, setup};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use tributary::ports::FileVersion;
use tributary::ports::ledger::FileState;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::{Ledger, ObjectStore};
use tributary_testkit::compress::{Level, bzip2, gzip};
use tributary_testkit::fixtures::sha256_hex;

const CSV: &str = "id,amount\n1,10\n2,20\n3,30\n";
const SHORT_CSV: &str = "id,amount\n1,10\n";

fn registry(port: u16) -> String {
    world::acme_registry(
        port,
        "        connect_timeout_secs: 10\n        data_timeout_secs: 10\n",
        r#"
          - id: secure-orders
            match: {glob: "/drop/*.aes"}
            dataset: orders
            format: csv
            header: true
            key: {secrets_manager: tributary/acme/orders-key}
            required_columns: [id, amount]
            min_rows: 2
            notify: all
          - id: orders
            match: {glob: "/drop/orders_*"}
            dataset: orders
            format: csv
            header: true
            required_columns: [id, amount]
            min_rows: 2
            post_action: {move_to: /archive}
            notify: all
"#,
    )
}

/// Whole-file AES-256-GCM as tenants' libraries write it: nonce ‖ ciphertext ‖ tag.
fn aes_gcm(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let nonce = [7u8; 12];
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(&Nonce::from(nonce), data).unwrap());
    out
}

/// The drop folder's files: name → bytes as stored on the server.
fn drop_files(key: &[u8; 32]) -> BTreeMap<&'static str, Vec<u8>> {
    let mut corrupt = gzip(CSV.as_bytes(), Level::Default);
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 8].copy_from_slice(b"garbage!");
    BTreeMap::from([
        ("orders_plain.csv", CSV.as_bytes().to_vec()),
        ("orders_gzip.csv.gz", gzip(CSV.as_bytes(), Level::Default)),
        (
            "orders_bzip2.csv.bz2",
            bzip2(CSV.as_bytes(), Level::Default),
        ),
        ("secure_orders.csv.aes", aes_gcm(key, CSV.as_bytes())),
        ("orders_short.csv", SHORT_CSV.as_bytes().to_vec()),
        ("orders_corrupt.csv.gz", corrupt),
        // Half written: the rest arrives between the first two polls.
        ("orders_writing.csv", b"id,amount\n1,10\n".to_vec()),
    ])
}

fn names(files: &[FileDiscovered]) -> Vec<String> {
    let mut names: Vec<String> = files
        .iter()
        .map(|f| f.path.trim_start_matches("/drop/").to_owned())
        .collect();
    names.sort();
    names
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_flow_from_ftp_to_s3_with_ledger_dlq_and_alerts() {
    let world = setup(registry, drop_files(&DATA_KEY)).await;
    let originals = drop_files(&DATA_KEY);

    // Poll 1: every file is seen for the first time; stability wants a second
    // look, so nothing is sent.
    world.scheduled_poll().await;
    assert!(world.drain(&world.ingest_url).await.is_empty());

    // The half-written file grows; everything else stays as it was.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    let writing = world.root.join("drop/orders_writing.csv");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&writing)
        .unwrap()
        .write_all(b"2,20\n3,30\n")
        .unwrap();

    // Poll 2: the six unchanged files are claimed and sent; the growing one is not.
    world.scheduled_poll().await;
    let handled = world.ingest().await;
    assert_eq!(
        names(&handled),
        [
            "orders_bzip2.csv.bz2",
            "orders_corrupt.csv.gz",
            "orders_gzip.csv.gz",
            "orders_plain.csv",
            "orders_short.csv",
            "secure_orders.csv.aes"
        ]
    );
    assert!(world.root.join("drop/orders_writing.csv").exists());

    // Poll 3: the grown file is unchanged since poll 2, so it is taken now.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    world.scheduled_poll().await;
    let late = world.ingest().await;
    assert_eq!(names(&late), ["orders_writing.csv"]);

    // Poll 4: nothing new. The files left on the server (rejected ones, and
    // the encrypted one whose rule leaves files in place) are known.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    world.scheduled_poll().await;
    assert!(world.drain(&world.ingest_url).await.is_empty());

    // S3: the accepted files, decoded, at their deterministic keys, with lineage.
    let date = handled[0].discovered_at.format("%Y-%m-%d").to_string();
    let store = tributary::aws::s3::S3ObjectStore::new(world.s3.clone(), world.bucket.clone());
    let landed = [
        ("orders_plain.csv", "orders_plain.csv", "orders"),
        ("orders_gzip.csv.gz", "orders_gzip.csv", "orders"),
        ("orders_bzip2.csv.bz2", "orders_bzip2.csv", "orders"),
        (
            "secure_orders.csv.aes",
            "secure_orders.csv",
            "secure-orders",
        ),
    ];
    for (source_name, object_name, rule) in landed {
        let key = format!("raw/tenant=acme/dataset=orders/ingest_date={date}/{object_name}");
        let body = store
            .get(&key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no object {key}"));
        assert_eq!(body, CSV.as_bytes(), "{key}");
        let info = store.head(&key).await.unwrap().unwrap();
        let meta = &info.metadata;
        assert_eq!(meta["sha256"], sha256_hex(&originals[source_name]), "{key}");
        assert_eq!(meta["rows"], "3");
        assert_eq!(meta["source-path"], format!("/drop/{source_name}"));
        assert_eq!(meta["source-host"], "127.0.0.1");
        assert_eq!(meta["rule-id"], rule);
        assert_eq!(meta["registry-version"], "1");
    }
    let late_date = late[0].discovered_at.format("%Y-%m-%d").to_string();
    let late_key =
        format!("raw/tenant=acme/dataset=orders/ingest_date={late_date}/orders_writing.csv");
    assert_eq!(store.get(&late_key).await.unwrap().unwrap(), CSV.as_bytes());
    let listed = |prefix: &'static str| {
        world
            .s3
            .list_objects_v2()
            .bucket(&world.bucket)
            .prefix(prefix)
            .send()
    };
    let raw = listed("raw/").await.unwrap();
    assert_eq!(raw.key_count(), Some(5), "only accepted files land");
    // Each of the two rejected files has its report beside the raw layer.
    let reports = listed("quarantine/").await.unwrap();
    let mut report_keys: Vec<&str> = reports.contents().iter().filter_map(|o| o.key()).collect();
    report_keys.sort_unstable();
    assert_eq!(report_keys.len(), 2, "{report_keys:?}");
    assert!(
        report_keys.iter().all(|k| k.ends_with(".report.json")),
        "{report_keys:?}"
    );
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());

    // The ledger: one item per version, in its final state.
    let version = |f: &FileDiscovered| FileVersion {
        source: f.source.clone(),
        path: f.path.clone(),
        size: f.size,
        mtime: f.mtime,
    };
    for file in handled.iter().chain(&late) {
        let record = world.ledger.get(&version(file)).await.unwrap().unwrap();
        let rejected = file.path.ends_with("short.csv") || file.path.ends_with("corrupt.csv.gz");
        let expected = if rejected {
            FileState::Rejected
        } else {
            FileState::Ingested
        };
        assert_eq!(record.state, expected, "{}", file.path);
        assert_eq!(record.attempts, 1, "{}", file.path);
        if rejected {
            assert!(record.s3_key.is_none());
            assert!(!record.error.unwrap().reason.is_empty());
        } else {
            assert_eq!(record.rows, Some(3));
            assert!(record.s3_key.unwrap().ends_with(".csv"));
        }
    }

    // The DLQ: the two rejected files, with their reasons as attributes.
    let dead = world.drain(&world.ingest_dlq).await;
    let mut reasons: Vec<(String, String)> = dead
        .iter()
        .map(|m| {
            let file = FileDiscovered::decode(m.body().unwrap()).unwrap();
            let attrs = m.message_attributes().unwrap();
            assert_eq!(attrs["error_kind"].string_value(), Some("rejected"));
            (
                file.path,
                attrs["error_reason"].string_value().unwrap().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "/drop/orders_corrupt.csv.gz");
    assert!(reasons[0].1.to_lowercase().contains("gzip"), "{reasons:?}");
    assert_eq!(reasons[1].0, "/drop/orders_short.csv");
    assert!(
        reasons[1].1.contains("min_rows") || reasons[1].1.contains("rows"),
        "{reasons:?}"
    );

    // Alerts (the rules ask for every outcome): the first batch had six
    // outcomes for acme, more than TRIBUTARY_DIGEST_AFTER (3 by default), so
    // they arrive folded into one digest naming every file; the late file's
    // batch had one, which arrives as it is.
    let alerts = world.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let (event, subject, body) = alerts
        .iter()
        .find(|(e, _, _)| e == "alert_digest")
        .unwrap_or_else(|| panic!("no digest: {alerts:#?}"));
    assert_eq!(event, "alert_digest");
    assert_eq!(subject, "acme: 6 alerts (4 file_ingested, 2 file_rejected)");
    for name in [
        "orders_plain.csv",
        "orders_gzip.csv.gz",
        "orders_bzip2.csv.bz2",
        "secure_orders.csv.aes",
        "orders_short.csv",
        "orders_corrupt.csv.gz",
    ] {
        assert!(body.contains(name), "{name} not in the digest:\n{body}");
    }
    assert!(body.contains("What to do"), "{body}");
    assert!(
        alerts
            .iter()
            .any(|(e, subject, _)| e == "file_ingested" && subject.contains("orders_writing.csv")),
        "{alerts:#?}"
    );

    // The post-action moved the ingested orders files to /archive; rejected
    // files and the encrypted one (no post-action) stay in the drop folder.
    assert_eq!(
        listing(&world.root.join("archive")),
        [
            "orders_bzip2.csv.bz2",
            "orders_gzip.csv.gz",
            "orders_plain.csv",
            "orders_writing.csv"
        ]
    );
    assert_eq!(
        listing(&world.root.join("drop")),
        [
            "orders_corrupt.csv.gz",
            "orders_short.csv",
            "secure_orders.csv.aes"
        ]
    );

    // A duplicate delivery of an ingested file changes nothing.
    let again = handled
        .iter()
        .find(|f| f.path.ends_with("secure_orders.csv.aes"))
        .unwrap();
    world
        .sqs
        .send_message()
        .queue_url(&world.ingest_url)
        .message_body(again.encode())
        .send()
        .await
        .unwrap();
    let redelivered = world.ingest().await;
    assert_eq!(redelivered.len(), 1);
    assert_eq!(
        world
            .ledger
            .get(&version(again))
            .await
            .unwrap()
            .unwrap()
            .attempts,
        1,
        "a finished file is not leased again"
    );
    assert!(world.alerts().await.is_empty(), "no notice for a duplicate");
}
