//! The trigger's unit tests: whole messages handled on the local adapters
//! (file ledger, file-system store, memory queue, file notifier and job
//! trigger), with Glue's throttling scripted in.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};

use super::*;
use crate::ingest::Lineage;
use crate::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use crate::ports::FileVersion;
use crate::ports::clock::{Clock, ManualClock};
use crate::ports::job_trigger::{CrawlerError, CrawlerStart, JobError, JobRun, JobTrigger};
use crate::ports::ledger::{FileState, Ledger, NewFile, Outcome};
use crate::ports::object_store::ObjectStore;
use crate::ports::work_queue::{OutgoingMessage, WorkQueue, attr};
use crate::secrets::LocalSecrets;

const KEY: &str =
    "raw/tenant=acme-retail/dataset=daily-sales/ingest_date=2026-11-21/sales 2026-11-21.csv";
const ENCODED: &str =
    "raw/tenant%3Dacme-retail/dataset%3Ddaily-sales/ingest_date%3D2026-11-21/sales+2026-11-21.csv";
const BUCKET: &str = "raw-bucket";

/// The local job trigger, failing the first calls with scripted errors
/// (Glue throttles and limits concurrent runs; the file trigger does not).
struct Flaky {
    inner: FileJobTrigger,
    failures: Mutex<VecDeque<JobError>>,
    crawler_failures: Mutex<VecDeque<CrawlerError>>,
}

impl JobTrigger for Flaky {
    async fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<JobRun, JobError> {
        let failure = self.failures.lock().unwrap().pop_front();
        match failure {
            Some(error) => Err(error),
            None => self.inner.start(job, arguments).await,
        }
    }

    async fn start_crawler(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
        let failure = self.crawler_failures.lock().unwrap().pop_front();
        match failure {
            Some(error) => Err(error),
            None => self.inner.start_crawler(crawler).await,
        }
    }
}

/// The adapters these tests run the trigger on: the local ones, with the job
/// trigger's failures scripted ([`Flaky`]) and a clock the tests move.
struct Local;

impl Backends for Local {
    type Ledger = FileLedger;
    type Registry = FileRegistryStore;
    type Queue = MemoryQueue;
    type Store = FsObjectStore;
    type Notifier = FileNotifier;
    type Secrets = LocalSecrets;
    type Jobs = Flaky;
    type Clock = Arc<ManualClock>;
    type Sources = crate::ftp::FtpConnector;
}

impl Handled {
    /// Whether the message stays on the queue (reported as a failure).
    fn retry(&self) -> bool {
        self.fate.retry()
    }
}

fn busy() -> JobError {
    JobError::Busy {
        job: "daily-sales".into(),
        reason: "ConcurrentRunsExceededException: max 1".into(),
    }
}

struct World {
    _dir: tempfile::TempDir,
    ledger: FileLedger,
    store: FsObjectStore,
    queue: MemoryQueue,
    notifier: FileNotifier,
    jobs: Flaky,
    clock: Arc<ManualClock>,
    settings: CatalogSettings,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let mut settings = CatalogSettings::new(BUCKET);
    settings.backoff = vec![StdDuration::from_millis(1); 3];
    settings.max_receives = 3;
    World {
        ledger: FileLedger::in_memory(),
        store: FsObjectStore::new(dir.path().join("lake")),
        queue: MemoryQueue::new("catalog", 3, clock.clone()),
        notifier: FileNotifier::new(dir.path().join("alerts.jsonl")),
        jobs: Flaky {
            inner: FileJobTrigger::new(dir.path().join("runs.jsonl"))
                .with_known_jobs(["daily-sales", "sales-load", "ingest_date=2026-11-21"])
                .with_known_crawlers(["tributary-daily-sales"]),
            failures: Mutex::new(VecDeque::new()),
            crawler_failures: Mutex::new(VecDeque::new()),
        },
        clock,
        settings,
        _dir: dir,
    }
}

fn version() -> FileVersion {
    FileVersion {
        source: "acme-ftp".into(),
        path: "/outgoing/sales 2026-11-21.csv".into(),
        size: 27,
        mtime: Some("2026-11-21T05:55:00.5Z".parse().unwrap()),
    }
}

