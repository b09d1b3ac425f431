//! The monitor's unit tests: whole runs, each at a given instant, on the
//! in-memory ledger and a file notifier, for one tenant (`acme`, UTC).

use chrono::{DateTime, Duration, Utc};

use super::{OrphanedBreach, SlaContext, SlaReport, SlaSettings, run};
use crate::failure::FailureKind;
use crate::local::{FileLedger, FileNotifier};
use crate::ports::FileVersion;
use crate::ports::ledger::{Ledger, NewFile, Outcome};
use crate::ports::notifier::Severity;
use crate::ports::sla_store::{Breach, BreachOpening, BreachState, Notice, SlaStore};
use crate::registry::Registry;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Tenant `acme` (UTC) with one source and `rules` (YAML list items).
fn registry(rules: &str) -> Registry {
    let text = format!(
        r#"
version: 1
tenants:
  - id: acme
    timezone: UTC
    sources:
      - id: acme-ftp
        host: ftp.example.com
        protocol: ftp
        username: u
        password: {{ env: P }}
        directories: [/out]
        rules:
{rules}
"#
    );
    let registry = Registry::from_yaml_str(&text).unwrap();
    registry.validate().unwrap();
    registry
}

fn rule(id: &str, expected: &str, notify: &str) -> String {
    format!(
        r#"          - id: {id}
            match: {{ glob: "/out/{id}_*.csv" }}
            dataset: {id}
            format: csv
            notify: {notify}
            sla: {{ expected: "{expected}", grace_minutes: 30 }}
"#
    )
}

/// A file of `rule` discovered and ingested at the times given.
async fn land(ledger: &FileLedger, rule: &str, path: &str, discovered: &str, ingested: &str) {
    let version = FileVersion {
        source: "acme-ftp".into(),
        path: path.into(),
        size: 10,
        mtime: None,
    };
    ledger
        .claim(NewFile {
            version: version.clone(),
            tenant: "acme".into(),
            rule: rule.into(),
            discovered_at: at(discovered),
        })
        .await
        .unwrap();
    ledger
        .take_lease(&version, "ingester", Duration::minutes(15), at(ingested))
        .await
        .unwrap();
    let outcome = Outcome::Ingested {
        sha256: "ab".repeat(32),
        bytes_in: 10,
        bytes_out: 10,
        rows: 1,
        s3_key: format!("raw{path}"),
        invalid_rows: 0,
        report_key: None,
    };
    ledger
        .finish(&version, "ingester", outcome, at(ingested))
        .await
        .unwrap();
}

struct World {
    _dir: tempfile::TempDir,
    ledger: FileLedger,
    notifier: FileNotifier,
    settings: SlaSettings,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let notifier = FileNotifier::new(dir.path().join("notifications.jsonl"));
        World {
            _dir: dir,
            ledger: FileLedger::in_memory(),
            notifier,
            settings: SlaSettings::default(),
        }
    }

    async fn run(&self, registry: &Registry, now: &str) -> SlaReport {
        let ctx = SlaContext {
            ledger: &self.ledger,
            store: &self.ledger,
            notifier: &self.notifier,
            run_id: now,
        };
        run(&ctx, registry, at(now), self.settings).await
    }

    /// (event, subject) of everything published so far.
    fn published(&self) -> Vec<(String, String)> {
        self.notifier
            .published()
            .unwrap()
            .into_iter()
            .map(|p| (p.notification.event, p.notification.subject))
            .collect()
    }
}

#[tokio::test]
async fn a_new_rule_starts_now_and_no_earlier_window_is_judged() {
    let w = World::new();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    let report = w.run(&r, "2026-11-21T12:00:00Z").await;
    assert_eq!(report.rules.len(), 1);
    let rule = &report.rules[0];
    assert!(rule.started);
    assert_eq!(rule.evaluated, 0);
    assert_eq!(rule.checkpoint, Some(at("2026-11-21T11:58:00Z")));
    assert!(w.published().is_empty());
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(
        w.ledger.checkpoint("orders").await.unwrap(),
        Some(at("2026-11-21T11:58:00Z"))
    );
}

