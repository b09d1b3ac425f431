//! The ingester's handling of one message ([`ingest_message`]) on the local
//! adapters and the embedded FTP server, through the paths the end-to-end test
//! does not take: unreadable messages, unknown files, a lease held by another
//! ingester, a missing key (misconfigured), and a file that vanished from the
//! server (transient: retried, then dead-lettered with its reason on the last
//! receive); and a data contract's verdicts: a rejected file's report under the
//! quarantine prefix, the ledger pointing at it, alerts and dead letters that
//! never hold a cell's value; invalid rows kept within `quarantine_rows` limits.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use tributary::failure::FailureKind;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::ftp::{FtpConnector, Password};
use tributary::ingest::handle::{
    IngestContext, IngestSettings, Ingestion, RegistryView, ingest_message,
};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use tributary::ports::clock::{Clock, ManualClock};
use tributary::ports::messages::FileDiscovered;
use tributary::ports::work_queue::{Fate, OutgoingMessage, Received, attr};
use tributary::ports::{Backends, FileState, Ledger, NewFile, ObjectStore, WorkQueue};
use tributary::registry::{Registry, SecretRef};
use tributary::secrets::{SecretError, SecretStore, SecretValue};

const PASSWORD: &str = "handle-pw";
const CSV: &str = "id,amount\n1,10\n2,20\n";
/// Breaks its contract on line 3: a value no tenant data check may echo.
const TYPED: &str = "id,amount\n1,10\n1,SECRET-CELL\n2,3\n";

/// Secrets by reference from a map; anything else does not exist.
struct MapSecrets(HashMap<String, String>);

impl SecretStore for MapSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        self.0
            .get(&reference.to_string())
            .map(SecretValue::new)
            .ok_or_else(|| SecretError::NotFound {
                reference: reference.to_string(),
            })
    }
}

/// The adapters these tests run the ingester on.
struct Local;

impl Backends for Local {
    type Ledger = FileLedger;
    type Registry = FileRegistryStore;
    type Queue = MemoryQueue;
    type Store = FsObjectStore;
    type Notifier = FileNotifier;
    type Secrets = MapSecrets;
    type Jobs = FileJobTrigger;
    type Clock = Arc<ManualClock>;
    type Sources = tributary::ftp::FtpConnector;
}

struct World {
    _dir: tempfile::TempDir,
    _server: EmbeddedFtpServer,
    registry: Registry,
    ledger: FileLedger,
    store: FsObjectStore,
    queue: MemoryQueue,
    notifier: FileNotifier,
    secrets: MapSecrets,
    sources: FtpConnector,
    clock: Arc<ManualClock>,
    settings: IngestSettings,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ftp");
    std::fs::create_dir_all(root.join("in")).unwrap();
    std::fs::write(root.join("in/orders.csv"), CSV).unwrap();
    std::fs::write(root.join("in/secret.csv.aes"), b"not really encrypted").unwrap();
    std::fs::write(root.join("in/typed.tsv"), TYPED.replace(',', "\t")).unwrap();
    let server = EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(&root).credentials("u", Password::new(PASSWORD)),
    )
    .await
    .unwrap();
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
        username: u
        password: {{secrets_manager: tributary/acme/ftp}}
        directories: [/in]
        rules:
          - id: secure
            match: {{glob: "/in/*.aes"}}
            dataset: secure
            format: csv
            key: {{secrets_manager: tributary/acme/missing-key}}
          - id: typed
            match: {{glob: "/in/*.tsv"}}
            dataset: typed
            format: tsv
            notify: all
            columns:
              - {{name: id, type: bigint, unique: true}}
              - {{name: amount, type: "decimal(5,2)", min: 0}}
          - id: lenient
            match: {{glob: "/in/lenient/*.tsv"}}
            dataset: lenient
            format: tsv
            notify: all
            columns:
              - {{name: id, type: bigint, unique: true}}
              - {{name: amount, type: "decimal(5,2)", min: 0}}
            on_invalid: {{action: quarantine_rows, max_invalid_ratio: 0.5}}
          - id: orders
            match: {{glob: "/in/*.csv"}}
            dataset: orders
            format: csv
            header: true
            notify: all
"#,
        port = server.port()
    );
    let registry = Registry::from_yaml_str(&yaml).unwrap();
    registry.validate().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    World {
        registry,
        ledger: FileLedger::in_memory(),
        store: FsObjectStore::new(dir.path().join("lake")),
        queue: MemoryQueue::new("ingest", 5, clock.clone()),
        notifier: FileNotifier::new(dir.path().join("alerts.jsonl")),
        secrets: MapSecrets(HashMap::from([(
            SecretRef::SecretsManager("tributary/acme/ftp".into()).to_string(),
            PASSWORD.to_owned(),
        )])),
        sources: FtpConnector::default(),
        clock,
        settings: IngestSettings {
            max_receives: 2,
            ..IngestSettings::default()
        },
        _dir: dir,
        _server: server,
    }
}