fn lineage() -> Lineage {
    let v = version();
    Lineage {
        tenant: "acme-retail".into(),
        dataset: "daily-sales".into(),
        source_id: v.source,
        source_host: "ftp.acme.example".into(),
        source_path: v.path,
        listed_size: v.size,
        ftp_mtime: v.mtime,
        rule_id: "acme-daily-sales".into(),
        registry_version: "3".into(),
        ingested_at: "2026-11-21T06:01:00Z".parse().unwrap(),
    }
}

fn notification(bucket: &str, encoded_key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": encoded_key, "size": 27}}
    }]})
    .to_string()
}

impl World {
    /// The object with its lineage, and its ledger item in `state`.
    async fn landed(&self, key: &str, state: FileState) {
        self.store
            .put(
                key,
                b"id,amount\n1,10\n".to_vec(),
                &lineage().metadata(None),
            )
            .await
            .unwrap();
        let now = self.clock.now();
        self.ledger
            .claim(NewFile {
                version: version(),
                tenant: "acme-retail".into(),
                rule: "acme-daily-sales".into(),
                discovered_at: now,
            })
            .await
            .unwrap();
        if state == FileState::Discovered {
            return;
        }
        self.ledger
            .take_lease(&version(), "ingester-1", Duration::minutes(15), now)
            .await
            .unwrap();
        if state == FileState::Ingested {
            self.ledger
                .finish(
                    &version(),
                    "ingester-1",
                    Outcome::Ingested {
                        sha256: "ab".repeat(32),
                        bytes_in: 27,
                        bytes_out: 27,
                        rows: 1,
                        s3_key: key.to_owned(),
                        invalid_rows: 0,
                        report_key: None,
                    },
                    now,
                )
                .await
                .unwrap();
        }
    }

    async fn deliver(&self, body: &str) -> Received {
        self.queue
            .send_batch(&[OutgoingMessage::new(body)])
            .await
            .unwrap();
        self.redeliver().await
    }

    async fn redeliver(&self) -> Received {
        // Past the visibility timeout of an earlier receive.
        self.clock.advance(Duration::minutes(10));
        let mut got = self.queue.receive(1, Duration::minutes(5)).await.unwrap();
        assert_eq!(got.len(), 1);
        got.remove(0)
    }

    async fn handle(&self, received: &Received) -> Handled {
        let ctx = CatalogContext::<Local> {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &self.notifier,
            jobs: &self.jobs,
            clock: &self.clock,
        };
        let deadline = Instant::now() + StdDuration::from_secs(60);
        let disposition = handle_message(&ctx, &self.settings, received, deadline).await;
        // What Lambda does with a message not named in the batch response.
        if disposition.fate == Fate::Done(()) {
            self.queue.delete(&received.receipt).await.unwrap();
        }
        disposition
    }

