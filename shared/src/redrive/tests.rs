//! Redrive against the local adapters (an in-memory queue with a manual clock,
//! an in-memory ledger): filters, `max`, dry runs, ledger resets, files already
//! ingested or without an item, unreadable bodies, and a move that fails.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::local::{FileLedger, MemoryQueue};
use crate::ports::clock::{Clock, ManualClock};
use crate::ports::ledger::{FileError, Lease, NewFile, Outcome};
use crate::ports::work_queue::{OutgoingMessage, Received};

const VISIBILITY: i64 = 600;

struct World {
    clock: Arc<ManualClock>,
    queue: MemoryQueue,
    ledger: FileLedger,
}

fn t0() -> DateTime<Utc> {
    "2026-11-21T08:00:00Z".parse().unwrap()
}

/// A queue whose messages SQS-style move to the DLQ after one receive.
fn world() -> World {
    let clock = Arc::new(ManualClock::new(t0()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    World {
        queue: MemoryQueue::new("ingest", 1, dyn_clock),
        ledger: FileLedger::in_memory(),
        clock,
    }
}

fn file(tenant: &str, source: &str, rule: &str, path: &str) -> FileDiscovered {
    FileDiscovered {
        tenant: tenant.into(),
        source: source.into(),
        rule: rule.into(),
        path: path.into(),
        size: 1234,
        mtime: Some("2026-11-21T06:00:00Z".parse().unwrap()),
        discovered_at: "2026-11-21T06:05:00Z".parse().unwrap(),
    }
}

fn acme(path: &str) -> FileDiscovered {
    file("acme-retail", "acme-ftp", "acme-daily-sales", path)
}

/// The ledger item of `file` brought to `state` (`None`: no item). An
/// `Ingesting` item holds a live lease; see [`expired_lease`].
async fn ledger_state(w: &World, file: &FileDiscovered, state: Option<FileState>) {
    let Some(state) = state else { return };
    let now = w.clock.now();
    w.ledger
        .claim(NewFile {
            version: file.version(),
            tenant: file.tenant.clone(),
            rule: file.rule.clone(),
            discovered_at: file.discovered_at,
        })
        .await
        .unwrap();
    if state == FileState::Discovered {
        return;
    }
    let lease = w
        .ledger
        .take_lease(&file.version(), "ingester-1", Duration::minutes(15), now)
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)));
    let outcome = match state {
        FileState::Ingesting | FileState::Discovered => return,
        FileState::Ingested => Outcome::Ingested {
            sha256: "ab".repeat(32),
            bytes_in: 1234,
            bytes_out: 5000,
            rows: 10,
            s3_key: format!("raw/{}", file.path),
            invalid_rows: 0,
            report_key: None,
        },
        FileState::Rejected => Outcome::Rejected {
            sha256: None,
            bytes_in: 1234,
            reason: "row count 3 below min_rows 10".into(),
            report_key: None,
        },
        FileState::Failed => Outcome::Failed(FileError {
            kind: FailureKind::Misconfigured,
            reason: "secret tributary/acme/ftp not found".into(),
        }),
    };
    w.ledger
        .finish(&file.version(), "ingester-1", outcome, now)
        .await
        .unwrap();
}

/// An `ingesting` item whose lease ran out (its ingester died).
async fn expired_lease(w: &World, file: &FileDiscovered) {
    ledger_state(w, file, Some(FileState::Discovered)).await;
    let lease = w
        .ledger
        .take_lease(
            &file.version(),
            "ingester-gone",
            Duration::minutes(15),
            w.clock.now() - Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)));
}