fn message(rule: &str, path: &str, size: u64) -> FileDiscovered {
    FileDiscovered {
        tenant: "acme".into(),
        source: "acme-ftp".into(),
        rule: rule.into(),
        path: path.into(),
        size,
        mtime: None,
        discovered_at: "2026-11-21T06:00:00Z".parse().unwrap(),
    }
}

impl World {
    async fn claim(&self, file: &FileDiscovered) {
        self.ledger
            .claim(NewFile {
                version: file.version(),
                tenant: file.tenant.clone(),
                rule: file.rule.clone(),
                discovered_at: file.discovered_at,
            })
            .await
            .unwrap();
    }

    /// Sends `body` and receives it back, as SQS would deliver it.
    async fn deliver(&self, body: &str) -> Received {
        self.queue
            .send_batch(&[OutgoingMessage::new(body)])
            .await
            .unwrap();
        self.redeliver().await
    }

    async fn redeliver(&self) -> Received {
        let mut got = self.queue.receive(1, Duration::minutes(15)).await.unwrap();
        assert_eq!(got.len(), 1);
        got.remove(0)
    }

    async fn handle(&self, received: &Received, owner: &str) -> Fate<Ingestion> {
        let ctx = IngestContext::<Local> {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &self.notifier,
            secrets: &self.secrets,
            sources: &self.sources,
            clock: &self.clock,
        };
        let view = RegistryView {
            registry: &self.registry,
            version: "7",
        };
        ingest_message(
            &ctx,
            view,
            received,
            FileDiscovered::decode(&received.body),
            owner,
            &self.settings,
        )
        .await
        .fate
    }

    fn events(&self) -> Vec<String> {
        self.notifier
            .published()
            .unwrap()
            .into_iter()
            .map(|p| p.notification.event)
            .collect()
    }

    async fn dead_letters(&self) -> Vec<Received> {
        self.queue
            .receive_dead_letters(10, Duration::minutes(5))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_good_file_lands_once_and_a_duplicate_delivery_changes_nothing() {
    let w = world().await;
    let file = message("orders", "/in/orders.csv", CSV.len() as u64);
    w.claim(&file).await;
    let received = w.deliver(&file.encode()).await;
    let disposition = w.handle(&received, "req-1/m-1").await;
    let key = "raw/tenant=acme/dataset=orders/ingest_date=2026-11-21/orders.csv";
    assert_eq!(
        disposition,
        Fate::Done(Ingestion::Ingested {
            object_key: key.into(),
            rows: 2,
            bytes_in: CSV.len() as u64,
            bytes_out: CSV.len() as u64,
        })
    );
    assert_eq!(w.store.get(key).await.unwrap().unwrap(), CSV.as_bytes());
    let meta = w.store.head(key).await.unwrap().unwrap().metadata;
    assert_eq!(meta["registry-version"], "7");
    assert_eq!(w.events(), ["file_ingested"]);

    let again = w.deliver(&file.encode()).await;
    assert_eq!(
        w.handle(&again, "req-2/m-2").await,
        Fate::Done(Ingestion::Duplicate {
            state: FileState::Ingested
        })
    );
    assert_eq!(w.events(), ["file_ingested"], "no second notice");
}

#[tokio::test]
async fn unreadable_and_unknown_messages_are_dead_lettered_with_their_reason() {
    let w = world().await;
    let received = w.deliver(r#"{"v":9,"path":"/x"}"#).await;
    let Fate::DeadLettered { kind, reason } = w.handle(&received, "r/1").await else {
        panic!("an unreadable message is dead-lettered");
    };
    assert_eq!(kind, FailureKind::Misconfigured);
    assert!(reason.contains("version 9"), "{reason}");
    assert_eq!(w.events(), ["message_unreadable"]);

    // A well-formed message naming a file with no ledger item: perhaps a claim
    // the poller released after a send that looked failed, so it is retried,
    // and dead-lettered with its reason on its last receive.
    let stray = message("orders", "/in/orders.csv", CSV.len() as u64);
    let received = w.deliver(&stray.encode()).await;
    let disposition = w.handle(&received, "r/2").await;
    assert!(disposition.retry(), "{disposition:?}");
    w.clock.advance(Duration::minutes(16));
    let last = w.redeliver().await;
    let Fate::DeadLettered { kind, reason } = w.handle(&last, "r/3").await else {
        panic!("on its last receive a file without a ledger item is dead-lettered");
    };
    assert_eq!(kind, FailureKind::Transient);
    assert!(reason.contains("no item"), "{reason}");
    assert_eq!(w.events(), ["message_unreadable", "file_failed"]);
    let mut kinds: Vec<String> = w
        .dead_letters()
        .await
        .iter()
        .map(|d| d.attributes[attr::ERROR_KIND].clone())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["misconfigured", "transient"]);
}

#[tokio::test]
async fn a_lease_held_elsewhere_leaves_the_message_for_later() {
    let w = world().await;
    let file = message("orders", "/in/orders.csv", CSV.len() as u64);
    w.claim(&file).await;
    w.ledger
        .take_lease(
            &file.version(),
            "other",
            Duration::minutes(15),
            w.clock.now(),
        )
        .await
        .unwrap();
    let received = w.deliver(&file.encode()).await;
    let disposition = w.handle(&received, "me").await;
    assert!(disposition.retry(), "{disposition:?}");
    assert!(w.dead_letters().await.is_empty());
    assert!(w.events().is_empty());
}

#[tokio::test]
async fn a_missing_key_is_misconfigured_and_recorded() {
    let w = world().await;
    let file = message("secure", "/in/secret.csv.aes", 20);
    w.claim(&file).await;
    let received = w.deliver(&file.encode()).await;
    let Fate::DeadLettered { kind, reason } = w.handle(&received, "r/1").await else {
        panic!("a missing key is dead-lettered");
    };
    assert_eq!(kind, FailureKind::Misconfigured);
    assert!(reason.contains("missing-key"), "{reason}");
    let record = w.ledger.get(&file.version()).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Failed);
    assert_eq!(record.error.unwrap().kind, FailureKind::Misconfigured);
    // The secure rule notifies on failures (its default policy).
    assert_eq!(w.events(), ["file_failed"]);
}

#[tokio::test]
async fn a_vanished_file_is_retried_then_dead_lettered_on_its_last_receive() {
    let w = world().await;
    let file = message("orders", "/in/gone.csv", 10);
    w.claim(&file).await;
    let first = w.deliver(&file.encode()).await;
    let disposition = w.handle(&first, "r/1").await;
    assert!(disposition.retry(), "{disposition:?}");
    let record = w.ledger.get(&file.version()).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Failed);
    assert_eq!(record.error.unwrap().kind, FailureKind::Transient);
    assert!(w.events().is_empty(), "no alert while SQS still retries");