#[tokio::test]
async fn one_alert_per_window_across_runs_then_one_recovered_notice() {
    let w = World::new();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    // 06:30 passed with nothing ingested.
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    assert_eq!((report.windows, report.breached, report.met), (1, 1, 0));
    assert_eq!(w.published().len(), 1);
    assert_eq!(w.published()[0].0, "file_late");
    // Later runs: no new window, no second alert.
    for now in ["2026-11-21T06:50:00Z", "2026-11-21T07:00:00Z"] {
        let report = w.run(&r, now).await;
        assert_eq!((report.windows, report.breached), (0, 0));
    }
    assert_eq!(w.published().len(), 1);

    // The file lands at 07:40: one recovered notice naming how late.
    land(
        &w.ledger,
        "orders",
        "/out/orders_1.csv",
        "2026-11-21T07:35:00Z",
        "2026-11-21T07:40:00Z",
    )
    .await;
    let report = w.run(&r, "2026-11-21T07:45:00Z").await;
    assert_eq!(report.recovered, 1);
    let published = w.published();
    assert_eq!(published.len(), 2);
    assert_eq!(published[1].0, "file_recovered");
    assert!(
        published[1]
            .1
            .contains("1 h 40 min after the expected 06:00 UTC"),
        "{}",
        published[1].1
    );
    let report = w.run(&r, "2026-11-21T08:00:00Z").await;
    assert_eq!(report.recovered, 0);
    assert_eq!(w.published().len(), 2);
    let breach = &w
        .ledger
        .active_breaches("acme", at("2026-11-01T00:00:00Z"), 10)
        .await
        .unwrap();
    assert!(breach.is_empty(), "nothing left to do: {breach:?}");

    // The next day's file is on time: met, no notice.
    land(
        &w.ledger,
        "orders",
        "/out/orders_2.csv",
        "2026-11-22T05:50:00Z",
        "2026-11-22T05:52:00Z",
    )
    .await;
    let report = w.run(&r, "2026-11-22T06:35:00Z").await;
    assert_eq!((report.windows, report.met, report.breached), (1, 1, 0));
    assert_eq!(w.published().len(), 2);
}

#[tokio::test]
async fn a_window_another_run_already_breached_is_not_alerted_again() {
    let w = World::new();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    let other = Breach {
        tenant: "acme".into(),
        source: "acme-ftp".into(),
        rule: "orders".into(),
        dataset: "orders".into(),
        timezone: "UTC".into(),
        window_start: at("2026-11-20T06:30:00Z"),
        expected: at("2026-11-21T06:00:00Z"),
        deadline: at("2026-11-21T06:30:00Z"),
        next_expected: at("2026-11-22T06:00:00Z"),
        state: BreachState::Open,
        opened_at: at("2026-11-21T06:44:00Z"),
        opened_by: "an overlapping run".into(),
        late_alert: Notice::Sent,
        recovery: None,
    };
    assert_eq!(
        w.ledger.open_breach(&other).await.unwrap(),
        BreachOpening::Opened
    );
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    assert_eq!(report.rules[0].already_breached, 1);
    assert_eq!(report.breached, 0);
    assert!(w.published().is_empty());
}

#[tokio::test]
async fn a_file_ingested_after_the_deadline_is_late_even_if_found_before_it() {
    let w = World::new();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    // Discovered in time, but it landed after the deadline (retries).
    land(
        &w.ledger,
        "orders",
        "/out/orders_1.csv",
        "2026-11-21T06:20:00Z",
        "2026-11-21T06:40:00Z",
    )
    .await;
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    assert_eq!((report.breached, report.recovered), (1, 1));
    let events: Vec<String> = w.published().into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["file_late", "file_recovered"]);
    assert!(
        w.published()[1]
            .1
            .contains("40 min after the expected 06:00 UTC")
    );
}