/// Puts `body` on the DLQ: dead-lettered by the ingester with `kind` and a
/// reason, or (`None`) moved by the queue itself after its receives.
async fn dead_letter_body(w: &World, body: &str, kind: Option<FailureKind>) {
    w.queue
        .send_batch(&[OutgoingMessage::new(body)])
        .await
        .unwrap();
    let got = w.queue.receive(1, Duration::seconds(30)).await.unwrap();
    assert_eq!(got.len(), 1);
    match kind {
        Some(kind) => {
            w.queue
                .dead_letter(&got[0], kind, &format!("{kind} because of the file"))
                .await
                .unwrap();
        }
        None => {
            w.clock.advance(Duration::seconds(31));
            // The receive past `max_receives` moves it to the DLQ.
            assert!(
                w.queue
                    .receive(10, Duration::seconds(30))
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

/// `file` dead-lettered (see [`dead_letter_body`]) with its ledger item in `state`.
async fn dead(
    w: &World,
    file: &FileDiscovered,
    kind: Option<FailureKind>,
    state: Option<FileState>,
) {
    ledger_state(w, file, state).await;
    dead_letter_body(w, &file.encode(), kind).await;
}

fn settings() -> RedriveSettings {
    RedriveSettings {
        visibility: Duration::seconds(VISIBILITY),
        deadline: None,
    }
}

fn request(filter: RedriveFilter, dry_run: bool) -> RedriveRequest {
    RedriveRequest {
        filter,
        max: DEFAULT_MAX,
        dry_run,
    }
}

/// Runs a redrive through `queue`; the report, checked against what
/// `progress` saw.
async fn run_on<Q: WorkQueue>(w: &World, queue: &Q, request: &RedriveRequest) -> RedriveReport {
    let mut seen = Vec::new();
    let report = redrive(
        queue,
        &w.ledger,
        request,
        settings(),
        w.clock.now(),
        |item| seen.push(item.clone()),
    )
    .await
    .unwrap();
    assert_eq!(seen, report.items, "progress saw every item, in order");
    let sum = report.unreadable + report.not_matching + report.beyond_max + report.total.matched;
    assert_eq!(report.scanned, sum, "every scanned message is counted once");
    assert_eq!(
        report.total.matched,
        report.total.moved + report.total.already_ingested + report.total.left
    );
    report
}

async fn run(w: &World, request: &RedriveRequest) -> RedriveReport {
    run_on(w, &w.queue, request).await
}

/// Everything receivable from the DLQ right now (the clock not moved).
async fn dlq_now(w: &World) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        let got = w
            .queue
            .receive_dead_letters(10, Duration::seconds(VISIBILITY))
            .await
            .unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

/// Everything receivable from the ingest queue right now.
async fn ingest_now(w: &World) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        let got = w.queue.receive(10, Duration::seconds(60)).await.unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

fn paths(items: &[RedriveItem]) -> Vec<&str> {
    let mut paths: Vec<&str> = items.iter().map(|i| i.path.as_str()).collect();
    paths.sort_unstable();
    paths
}

async fn state(w: &World, file: &FileDiscovered) -> Option<FileState> {
    w.ledger
        .get(&file.version())
        .await
        .unwrap()
        .map(|r| r.state)
}

#[tokio::test]
async fn filters_take_exactly_the_matching_dead_letters() {
    let w = world();
    let rejected = Some(FileState::Rejected);
    let files = [
        (acme("/a"), Some(FailureKind::Rejected)),
        (
            file("acme-retail", "acme-ftp", "acme-orders", "/b"),
            Some(FailureKind::Misconfigured),
        ),
        (
            file("acme-retail", "acme-sftp", "acme-daily-sales", "/c"),
            Some(FailureKind::Transient),
        ),
        (
            file("globex", "globex-ftp", "acme-daily-sales", "/d"),
            Some(FailureKind::Rejected),
        ),
        (acme("/e"), None),
    ];
    for (file, kind) in &files {
        dead(&w, file, *kind, rejected).await;
    }
    let filter = |tenant: Option<&str>,
                  source: Option<&str>,
                  rule: Option<&str>,
                  kind: Option<DeadLetterKind>| RedriveFilter {
        tenant: tenant.map(Into::into),
        source: source.map(Into::into),
        rule: rule.map(Into::into),
        error_kind: kind,
    };
    use DeadLetterKind as K;
    let cases = [
        (
            filter(None, None, None, None),
            vec!["/a", "/b", "/c", "/d", "/e"],
        ),
        (
            filter(Some("acme-retail"), None, None, None),
            vec!["/a", "/b", "/c", "/e"],
        ),
        (
            filter(Some("acme-retail"), Some("acme-ftp"), None, None),
            vec!["/a", "/b", "/e"],
        ),
        (
            filter(None, None, Some("acme-daily-sales"), None),
            vec!["/a", "/c", "/d", "/e"],
        ),
        (
            filter(None, None, None, Some(K::Rejected)),
            vec!["/a", "/d"],
        ),
        (filter(None, None, None, Some(K::Misconfigured)), vec!["/b"]),
        // An SQS-moved message is `unknown`, not `transient`.
        (filter(None, None, None, Some(K::Transient)), vec!["/c"]),
        (filter(None, None, None, Some(K::Unknown)), vec!["/e"]),
        (
            filter(
                Some("acme-retail"),
                None,
                Some("acme-daily-sales"),
                Some(K::Rejected),
            ),
            vec!["/a"],
        ),
        // Exact, case included.
        (filter(Some("ACME-RETAIL"), None, None, None), vec![]),
        (filter(None, Some("acme"), None, None), vec![]),
    ];
    for (filter, expected) in cases {
        // Dry runs: every message is visible again at once for the next case.
        let report = run(&w, &request(filter.clone(), true)).await;
        assert_eq!(paths(&report.items), expected, "{filter:?}");
        assert_eq!(report.scanned, 5, "{filter:?}");
        assert_eq!(report.not_matching, 5 - expected.len() as u64, "{filter:?}");
        assert_eq!(report.stopped, StopReason::Exhausted);
    }
    // The kinds as the report names them.
    let report = run(&w, &request(RedriveFilter::default(), true)).await;
    let kinds: Vec<(&str, DeadLetterKind)> = report
        .items
        .iter()
        .map(|i| (i.path.as_str(), i.error_kind))
        .collect();
    for (path, kind) in [
        ("/a", K::Rejected),
        ("/b", K::Misconfigured),
        ("/c", K::Transient),
        ("/e", K::Unknown),
    ] {
        assert!(kinds.contains(&(path, kind)), "{kinds:?}");
    }
    assert_eq!(report.by_kind[&K::Rejected].matched, 2);
    assert_eq!(report.by_kind[&K::Unknown].matched, 1);
    assert!(!report.by_kind.is_empty() && report.total.matched == 5);
}

#[tokio::test]
async fn a_dry_run_moves_nothing_and_leaves_every_message_visible() {
    let w = world();
    let (a, b, c) = (
        acme("/rejected.csv"),
        acme("/ingested.csv"),
        acme("/unknown.csv"),
    );
    dead(
        &w,
        &a,
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    dead(
        &w,
        &b,
        Some(FailureKind::Transient),
        Some(FileState::Ingested),
    )
    .await;
    dead(&w, &c, Some(FailureKind::Misconfigured), None).await;
    dead_letter_body(&w, "not a message", Some(FailureKind::Misconfigured)).await;

    let report = run(&w, &request(RedriveFilter::default(), true)).await;
    assert!(report.dry_run);
    assert_eq!((report.scanned, report.unreadable), (4, 1));
    assert_eq!(
        report.total,
        KindCounts {
            matched: 3,
            moved: 0,
            already_ingested: 0,
            failed: 0,
            left: 3
        }
    );
    let item = |path: &str| report.items.iter().find(|i| i.path == path).unwrap();
    let first = item("/rejected.csv");
    assert_eq!(first.outcome, ItemOutcome::WouldMove);
    assert_eq!(first.ledger_state, Some(FileState::Rejected));
    assert_eq!(first.error_kind, DeadLetterKind::Rejected);
    assert_eq!(
        first.error_reason.as_deref(),
        Some("rejected because of the file")
    );
    assert_eq!(
        (
            first.tenant.as_str(),
            first.source.as_str(),
            first.rule.as_str()
        ),
        ("acme-retail", "acme-ftp", "acme-daily-sales")
    );
    assert_eq!((first.size, first.receive_count), (1234, 1));
    assert_eq!(
        item("/ingested.csv").outcome,
        ItemOutcome::WouldMoveAlreadyIngested
    );
    let unknown = item("/unknown.csv");
    assert_eq!(unknown.outcome, ItemOutcome::WouldFail);
    assert!(
        unknown
            .problem
            .as_deref()
            .unwrap()
            .contains("no ledger item"),
        "{unknown:?}"
    );

    // Nothing moved, nothing reset, and every message receivable at once.
    assert!(ingest_now(&w).await.is_empty());
    assert_eq!(state(&w, &a).await, Some(FileState::Rejected));
    assert_eq!(state(&w, &b).await, Some(FileState::Ingested));
    let dlq = dlq_now(&w).await;
    assert_eq!(dlq.len(), 4);
    assert!(dlq.iter().all(|m| m.receive_count == 2), "{dlq:?}");
}

#[tokio::test]
async fn a_redrive_resets_rejected_and_failed_items_and_moves_them() {
    let w = world();
    let rejected = acme("/rejected.csv");
    let failed = acme("/failed.csv");
    let discovered = acme("/discovered.csv");
    let crashed = acme("/crashed.csv");
    dead(
        &w,
        &rejected,
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    dead(
        &w,
        &failed,
        Some(FailureKind::Misconfigured),
        Some(FileState::Failed),
    )
    .await;
    dead(&w, &discovered, None, Some(FileState::Discovered)).await;
    expired_lease(&w, &crashed).await;
    dead_letter_body(&w, &crashed.encode(), None).await;

    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!(report.total.matched, 4);
    assert_eq!(report.total.moved, 4, "{report:#?}");
    assert!(report.items.iter().all(|i| i.outcome == ItemOutcome::Moved));
    let counts = |moved| KindCounts {
        matched: moved,
        moved,
        ..KindCounts::default()
    };
    assert_eq!(report.by_kind[&DeadLetterKind::Rejected], counts(1));
    assert_eq!(report.by_kind[&DeadLetterKind::Misconfigured], counts(1));
    assert_eq!(report.by_kind[&DeadLetterKind::Unknown], counts(2));
    assert_eq!(report.not_returned, 0);

    // Reset to discovered; the crashed one's expired lease is left for the
    // ingester to retake.
    for file in [&rejected, &failed, &discovered] {
        assert_eq!(state(&w, file).await, Some(FileState::Discovered));
    }
    assert_eq!(state(&w, &crashed).await, Some(FileState::Ingesting));
    let lease = w
        .ledger
        .take_lease(
            &crashed.version(),
            "ingester-2",
            Duration::minutes(15),
            w.clock.now(),
        )
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)), "{lease:?}");

    // On the ingest queue: the bodies as they were, the reasons gone.
    let moved = ingest_now(&w).await;
    let mut bodies: Vec<String> = moved.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    let mut expected: Vec<String> = [&rejected, &failed, &discovered, &crashed]
        .iter()
        .map(|f| f.encode())
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    assert!(moved.iter().all(|m| m.attributes.is_empty()), "{moved:?}");
    assert!(dlq_now(&w).await.is_empty());
}

#[tokio::test]
async fn duplicates_of_one_file_in_a_batch_are_all_moved() {
    let w = world();
    let file = acme("/twice.csv");
    dead(
        &w,
        &file,
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    // The same message dead-lettered again (a duplicate delivery).
    dead_letter_body(&w, &file.encode(), None).await;
    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!(report.total.moved, 2, "{report:#?}");
    assert_eq!(state(&w, &file).await, Some(FileState::Discovered));
    assert_eq!(ingest_now(&w).await.len(), 2);
}

#[tokio::test]
async fn files_already_ingested_are_moved_but_counted_apart() {
    let w = world();
    let done = acme("/done.csv");
    dead(&w, &done, None, Some(FileState::Ingested)).await;
    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!(report.items[0].outcome, ItemOutcome::AlreadyIngested);
    assert_eq!(report.items[0].ledger_state, Some(FileState::Ingested));
    assert_eq!((report.total.moved, report.total.already_ingested), (0, 1));
    assert_eq!(state(&w, &done).await, Some(FileState::Ingested));
    assert_eq!(ingest_now(&w).await.len(), 1);
    assert!(dlq_now(&w).await.is_empty());
}

#[tokio::test]
async fn no_ledger_item_or_a_live_lease_leaves_the_message_visible() {
    let w = world();
    let orphan = acme("/orphan.csv");
    let busy = acme("/busy.csv");
    dead(&w, &orphan, Some(FailureKind::Misconfigured), None).await;
    dead(&w, &busy, None, Some(FileState::Ingesting)).await;

    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!(
        report.total,
        KindCounts {
            matched: 2,
            moved: 0,
            already_ingested: 0,
            failed: 2,
            left: 2
        }
    );
    let problem = |path: &str| {
        let item = report.items.iter().find(|i| i.path == path).unwrap();
        assert_eq!(item.outcome, ItemOutcome::Failed);
        item.problem.clone().unwrap()
    };
    assert!(problem("/orphan.csv").contains("no ledger item"));
    let busy_problem = problem("/busy.csv");
    assert!(
        busy_problem.contains("ingester-1") && busy_problem.contains("holds the lease until"),
        "{busy_problem}"
    );
    assert!(ingest_now(&w).await.is_empty());
    assert_eq!(dlq_now(&w).await.len(), 2, "both visible again at once");
    assert_eq!(state(&w, &busy).await, Some(FileState::Ingesting));
}

#[tokio::test]
async fn unreadable_bodies_are_counted_and_left() {
    let w = world();
    let good = acme("/good.csv");
    dead(
        &w,
        &good,
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    dead_letter_body(&w, "not json", Some(FailureKind::Misconfigured)).await;
    let newer = good.encode().replace("\"v\":1", "\"v\":2");
    dead_letter_body(&w, &newer, None).await;

    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!((report.scanned, report.unreadable), (3, 2));
    assert_eq!(report.total.moved, 1);
    let left: Vec<String> = dlq_now(&w).await.into_iter().map(|m| m.body).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&"not json".to_owned()) && left.contains(&newer));
}

#[tokio::test]
async fn max_limits_the_matches_and_the_rest_stays_visible() {
    let w = world();
    for i in 0..25 {
        let file = acme(&format!("/f{i:02}.csv"));
        dead(
            &w,
            &file,
            Some(FailureKind::Rejected),
            Some(FileState::Rejected),
        )
        .await;
    }
    dead(
        &w,
        &file("globex", "globex-ftp", "r", "/other.csv"),
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    let mut request = request(
        RedriveFilter {
            tenant: Some("acme-retail".into()),
            ..RedriveFilter::default()
        },
        false,
    );
    request.max = 12;
    let report = run(&w, &request).await;
    assert_eq!(report.stopped, StopReason::MaxReached);
    assert_eq!((report.total.matched, report.total.moved), (12, 12));
    // Two batches of ten: 12 taken, the other 8 received are beyond max.
    assert_eq!((report.scanned, report.beyond_max), (20, 8));
    assert_eq!(ingest_now(&w).await.len(), 12);
    assert_eq!(dlq_now(&w).await.len(), 14, "13 acme and the globex one");
}

/// A queue whose moves fail (the ingest queue unreachable); everything else
/// is the real in-memory queue.
struct MovesFail<'a>(&'a MemoryQueue);

impl WorkQueue for MovesFail<'_> {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        self.0.send_batch(messages).await
    }
    async fn receive(&self, max: usize, v: Duration) -> Result<Vec<Received>, QueueError> {
        self.0.receive(max, v).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.0.delete(receipt).await
    }
    async fn extend_visibility(&self, receipt: &str, v: Duration) -> Result<(), QueueError> {
        self.0.extend_visibility(receipt, v).await
    }
    async fn dead_letter(&self, m: &Received, k: FailureKind, r: &str) -> Result<(), QueueError> {
        self.0.dead_letter(m, k, r).await
    }
    async fn receive_dead_letters(
        &self,
        max: usize,
        v: Duration,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.0.receive_dead_letters(max, v).await
    }
    async fn redrive(&self, _: &DeadLetter) -> Result<(), QueueError> {
        Err(QueueError::Unavailable {
            queue: "ingest".into(),
            op: "send batch",
            source: "injected outage".into(),
        })
    }
    async fn return_dead_letter(&self, receipt: &str) -> Result<(), QueueError> {
        self.0.return_dead_letter(receipt).await
    }
}

#[tokio::test]
async fn a_failed_move_keeps_the_message_and_the_next_run_needs_no_reset() {
    let w = world();
    let file = acme("/retry.csv");
    dead(
        &w,
        &file,
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;

    let report = run_on(
        &w,
        &MovesFail(&w.queue),
        &request(RedriveFilter::default(), false),
    )
    .await;
    assert_eq!((report.total.failed, report.total.left), (1, 1));
    let problem = report.items[0].problem.clone().unwrap();
    assert!(
        problem.starts_with("moving to the ingest queue:") && problem.contains("injected outage"),
        "{problem}"
    );
    assert!(ingest_now(&w).await.is_empty());
    // The reset happened; the message is back in the DLQ at once.
    assert_eq!(state(&w, &file).await, Some(FileState::Discovered));
    let dlq = dlq_now(&w).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].body, file.encode());
    w.queue.return_dead_letter(&dlq[0].receipt).await.unwrap();

    // The next run finds the item discovered: no reset, just the move.
    let report = run(&w, &request(RedriveFilter::default(), false)).await;
    assert_eq!(report.items[0].ledger_state, Some(FileState::Discovered));
    assert_eq!(report.items[0].outcome, ItemOutcome::Moved);
    let moved = ingest_now(&w).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body, file.encode());
    assert!(dlq_now(&w).await.is_empty());
}

