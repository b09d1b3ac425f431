//! `validate_and_upload` end to end against the directory object store and a
//! wrapper that fails or slows down on demand: accepted files land whole with
//! their lineage, anything else leaves no object and no open upload, and the
//! parts held in memory stay bounded.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tributary::engine::EngineError;
use tributary::engine::spec::{Format, ValidationSpec};
use tributary::failure::FailureKind;
use tributary::ingest::quarantine;
use tributary::ingest::{
    Destination, FileToIngest, IngestError, Landed, Landing, Lineage, UploadOptions,
    validate_and_upload,
};
use tributary::local::FsObjectStore;
use tributary::ports::ledger::Outcome;
use tributary::ports::object_store::{
    CompletedPart, MIN_PART_BYTES, Metadata, MultipartUpload, ObjectInfo, ObjectStore,
    ObjectStoreError,
};
use tributary_testkit::compress::{Level, gzip};

const KEY: &str = "raw/tenant=acme/dataset=sales/ingest_date=2024-05-01/sales.csv";

fn csv_of_at_least(bytes: usize) -> Vec<u8> {
    let mut out = b"id,name,amount\n".to_vec();
    let mut i = 0u64;
    while out.len() < bytes {
        out.extend_from_slice(format!("{i},name {i},{}.25\n", i * 7).as_bytes());
        i += 1;
    }
    out
}

fn rows_in(csv: &[u8]) -> u64 {
    csv.iter().filter(|b| **b == b'\n').count() as u64 - 1
}

fn lineage() -> Lineage {
    Lineage {
        tenant: "acme".into(),
        dataset: "sales".into(),
        source_id: "acme-ftp".into(),
        source_host: "ftp.acme.example".into(),
        source_path: "/out/sales.csv.gz".into(),
        listed_size: 1234,
        ftp_mtime: Some("2024-05-01T06:00:00Z".parse().unwrap()),
        rule_id: "daily-sales".into(),
        registry_version: "7".into(),
        ingested_at: "2024-05-01T06:05:00Z".parse().unwrap(),
    }
}

fn file(name: &str, spec: ValidationSpec) -> FileToIngest {
    FileToIngest {
        name: name.into(),
        spec,
        key: None,
    }
}

fn five_mib(in_flight: usize) -> UploadOptions {
    UploadOptions::new(MIN_PART_BYTES, in_flight).unwrap()
}

async fn run<S: ObjectStore, R: AsyncRead + Unpin>(
    store: &S,
    source: R,
    file: FileToIngest,
    options: UploadOptions,
) -> Result<Landing, IngestError> {
    let lineage = lineage();
    let dest = Destination {
        object_key: KEY,
        lineage: &lineage,
        options,
    };
    validate_and_upload(source, file, store, dest).await
}

fn landed(outcome: Landing) -> Landed {
    match outcome {
        Landing::Landed(landed) => landed,
        Landing::Rejected(report) => panic!("rejected: {:?}", report.reasons),
    }
}

async fn assert_nothing_left<S: ObjectStore>(store: &S) {
    assert!(store.head(KEY).await.unwrap().is_none(), "object visible");
    assert!(
        store.incomplete_uploads("").await.unwrap().is_empty(),
        "upload left open"
    );
}

/// The directory store, failing part `fail_part` and pausing parts 1 to 3 (long
/// enough for the engine to produce the next ones), while counting the parts
/// being stored at once.
struct Flaky {
    inner: FsObjectStore,
    fail_part: Option<u32>,
    delay: Duration,
    storing: AtomicUsize,
    peak_storing: AtomicUsize,
    parts_started: AtomicUsize,
}

impl Flaky {
    fn new(inner: FsObjectStore) -> Self {
        Flaky {
            inner,
            fail_part: None,
            delay: Duration::ZERO,
            storing: AtomicUsize::new(0),
            peak_storing: AtomicUsize::new(0),
            parts_started: AtomicUsize::new(0),
        }
    }
}

impl ObjectStore for Flaky {
    async fn put(&self, key: &str, body: Vec<u8>, m: &Metadata) -> Result<(), ObjectStoreError> {
        self.inner.put(key, body, m).await
    }

    async fn start_upload(
        &self,
        key: &str,
        m: &Metadata,
    ) -> Result<MultipartUpload, ObjectStoreError> {
        self.inner.start_upload(key, m).await
    }