    // SQS delivers it again once its visibility lapsed: the last receive.
    w.clock.advance(Duration::minutes(16));
    let second = w.redeliver().await;
    assert_eq!(second.receive_count, 2);
    let Fate::DeadLettered { kind, reason } = w.handle(&second, "r/2").await else {
        panic!("the last receive is dead-lettered with its reason");
    };
    assert_eq!(kind, FailureKind::Transient);
    assert!(reason.contains("gone.csv"), "{reason}");
    assert_eq!(w.events(), ["file_failed"]);
    let dead = w.dead_letters().await;
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "transient");
    assert_eq!(
        w.ledger
            .get(&file.version())
            .await
            .unwrap()
            .unwrap()
            .attempts,
        2
    );
}

#[tokio::test]
async fn a_new_version_under_the_same_name_never_replaces_the_first() {
    let w = world().await;
    let first = message("orders", "/in/orders.csv", CSV.len() as u64);
    w.claim(&first).await;
    let received = w.deliver(&first.encode()).await;
    let Fate::Done(Ingestion::Ingested {
        object_key: key1, ..
    }) = w.handle(&received, "r/1").await
    else {
        panic!("the first version lands");
    };

    // The tenant uploads a corrected file under the same name the same day.
    let corrected = "id,amount\n1,10\n2,20\n3,30\n";
    std::fs::write(w._dir.path().join("ftp/in/orders.csv"), corrected).unwrap();
    let mut second = message("orders", "/in/orders.csv", corrected.len() as u64);
    second.mtime = Some("2026-11-21T07:00:00Z".parse().unwrap());
    w.claim(&second).await;
    let received = w.deliver(&second.encode()).await;
    let Fate::Done(Ingestion::Ingested {
        object_key: key2,
        rows,
        ..
    }) = w.handle(&received, "r/2").await
    else {
        panic!("the second version lands");
    };
    assert_eq!(rows, 3);
    assert_ne!(key1, key2);
    assert!(
        key2.starts_with("raw/tenant=acme/dataset=orders/ingest_date=2026-11-21/orders~"),
        "{key2}"
    );
    assert!(key2.ends_with(".csv"), "{key2}");
    assert_eq!(w.store.get(&key1).await.unwrap().unwrap(), CSV.as_bytes());
    assert_eq!(
        w.store.get(&key2).await.unwrap().unwrap(),
        corrected.as_bytes()
    );
}

