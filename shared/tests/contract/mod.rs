//! The contract every adapter of a port must meet, as generic async functions:
//! `contract_local.rs` runs them against the `local` adapters, and the AWS slice
//! runs the same functions against the SDK adapters on moto. Each function
//! expects fresh, empty resources (a new directory, table, queue or topic).
//!
//! Where a back-end's clock or inbox cannot be reached through the port, the
//! caller passes a small helper: [`TimeTravel`] (a manual clock locally, a real
//! sleep against SQS) and [`Inbox`] (the notifier's file locally, a subscribed
//! queue against SNS).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use tributary::failure::FailureKind;
use tributary::poll::observations::ObservationStore;
use tributary::poll::select::{FileVersion, Observation};
use tributary::ports::ledger::{
    Claim, Claims, FileError, FileState, Lease, Ledger, LedgerError, NewFile, Outcome,
};
use tributary::ports::notifier::{Notification, Notifier, Severity};
use tributary::ports::object_store::{MIN_PART_BYTES, Metadata, ObjectStore, ObjectStoreError};
use tributary::ports::sla_store::{
    Breach, BreachOpening, BreachState, Notice, NoticeKind, Recovery, Resolution, SlaStore,
    SlaStoreError,
};
use tributary::ports::work_queue::{OutgoingMessage, QueueError, Received, WorkQueue, attr};
use tributary::ports::{
    CrawlerError, CrawlerStart, JobError, JobTrigger, RegistryStore, RegistryStoreError,
    StoredRegistry,
};
use tributary::registry::Syntax;

/// Moves the queue's clock forward.
pub trait TimeTravel {
    fn advance(&self, by: Duration) -> impl Future<Output = ()>;
}

/// Reads back what a notifier published.
pub trait Inbox {
    fn received(&self) -> impl Future<Output = Vec<Notification>>;
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn lineage() -> Metadata {
    [
        ("source-host", "ftp.acme.example"),
        ("source-path", "/out/orders 2024-05-01.csv.gz"),
        ("sha256", "ab12"),
        ("rows", "42"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Deterministic, non-repeating bytes (so a misordered part changes the hash).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ seed)
        .collect()
}

// ---------------------------------------------------------------- object store

/// A two-part upload is invisible until completed, then holds exactly the bytes
/// in order with the metadata given at the start; no upload is left open.
pub async fn object_store_multipart_completes<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/ingest_date=2024-05-01/orders.csv";
    let first = pattern(MIN_PART_BYTES, 1);
    let last = pattern(123_457, 2);
    let mut whole = Sha256::new();
    whole.update(&first);
    whole.update(&last);
    let expected = whole.finalize();

    let upload = store.start_upload(key, &lineage()).await.unwrap();
    assert_eq!(upload.key, key);
    let p1 = store.put_part(&upload, 1, first).await.unwrap();
    let p2 = store.put_part(&upload, 2, last).await.unwrap();
    assert!(
        store.head(key).await.unwrap().is_none(),
        "visible before completion"
    );
    let open = store.incomplete_uploads("raw/").await.unwrap();
    assert!(open.contains(&upload), "{open:?}");

    store.complete_upload(&upload, &[p1, p2]).await.unwrap();
    let bytes = store.get(key).await.unwrap().unwrap();
    assert_eq!(Sha256::digest(&bytes), expected);
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!(info.size, (MIN_PART_BYTES + 123_457) as u64);
    assert_eq!(info.metadata, lineage());
    assert!(store.incomplete_uploads("raw/").await.unwrap().is_empty());
}

/// An aborted upload leaves no object and no open upload; its parts are refused
/// afterwards; aborting twice is fine.
pub async fn object_store_abort_leaves_nothing<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/bad.csv";
    let upload = store.start_upload(key, &lineage()).await.unwrap();
    store.put_part(&upload, 1, pattern(1000, 3)).await.unwrap();
    store.abort_upload(&upload).await.unwrap();

    assert!(store.head(key).await.unwrap().is_none());
    assert!(store.get(key).await.unwrap().is_none());
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
    let err = store
        .put_part(&upload, 2, pattern(10, 4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ObjectStoreError::NoSuchUpload { .. }),
        "{err}"
    );
    store.abort_upload(&upload).await.unwrap();
}

/// A small object in one put round-trips its bytes and metadata; a missing key
/// is `None`, not an error.
pub async fn object_store_put_round_trips<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=small/one.jsonl";
    store
        .put(key, b"{\"a\":1}\n".to_vec(), &lineage())
        .await
        .unwrap();
    assert_eq!(store.get(key).await.unwrap().unwrap(), b"{\"a\":1}\n");
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!((info.size, info.metadata), (8, lineage()));
    assert!(store.head("raw/absent").await.unwrap().is_none());
    assert!(store.get("raw/absent").await.unwrap().is_none());
}

/// Completing with a part below the minimum that is not the last is refused as
/// misconfigured, nothing becomes visible, and the upload can still be aborted.
pub async fn object_store_refuses_small_middle_parts<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/small-parts.csv";
    let upload = store.start_upload(key, &Metadata::new()).await.unwrap();
    let p1 = store.put_part(&upload, 1, pattern(1024, 5)).await.unwrap();
    let p2 = store.put_part(&upload, 2, pattern(1024, 6)).await.unwrap();
    let err = store.complete_upload(&upload, &[p1, p2]).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");
    assert!(store.head(key).await.unwrap().is_none());
    store.abort_upload(&upload).await.unwrap();
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
}

// ---------------------------------------------------------------------- ledger

fn version(path: &str, size: u64) -> FileVersion {
    FileVersion {
        source: "acme-ftp".into(),
        path: path.into(),
        size,
        mtime: Some(at("2024-05-01T06:00:00Z")),
    }
}

fn new_file(tenant: &str, version: FileVersion, discovered_at: &str) -> NewFile {
    NewFile {
        version,
        tenant: tenant.into(),
        rule: "orders".into(),
        discovered_at: at(discovered_at),
    }
}

fn ingested(key: &str) -> Outcome {
    Outcome::Ingested {
        sha256: "ab".repeat(32),
        bytes_in: 100,
        bytes_out: 300,
        rows: 7,
        s3_key: key.into(),
    }
}

