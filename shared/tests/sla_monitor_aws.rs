//! The SLA monitor's run on the AWS adapters, on a moto server: the DynamoDB
//! ledger (the evidence and the SLA store, one table) and an SNS topic whose
//! notifications reach a subscribed SQS queue, as an email subscriber would
//! see them. Overlapping runs alert once per breached window; the late file,
//! once recorded in the ledger, brings exactly one recovered notice.

use chrono::{DateTime, Duration, Utc};
use tributary::aws::dynamodb::DynamoLedger;
use tributary::aws::sns::SnsNotifier;
use tributary::ports::FileVersion;
use tributary::ports::{BreachState, Ledger, NewFile, Notification, Outcome, Severity, SlaStore};
use tributary::registry::Registry;
use tributary::sla::{SlaContext, SlaReport, SlaSettings, run};
use tributary_testkit::moto::{moto, notification_from_envelope, topic_with_inbox, unique};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const REGISTRY: &str = r#"
version: 1
tenants:
  - id: acme
    timezone: Europe/Paris
    sources:
      - id: acme-ftp
        host: ftp.example.com
        protocol: ftp
        username: u
        password: { env: P }
        directories: [/out]
        rules:
          - id: orders
            match: { glob: "/out/orders_*.csv" }
            dataset: orders
            format: csv
            sla: { expected: "0 6 * * *", grace_minutes: 30 }
"#;

struct World {
    ledger: DynamoLedger,
    notifier: SnsNotifier,
    sqs: aws_sdk_sqs::Client,
    inbox: String,
    registry: Registry,
}

impl World {
    async fn new() -> Self {
        let moto = moto();
        let dynamodb = moto.dynamodb().await;
        let (sns, sqs) = (moto.sns().await, moto.sqs().await);
        let table = unique("tributary-ledger");
        DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
        let (topic, inbox) = topic_with_inbox(&sns, &sqs).await;
        let registry = Registry::from_yaml_str(REGISTRY).unwrap();
        registry.validate().unwrap();
        World {
            ledger: DynamoLedger::new(dynamodb, table),
            notifier: SnsNotifier::new(sns, topic),
            sqs,
            inbox,
            registry,
        }
    }

    async fn run(&self, now: &str, run_id: &str) -> SlaReport {
        let ctx = SlaContext {
            ledger: &self.ledger,
            store: &self.ledger,
            notifier: &self.notifier,
            run_id,
        };
        let report = run(&ctx, &self.registry, at(now), SlaSettings::default()).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report
    }

    /// Everything the topic delivered so far: waits until `expected` arrived,
    /// then makes sure nothing more comes.
    async fn inbox(&self, expected: usize) -> Vec<Notification> {
        let mut got = Vec::new();
        let mut empty_polls = 0;
        for _ in 0..30 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.inbox)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for message in out.messages() {
                got.push(notification_from_envelope(message.body().unwrap()));
                self.sqs
                    .delete_message()
                    .queue_url(&self.inbox)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if out.messages().is_empty() {
                empty_polls += 1;
                if got.len() >= expected && empty_polls >= 2 {
                    break;
                }
            }
        }
        got
    }

    /// A file of `orders` discovered and ingested at the times given.
    async fn land(&self, path: &str, discovered: &str, ingested: &str) {
        let version = FileVersion {
            source: "acme-ftp".into(),
            path: path.into(),
            size: 42,
            mtime: Some(at(discovered) - Duration::minutes(1)),
        };
        self.ledger
            .claim(NewFile {
                version: version.clone(),
                tenant: "acme".into(),
                rule: "orders".into(),
                discovered_at: at(discovered),
            })
            .await
            .unwrap();
        self.ledger
            .take_lease(&version, "ingester-1", Duration::minutes(15), at(ingested))
            .await
            .unwrap();
        let outcome = Outcome::Ingested {
            sha256: "cd".repeat(32),
            bytes_in: 42,
            bytes_out: 42,
            rows: 2,
            s3_key: format!("raw/tenant=acme/dataset=orders{path}"),
            invalid_rows: 0,
            report_key: None,
        };
        self.ledger
            .finish(&version, "ingester-1", outcome, at(ingested))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn one_alert_per_breached_window_across_overlapping_runs_and_one_recovered_notice() {
    let w = World::new().await;
    let first = w.run("2026-11-20T12:00:00Z", "run-0").await;
    assert!(first.rules[0].started);

    // Saturday 21st: 06:00 Paris is 05:00Z, the deadline 05:30Z; no file.
    // Two runs at once (EventBridge delivered the event twice), then a later one.
    let (a, b) = tokio::join!(
        w.run("2026-11-21T05:40:00Z", "run-1a"),
        w.run("2026-11-21T05:40:00Z", "run-1b")
    );
    assert_eq!(a.breached + b.breached, 1, "one run opens the breach");
    let judged = a.windows + b.windows;
    let seen_open = a.rules[0].already_breached + b.rules[0].already_breached;
    assert!(
        (judged, seen_open) == (2, 1) || (judged, seen_open) == (1, 0),
        "both judged it (one found it open), or one saw the other's checkpoint: {a:?} {b:?}"
    );
    let later = w.run("2026-11-21T05:50:00Z", "run-2").await;
    assert_eq!((later.windows, later.breached), (0, 0));
    let got = w.inbox(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event, "file_late");
    assert_eq!(got[0].severity, Severity::Error);
    assert_eq!(got[0].tenant, "acme");
    assert!(
        got[0].subject.contains("expected 06:00 Europe/Paris"),
        "{}",
        got[0].subject
    );

    // Sunday 22nd: the file is late again, and lands at 08:05 Paris.
    let report = w.run("2026-11-22T05:40:00Z", "run-3").await;
    assert_eq!(report.breached, 1);
    w.land(
        "/out/orders_2026-11-22.csv",
        "2026-11-22T07:00:00Z",
        "2026-11-22T07:05:00Z",
    )
    .await;
    let report = w.run("2026-11-22T07:10:00Z", "run-4").await;
    assert_eq!(
        report.recovered, 1,
        "only the 22nd's: the 21st's file never came"
    );
    let report = w.run("2026-11-22T07:20:00Z", "run-5").await;
    assert_eq!((report.recovered, report.breached), (0, 0));

    let got = w.inbox(2).await;
    let events: Vec<&str> = got.iter().map(|n| n.event.as_str()).collect();
    assert_eq!(events, ["file_late", "file_recovered"], "{got:?}");
    let recovered = &got[1];
    assert_eq!(recovered.severity, Severity::Info);
    assert!(
        recovered
            .body
            .contains("arrived 2 h 5 min after the expected 06:00 Europe/Paris"),
        "{}",
        recovered.body
    );
    assert!(recovered.body.contains("/out/orders_2026-11-22.csv"));

    // What the store keeps: the 21st still open, the 22nd done.
    let active = w
        .ledger
        .active_breaches("acme", at("2026-11-01T00:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].deadline, at("2026-11-21T05:30:00Z"));
    assert_eq!(active[0].state, BreachState::Open);
    assert_eq!(
        w.ledger.checkpoint("orders").await.unwrap(),
        Some(at("2026-11-22T07:18:00Z"))
    );
}
