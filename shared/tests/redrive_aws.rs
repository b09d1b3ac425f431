//! Redrive against the AWS adapters on a moto server: an ingest queue and its
//! DLQ on SQS, the ledger on DynamoDB. Rejected, misconfigured and SQS-moved
//! dead letters; a dry run lists without moving; a filtered redrive moves only
//! the matching ones (bodies intact, reason attributes gone, other attributes
//! kept), resets their ledger items to `discovered`, and leaves every other
//! message receivable from the DLQ at once.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use tributary::aws::dynamodb::DynamoLedger;
use tributary::aws::sqs::SqsWorkQueue;
use tributary::failure::FailureKind;
use tributary::ports::ledger::{FileError, Lease, NewFile, Outcome};
use tributary::ports::work_queue::{OutgoingMessage, Received, attr};
use tributary::ports::{FileDiscovered, FileState, Ledger, WorkQueue};
use tributary::redrive::{
    DeadLetterKind, ItemOutcome, KindCounts, RedriveFilter, RedriveRequest, RedriveSettings,
    StopReason, redrive,
};
use tributary_testkit::moto::{moto, queue_pair, unique};

const MAX_RECEIVES: u32 = 2;

struct World {
    queue: SqsWorkQueue,
    ledger: DynamoLedger,
}

async fn world() -> World {
    let sqs = moto().sqs().await;
    let (url, dead_url) = queue_pair(&sqs, MAX_RECEIVES).await;
    let dynamodb = moto().dynamodb().await;
    let table = unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    World {
        // Long polling: an empty receive means the DLQ has nothing visible.
        queue: SqsWorkQueue::new(sqs, url, dead_url).with_wait(1),
        ledger: DynamoLedger::new(dynamodb, table),
    }
}

fn file(tenant: &str, rule: &str, path: &str) -> FileDiscovered {
    FileDiscovered {
        tenant: tenant.into(),
        source: format!("{tenant}-ftp"),
        rule: rule.into(),
        path: path.into(),
        size: 4096,
        mtime: Some("2026-11-21T05:00:00Z".parse().unwrap()),
        discovered_at: "2026-11-21T05:01:00Z".parse().unwrap(),
    }
}

/// The message as the poller sends it: the body and its tenant attribute.
fn outgoing(file: &FileDiscovered) -> OutgoingMessage {
    let mut message = OutgoingMessage::new(file.encode());
    message
        .attributes
        .insert("tenant".into(), file.tenant.clone());
    message
}

/// Receives until `n` messages came (SQS may return fewer than asked).
async fn receive_n(w: &World, n: usize, dead: bool) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..10 {
        if got.len() >= n {
            break;
        }
        let visibility = Duration::seconds(300);
        got.extend(if dead {
            w.queue.receive_dead_letters(10, visibility).await.unwrap()
        } else {
            w.queue.receive(10, visibility).await.unwrap()
        });
    }
    got
}

/// The ingester's part: the file claimed and leased, its attempt recorded as
/// `outcome` (none: the ingester died holding the lease), and the message
/// dead-lettered with `kind` and a reason (none: SQS moves it after its
/// receives).
async fn dead_letter(w: &World, file: &FileDiscovered, outcome: Option<Outcome>) {
    let now = Utc::now();
    w.ledger
        .claim(NewFile {
            version: file.version(),
            tenant: file.tenant.clone(),
            rule: file.rule.clone(),
            discovered_at: file.discovered_at,
        })
        .await
        .unwrap();
    // A lease that already ran out when the ingester "died".
    let lease = w
        .ledger
        .take_lease(
            &file.version(),
            "ingester-1",
            Duration::minutes(15),
            now - Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)));
    w.queue.send_batch(&[outgoing(file)]).await.unwrap();
    match outcome {
        Some(outcome) => {
            let kind = match &outcome {
                Outcome::Rejected { .. } => FailureKind::Rejected,
                Outcome::Failed(error) => error.kind,
                Outcome::Ingested { .. } => unreachable!("not dead-lettered"),
            };
            w.ledger
                .finish(&file.version(), "ingester-1", outcome, now)
                .await
                .unwrap();
            let got = receive_n(w, 1, false).await;
            assert_eq!(got.len(), 1);
            w.queue
                .dead_letter(&got[0], kind, &format!("{kind}: see the ledger"))
                .await
                .unwrap();
        }
        None => {
            for _ in 0..MAX_RECEIVES {
                let got = w.queue.receive(10, Duration::seconds(1)).await.unwrap();
                assert_eq!(got.len(), 1);
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            }
            assert!(
                w.queue
                    .receive(10, Duration::seconds(1))
                    .await
                    .unwrap()
                    .is_empty(),
                "moved to the DLQ after {MAX_RECEIVES} receives"
            );
        }
    }
}

fn rejected() -> Option<Outcome> {
    Some(Outcome::Rejected {
        sha256: None,
        bytes_in: 4096,
        reason: "row count 3 below min_rows 10".into(),
        report_key: None,
    })
}

fn misconfigured() -> Option<Outcome> {
    Some(Outcome::Failed(FileError {
        kind: FailureKind::Misconfigured,
        reason: "secret tributary/acme/ftp not found".into(),
    }))
}

async fn state(w: &World, file: &FileDiscovered) -> FileState {
    w.ledger.get(&file.version()).await.unwrap().unwrap().state
}

fn settings() -> RedriveSettings {
    RedriveSettings {
        visibility: Duration::seconds(600),
        deadline: None,
    }
}