    fn alerts(&self) -> Vec<crate::ports::Notification> {
        self.notifier
            .published()
            .unwrap()
            .into_iter()
            .map(|p| p.notification)
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
async fn a_landed_file_starts_its_job_once_and_the_ledger_keeps_the_run() {
    let w = world();
    w.landed(KEY, FileState::Ingested).await;
    let received = w.deliver(&notification(BUCKET, ENCODED)).await;
    let disposition = w.handle(&received).await;
    let runs = w.jobs.inner.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        disposition,
        Handled {
            objects: vec![ObjectOutcome::Started {
                key: KEY.into(),
                job: "daily-sales".into(),
                run_id: runs[0].run_id.clone(),
                recorded: true,
                tenant: Some("acme-retail".into()),
                source: Some("acme-ftp".into()),
            }],
            fate: Fate::Done(()),
        }
    );
    assert!(!disposition.retry());
    assert_eq!(
        runs[0].arguments,
        BTreeMap::from([
            ("--bucket".to_owned(), BUCKET.to_owned()),
            ("--key".to_owned(), KEY.to_owned()),
            ("--tenant".to_owned(), "acme-retail".to_owned()),
            ("--dataset".to_owned(), "daily-sales".to_owned()),
        ])
    );
    let record = w.ledger.get(&version()).await.unwrap().unwrap();
    assert_eq!(record.job_run_id.as_deref(), Some(runs[0].run_id.as_str()));
    assert!(w.alerts().is_empty());

    // S3 delivers the event again: a duplicate, no second run.
    let received = w.deliver(&notification(BUCKET, ENCODED)).await;
    let disposition = w.handle(&received).await;
    assert_eq!(
        disposition.objects,
        vec![ObjectOutcome::Duplicate {
            key: KEY.into(),
            job_run_id: runs[0].run_id.clone(),
        }]
    );
    assert_eq!(disposition.fate, Fate::Done(()));
    assert_eq!(w.jobs.inner.runs().unwrap().len(), 1);
}

#[tokio::test]
async fn the_test_event_and_objects_that_are_not_landed_files_are_ignored() {
    let w = world();
    w.landed(KEY, FileState::Ingested).await;
    let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T06:00:00.000Z","Bucket":"raw-bucket"}"#;
    let disposition = w.handle(&w.deliver(test).await).await;
    assert_eq!(disposition.fate, Fate::Done(()));
    assert!(disposition.objects.is_empty());

    let removed =
        notification(BUCKET, ENCODED).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
    for (body, why) in [
        (notification("other-bucket", ENCODED), "not the raw bucket"),
        (
            notification(BUCKET, "landing/x.csv"),
            "outside the raw prefix",
        ),
        (notification(BUCKET, "raw/tenant%3Dacme/"), "folder marker"),
        (notification(BUCKET, "raw/gone.csv"), "no longer exists"),
        (removed, "not an object creation"),
    ] {
        let disposition = w.handle(&w.deliver(&body).await).await;
        assert_eq!(disposition.fate, Fate::Done(()), "{body}");
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Ignored { why: got, .. }] if got.contains(why)),
            "{why}: {disposition:?}"
        );
    }
    assert!(w.jobs.inner.runs().unwrap().is_empty());
    assert!(w.alerts().is_empty());
    assert!(w.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_unreadable_body_is_dead_lettered_with_its_reason_and_an_alert() {
    let w = world();
    let received = w.deliver(r#"{"v":1,"tenant":"acme"}"#).await;
    let disposition = w.handle(&received).await;
    assert!(
        matches!(&disposition.fate, Fate::DeadLettered { kind: FailureKind::Misconfigured, reason } if reason.contains("no Records")),
        "{disposition:?}"
    );
    let dead = w.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "misconfigured");
    assert!(dead[0].attributes[attr::ERROR_REASON].contains("no Records"));
    let alerts = w.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event, "message_unreadable");
    assert!(
        alerts[0].body.contains("the catalog queue"),
        "{}",
        alerts[0].body
    );

    // An undecodable key: the same, naming the key.
    let received = w.deliver(&notification(BUCKET, "raw/100%.csv")).await;
    let disposition = w.handle(&received).await;
    assert!(
        matches!(&disposition.fate, Fate::DeadLettered { reason, .. } if reason.contains("raw/100%.csv") && reason.contains("invalid escape")),
        "{disposition:?}"
    );
}

#[tokio::test]
async fn a_missing_job_is_misconfigured_alerted_and_dead_lettered() {
    let w = world();
    let key = "raw/tenant=acme-retail/dataset=stock/ingest_date=2026-11-21/stock.csv";
    w.landed(key, FileState::Ingested).await;
    let received = w.deliver(&notification(BUCKET, key)).await;
    let disposition = w.handle(&received).await;
    let Fate::DeadLettered { kind, reason } = &disposition.fate else {
        panic!("{disposition:?}");
    };
    assert_eq!(*kind, FailureKind::Misconfigured);
    assert!(reason.contains("job stock does not exist"), "{reason}");
    assert!(
        matches!(&disposition.objects[..], [ObjectOutcome::Failed { tenant, source, .. }]
            if tenant.as_deref() == Some("acme-retail") && source.as_deref() == Some("acme-ftp")),
        "the lineage's source, for the metrics: {disposition:?}"
    );
    let dead = w.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].attributes[attr::ERROR_REASON].contains("stock"));
    let alerts = w.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event, "job_failed");
    assert_eq!(alerts[0].tenant, "acme-retail");
    for part in [
        "Dataset: stock",
        key,
        "Job:     stock",
        "TRIBUTARY_JOB_OVERRIDES",
    ] {
        assert!(alerts[0].body.contains(part), "{part}: {}", alerts[0].body);
    }
    // Nothing recorded on the ledger item.
    assert_eq!(
        w.ledger.get(&version()).await.unwrap().unwrap().job_run_id,
        None
    );
}

