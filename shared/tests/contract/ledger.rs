//! The ledger's contract: the file state machine (claims, leases, outcomes,
//! resets, releases), each decided once however many callers race, and the
//! queries the poller, the status command and the SLA monitor make.

use std::collections::HashSet;

use chrono::Duration;
use tributary::failure::FailureKind;
use tributary::ports::FileVersion;
use tributary::ports::ledger::{
    Claim, Claims, FileError, FileState, Lease, Ledger, LedgerError, NewFile, Outcome,
};

use super::at;

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
        invalid_rows: 0,
        report_key: None,
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
        report_key: None,
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