#[tokio::test]
async fn catching_up_after_a_day_down_is_bounded_and_says_what_it_skipped() {
    let mut w = World::new();
    let r = registry(&rule("hourly", "0 * * * *", "failures"));
    w.run(&r, "2026-11-20T00:00:00Z").await;
    // Every hour's file lands on time, but the one of 12:00.
    for hour in 0..27 {
        let expected = at("2026-11-20T00:00:00Z") + Duration::hours(hour);
        if expected == at("2026-11-20T12:00:00Z") {
            continue;
        }
        let found = (expected + Duration::minutes(5)).to_rfc3339();
        let landed = (expected + Duration::minutes(7)).to_rfc3339();
        land(
            &w.ledger,
            "hourly",
            &format!("/out/hourly_{hour}.csv"),
            &found,
            &landed,
        )
        .await;
    }
    // Down for 26 hours, then a run with at most 10 windows per run.
    w.settings.max_windows = 10;
    let first = w.run(&r, "2026-11-21T02:00:00Z").await;
    let rule = &first.rules[0];
    assert_eq!(
        rule.skipped, 2,
        "00:30 and 01:30 on the 20th are older than a day"
    );
    assert_eq!((rule.evaluated, rule.more), (10, true));
    assert_eq!(rule.checkpoint, Some(at("2026-11-20T11:30:00Z")));
    assert_eq!(first.breached, 0);
    // The backlog is finished by the next runs, the skipped deadlines
    // are not counted again, and the one missing file is one alert.
    let second = w.run(&r, "2026-11-21T02:01:00Z").await;
    assert_eq!(
        (second.rules[0].evaluated, second.rules[0].skipped),
        (10, 0)
    );
    assert_eq!(second.breached, 1);
    let third = w.run(&r, "2026-11-21T02:02:00Z").await;
    let rule = &third.rules[0];
    assert_eq!((rule.evaluated, rule.more), (4, false));
    assert_eq!(
        first.windows + second.windows + third.windows,
        24,
        "exactly the windows of the last 24 hours"
    );
    assert_eq!(first.met + second.met + third.met, 23);
    assert_eq!(w.published().len(), 1);
    assert!(
        w.published()[0].1.contains("expected 12:00 UTC"),
        "{:?}",
        w.published()
    );
}

#[tokio::test]
async fn notify_none_records_breaches_without_notices() {
    let w = World::new();
    let r = registry(&rule("quiet", "0 6 * * *", "none"));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    assert_eq!(report.breached, 1);
    land(
        &w.ledger,
        "quiet",
        "/out/quiet_1.csv",
        "2026-11-21T07:00:00Z",
        "2026-11-21T07:01:00Z",
    )
    .await;
    let report = w.run(&r, "2026-11-21T07:10:00Z").await;
    assert_eq!(report.recovered, 1);
    assert!(w.published().is_empty());
    assert_eq!(report.notified, 0);
}

#[tokio::test]
async fn a_late_alert_that_could_not_be_published_is_sent_by_a_later_run() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the notifier's directory should be: publishing fails.
    let blocker = dir.path().join("out");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let notifier = FileNotifier::new(blocker.join("notifications.jsonl"));
    let ledger = FileLedger::in_memory();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    let run_at = |now: &'static str| {
        let ctx = SlaContext {
            ledger: &ledger,
            store: &ledger,
            notifier: &notifier,
            run_id: now,
        };
        let registry = &r;
        async move { run(&ctx, registry, at(now), SlaSettings::default()).await }
    };
    run_at("2026-11-21T05:00:00Z").await;
    let report = run_at("2026-11-21T06:45:00Z").await;
    assert_eq!(report.breached, 1);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].kind, FailureKind::Transient);
    assert!(report.failures[0].error.contains("file_late"));

    std::fs::remove_file(&blocker).unwrap();
    // Too soon: the run that opened the breach may still be publishing.
    let report = run_at("2026-11-21T06:50:00Z").await;
    assert_eq!(report.notified, 0);
    let report = run_at("2026-11-21T07:00:00Z").await;
    assert_eq!(report.notified, 1);
    let report = run_at("2026-11-21T07:15:00Z").await;
    assert_eq!(report.notified, 0);
    let published = notifier.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].notification.event, "file_late");
}