#[tokio::test]
async fn a_key_that_names_no_job_is_misconfigured() {
    let w = world();
    let key = "raw/loose/file.csv";
    w.store
        .put(key, b"x".to_vec(), &Default::default())
        .await
        .unwrap();
    let disposition = w.handle(&w.deliver(&notification(BUCKET, key)).await).await;
    assert!(
        matches!(&disposition.fate, Fate::DeadLettered { kind: FailureKind::Misconfigured, reason } if reason.contains("no dataset= segment") && reason.contains("TRIBUTARY_JOB_NAMING=dataset")),
        "{disposition:?}"
    );
    assert_eq!(w.alerts()[0].event, "job_failed");
}

#[tokio::test]
async fn glue_busy_is_retried_in_the_call_then_left_to_the_queue_then_dead_lettered() {
    let w = world();
    w.landed(KEY, FileState::Ingested).await;
    // Busy twice, then it starts: one delivery is enough.
    w.jobs.failures.lock().unwrap().extend([busy(), busy()]);
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(
            &disposition.objects[..],
            [ObjectOutcome::Started { recorded: true, .. }]
        ),
        "{disposition:?}"
    );
    assert_eq!(w.jobs.inner.runs().unwrap().len(), 1);

    // Busy beyond the in-call attempts: the queue retries, until the last
    // allowed receive, which dead-letters with the reason and alerts.
    let w = world();
    w.landed(KEY, FileState::Ingested).await;
    w.jobs
        .failures
        .lock()
        .unwrap()
        .extend(std::iter::repeat_with(busy).take(12));
    let mut received = w.deliver(&notification(BUCKET, ENCODED)).await;
    for receive in 1..=2 {
        assert_eq!(received.receive_count, receive);
        let disposition = w.handle(&received).await;
        assert!(disposition.retry(), "{disposition:?}");
        assert!(
            matches!(&disposition.fate, Fate::Retry { reason } if reason.contains("ConcurrentRunsExceededException")),
            "{disposition:?}"
        );
        assert!(w.alerts().is_empty());
        received = w.redeliver().await;
    }
    let disposition = w.handle(&received).await;
    assert!(
        matches!(
            &disposition.fate,
            Fate::DeadLettered {
                kind: FailureKind::Transient,
                ..
            }
        ),
        "{disposition:?}"
    );
    assert_eq!(
        w.jobs.failures.lock().unwrap().len(),
        0,
        "4 attempts per receive"
    );
    assert_eq!(w.dead_letters().await.len(), 1);
    let alerts = w.alerts();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].body.contains("(transient)") && alerts[0].body.contains("MaxConcurrentRuns"));
    assert!(w.jobs.inner.runs().unwrap().is_empty());
}

#[tokio::test]
async fn waits_end_before_the_deadline() {
    let w = world();
    w.landed(KEY, FileState::Ingested).await;
    let mut settings = w.settings.clone();
    settings.backoff = vec![StdDuration::from_secs(30); 3];
    w.jobs.failures.lock().unwrap().push_back(busy());
    let ctx = CatalogContext::<Local> {
        ledger: &w.ledger,
        store: &w.store,
        queue: &w.queue,
        notifier: &w.notifier,
        jobs: &w.jobs,
        clock: &w.clock,
    };
    let received = w.deliver(&notification(BUCKET, ENCODED)).await;
    let started = Instant::now();
    let deadline = started + StdDuration::from_secs(5);
    let disposition = handle_message(&ctx, &settings, &received, deadline).await;
    assert!(started.elapsed() < StdDuration::from_secs(5));
    assert!(disposition.retry(), "{disposition:?}");
}