    async fn put_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Vec<u8>,
    ) -> Result<CompletedPart, ObjectStoreError> {
        self.parts_started.fetch_add(1, Ordering::SeqCst);
        let now = self.storing.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_storing.fetch_max(now, Ordering::SeqCst);
        if number <= 3 {
            tokio::time::sleep(self.delay).await;
        }
        let result = if self.fail_part == Some(number) {
            Err(ObjectStoreError::Unavailable {
                op: "UploadPart",
                key: upload.key.clone(),
                source: "503 SlowDown".into(),
            })
        } else {
            self.inner.put_part(upload, number, body).await
        };
        self.storing.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<(), ObjectStoreError> {
        self.inner.complete_upload(upload, parts).await
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<(), ObjectStoreError> {
        self.inner.abort_upload(upload).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        self.inner.head(key).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        self.inner.get(key).await
    }

    async fn incomplete_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<MultipartUpload>, ObjectStoreError> {
        self.inner.incomplete_uploads(prefix).await
    }
}

/// A source whose connection drops: every read fails.
struct Reset;

impl AsyncRead for Reset {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )))
    }
}

#[tokio::test]
async fn an_accepted_large_file_lands_whole_by_multipart_with_its_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path());
    let csv = csv_of_at_least(12 * 1024 * 1024);
    let gz = gzip(&csv, Level::Fast);

    let outcome = run(
        &store,
        Cursor::new(gz.clone()),
        file("/out/sales.csv.gz", ValidationSpec::new(Format::Csv)),
        five_mib(2),
    )
    .await
    .unwrap();
    let landed = landed(outcome);
    assert_eq!(landed.parts, 3);
    assert_eq!(landed.object_key, KEY);
    assert_eq!(landed.report.rows, rows_in(&csv));
    assert!(landed.peak_parts_held <= 3, "{}", landed.peak_parts_held);

    let stored = store.get(KEY).await.unwrap().unwrap();
    assert_eq!(Sha256::digest(&stored), Sha256::digest(&csv));
    let info = store.head(KEY).await.unwrap().unwrap();
    assert_eq!(info.size, csv.len() as u64);
    assert_eq!(info.metadata, lineage().metadata(None));
    assert_eq!(info.metadata["source-path"], "/out/sales.csv.gz");
    assert_eq!(info.metadata["rule-id"], "daily-sales");
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
    // The report carries the hash of the bytes as received, for the ledger.
    assert_eq!(
        landed.report.sha256_hex().unwrap(),
        hex::encode(Sha256::digest(&gz))
    );
    // What the ledger records of the landing: its figures and key.
    assert_eq!(
        Landing::Landed(landed.clone()).outcome(None),
        Outcome::Ingested {
            sha256: hex::encode(Sha256::digest(&gz)),
            bytes_in: gz.len() as u64,
            bytes_out: csv.len() as u64,
            rows: rows_in(&csv),
            s3_key: KEY.into(),
            invalid_rows: 0,
            report_key: None,
        }
    );
}

#[tokio::test]
async fn a_small_file_lands_by_a_single_put_with_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Flaky::new(FsObjectStore::new(dir.path()));
    let csv = csv_of_at_least(100_000);

    let landed = landed(
        run(
            &store,
            Cursor::new(csv.clone()),
            file("sales.csv", ValidationSpec::new(Format::Csv)),
            five_mib(2),
        )
        .await
        .unwrap(),
    );
    assert_eq!(landed.parts, 0);
    assert_eq!(store.parts_started.load(Ordering::SeqCst), 0);
    assert_eq!(landed.peak_parts_held, 1);
    assert_eq!(store.get(KEY).await.unwrap().unwrap(), csv);
    let metadata = store.head(KEY).await.unwrap().unwrap().metadata;
    assert_eq!(metadata["rows"], rows_in(&csv).to_string());
    assert_eq!(metadata["sha256"], hex::encode(Sha256::digest(&csv)));
    assert_eq!(metadata["received-bytes"], csv.len().to_string());
    assert_eq!(metadata["tenant"], "acme");
}

#[tokio::test]
async fn an_empty_file_that_is_accepted_lands_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path());
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.bounds.min_rows = Some(0);
    let landed = landed(
        run(
            &store,
            Cursor::new(Vec::new()),
            file("e.jsonl", spec),
            five_mib(1),
        )
        .await
        .unwrap(),
    );
    assert_eq!(landed.parts, 0);
    assert_eq!(store.get(KEY).await.unwrap().unwrap(), Vec::<u8>::new());
}