#[tokio::test]
async fn catching_up_after_downtime_folds_the_late_alerts_into_one_digest() {
    let w = World::new();
    let r = registry(&rule("hourly", "0 * * * *", "failures"));
    w.run(&r, "2026-11-21T00:00:00Z").await;
    // Down until 06:45: the windows of 00:30 … 06:30 all passed unmet.
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.breached, 7);
    assert_eq!((report.notified, report.digests), (7, 1));
    let sent = w.notifier.published().unwrap();
    assert_eq!(sent.len(), 1, "one message, not one per window: {sent:?}");
    let digest = &sent[0].notification;
    assert_eq!(
        digest.event, "file_late",
        "subscriptions on file_late get it"
    );
    assert_eq!(digest.severity, Severity::Error);
    assert_eq!(digest.tenant, "acme");
    assert_eq!(digest.subject, "acme: 7 alerts (7 file_late)");
    for hour in 0..=6 {
        let expected = format!("expected {hour:02}:00 UTC");
        assert!(
            digest.body.contains(&expected),
            "{expected}: {}",
            digest.body
        );
    }
    assert!(digest.body.contains("catching up"), "{}", digest.body);
    // Each breach is marked sent: no run publishes them again.
    let breaches = w
        .ledger
        .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
        .await
        .unwrap();
    assert_eq!(breaches.len(), 7);
    assert!(breaches.iter().all(|b| b.late_alert == Notice::Sent));
    let report = w.run(&r, "2026-11-21T07:00:00Z").await;
    assert_eq!((report.notified, report.digests), (0, 0));
    assert_eq!(w.published().len(), 1);
}