#[tokio::test]
async fn a_file_the_ledger_does_not_yet_call_ingested_waits_without_starting() {
    let w = world();
    w.landed(KEY, FileState::Ingesting).await;
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(&disposition.fate, Fate::Retry { reason } if reason.contains("is ingesting, not yet ingested")),
        "{disposition:?}"
    );
    assert!(w.jobs.inner.runs().unwrap().is_empty());
}

#[tokio::test]
async fn an_object_without_lineage_still_starts_its_job_unrecorded() {
    let w = world();
    w.store
        .put(KEY, b"x".to_vec(), &Default::default())
        .await
        .unwrap();
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(&disposition.objects[..], [ObjectOutcome::Started { recorded: false, job, tenant, source, .. }]
            if job == "daily-sales" && tenant.as_deref() == Some("acme-retail") && source.is_none()),
        "the key names the tenant, nothing names the source: {disposition:?}"
    );
    let runs = w.jobs.inner.runs().unwrap();
    assert_eq!(runs[0].arguments["--tenant"], "acme-retail");

    // Lineage whose ledger item does not exist (another table?): the same.
    let w = world();
    w.store
        .put(KEY, b"x".to_vec(), &lineage().metadata(None))
        .await
        .unwrap();
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(
            &disposition.objects[..],
            [ObjectOutcome::Started {
                recorded: false,
                ..
            }]
        ),
        "{disposition:?}"
    );

    // A custom key layout: tenant and dataset come from the lineage.
    let w = world();
    let key = "raw/acme/sales.csv";
    w.landed(key, FileState::Ingested).await;
    let disposition = w.handle(&w.deliver(&notification(BUCKET, key)).await).await;
    assert!(
        matches!(&disposition.objects[..], [ObjectOutcome::Started { recorded: true, job, tenant, source, .. }]
            if job == "daily-sales" && tenant.as_deref() == Some("acme-retail") && source.as_deref() == Some("acme-ftp")),
        "{disposition:?}"
    );
    let runs = w.jobs.inner.runs().unwrap();
    assert_eq!(runs[0].arguments["--dataset"], "daily-sales");
    assert_eq!(runs[0].arguments["--tenant"], "acme-retail");
}

#[tokio::test]
async fn parent_folder_naming_and_overrides() {
    let mut w = world();
    w.landed(KEY, FileState::Ingested).await;
    w.settings.naming = JobNaming::ParentFolder;
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(&disposition.objects[..], [ObjectOutcome::Started { job, .. }] if job == "ingest_date=2026-11-21"),
        "{disposition:?}"
    );

    let mut w = world();
    w.landed(KEY, FileState::Ingested).await;
    w.settings.overrides = JobOverrides::parse("daily-sales=sales-load").unwrap();
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(
        matches!(&disposition.objects[..], [ObjectOutcome::Started { job, .. }] if job == "sales-load"),
        "{disposition:?}"
    );
}

#[tokio::test]
async fn the_crawler_starts_after_the_job_and_its_failure_is_only_a_warning() {
    let mut w = world();
    w.landed(KEY, FileState::Ingested).await;
    w.settings.crawler = Some(CrawlerTemplate::parse("tributary-{dataset}").unwrap());
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert!(matches!(
        &disposition.objects[..],
        [ObjectOutcome::Started { .. }]
    ));
    let crawls = w.jobs.inner.crawls().unwrap();
    assert_eq!(crawls.len(), 1);
    assert_eq!(crawls[0].crawler, "tributary-daily-sales");

    let mut w = world();
    w.landed(KEY, FileState::Ingested).await;
    w.settings.crawler = Some(CrawlerTemplate::parse("missing-{dataset}").unwrap());
    let disposition = w
        .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
        .await;
    assert_eq!(disposition.fate, Fate::Done(()));
    assert!(matches!(
        &disposition.objects[..],
        [ObjectOutcome::Started { recorded: true, .. }]
    ));
    let alerts = w.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event, "crawler_failed");
    assert_eq!(alerts[0].severity, crate::ports::Severity::Warning);
    assert!(alerts[0].body.contains("missing-daily-sales"));
    assert!(w.dead_letters().await.is_empty());
}