#[tokio::test]
async fn bad_requests_and_unreadable_queues_fail_before_anything_is_done() {
    let w = world();
    dead(
        &w,
        &acme("/x.csv"),
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    let run_with = |request: RedriveRequest, visibility: i64| {
        let w = &w;
        async move {
            redrive(
                &w.queue,
                &w.ledger,
                &request,
                RedriveSettings {
                    visibility: Duration::seconds(visibility),
                    deadline: None,
                },
                w.clock.now(),
                |_| {},
            )
            .await
        }
    };
    for (max, tenant) in [(0, None), (MAX_MAX + 1, None), (5, Some(" "))] {
        let request = RedriveRequest {
            filter: RedriveFilter {
                tenant: tenant.map(Into::into),
                ..RedriveFilter::default()
            },
            max,
            dry_run: false,
        };
        let err = run_with(request, VISIBILITY).await.unwrap_err();
        assert!(matches!(err, RedriveError::Invalid(_)), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
    }
    let err = run_with(RedriveRequest::default(), 1).await.unwrap_err();
    assert!(err.to_string().contains("at least 2s"), "{err}");
    // A visibility SQS refuses: the first receive fails, nothing is done.
    let err = run_with(RedriveRequest::default(), 13 * 3600)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RedriveError::Receive(QueueError::Invalid { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("the dead-letter queue cannot be read")
    );
    assert_eq!(dlq_now(&w).await.len(), 1);
}

#[tokio::test]
async fn a_passed_deadline_stops_the_scan_before_it_starts() {
    let w = world();
    dead(
        &w,
        &acme("/x.csv"),
        Some(FailureKind::Rejected),
        Some(FileState::Rejected),
    )
    .await;
    let report = redrive(
        &w.queue,
        &w.ledger,
        &RedriveRequest::default(),
        RedriveSettings {
            visibility: Duration::seconds(VISIBILITY),
            deadline: Some(Instant::now()),
        },
        w.clock.now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.stopped, StopReason::OutOfTime);
    assert_eq!(report.scanned, 0);
    assert_eq!(dlq_now(&w).await.len(), 1);
}

#[test]
fn kinds_read_from_attributes_and_names() {
    let attrs = |kind: Option<&str>| -> Attributes {
        kind.map(|k| (attr::ERROR_KIND.to_owned(), k.to_owned()))
            .into_iter()
            .collect()
    };
    assert_eq!(
        DeadLetterKind::of(&attrs(Some("rejected"))),
        DeadLetterKind::Rejected
    );
    assert_eq!(DeadLetterKind::of(&attrs(None)), DeadLetterKind::Unknown);
    assert_eq!(
        DeadLetterKind::of(&attrs(Some("bogus"))),
        DeadLetterKind::Unknown
    );
    for kind in [
        FailureKind::Rejected,
        FailureKind::Misconfigured,
        FailureKind::Transient,
    ] {
        // The ingester's attribute value reads back as the same kind.
        assert_eq!(
            DeadLetterKind::of(&attrs(Some(kind.name()))),
            DeadLetterKind::from(kind)
        );
    }
    for kind in DeadLetterKind::ALL {
        assert_eq!(kind.name().parse::<DeadLetterKind>().unwrap(), kind);
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::Value::String(kind.name().into())
        );
    }
    let err = "Rejected".parse::<DeadLetterKind>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown error kind \"Rejected\": expected rejected, misconfigured, transient or unknown"
    );
}

#[tokio::test]
async fn the_report_serialises_with_kinds_as_keys() {
    let w = world();
    dead(&w, &acme("/x.csv"), None, Some(FileState::Rejected)).await;
    let report = run(&w, &request(RedriveFilter::default(), true)).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["by_kind"]["unknown"]["matched"], 1);
    assert_eq!(json["total"]["left"], 1);
    assert_eq!(json["stopped"], "exhausted");
    assert_eq!(json["filter"], serde_json::json!({}));
    assert_eq!(json["items"][0]["outcome"], "would_move");
    assert_eq!(json["items"][0]["ledger_state"], "rejected");
    assert_eq!(json["items"][0]["error_kind"], "unknown");
    assert!(json.get("receive_error").is_none());
}

#[test]
fn long_texts_are_clipped_for_the_report() {
    let long = "é".repeat(MAX_TEXT_CHARS + 10);
    let clipped = clip(&long);
    assert_eq!(clipped.chars().count(), MAX_TEXT_CHARS + 1);
    assert!(clipped.ends_with('…'));
    assert_eq!(clip("short"), "short");
}