#[tokio::test]
async fn a_filtered_redrive_moves_only_the_matching_dead_letters() {
    let w = world().await;
    let sales_1 = file("acme-retail", "acme-daily-sales", "/outgoing/sales_1.csv");
    let sales_2 = file("acme-retail", "acme-daily-sales", "/outgoing/sales_2.csv");
    let orders = file("acme-retail", "acme-orders", "/outgoing/orders.csv");
    let secret = file("acme-retail", "acme-daily-sales", "/outgoing/sales_3.csv");
    let globex = file("globex", "globex-sales", "/out/sales.csv");
    let crashed = file("acme-retail", "acme-daily-sales", "/outgoing/sales_4.csv");
    for (file, outcome) in [
        (&sales_1, rejected()),
        (&sales_2, rejected()),
        (&orders, rejected()),
        (&secret, misconfigured()),
        (&globex, rejected()),
        (&crashed, None),
    ] {
        dead_letter(&w, file, outcome).await;
    }
    let request = |dry_run| RedriveRequest {
        filter: RedriveFilter {
            tenant: Some("acme-retail".into()),
            rule: Some("acme-daily-sales".into()),
            error_kind: Some(DeadLetterKind::Rejected),
            ..RedriveFilter::default()
        },
        max: 100,
        dry_run,
    };

    // The dry run lists the two, and every message is back at once.
    let mut listed = Vec::new();
    let report = redrive(
        &w.queue,
        &w.ledger,
        &request(true),
        settings(),
        Utc::now(),
        |item| listed.push(item.path.clone()),
    )
    .await
    .unwrap();
    listed.sort();
    assert_eq!(listed, [sales_1.path.clone(), sales_2.path.clone()]);
    assert_eq!((report.scanned, report.not_matching), (6, 4));
    assert_eq!(report.stopped, StopReason::Exhausted);
    assert!(
        report
            .items
            .iter()
            .all(|i| i.outcome == ItemOutcome::WouldMove
                && i.ledger_state == Some(FileState::Rejected)
                && i.error_reason.as_deref() == Some("rejected: see the ledger"))
    );
    assert_eq!(report.not_returned, 0);
    let all = receive_n(&w, 6, true).await;
    assert_eq!(
        all.len(),
        6,
        "every dead letter visible again after the dry run"
    );
    for message in &all {
        w.queue.return_dead_letter(&message.receipt).await.unwrap();
    }
    assert_eq!(state(&w, &sales_1).await, FileState::Rejected);

    // The redrive moves exactly those two.
    let report = redrive(
        &w.queue,
        &w.ledger,
        &request(false),
        settings(),
        Utc::now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        report.total,
        KindCounts {
            matched: 2,
            moved: 2,
            ..KindCounts::default()
        },
        "{report:#?}"
    );
    assert_eq!(report.by_kind.len(), 1);
    assert_eq!(report.by_kind[&DeadLetterKind::Rejected].moved, 2);

    let moved = receive_n(&w, 2, false).await;
    let bodies: BTreeSet<String> = moved.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, BTreeSet::from([sales_1.encode(), sales_2.encode()]));
    for message in &moved {
        assert_eq!(message.attributes.get(attr::ERROR_KIND), None);
        assert_eq!(message.attributes.get(attr::ERROR_REASON), None);
        assert_eq!(message.attributes["tenant"], "acme-retail");
    }
    assert!(
        w.queue
            .receive(10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(state(&w, &sales_1).await, FileState::Discovered);
    assert_eq!(state(&w, &sales_2).await, FileState::Discovered);

    // The others: untouched in the ledger, receivable from the DLQ at once,
    // their reasons intact.
    assert_eq!(state(&w, &orders).await, FileState::Rejected);
    assert_eq!(state(&w, &secret).await, FileState::Failed);
    assert_eq!(state(&w, &globex).await, FileState::Rejected);
    assert_eq!(state(&w, &crashed).await, FileState::Ingesting);
    let left = receive_n(&w, 4, true).await;
    let bodies: BTreeSet<String> = left.iter().map(|m| m.body.clone()).collect();
    assert_eq!(
        bodies,
        BTreeSet::from([
            orders.encode(),
            secret.encode(),
            globex.encode(),
            crashed.encode()
        ])
    );
    let kind_of = |body: &str| {
        let message = left.iter().find(|m| m.body == body).unwrap();
        DeadLetterKind::of(&message.attributes)
    };
    assert_eq!(kind_of(&secret.encode()), DeadLetterKind::Misconfigured);
    assert_eq!(kind_of(&crashed.encode()), DeadLetterKind::Unknown);
    assert_eq!(kind_of(&orders.encode()), DeadLetterKind::Rejected);
    for message in &left {
        w.queue.return_dead_letter(&message.receipt).await.unwrap();
    }

    // The SQS-moved one (its ingester died; the lease ran out) goes back
    // without a reset; the ingester can lease it.
    let mut request = request(false);
    request.filter = RedriveFilter {
        error_kind: Some(DeadLetterKind::Unknown),
        ..RedriveFilter::default()
    };
    let report = redrive(
        &w.queue,
        &w.ledger,
        &request,
        settings(),
        Utc::now(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.total.moved, 1, "{report:#?}");
    assert_eq!(report.items[0].path, crashed.path);
    assert_eq!(report.items[0].ledger_state, Some(FileState::Ingesting));
    let lease = w
        .ledger
        .take_lease(
            &crashed.version(),
            "ingester-2",
            Duration::minutes(15),
            Utc::now(),
        )
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Taken(_)), "{lease:?}");
    assert_eq!(receive_n(&w, 1, false).await[0].body, crashed.encode());
    assert_eq!(receive_n(&w, 3, true).await.len(), 3);
}