/// Two pollers claiming one version at once (each at its own instant): exactly
/// one wins, the other is told the version is known. The winner's call
/// repeated as is (an SDK retry after a lost answer) is still `Claimed`.
pub async fn ledger_claims_once<L: Ledger>(ledger: &L) {
    let v = version("/out/a.csv", 100);
    let one = new_file("acme", v.clone(), "2024-05-01T06:05:00Z");
    let other = new_file("acme", v.clone(), "2024-05-01T06:05:01Z");
    let (a, b) = tokio::join!(ledger.claim(one.clone()), ledger.claim(other.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut outcomes = [a.clone(), b];
    outcomes.sort_by_key(|c| matches!(c, Claim::AlreadyKnown(_)));
    assert_eq!(
        outcomes,
        [Claim::Claimed, Claim::AlreadyKnown(FileState::Discovered)]
    );
    let record = ledger.get(&v).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (FileState::Discovered, 0));
    assert_eq!(record.tenant, "acme");
    let winner = if a == Claim::Claimed { one } else { other };
    assert_eq!(record.discovered_at, winner.discovered_at);
    assert_eq!(ledger.claim(winner).await.unwrap(), Claim::Claimed);
    assert_eq!(
        ledger
            .claim(new_file("acme", v.clone(), "2024-05-01T06:07:00Z"))
            .await
            .unwrap(),
        Claim::AlreadyKnown(FileState::Discovered)
    );
}

/// Claiming many at once (the poller's path: one transaction per hundred on
/// DynamoDB) decides each file exactly as one claim would: new versions are
/// `Claimed`, versions another poll claimed are `AlreadyKnown` in any position
/// of the batch (the rest of the batch is still claimed), the same batch
/// repeated as is (a retry after a lost answer) is `Claimed` again, and a
/// version named twice in one batch is claimed once.
pub async fn ledger_claims_many_at_once<L: Ledger>(ledger: &L) {
    let versions: Vec<FileVersion> = (0..250)
        .map(|i| version(&format!("/out/many-{i:03}.csv"), 10 + i))
        .collect();
    // Another poll got to three of them first, one in each chunk of a hundred.
    for i in [0, 150, 249] {
        let theirs = new_file("acme", versions[i].clone(), "2024-05-01T05:00:00Z");
        assert_eq!(ledger.claim(theirs).await.unwrap(), Claim::Claimed);
    }
    let ours: Vec<NewFile> = versions
        .iter()
        .map(|v| new_file("acme", v.clone(), "2024-05-01T05:00:01Z"))
        .collect();
    let Claims { claims, stopped } = ledger.claim_all(ours.clone()).await;
    assert!(stopped.is_none(), "{stopped:?}");
    assert_eq!(claims.len(), 250);
    for (i, claim) in claims.iter().enumerate() {
        let expected = if [0, 150, 249].contains(&i) {
            Claim::AlreadyKnown(FileState::Discovered)
        } else {
            Claim::Claimed
        };
        assert_eq!(*claim, expected, "file {i}");
    }
    for i in [1, 99, 100, 248] {
        let record = ledger.get(&versions[i]).await.unwrap().unwrap();
        assert_eq!(record.discovered_at, ours[i].discovered_at, "file {i}");
        assert_eq!((record.state, record.attempts), (FileState::Discovered, 0));
    }
    let other_poll = ledger.get(&versions[150]).await.unwrap().unwrap();
    assert_ne!(other_poll.discovered_at, ours[150].discovered_at);

    // Our own batch again: what we claimed is ours still.
    let again = ledger.claim_all(ours[1..5].to_vec()).await;
    assert!(again.stopped.is_none());
    assert_eq!(again.claims, vec![Claim::Claimed; 4]);

    // One version twice in a batch: claimed once, then known.
    let fresh = version("/out/twice.csv", 7);
    let twice = vec![
        new_file("acme", fresh.clone(), "2024-05-01T05:01:00Z"),
        new_file("acme", fresh.clone(), "2024-05-01T05:01:01Z"),
    ];
    let Claims { claims, stopped } = ledger.claim_all(twice).await;
    assert!(stopped.is_none());
    assert_eq!(
        claims,
        vec![Claim::Claimed, Claim::AlreadyKnown(FileState::Discovered)]
    );
    assert!(ledger.claim_all(Vec::new()).await.claims.is_empty());
}

/// A lease is exclusive until it expires; an expired lease is retaken and the
/// loser's outcome is refused; the winner's is recorded in full.
pub async fn ledger_leases<L: Ledger>(ledger: &L) {
    let v = version("/out/b.csv", 200);
    let t0 = at("2024-05-01T07:00:00Z");
    let lease = Duration::minutes(5);
    ledger
        .claim(new_file("acme", v.clone(), "2024-05-01T06:55:00Z"))
        .await
        .unwrap();

    let Lease::Taken(first) = ledger
        .take_lease(&v, "ingester-a", lease, t0)
        .await
        .unwrap()
    else {
        panic!("a discovered file's lease is free");
    };
    assert_eq!((first.state, first.attempts), (FileState::Ingesting, 1));
    assert_eq!(first.lease_until, Some(t0 + lease));

    // A retried call by the same owner (its first answer was lost) gets the
    // same lease back, not a Held and not a second attempt.
    let retried = ledger
        .take_lease(&v, "ingester-a", lease, t0 + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(retried, Lease::Taken(first.clone()));

    let held = ledger
        .take_lease(&v, "ingester-b", lease, t0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        held,
        Lease::Held {
            owner: Some("ingester-a".into()),
            until: Some(t0 + lease)
        }
    );

    let later = t0 + lease + Duration::seconds(1);
    let Lease::Taken(second) = ledger
        .take_lease(&v, "ingester-b", lease, later)
        .await
        .unwrap()
    else {
        panic!("an expired lease is retaken");
    };
    assert_eq!(second.attempts, 2);
    assert_eq!(second.lease_owner.as_deref(), Some("ingester-b"));

    let err = ledger
        .finish(&v, "ingester-a", ingested("raw/x"), later)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Transient);

    let done = ledger
        .finish(&v, "ingester-b", ingested("raw/b.csv"), later)
        .await
        .unwrap();
    assert_eq!(done.state, FileState::Ingested);
    assert_eq!(done.s3_key.as_deref(), Some("raw/b.csv"));
    assert_eq!(
        (done.rows, done.bytes_in, done.bytes_out),
        (Some(7), Some(100), Some(300))
    );
    assert_eq!(done.sha256, Some("ab".repeat(32)));
    assert_eq!(done.lease_until, None);
    assert_eq!(ledger.get(&v).await.unwrap().unwrap(), done);
    // Recording the same outcome again (a retried call) is idempotent.
    let repeated = ledger
        .finish(&v, "ingester-b", ingested("raw/b.csv"), later)
        .await
        .unwrap();
    assert_eq!(repeated, done);

    let again = ledger
        .take_lease(&v, "ingester-c", lease, later)
        .await
        .unwrap();
    assert_eq!(again, Lease::Finished(FileState::Ingested));

    ledger.set_job_run(&v, "jr_123", later).await.unwrap();
    let record = ledger.get(&v).await.unwrap().unwrap();
    assert_eq!(record.job_run_id.as_deref(), Some("jr_123"));
}

/// Transitions that the state machine does not allow are refused; rejected is
/// final until reset; failed may be leased again.
pub async fn ledger_refuses_illegal_transitions<L: Ledger>(ledger: &L) {
    let t = at("2024-05-01T08:00:00Z");
    let lease = Duration::minutes(5);
    let unknown = version("/out/never-claimed.csv", 1);
    let err = ledger
        .take_lease(&unknown, "a", lease, t)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotFound { .. }), "{err}");

    let v = version("/out/c.csv", 300);
    ledger
        .claim(new_file("acme", v.clone(), "2024-05-01T07:55:00Z"))
        .await
        .unwrap();
    for err in [
        ledger
            .finish(&v, "a", ingested("raw/c"), t)
            .await
            .unwrap_err(),
        ledger.reset(&v, t).await.unwrap_err(),
        ledger.set_job_run(&v, "jr", t).await.unwrap_err(),
    ] {
        assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    }

    ledger.take_lease(&v, "a", lease, t).await.unwrap();
    let rejected = Outcome::Rejected {
        sha256: None,
        bytes_in: 9_999_999,
        reason: "larger than max_bytes".into(),
    };
    let record = ledger.finish(&v, "a", rejected, t).await.unwrap();
    assert_eq!(record.state, FileState::Rejected);
    assert_eq!(
        record.error,
        Some(FileError {
            kind: FailureKind::Rejected,
            reason: "larger than max_bytes".into()
        })
    );
    let err = ledger
        .finish(&v, "a", ingested("raw/c"), t)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    assert_eq!(
        ledger.take_lease(&v, "b", lease, t).await.unwrap(),
        Lease::Finished(FileState::Rejected)
    );

    let reset = ledger.reset(&v, t).await.unwrap();
    assert_eq!(reset.state, FileState::Discovered);
    let Lease::Taken(retry) = ledger.take_lease(&v, "b", lease, t).await.unwrap() else {
        panic!("a reset file is leased again");
    };
    assert_eq!(retry.attempts, 2);
    let failure = FileError {
        kind: FailureKind::Transient,
        reason: "connection reset".into(),
    };
    let failed = ledger
        .finish(&v, "b", Outcome::Failed(failure.clone()), t)
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.error),
        (FileState::Failed, Some(failure))
    );
    assert!(matches!(
        ledger.take_lease(&v, "c", lease, t).await.unwrap(),
        Lease::Taken(_)
    ));
}

