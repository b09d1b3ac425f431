//! The SLA store's contract: checkpoints that only move forward, a breach
//! opened once and resolved once, its notices, and the active breaches listed.

use chrono::Duration;
use tributary::ports::sla_store::{
    Breach, BreachOpening, BreachState, Notice, NoticeKind, Recovery, Resolution, SlaStore,
    SlaStoreError,
};

use super::at;

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
