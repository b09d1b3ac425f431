//! The SLA monitor's handler, built from its environment as the Lambda builds
//! it (`tributary_sla_monitor::aws::from_env`), driven by EventBridge scheduled
//! events (the sample in `events/`, and the same event at later times)
//! against a moto server: the registry pushed to the table, the ledger in the
//! same table, alerts through SNS to a subscribed queue.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use serde_json::Value;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::lambda::Env;
use tributary::ports::FileVersion;
use tributary::ports::registry_store::RegistryStore;
use tributary::ports::{Ledger, NewFile, Notification, Outcome};
use tributary::registry::Syntax;
use tributary_sla_monitor::SlaMonitorError;
use tributary_sla_monitor::aws::AwsSlaMonitor;
use tributary_testkit::moto::{moto, notification_from_envelope, topic_with_inbox, unique};

const SAMPLE: &str = include_str!("../../events/sla-monitor-schedule.json");

/// The sample event, fired at `time` instead.
fn scheduled_at(time: &str) -> Value {
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["time"] = Value::String(time.to_owned());
    event
}

const REGISTRY: &str = r#"
version: 1
tenants:
  - id: acme-retail
    timezone: UTC
    sources:
      - id: acme-ftp
        host: ftp.acme.example
        protocol: ftps
        username: tributary
        password: { secrets_manager: tributary/acme/ftp }
        directories: [/outgoing]
        rules:
          - id: acme-daily-sales
            match: { glob: "/outgoing/sales_*.csv.gz" }
            dataset: sales
            format: csv
            sla: { expected: "0 5 * * *", grace_minutes: 30 }
"#;

struct World {
    monitor: AwsSlaMonitor,
    ledger: DynamoLedger,
    sqs: aws_sdk_sqs::Client,
    inbox: String,
}

async fn world(push: bool) -> World {
    let moto = moto();
    let sdk = moto.sdk_config().await;
    let dynamodb = moto.dynamodb().await;
    let (sns, sqs) = (moto.sns().await, moto.sqs().await);
    let table = unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    let (topic, inbox) = topic_with_inbox(&sns, &sqs).await;
    if push {
        DynamoRegistryStore::new(dynamodb.clone(), table.clone())
            .push(Syntax::Yaml, REGISTRY, Utc::now())
            .await
            .unwrap();
    }
    // The function's environment, as the SAM template sets it.
    let env = Env::from_map(HashMap::from(
        [
            ("TRIBUTARY_TABLE", table.as_str()),
            ("TRIBUTARY_TOPIC_ARN", topic.as_str()),
            ("TRIBUTARY_REGISTRY_TTL_SECS", "0"),
            ("TRIBUTARY_SLA_MAX_CATCH_UP_HOURS", "24"),
            ("TRIBUTARY_SLA_MAX_WINDOWS", "200"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    ));
    World {
        monitor: tributary_sla_monitor::aws::from_env(&env, &sdk).unwrap(),
        ledger: DynamoLedger::new(dynamodb, table),
        sqs,
        inbox,
    }
}

impl World {
    async fn inbox(&self) -> Vec<Notification> {
        let mut got = Vec::new();
        for _ in 0..3 {
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
        }
        got
    }
}

#[tokio::test]
async fn scheduled_events_drive_the_monitor_and_its_report() {
    let w = world(true).await;
    // The sample event: the rule is new, its windows start now.
    let report = w
        .monitor
        .handle(serde_json::from_str(SAMPLE).unwrap(), "request-1")
        .await
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["now"], "2026-11-21T06:00:00Z");
    assert_eq!(json["rules"][0]["rule"], "acme-daily-sales");
    assert_eq!(json["rules"][0]["started"], true);
    assert_eq!(json["breached"], 0);

    // The next morning: 05:30 passed with no file; then again an hour later.
    let report = w
        .monitor
        .handle(scheduled_at("2026-11-22T05:45:00Z"), "request-2")
        .await
        .unwrap();
    assert_eq!((report.windows, report.breached), (1, 1));
    let report = w
        .monitor
        .handle(scheduled_at("2026-11-22T06:45:00Z"), "request-3")
        .await
        .unwrap();
    assert_eq!((report.windows, report.breached), (0, 0));
    let got = w.inbox().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event, "file_late");
    assert_eq!(got[0].tenant, "acme-retail");
    assert_eq!(
        got[0].subject,
        "acme-retail: file late for rule acme-daily-sales, expected 05:00 UTC"
    );

    // The file lands; the next scheduled run says so, once.
    let found = "2026-11-22T07:00:00Z".parse().unwrap();
    let version = FileVersion {
        source: "acme-ftp".into(),
        path: "/outgoing/sales_2026-11-22.csv.gz".into(),
        size: 100,
        mtime: None,
    };
    w.ledger
        .claim(NewFile {
            version: version.clone(),
            tenant: "acme-retail".into(),
            rule: "acme-daily-sales".into(),
            discovered_at: found,
        })
        .await
        .unwrap();
    let landed = found + Duration::minutes(2);
    w.ledger
        .take_lease(&version, "ingester", Duration::minutes(15), landed)
        .await
        .unwrap();
    let outcome = Outcome::Ingested {
        sha256: "ef".repeat(32),
        bytes_in: 100,
        bytes_out: 300,
        rows: 3,
        s3_key: "raw/tenant=acme-retail/dataset=sales/ingest_date=2026-11-22/sales.csv".into(),
        invalid_rows: 0,
        report_key: None,
    };
    w.ledger
        .finish(&version, "ingester", outcome, landed)
        .await
        .unwrap();
    for (time, recovered) in [("2026-11-22T07:15:00Z", 1), ("2026-11-22T07:30:00Z", 0)] {
        let report = w
            .monitor
            .handle(scheduled_at(time), "request-4")
            .await
            .unwrap();
        assert_eq!(report.recovered, recovered, "{time}");
    }
    let got = w.inbox().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event, "file_recovered");
    assert!(
        got[0]
            .subject
            .contains("landed 2 h 2 min after the expected 05:00 UTC"),
        "{}",
        got[0].subject
    );
}

#[tokio::test]
async fn other_events_and_a_missing_registry_are_errors() {
    let w = world(false).await;
    let error = w
        .monitor
        .handle(serde_json::json!({"Records": []}), "request-1")
        .await
        .unwrap_err();
    assert!(matches!(error, SlaMonitorError::UnknownEvent(_)), "{error}");
    let error = w
        .monitor
        .handle(serde_json::from_str(SAMPLE).unwrap(), "request-2")
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no registry has been pushed yet"),
        "{error}"
    );
    assert!(w.inbox().await.is_empty());
}