#[tokio::test]
async fn a_file_over_max_rows_is_rejected_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Flaky::new(FsObjectStore::new(dir.path()));
    let csv = csv_of_at_least(12 * 1024 * 1024);
    let mut spec = ValidationSpec::new(Format::Csv);
    spec.bounds.max_rows = Some(10);

    let outcome = run(
        &store,
        Cursor::new(csv),
        file("sales.csv", spec),
        five_mib(2),
    )
    .await
    .unwrap();
    let Landing::Rejected(report) = &outcome else {
        panic!("accepted a file over max_rows");
    };
    assert!(
        report.reasons.iter().any(|r| r.contains("rows")),
        "{report:?}"
    );
    // What the ledger records of the rejection: the reasons, joined.
    let report_key = quarantine::report_key(KEY);
    let Outcome::Rejected {
        bytes_in,
        reason,
        report_key: recorded,
        ..
    } = outcome.outcome(Some(report_key.clone()))
    else {
        panic!("a rejection is recorded as rejected");
    };
    assert_eq!(reason, report.reasons.join("; "));
    assert_eq!(bytes_in, report.received_bytes);
    assert_eq!(recorded.as_deref(), Some(report_key.as_str()));
    // The rejection's report is under the quarantine prefix, with the reasons
    // and where the file came from.
    let body = store.get(&report_key).await.unwrap().unwrap();
    let written: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(written["verdict"], "rejected");
    assert_eq!(written["reasons"][0], report.reasons[0].as_str());
    assert_eq!(written["source_path"], "/out/sales.csv.gz");
    assert_eq!(written["object_key"], KEY);
    assert!(store.parts_started.load(Ordering::SeqCst) >= 1);
    assert_nothing_left(&store).await;
}

#[tokio::test]
async fn a_corrupt_gzip_is_rejected_after_parts_were_stored_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Flaky::new(FsObjectStore::new(dir.path()));
    let mut gz = gzip(&csv_of_at_least(12 * 1024 * 1024), Level::Fast);
    let middle = gz.len() * 3 / 4;
    for b in &mut gz[middle..middle + 64] {
        *b ^= 0x5a;
    }

    let outcome = run(
        &store,
        Cursor::new(gz),
        file("sales.csv.gz", ValidationSpec::new(Format::Csv)),
        five_mib(2),
    )
    .await
    .unwrap();
    let Landing::Rejected(report) = outcome else {
        panic!("accepted a corrupt gzip");
    };
    assert!(
        report.reasons.iter().any(|r| r.contains("gzip")),
        "{report:?}"
    );
    assert!(store.parts_started.load(Ordering::SeqCst) >= 1);
    assert_nothing_left(&store).await;
}

#[tokio::test]
async fn a_store_failing_on_part_two_is_transient_and_the_upload_is_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Flaky::new(FsObjectStore::new(dir.path()));
    store.fail_part = Some(2);
    let csv = csv_of_at_least(16 * 1024 * 1024);

    let error = run(
        &store,
        Cursor::new(csv),
        file("sales.csv", ValidationSpec::new(Format::Csv)),
        five_mib(1),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transient, "{error}");
    assert!(
        matches!(
            error.store_error(),
            Some(ObjectStoreError::Unavailable {
                op: "UploadPart",
                ..
            })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(KEY), "{error}");
    assert_nothing_left(&store).await;
}

#[tokio::test]
async fn a_source_failing_midway_is_transient_and_the_upload_is_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Flaky::new(FsObjectStore::new(dir.path()));
    let csv = csv_of_at_least(12 * 1024 * 1024);
    let source = Cursor::new(csv).take(7 * 1024 * 1024).chain(Reset);

    let error = run(
        &store,
        source,
        file("sales.csv", ValidationSpec::new(Format::Csv)),
        five_mib(2),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transient, "{error}");
    let IngestError::Engine {
        source: EngineError::Source(io),
        ..
    } = &error
    else {
        panic!("not a source error: {error:?}");
    };
    assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
    assert!(store.parts_started.load(Ordering::SeqCst) >= 1);
    assert_nothing_left(&store).await;
}

#[tokio::test]
async fn parts_in_flight_and_in_memory_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Flaky::new(FsObjectStore::new(dir.path()));
    store.delay = Duration::from_secs(2);
    let csv = csv_of_at_least(40 * 1024 * 1024);

    let landed = landed(
        run(
            &store,
            Cursor::new(csv.clone()),
            file("sales.csv", ValidationSpec::new(Format::Csv)),
            five_mib(2),
        )
        .await
        .unwrap(),
    );
    assert_eq!(landed.parts as usize, csv.len().div_ceil(MIN_PART_BYTES));
    // Slow parts pile up to the limit, never past it.
    assert_eq!(store.peak_storing.load(Ordering::SeqCst), 2);
    assert_eq!(landed.peak_parts_held, 3);
    let stored = store.get(KEY).await.unwrap().unwrap();
    assert_eq!(Sha256::digest(&stored), Sha256::digest(&csv));
}

#[test]
fn upload_options_are_validated() {
    assert!(UploadOptions::new(MIN_PART_BYTES - 1, 2).is_err());
    assert!(UploadOptions::new(MIN_PART_BYTES, 0).is_err());
    let err = UploadOptions::new(1024, 1).unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    let ok = UploadOptions::new(MIN_PART_BYTES, 4).unwrap();
    assert_eq!((ok.part_size(), ok.in_flight()), (MIN_PART_BYTES, 4));
}