/// The poller's batched dedupe read names exactly the known versions; a new
/// size or mtime of a known path is a new version.
pub async fn ledger_known_is_batched_and_exact<L: Ledger>(ledger: &L) {
    let claimed: Vec<FileVersion> = (0..3)
        .map(|i| version(&format!("/in/{i}.csv"), 10))
        .collect();
    for v in &claimed {
        ledger
            .claim(new_file("acme", v.clone(), "2024-05-01T09:00:00Z"))
            .await
            .unwrap();
    }
    let mut newer_mtime = version("/in/0.csv", 10);
    newer_mtime.mtime = Some(at("2024-05-02T06:00:00Z"));
    let mut asked = claimed.clone();
    asked.extend([
        version("/in/0.csv", 11),
        newer_mtime,
        version("/in/9.csv", 10),
    ]);
    // More than one DynamoDB batch (100 keys), so adapters must chunk.
    asked.extend((0..150).map(|i| version(&format!("/bulk/{i}.csv"), 1)));

    let known = ledger.known(&asked).await.unwrap();
    assert_eq!(known, claimed.into_iter().collect::<HashSet<_>>());
    assert!(ledger.known(&[]).await.unwrap().is_empty());
}

/// "Files of tenant T in state S, newest first": ordered by the last state
/// change, other tenants and states excluded, limited.
pub async fn ledger_by_state_is_newest_first<L: Ledger>(ledger: &L) {
    let lease = Duration::minutes(5);
    let finished_at = [
        ("/d/old.csv", "2024-05-01T10:00:00Z"),
        ("/d/new.csv", "2024-05-01T12:00:00Z"),
        ("/d/mid.csv", "2024-05-01T11:00:00Z"),
    ];
    for (path, when) in finished_at {
        let v = version(path, 1);
        ledger
            .claim(new_file("globex", v.clone(), "2024-05-01T09:00:00Z"))
            .await
            .unwrap();
        ledger.take_lease(&v, "a", lease, at(when)).await.unwrap();
        ledger
            .finish(&v, "a", ingested(path), at(when))
            .await
            .unwrap();
    }
    ledger
        .claim(new_file(
            "globex",
            version("/d/waiting.csv", 1),
            "2024-05-01T13:00:00Z",
        ))
        .await
        .unwrap();
    ledger
        .claim(new_file(
            "initech",
            version("/d/other.csv", 1),
            "2024-05-01T13:00:00Z",
        ))
        .await
        .unwrap();

    let ingested = ledger
        .by_state("globex", FileState::Ingested, 10)
        .await
        .unwrap();
    let paths: Vec<&str> = ingested.iter().map(|r| r.version.path.as_str()).collect();
    assert_eq!(paths, ["/d/new.csv", "/d/mid.csv", "/d/old.csv"]);
    let top = ledger
        .by_state("globex", FileState::Ingested, 2)
        .await
        .unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].version.path, "/d/new.csv");
    let waiting = ledger
        .by_state("globex", FileState::Discovered, 10)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].version.path, "/d/waiting.csv");
    assert!(
        ledger
            .by_state("nobody", FileState::Ingested, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// "Files of tenant T in state S changed at or after a time, newest first":
/// the SLA monitor's evidence. The bound is inclusive; other tenants and
/// states are left out; the limit keeps the newest.
pub async fn ledger_by_state_since_is_bounded_by_the_last_change<L: Ledger>(ledger: &L) {
    let lease = Duration::minutes(5);
    for (path, when) in [
        ("/s/old.csv", "2024-05-01T10:00:00Z"),
        ("/s/new.csv", "2024-05-01T12:00:00Z"),
        ("/s/mid.csv", "2024-05-01T11:00:00Z"),
    ] {
        let v = version(path, 1);
        ledger
            .claim(new_file("umbrella", v.clone(), "2024-05-01T09:00:00Z"))
            .await
            .unwrap();
        ledger.take_lease(&v, "a", lease, at(when)).await.unwrap();
        ledger
            .finish(&v, "a", ingested(path), at(when))
            .await
            .unwrap();
    }
    ledger
        .claim(new_file(
            "umbrella",
            version("/s/waiting.csv", 1),
            "2024-05-01T13:00:00Z",
        ))
        .await
        .unwrap();
    let paths = |records: Vec<tributary::ports::FileRecord>| {
        records
            .into_iter()
            .map(|r| r.version.path)
            .collect::<Vec<_>>()
    };
    let since = |t: &str, limit: usize| {
        ledger.by_state_since("umbrella", FileState::Ingested, at(t), limit)
    };
    assert_eq!(
        paths(since("2024-05-01T11:00:00Z", 10).await.unwrap()),
        ["/s/new.csv", "/s/mid.csv"],
        "at or after: the 11:00 change is in"
    );
    assert_eq!(
        paths(since("2024-05-01T11:00:00.000001Z", 10).await.unwrap()),
        ["/s/new.csv"]
    );
    assert_eq!(
        paths(since("2024-05-01T00:00:00Z", 2).await.unwrap()),
        ["/s/new.csv", "/s/mid.csv"]
    );
    assert!(since("2024-05-01T12:00:01Z", 10).await.unwrap().is_empty());
    let waiting = ledger
        .by_state_since(
            "umbrella",
            FileState::Discovered,
            at("2024-05-01T00:00:00Z"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(paths(waiting), ["/s/waiting.csv"]);
    assert!(
        ledger
            .by_state_since(
                "nobody",
                FileState::Ingested,
                at("2024-05-01T00:00:00Z"),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
}

/// A claim whose message could not be sent is released: the item is gone and
/// the next poll claims the file again. Releasing an absent item succeeds;
/// an item that was ever leased (even one reset to `discovered`) is refused
/// and left as it was.
pub async fn ledger_releases_only_unleased_claims<L: Ledger>(ledger: &L) {
    let t = at("2024-05-01T10:00:00Z");
    let lease = Duration::minutes(5);
    let v = version("/out/unsent.csv", 400);
    ledger.release(&v).await.unwrap();

    let file = new_file("acme", v.clone(), "2024-05-01T09:55:00Z");
    assert_eq!(ledger.claim(file.clone()).await.unwrap(), Claim::Claimed);
    ledger.release(&v).await.unwrap();
    assert_eq!(ledger.get(&v).await.unwrap(), None);
    assert!(
        ledger
            .known(std::slice::from_ref(&v))
            .await
            .unwrap()
            .is_empty()
    );
    ledger.release(&v).await.unwrap();
    assert_eq!(ledger.claim(file.clone()).await.unwrap(), Claim::Claimed);

    ledger.take_lease(&v, "a", lease, t).await.unwrap();
    let err = ledger.release(&v).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Conflict {
                from: FileState::Ingesting,
                to: None,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Transient);
    assert!(err.to_string().contains("/out/unsent.csv"), "{err}");
    let held = ledger.get(&v).await.unwrap().unwrap();
    assert_eq!((held.state, held.attempts), (FileState::Ingesting, 1));

    let failure = FileError {
        kind: FailureKind::Transient,
        reason: "connection reset".into(),
    };
    ledger
        .finish(&v, "a", Outcome::Failed(failure), t)
        .await
        .unwrap();
    assert!(matches!(
        ledger.release(&v).await.unwrap_err(),
        LedgerError::Conflict { .. }
    ));
    let reset = ledger.reset(&v, t).await.unwrap();
    assert_eq!((reset.state, reset.attempts), (FileState::Discovered, 1));
    let err = ledger.release(&v).await.unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    assert_eq!(ledger.get(&v).await.unwrap().unwrap(), reset);

    let done = version("/out/done.csv", 1);
    ledger
        .claim(new_file("acme", done.clone(), "2024-05-01T09:55:00Z"))
        .await
        .unwrap();
    ledger.take_lease(&done, "a", lease, t).await.unwrap();
    ledger
        .finish(&done, "a", ingested("raw/done.csv"), t)
        .await
        .unwrap();
    let err = ledger.release(&done).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Conflict {
                from: FileState::Ingested,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        ledger.get(&done).await.unwrap().unwrap().state,
        FileState::Ingested
    );
}

/// A release racing an ingester's lease: either the release wins (the item is
/// gone and the lease finds nothing) or the lease wins (the release is refused
/// and the item is leased), never both.
pub async fn ledger_release_races_a_lease<L: Ledger>(ledger: &L) {
    let t = at("2024-05-01T11:00:00Z");
    let v = version("/out/race-release.csv", 5);
    ledger
        .claim(new_file("acme", v.clone(), "2024-05-01T10:55:00Z"))
        .await
        .unwrap();
    let (released, leased) = tokio::join!(
        ledger.release(&v),
        ledger.take_lease(&v, "a", Duration::minutes(5), t)
    );
    match (released, leased) {
        (Ok(()), Err(LedgerError::NotFound { .. })) => {
            assert_eq!(ledger.get(&v).await.unwrap(), None);
        }
        (Err(LedgerError::Conflict { .. }), Ok(Lease::Taken(record))) => {
            assert_eq!(ledger.get(&v).await.unwrap().unwrap(), *record);
        }
        other => panic!("release and lease both won or both lost: {other:?}"),
    }
}

// ---------------------------------------------------------------- observations

fn seen(size: u64, at_: &str) -> Observation {
    Observation {
        size: Some(size),
        mtime: Some(at("2024-05-01T05:00:00Z")),
        seen_at: at(at_),
    }
}

/// Each source's last poll comes back, the latest replacing the one before;
/// sources never polled are absent; a source asked twice is answered once.
pub async fn poll_log_keeps_each_sources_last_poll<P: tributary::ports::PollLog>(log: &P) {
    use tributary::ports::{PollOutcome, PollRecord};
    let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let names = |ns: &[&str]| ns.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert!(
        log.last_polls(&names(&["acme-ftp"]))
            .await
            .unwrap()
            .is_empty()
    );

    let first = PollRecord::new(
        "acme",
        "acme-ftp",
        at("2024-05-01T06:00:00Z"),
        PollOutcome::Complete,
        3,
        "",
    );
    let failed = PollRecord::new(
        "globex",
        "globex-ftp",
        at("2024-05-01T06:00:05Z"),
        PollOutcome::Failed,
        0,
        &format!("login refused: 530 {}", "x".repeat(2000)),
    );
    assert_eq!(
        failed.detail.chars().count(),
        tributary::ports::poll_log::MAX_DETAIL_CHARS
    );
    log.record_poll(&first).await.unwrap();
    log.record_poll(&failed).await.unwrap();
    let later = PollRecord::new(
        "acme",
        "acme-ftp",
        at("2024-05-01T06:10:00Z"),
        PollOutcome::Partial,
        1,
        "deadline",
    );
    log.record_poll(&later).await.unwrap();

    let mut got = log
        .last_polls(&names(&[
            "acme-ftp",
            "globex-ftp",
            "never-polled",
            "acme-ftp",
        ]))
        .await
        .unwrap();
    got.sort_by(|a, b| a.source.cmp(&b.source));
    assert_eq!(got, vec![later, failed]);
}

/// What one poll saw comes back at the next, per source; a later save replaces
/// it; paths never seen are absent; batches beyond the back-end's request
/// limits (100 reads, 25 writes) and paths too long for a sort key work.
pub async fn observations_round_trip<O: ObservationStore>(store: &O) {
    let source = "acme-ftp";
    let paths = |ps: &[&str]| ps.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
    assert!(store.load(source, &[]).await.unwrap().is_empty());
    assert!(
        store
            .load(source, &paths(&["/out/a.csv", "/out/b.csv"]))
            .await
            .unwrap()
            .is_empty()
    );

    let long = format!("/out/{}.csv", "naïve-".repeat(250));
    assert!(long.len() > 1024);
    let first = [
        ("/out/a.csv".to_owned(), seen(1, "2024-05-01T06:00:00Z")),
        ("/out/b c.csv".to_owned(), seen(2, "2024-05-01T06:00:00Z")),
        (long.clone(), seen(3, "2024-05-01T06:00:00Z")),
        // The same path twice in one save: the last one counts.
        ("/out/a.csv".to_owned(), seen(4, "2024-05-01T06:00:00Z")),
    ];
    store.save(source, &first).await.unwrap();
    let asked = paths(&[
        "/out/a.csv",
        "/out/b c.csv",
        &long,
        "/out/new.csv",
        "/out/a.csv",
    ]);
    let loaded = store.load(source, &asked).await.unwrap();
    let expected: HashMap<String, Observation> = [
        ("/out/a.csv".to_owned(), seen(4, "2024-05-01T06:00:00Z")),
        ("/out/b c.csv".to_owned(), seen(2, "2024-05-01T06:00:00Z")),
        (long.clone(), seen(3, "2024-05-01T06:00:00Z")),
    ]
    .into();
    assert_eq!(loaded, expected);
    assert!(
        store
            .load("globex-ftp", &paths(&["/out/a.csv"]))
            .await
            .unwrap()
            .is_empty(),
        "observations are per source"
    );

    let growing = seen(5000, "2024-05-01T06:10:00Z");
    store
        .save(source, &[("/out/a.csv".to_owned(), growing)])
        .await
        .unwrap();
    let loaded = store
        .load(source, &paths(&["/out/a.csv", "/out/b c.csv"]))
        .await
        .unwrap();
    assert_eq!(loaded["/out/a.csv"], growing);
    assert_eq!(loaded["/out/b c.csv"], seen(2, "2024-05-01T06:00:00Z"));

    let bulk: Vec<(String, Observation)> = (0..250u64)
        .map(|i| (format!("/bulk/{i:03}.csv"), seen(i, "2024-05-01T06:20:00Z")))
        .collect();
    store.save(source, &bulk).await.unwrap();
    let mut asked: Vec<String> = bulk.iter().map(|(p, _)| p.clone()).collect();
    asked.extend((250..260).map(|i| format!("/bulk/{i:03}.csv")));
    let loaded = store.load(source, &asked).await.unwrap();
    assert_eq!(loaded, bulk.into_iter().collect::<HashMap<_, _>>());
}

// -------------------------------------------------------------- registry store

/// A valid registry, as the team writes it.
pub const REGISTRY_YAML: &str = include_str!("../../../examples/registry.yaml");

/// The same registry in JSON.
pub fn registry_json() -> String {
    let value: serde_json::Value = serde_saphyr::from_str(REGISTRY_YAML).unwrap();
    serde_json::to_string_pretty(&value).unwrap()
}

/// Nothing before the first push; each push is the next version, read back
/// exactly as written (syntax, text, time); older versions stay readable.
pub async fn registry_store_pushes_and_keeps_versions<S: RegistryStore>(store: &S) {
    assert_eq!(store.current().await.unwrap(), None);
    assert_eq!(store.get(1).await.unwrap(), None);

    let t1 = at("2024-05-01T09:00:00Z");
    assert_eq!(
        store.push(Syntax::Yaml, REGISTRY_YAML, t1).await.unwrap(),
        1
    );
    let first = StoredRegistry {
        version: 1,
        syntax: Syntax::Yaml,
        text: REGISTRY_YAML.to_owned(),
        stored_at: t1,
    };
    assert_eq!(store.current().await.unwrap(), Some(first.clone()));
    assert_eq!(store.get(1).await.unwrap(), Some(first.clone()));
    let registry = first.load().unwrap();
    assert!(registry.find_source("acme-ftp").is_some());

    let json = registry_json();
    let t2 = at("2024-05-02T09:30:00.250Z");
    assert_eq!(store.push(Syntax::Json, &json, t2).await.unwrap(), 2);
    let second = store.current().await.unwrap().unwrap();
    assert_eq!(
        second,
        StoredRegistry {
            version: 2,
            syntax: Syntax::Json,
            text: json,
            stored_at: t2,
        }
    );
    assert_eq!(second.load().unwrap(), registry);
    assert_eq!(store.get(1).await.unwrap(), Some(first));
    assert_eq!(store.get(3).await.unwrap(), None);
}

/// An invalid registry is refused with every problem (`path: message`), a
/// text that does not parse with its position; nothing is stored and no
/// version is used up.
pub async fn registry_store_refuses_invalid_registries<S: RegistryStore>(store: &S) {
    let t = at("2024-05-01T09:00:00Z");
    let bad = REGISTRY_YAML
        .replacen("id: acme-retail", "id: ACME Retail!", 1)
        .replacen("max_rows: 50000000", "max_rows: 0", 1);
    let err = store.push(Syntax::Yaml, &bad, t).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    let RegistryStoreError::Invalid { problems } = &err else {
        panic!("{err}");
    };
    assert!(problems.len() >= 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.starts_with("tenants[0].id: ")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("tenants[0].sources[0].rules[0].max_rows: ")),
        "{problems:?}"
    );

    let err = store
        .push(Syntax::Json, "{\"version\": 1, \"tenants\": [", t)
        .await
        .unwrap_err();
    let RegistryStoreError::Invalid { problems } = &err else {
        panic!("{err}");
    };
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("line 1, column "), "{problems:?}");

    assert_eq!(store.current().await.unwrap(), None);
    assert_eq!(store.get(1).await.unwrap(), None);
    assert_eq!(store.push(Syntax::Yaml, REGISTRY_YAML, t).await.unwrap(), 1);
}

/// A text over the store's limit is refused, naming the limit; nothing stored.
pub async fn registry_store_refuses_too_large<S: RegistryStore>(store: &S, limit: u64) {
    let mut text = REGISTRY_YAML.to_owned();
    text.push('#');
    text.push_str(&"x".repeat(limit as usize + 1 - text.len()));
    let err = store
        .push(Syntax::Yaml, &text, at("2024-05-01T09:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryStoreError::TooLarge { bytes, limit: l, .. } if l == limit && bytes == limit + 1),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert_eq!(store.current().await.unwrap(), None);
}

/// Two pushes at once never get the same version: each either gets its own
/// version (holding its own text) or a `Conflict`; at least one succeeds.
/// Raced twice: for the first version and for a later one.
pub async fn registry_store_concurrent_pushes_never_share_a_version<S: RegistryStore>(store: &S) {
    let t = at("2024-05-01T09:00:00Z");
    for round in 0..2 {
        let a = format!("{REGISTRY_YAML}\n# push a, round {round}\n");
        let b = format!("{REGISTRY_YAML}\n# push b, round {round}\n");
        let (ra, rb) = tokio::join!(
            store.push(Syntax::Yaml, &a, t),
            store.push(Syntax::Yaml, &b, t)
        );
        let mut won = Vec::new();
        for (result, text) in [(ra, &a), (rb, &b)] {
            match result {
                Ok(version) => won.push((version, text)),
                Err(err @ RegistryStoreError::Conflict { .. }) => {
                    assert_eq!(err.kind(), FailureKind::Transient);
                }
                Err(err) => panic!("round {round}: {err}"),
            }
        }
        assert!(!won.is_empty(), "round {round}: both pushes lost");
        if let [(va, _), (vb, _)] = won[..] {
            assert_ne!(va, vb, "round {round}: two pushes got version {va}");
        }
        for (version, text) in &won {
            let stored = store.get(*version).await.unwrap().unwrap();
            assert_eq!(&stored.text, *text, "round {round}, version {version}");
        }
        let newest = won.iter().map(|(v, _)| *v).max().unwrap();
        assert_eq!(store.current().await.unwrap().unwrap().version, newest);
    }
}

// ------------------------------------------------------------------- SLA store

fn breach(tenant: &str, rule: &str, deadline: &str) -> Breach {
    let deadline = at(deadline);
    Breach {
        tenant: tenant.into(),
        source: format!("{tenant}-ftp"),
        rule: rule.into(),
        dataset: "orders".into(),
        timezone: "Europe/Paris".into(),
        window_start: deadline - Duration::days(1),
        expected: deadline - Duration::minutes(30),
        deadline,
        next_expected: deadline + Duration::hours(23) + Duration::minutes(30),
        state: BreachState::Open,
        opened_at: deadline + Duration::minutes(5),
        opened_by: "run-1".into(),
        late_alert: Notice::Pending,
        recovery: None,
    }
}

fn recovery(path: &str, ingested_at: &str) -> Recovery {
    Recovery {
        source: "acme-ftp".into(),
        path: path.into(),
        discovered_at: at(ingested_at) - Duration::minutes(2),
        ingested_at: at(ingested_at),
        resolved_at: at(ingested_at) + Duration::minutes(3),
        notice: Notice::Pending,
    }
}

/// A rule's checkpoint starts absent and only ever moves forward, whoever
/// writes it; rules are independent.
pub async fn sla_store_checkpoints_only_move_forward<S: SlaStore>(store: &S) {
    let (t0, t1, t2) = (
        at("2026-03-29T00:58:00Z"),
        at("2026-03-29T01:58:00.5Z"),
        at("2026-03-29T02:58:00Z"),
    );
    assert_eq!(store.checkpoint("orders").await.unwrap(), None);
    assert!(store.advance_checkpoint("orders", t1).await.unwrap());
    assert_eq!(store.checkpoint("orders").await.unwrap(), Some(t1));
    assert!(
        !store.advance_checkpoint("orders", t0).await.unwrap(),
        "never back"
    );
    assert!(!store.advance_checkpoint("orders", t1).await.unwrap());
    assert_eq!(store.checkpoint("orders").await.unwrap(), Some(t1));
    assert!(store.advance_checkpoint("orders", t2).await.unwrap());
    assert_eq!(store.checkpoint("orders").await.unwrap(), Some(t2));
    assert_eq!(store.checkpoint("invoices").await.unwrap(), None);
    assert!(store.advance_checkpoint("invoices", t0).await.unwrap());
    assert_eq!(store.checkpoint("invoices").await.unwrap(), Some(t0));
    assert_eq!(store.checkpoint("orders").await.unwrap(), Some(t2));
}

/// Two runs opening the same window at once: exactly one opens it (and so
/// alerts), the other is shown the winner's breach. The winner's write
/// repeated (a retry after a lost answer) is still `Opened`; other windows
/// and rules are other breaches.
pub async fn sla_store_opens_a_breach_once<S: SlaStore>(store: &S) {
    let one = breach("acme", "orders", "2026-03-29T04:30:00Z");
    let mut other = one.clone();
    other.opened_by = "run-2".into();
    other.opened_at += Duration::seconds(1);
    let (a, b) = tokio::join!(store.open_breach(&one), store.open_breach(&other));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (winner, lost) = match (a, b) {
        (BreachOpening::Opened, BreachOpening::AlreadyOpen(seen)) => (&one, seen),
        (BreachOpening::AlreadyOpen(seen), BreachOpening::Opened) => (&other, seen),
        both => panic!("one run must open the breach, the other not: {both:?}"),
    };
    assert_eq!(*lost, *winner);
    assert_eq!(
        store.open_breach(winner).await.unwrap(),
        BreachOpening::Opened
    );
    let next_day = breach("acme", "orders", "2026-03-30T04:30:00Z");
    assert_eq!(
        store.open_breach(&next_day).await.unwrap(),
        BreachOpening::Opened
    );
    let other_rule = breach("acme", "invoices", "2026-03-29T04:30:00Z");
    assert_eq!(
        store.open_breach(&other_rule).await.unwrap(),
        BreachOpening::Opened
    );
    let active = store
        .active_breaches("acme", at("2026-03-01T00:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(active.len(), 3);
}

/// Notices go `pending` → `sent` once; an open breach is resolved once (two
/// runs at once: one `Resolved`, one `AlreadyResolved`), keeping the file
/// that ended it; then it is active only while its recovered notice is
/// pending. An unknown breach is `NotFound`.
pub async fn sla_store_resolves_once_and_tracks_notices<S: SlaStore>(store: &S) {
    let b = breach("acme", "orders", "2026-10-25T05:30:00Z");
    assert_eq!(store.open_breach(&b).await.unwrap(), BreachOpening::Opened);
    let sent = store
        .notice_sent("orders", b.deadline, NoticeKind::Late)
        .await
        .unwrap();
    assert_eq!(sent.late_alert, Notice::Sent);
    assert_eq!(
        store
            .notice_sent("orders", b.deadline, NoticeKind::Late)
            .await
            .unwrap(),
        sent,
        "marking a sent notice again changes nothing"
    );
    assert_eq!(
        store
            .notice_sent("orders", b.deadline, NoticeKind::Recovered)
            .await
            .unwrap(),
        sent,
        "no recovery yet: nothing to mark"
    );

    let first = recovery("/out/orders_1.csv", "2026-10-25T07:45:00Z");
    let second = recovery("/out/orders_2.csv", "2026-10-25T07:46:00Z");
    let (x, y) = tokio::join!(
        store.resolve("orders", b.deadline, &first),
        store.resolve("orders", b.deadline, &second)
    );
    let (resolved, by, seen) = match (x.unwrap(), y.unwrap()) {
        (Resolution::Resolved(r), Resolution::AlreadyResolved(seen)) => (r, &first, seen),
        (Resolution::AlreadyResolved(seen), Resolution::Resolved(r)) => (r, &second, seen),
        both => panic!("one run must resolve the breach, the other not: {both:?}"),
    };
    assert_eq!(seen, resolved, "the loser is shown the winner's resolution");
    assert_eq!(resolved.state, BreachState::Recovered);
    assert_eq!(resolved.recovery.as_ref(), Some(by));
    assert_eq!(resolved.late_alert, Notice::Sent);
    assert_eq!(resolved.lateness(), Some(by.ingested_at - b.expected));
    match store.resolve("orders", b.deadline, &first).await.unwrap() {
        Resolution::AlreadyResolved(now) => assert_eq!(*now, *resolved),
        other => panic!("resolved twice: {other:?}"),
    }
    let since = at("2026-10-01T00:00:00Z");
    let active = store.active_breaches("acme", since, 10).await.unwrap();
    assert_eq!(
        active,
        [(*resolved).clone()],
        "its recovered notice is pending"
    );
    let done = store
        .notice_sent("orders", b.deadline, NoticeKind::Recovered)
        .await
        .unwrap();
    assert_eq!(done.recovery.unwrap().notice, Notice::Sent);
    assert!(
        store
            .active_breaches("acme", since, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let missing = at("2026-10-26T05:30:00Z");
    for err in [
        store.resolve("orders", missing, &first).await.unwrap_err(),
        store
            .notice_sent("orders", missing, NoticeKind::Late)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, SlaStoreError::NotFound { .. }), "{err}");
    }
}

/// A tenant's active breaches, latest deadline first, whatever their rule:
/// deadlines before `since`, finished breaches and other tenants' are left
/// out; the limit keeps the latest.
pub async fn sla_store_lists_active_breaches_latest_first<S: SlaStore>(store: &S) {
    for (tenant, rule, deadline) in [
        ("acme", "orders", "2026-11-20T05:30:00Z"),
        ("acme", "invoices", "2026-11-22T05:30:00Z"),
        ("acme", "orders", "2026-11-21T05:30:00Z"),
        ("acme", "stock", "2026-11-23T05:30:00Z"),
        ("acme", "orders", "2026-10-01T05:30:00Z"),
        ("globex", "orders-g", "2026-11-22T06:00:00Z"),
    ] {
        let b = breach(tenant, rule, deadline);
        assert_eq!(store.open_breach(&b).await.unwrap(), BreachOpening::Opened);
    }
    // Finished: recovered with its notice not wanted.
    let mut quiet = recovery("/out/stock.csv", "2026-11-23T09:00:00Z");
    quiet.notice = Notice::NotWanted;
    let stock = at("2026-11-23T05:30:00Z");
    assert!(matches!(
        store.resolve("stock", stock, &quiet).await.unwrap(),
        Resolution::Resolved(_)
    ));
    let keys = |list: Vec<Breach>| {
        list.into_iter()
            .map(|b| (b.rule, b.deadline))
            .collect::<Vec<_>>()
    };
    let since = at("2026-11-01T00:00:00Z");
    assert_eq!(
        keys(store.active_breaches("acme", since, 10).await.unwrap()),
        [
            ("invoices".to_owned(), at("2026-11-22T05:30:00Z")),
            ("orders".to_owned(), at("2026-11-21T05:30:00Z")),
            ("orders".to_owned(), at("2026-11-20T05:30:00Z")),
        ]
    );
    assert_eq!(
        keys(store.active_breaches("acme", since, 2).await.unwrap()).len(),
        2
    );
    assert_eq!(
        keys(
            store
                .active_breaches("acme", at("2026-11-21T05:30:00Z"), 10)
                .await
                .unwrap()
        )
        .len(),
        2,
        "since is inclusive"
    );
    assert_eq!(
        keys(store.active_breaches("globex", since, 10).await.unwrap()),
        [("orders-g".to_owned(), at("2026-11-22T06:00:00Z"))]
    );
    assert!(
        store
            .active_breaches("initech", since, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ------------------------------------------------------------------ work queue

fn message(body: &str) -> OutgoingMessage {
    let mut m = OutgoingMessage::new(body);
    m.attributes.insert("tenant".into(), "acme".into());
    m
}

/// Receives until `n` messages arrived (SQS may return fewer than asked).
async fn receive_n<Q: WorkQueue>(queue: &Q, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..10 {
        if got.len() >= n {
            break;
        }
        got.extend(
            queue
                .receive((n - got.len()).min(10), visibility)
                .await
                .unwrap(),
        );
    }
    got
}

async fn dead_letters_n<Q: WorkQueue>(queue: &Q, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..10 {
        if got.len() >= n {
            break;
        }
        got.extend(
            queue
                .receive_dead_letters((n - got.len()).min(10), visibility)
                .await
                .unwrap(),
        );
    }
    got
}

/// A received message is hidden for its visibility timeout, then returns with a
/// higher receive count; extending hides it longer; delete removes it for good.
/// Batches above ten are refused.
pub async fn queue_visibility_and_delete<Q: WorkQueue, T: TimeTravel>(queue: &Q, time: &T) {
    let too_many: Vec<OutgoingMessage> = (0..11).map(|i| message(&i.to_string())).collect();
    let err = queue.send_batch(&too_many).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");

    queue
        .send_batch(&[message("one"), message("two")])
        .await
        .unwrap();
    let vis = Duration::seconds(2);
    let first = receive_n(queue, 2, vis).await;
    let mut bodies: Vec<&str> = first.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["one", "two"]);
    assert!(
        first
            .iter()
            .all(|m| m.receive_count == 1 && m.attributes["tenant"] == "acme")
    );
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "hidden while in flight"
    );

    let one = first.iter().find(|m| m.body == "one").unwrap();
    let two = first.iter().find(|m| m.body == "two").unwrap();
    queue.delete(&one.receipt).await.unwrap();
    queue
        .extend_visibility(&two.receipt, Duration::seconds(6))
        .await
        .unwrap();

    time.advance(Duration::seconds(3)).await;
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "extended and deleted stay hidden"
    );

    time.advance(Duration::seconds(4)).await;
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].body.as_str(), back[0].receive_count), ("two", 2));
    assert_eq!(back[0].id, two.id);
    queue.delete(&back[0].receipt).await.unwrap();
    time.advance(Duration::seconds(3)).await;
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "deleted for good"
    );
}

/// After `max_receives` receives without a delete the queue moves the message to
/// its dead-letter queue; from there it can be moved back.
pub async fn queue_max_receives_dead_letters<Q: WorkQueue, T: TimeTravel>(
    queue: &Q,
    time: &T,
    max_receives: u32,
) {
    queue.send_batch(&[message("poison")]).await.unwrap();
    let vis = Duration::seconds(1);
    for round in 1..=max_receives {
        let got = receive_n(queue, 1, vis).await;
        assert_eq!(got.len(), 1, "receive {round}");
        assert_eq!(got[0].receive_count, round);
        time.advance(Duration::seconds(2)).await;
    }
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "moved after {max_receives}"
    );

    let dead = dead_letters_n(queue, 1, Duration::seconds(30)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].attributes["tenant"], "acme");

    queue.redrive(&dead[0]).await.unwrap();
    let again = receive_n(queue, 1, vis).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, "poison");
    assert_eq!(again[0].attributes.get(attr::ERROR_KIND), None);
    queue.delete(&again[0].receipt).await.unwrap();
}

/// An explicitly dead-lettered message leaves the queue at once and carries its
/// reason; redrive strips the reason and the message is worked again.
pub async fn queue_explicit_dead_letter_keeps_reason<Q: WorkQueue>(queue: &Q) {
    queue.send_batch(&[message("bad file")]).await.unwrap();
    let vis = Duration::seconds(30);
    let got = receive_n(queue, 1, vis).await;
    assert_eq!(got.len(), 1);
    queue
        .dead_letter(
            &got[0],
            FailureKind::Rejected,
            "row count 3 below min_rows 10",
        )
        .await
        .unwrap();
    let err = queue.delete(&got[0].receipt).await;
    assert!(
        matches!(err, Ok(()) | Err(QueueError::StaleReceipt { .. })),
        "{err:?}"
    );

    let dead = dead_letters_n(queue, 1, vis).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "bad file");
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "rejected");
    assert_eq!(
        dead[0].attributes[attr::ERROR_REASON],
        "row count 3 below min_rows 10"
    );
    assert_eq!(dead[0].attributes["tenant"], "acme");

    queue.redrive(&dead[0]).await.unwrap();
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "bad file");
    let expected: BTreeMap<String, String> = [("tenant".to_owned(), "acme".to_owned())].into();
    assert_eq!(back[0].attributes, expected);
    queue.delete(&back[0].receipt).await.unwrap();
}