/// The notices and dead letters of a run, as text: they must never hold a cell.
async fn said(w: &World) -> String {
    let mut text = String::new();
    for p in w.notifier.published().unwrap() {
        text.push_str(&p.notification.subject);
        text.push_str(&p.notification.body);
    }
    for d in w.dead_letters().await {
        text.push_str(&format!("{:?}", d.attributes));
        text.push_str(&d.body);
    }
    text
}

#[tokio::test]
async fn a_file_breaking_its_contract_is_rejected_with_a_report_and_no_value_in_alerts() {
    let w = world().await;
    let file = message("typed", "/in/typed.tsv", TYPED.len() as u64);
    w.claim(&file).await;
    let received = w.deliver(&file.encode()).await;
    assert!(matches!(
        w.handle(&received, "req-1/m-1").await,
        Fate::DeadLettered { .. }
    ));
    let report_key =
        "quarantine/tenant=acme/dataset=typed/ingest_date=2026-11-21/typed.tsv.report.json";
    let record = w.ledger.get(&file.version()).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Rejected);
    assert_eq!(record.report_key.as_deref(), Some(report_key));
    let reason = record.error.unwrap().reason;
    assert_eq!(
        reason,
        "1 of 3 rows break the contract: id: unique (1), amount: type (1)"
    );
    // The report has each error with its line, column, check and value.
    let report: serde_json::Value =
        serde_json::from_slice(&w.store.get(report_key).await.unwrap().unwrap()).unwrap();
    assert_eq!(report["verdict"], "rejected");
    assert_eq!(report["invalid_rows"], 1);
    assert_eq!(report["row_errors"][0]["line"], 3);
    assert_eq!(report["row_errors"][0]["column"], "amount");
    assert_eq!(report["row_errors"][0]["value"], "SECRET-CELL");
    assert_eq!(report["row_errors"][1]["message"], "duplicate of line 2");
    assert!(
        w.store
            .head("raw/tenant=acme/dataset=typed/ingest_date=2026-11-21/typed.tsv")
            .await
            .unwrap()
            .is_none(),
        "nothing lands"
    );
    assert_eq!(w.events(), ["file_rejected"]);
    let said = said(&w).await;
    assert!(said.contains(report_key), "{said}");
    assert!(
        !said.contains("SECRET-CELL"),
        "a cell value reached an alert or a dead letter: {said}"
    );
}

#[tokio::test]
async fn invalid_rows_within_quarantine_limits_land_with_their_report() {
    let w = world().await;
    let file = message("lenient", "/in/typed.tsv", TYPED.len() as u64);
    w.claim(&file).await;
    let received = w.deliver(&file.encode()).await;
    let key = "raw/tenant=acme/dataset=lenient/ingest_date=2026-11-21/typed.tsv";
    assert_eq!(
        w.handle(&received, "req-1/m-1").await,
        Fate::Done(Ingestion::Ingested {
            object_key: key.into(),
            rows: 3,
            bytes_in: TYPED.len() as u64,
            bytes_out: TYPED.len() as u64,
        })
    );
    let record = w.ledger.get(&file.version()).await.unwrap().unwrap();
    let report_key =
        "quarantine/tenant=acme/dataset=lenient/ingest_date=2026-11-21/typed.tsv.report.json";
    assert_eq!(record.invalid_rows, Some(1));
    assert_eq!(record.report_key.as_deref(), Some(report_key));
    let report: serde_json::Value =
        serde_json::from_slice(&w.store.get(report_key).await.unwrap().unwrap()).unwrap();
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["invalid_rows"], 1);
    // The invalid record itself, as received, with why, beside the report.
    let records_key =
        "quarantine/tenant=acme/dataset=lenient/ingest_date=2026-11-21/typed.tsv.invalid.jsonl";
    assert_eq!(report["invalid_records_key"], records_key);
    let kept = w.store.get(records_key).await.unwrap().unwrap();
    let kept: Vec<serde_json::Value> = std::str::from_utf8(&kept)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["line"], 3);
    assert_eq!(kept[0]["text"], "1\tSECRET-CELL");
    let checks: Vec<&str> = kept[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["type", "unique"]);
    assert_eq!(w.events(), ["rows_quarantined", "file_ingested"]);
    let said = said(&w).await;
    assert!(said.contains("1 invalid row(s)"), "{said}");
    assert!(!said.contains("SECRET-CELL"), "{said}");
}