#[tokio::test]
async fn a_failed_digest_leaves_its_notices_pending_and_recoveries_fold_too() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the notifier's directory should be: publishing fails.
    let blocker = dir.path().join("out");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let notifier = FileNotifier::new(blocker.join("notifications.jsonl"));
    let ledger = FileLedger::in_memory();
    let rules = ["a", "b", "c", "d"].map(|id| rule(id, "0 6 * * *", "failures"));
    let r = registry(&rules.concat());
    let run_at = |now: &'static str| {
        let ctx = SlaContext {
            ledger: &ledger,
            store: &ledger,
            notifier: &notifier,
            run_id: now,
        };
        let registry = &r;
        async move { run(&ctx, registry, at(now), SlaSettings::default()).await }
    };
    let pending = || async {
        ledger
            .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
            .await
            .unwrap()
            .iter()
            .filter(|b| b.late_alert == Notice::Pending)
            .count()
    };
    run_at("2026-11-21T05:00:00Z").await;

    // Four rules late at once: one digest, which cannot be published.
    let report = run_at("2026-11-21T06:45:00Z").await;
    assert_eq!(report.breached, 4);
    assert_eq!((report.notified, report.digests), (0, 0));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(
        (failure.kind, failure.rule.as_deref()),
        (FailureKind::Transient, None)
    );
    assert!(
        failure.error.contains("file_late digest of 4 notices"),
        "{}",
        failure.error
    );
    assert_eq!(pending().await, 4, "nothing marked sent that was not");

    std::fs::remove_file(&blocker).unwrap();
    // Too soon: the run that opened the breaches may still be publishing.
    let report = run_at("2026-11-21T06:50:00Z").await;
    assert_eq!(report.notified, 0);
    // A later run publishes them, folded again rather than one by one.
    let report = run_at("2026-11-21T07:00:00Z").await;
    assert_eq!((report.notified, report.digests), (4, 1));
    assert_eq!(pending().await, 0);
    let published = notifier.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].notification.subject,
        "acme: 4 alerts (4 file_late)"
    );

    // The four files land late: one recovered digest.
    for id in ["a", "b", "c", "d"] {
        land(
            &ledger,
            id,
            &format!("/out/{id}_1.csv"),
            "2026-11-21T07:20:00Z",
            "2026-11-21T07:25:00Z",
        )
        .await;
    }
    let report = run_at("2026-11-21T07:30:00Z").await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.recovered, 4);
    assert_eq!((report.notified, report.digests), (4, 1));
    let published = notifier.published().unwrap();
    assert_eq!(published.len(), 2);
    let digest = &published[1].notification;
    assert_eq!(digest.event, "file_recovered");
    assert_eq!(digest.severity, Severity::Info);
    assert_eq!(digest.subject, "acme: 4 alerts (4 file_recovered)");
    assert!(digest.body.contains("Nothing to do"), "{}", digest.body);
    // Nothing is left to do, and nothing is sent twice.
    let report = run_at("2026-11-21T07:45:00Z").await;
    assert_eq!(report.notified, 0);
    assert_eq!(notifier.published().unwrap().len(), 2);
    assert!(
        ledger
            .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn evidence_cut_short_by_its_bound_leaves_the_window_for_later() {
    let mut w = World::new();
    let r = registry(&format!(
        "{}{}",
        rule("orders", "0 6 * * *", "failures"),
        rule("busy", "0 6 * * 1", "failures")
    ));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    // Many files of another rule landed after the window opened.
    for i in 0..5 {
        let t = at("2026-11-21T06:00:00Z") + Duration::minutes(i);
        land(
            &w.ledger,
            "busy",
            &format!("/out/busy_{i}.csv"),
            &t.to_rfc3339(),
            &t.to_rfc3339(),
        )
        .await;
    }
    w.settings.max_evidence = 3;
    let report = w.run(&r, "2026-11-21T06:45:00Z").await;
    let orders = report.rules.iter().find(|r| r.rule == "orders").unwrap();
    assert_eq!((orders.evaluated, orders.more), (0, true));
    assert_eq!(report.breached, 0);
    assert_eq!(
        orders.checkpoint,
        Some(at("2026-11-21T04:58:00Z")),
        "not moved"
    );
    w.settings.max_evidence = 100;
    let report = w.run(&r, "2026-11-21T06:46:00Z").await;
    assert_eq!(report.breached, 1);
}

#[tokio::test]
async fn breaches_of_removed_rules_are_reported_and_left_alone() {
    let w = World::new();
    let both = registry(&format!(
        "{}{}",
        rule("orders", "0 6 * * *", "failures"),
        rule("gone", "0 6 * * *", "failures")
    ));
    w.run(&both, "2026-11-21T05:00:00Z").await;
    let report = w.run(&both, "2026-11-21T06:45:00Z").await;
    assert_eq!(report.breached, 2);
    let only = registry(&rule("orders", "0 6 * * *", "failures"));
    land(
        &w.ledger,
        "gone",
        "/out/gone_1.csv",
        "2026-11-21T07:00:00Z",
        "2026-11-21T07:01:00Z",
    )
    .await;
    let report = w.run(&only, "2026-11-21T07:10:00Z").await;
    assert_eq!(report.recovered, 0);
    assert_eq!(
        report.orphaned,
        [OrphanedBreach {
            tenant: "acme".into(),
            rule: "gone".into(),
            deadline: at("2026-11-21T06:30:00Z"),
            state: BreachState::Open,
        }]
    );
    assert_eq!(w.published().len(), 2, "the two late alerts only");
}

#[tokio::test]
async fn old_breaches_are_no_longer_rechecked() {
    let mut w = World::new();
    let r = registry(&rule("orders", "0 6 * * *", "failures"));
    w.run(&r, "2026-11-21T05:00:00Z").await;
    w.run(&r, "2026-11-21T06:45:00Z").await;
    w.settings.recheck_for = Duration::days(2);
    w.settings.max_catch_up = Duration::minutes(30);
    // Discovered in time to be the late file of the 21st, but ingested
    // (redriven) three days later.
    land(
        &w.ledger,
        "orders",
        "/out/orders_late.csv",
        "2026-11-21T09:00:00Z",
        "2026-11-24T07:01:00Z",
    )
    .await;
    let report = w.run(&r, "2026-11-24T07:10:00Z").await;
    assert_eq!(report.recovered, 0, "the breach of the 21st is too old");
    assert_eq!(report.rules[0].skipped, 3);
    w.settings.recheck_for = Duration::days(30);
    let report = w.run(&r, "2026-11-24T07:11:00Z").await;
    assert_eq!(
        report.recovered, 1,
        "within the re-check period it would be"
    );
}