/// A dead letter browsed and returned is visible again at once, unchanged (body,
/// reason attributes, id), while one browsed and not returned stays hidden; a
/// returned message is received with a new receipt and can then be redriven;
/// returning a message no longer in flight (it was moved) is a stale receipt.
pub async fn queue_return_dead_letter_is_visible_at_once<Q: WorkQueue>(queue: &Q) {
    queue
        .send_batch(&[message("left"), message("kept hidden")])
        .await
        .unwrap();
    let vis = Duration::seconds(300);
    for got in receive_n(queue, 2, vis).await {
        queue
            .dead_letter(&got, FailureKind::Misconfigured, "no rule matches")
            .await
            .unwrap();
    }
    let browsed = dead_letters_n(queue, 2, vis).await;
    assert_eq!(browsed.len(), 2);
    assert!(
        queue
            .receive_dead_letters(10, vis)
            .await
            .unwrap()
            .is_empty(),
        "hidden while browsed"
    );
    let left = browsed.iter().find(|m| m.body == "left").unwrap();
    queue.return_dead_letter(&left.receipt).await.unwrap();

    let again = dead_letters_n(queue, 1, vis).await;
    assert_eq!(again.len(), 1, "returned at once, the other still hidden");
    assert_eq!(again[0].id, left.id);
    assert_eq!(again[0].body, "left");
    assert_eq!(again[0].attributes, left.attributes);
    assert_eq!(again[0].attributes[attr::ERROR_KIND], "misconfigured");
    assert_eq!(again[0].attributes[attr::ERROR_REASON], "no rule matches");
    assert_eq!(again[0].receive_count, left.receive_count + 1);
    assert_ne!(again[0].receipt, left.receipt);
    assert!(
        queue
            .receive_dead_letters(10, vis)
            .await
            .unwrap()
            .is_empty(),
        "received again, hidden again"
    );

    queue.redrive(&again[0]).await.unwrap();
    let err = queue
        .return_dead_letter(&again[0].receipt)
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::StaleReceipt { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Transient);
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "left");
    queue.delete(&back[0].receipt).await.unwrap();
}

// -------------------------------------------------------------------- notifier

/// Published notifications arrive with subject, body and the `tenant`,
/// `severity` and `event` attributes intact.
pub async fn notifier_preserves_attributes<N: Notifier, I: Inbox>(notifier: &N, inbox: &I) {
    let sent = [
        Notification {
            subject: "acme: orders_2024-05-01.csv rejected".into(),
            body: "row count 3 below min_rows 10".into(),
            tenant: "acme".into(),
            severity: Severity::Error,
            event: "file_rejected".into(),
        },
        Notification {
            subject: "globex: daily.csv ingested".into(),
            body: "rows: 1000\nsha256: ab…".into(),
            tenant: "globex".into(),
            severity: Severity::Info,
            event: "file_ingested".into(),
        },
    ];
    let mut ids = HashSet::new();
    for n in &sent {
        let id = notifier.publish(n).await.unwrap();
        assert!(!id.is_empty());
        ids.insert(id);
    }
    assert_eq!(ids.len(), 2, "message ids are distinct");
    let mut received = inbox.received().await;
    received.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    assert_eq!(received, sent);
}

// ----------------------------------------------------------------- job trigger

/// A known job starts with distinct run ids; an unknown job is misconfigured and
/// named in the error.
pub async fn job_trigger_starts_and_refuses_unknown<J: JobTrigger>(
    trigger: &J,
    known: &str,
    unknown: &str,
) {
    let args: BTreeMap<String, String> = [
        ("--bucket".to_owned(), "raw".to_owned()),
        (
            "--key".to_owned(),
            "raw/tenant=acme/dataset=orders/x.csv".to_owned(),
        ),
    ]
    .into();
    let a = trigger.start(known, &args).await.unwrap();
    let b = trigger.start(known, &args).await.unwrap();
    assert_eq!(a.job, known);
    assert!(!a.run_id.is_empty());
    assert_ne!(a.run_id, b.run_id);

    let err = trigger.start(unknown, &args).await.unwrap_err();
    assert!(matches!(err, JobError::NotFound { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(err.to_string().contains(unknown), "{err}");
}

/// A known crawler starts; started again at once it is `Started` (a crawl
/// that finished) or `AlreadyRunning`, never an error; an unknown crawler is
/// misconfigured and named in the error.
pub async fn job_trigger_starts_crawlers<J: JobTrigger>(trigger: &J, known: &str, unknown: &str) {
    assert_eq!(
        trigger.start_crawler(known).await.unwrap(),
        CrawlerStart::Started
    );
    let again = trigger.start_crawler(known).await.unwrap();
    assert!(
        matches!(again, CrawlerStart::Started | CrawlerStart::AlreadyRunning),
        "{again:?}"
    );

    let err = trigger.start_crawler(unknown).await.unwrap_err();
    assert!(matches!(err, CrawlerError::NotFound { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(err.to_string().contains(unknown), "{err}");
}
