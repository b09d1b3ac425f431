//! The catalog trigger against moto: the raw bucket's real S3 event
//! notifications (moto sends them to the catalog queue, form-URL-encoding the
//! keys) → the function's handler, built from its environment exactly as in
//! Lambda → Glue job runs, the ledger, the catalog DLQ and the alert topic.
//! The handler gets the JSON event Lambda would deliver, built from messages
//! received from the queue, and messages are deleted afterwards as Lambda does
//! with a partial batch response.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::aws::dynamodb::DynamoLedger;
use tributary::aws::s3::S3ObjectStore;
use tributary::ingest::Lineage;
use tributary::lambda::Env;
use tributary::ports::FileVersion;
use tributary::ports::notifier::Severity;
use tributary::ports::{Ledger, NewFile, ObjectStore, Outcome};
use tributary_catalog_trigger::aws::AwsCatalogTrigger;
use tributary_testkit::moto::{
    glue_job, moto, notification_from_envelope, notify_queue_of_created_objects, queue_arn,
    queue_pair, topic_with_inbox,
};

/// Everything the test talks to.
struct World {
    sqs: aws_sdk_sqs::Client,
    glue: aws_sdk_glue::Client,
    store: S3ObjectStore,
    bucket: String,
    queue_url: String,
    dlq_url: String,
    inbox_url: String,
    ledger: DynamoLedger,
    /// The Glue job `daily-sales` is mapped to (`TRIBUTARY_JOB_OVERRIDES`).
    job: String,
    /// A job allowing one run at once, for `orders`; its runs stay running.
    busy_job: String,
    trigger: AwsCatalogTrigger,
}

async fn setup() -> World {
    let moto = moto();
    // Runs stay STARTING, so the one-run job is busy after its first run.
    moto.hold_glue_job_runs(1000);
    let sdk = moto.sdk_config().await;
    let dynamodb = moto.dynamodb().await;
    let sqs = moto.sqs().await;
    let sns = moto.sns().await;
    let s3 = moto.s3().await;
    let glue = moto.glue().await;

    let table = tributary_testkit::moto::unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    let bucket = moto.bucket(&s3).await;
    let (queue_url, dlq_url) = queue_pair(&sqs, 3).await;
    let (topic, inbox_url) = topic_with_inbox(&sns, &sqs).await;
    let job = glue_job(&glue, 10).await;
    let busy_job = glue_job(&glue, 1).await;

    // The bucket notifies the catalog queue of every created object. The
    // template filters on the raw prefix; here every key is sent, so that the
    // function's own prefix check meets real events.
    notify_queue_of_created_objects(&s3, &sqs, &bucket, &queue_url).await;

    // The function's environment, as the SAM template sets it.
    let overrides = format!("daily-sales={job},orders={busy_job}");
    let env = Env::from_map(HashMap::from(
        [
            ("TRIBUTARY_TABLE", table.as_str()),
            ("TRIBUTARY_TOPIC_ARN", topic.as_str()),
            ("TRIBUTARY_BUCKET", bucket.as_str()),
            ("TRIBUTARY_S3_PATH_STYLE", "true"),
            ("TRIBUTARY_RAW_PREFIX", "raw/"),
            ("TRIBUTARY_JOB_NAMING", "dataset"),
            ("TRIBUTARY_JOB_OVERRIDES", overrides.as_str()),
            ("TRIBUTARY_CATALOG_QUEUE_URL", queue_url.as_str()),
            ("TRIBUTARY_CATALOG_DLQ_URL", dlq_url.as_str()),
            ("TRIBUTARY_MAX_RECEIVES", "3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    ));
    let trigger = tributary_catalog_trigger::aws::from_env(&env, &sdk).unwrap();
    World {
        store: S3ObjectStore::new(s3, bucket.clone()),
        sqs,
        glue,
        bucket,
        queue_url,
        dlq_url,
        inbox_url,
        ledger: DynamoLedger::new(dynamodb, table),
        job,
        busy_job,
        trigger,
    }
}

fn version(path: &str) -> FileVersion {
    FileVersion {
        source: "acme-ftp".into(),
        path: path.into(),
        size: 27,
        mtime: Some("2026-11-21T05:55:00Z".parse().unwrap()),
    }
}

impl World {
    /// What the ingester leaves behind: the object with its lineage, and the
    /// file's ledger item `ingested` with the object's key.
    async fn land(&self, key: &str, dataset: &str, path: &str) -> FileVersion {
        let version = version(path);
        let lineage = Lineage {
            tenant: "acme-retail".into(),
            dataset: dataset.into(),
            source_id: version.source.clone(),
            source_host: "ftp.acme.example".into(),
            source_path: version.path.clone(),
            listed_size: version.size,
            ftp_mtime: version.mtime,
            rule_id: "acme-daily-sales".into(),
            registry_version: "1".into(),
            ingested_at: Utc::now(),
        };
        let now = Utc::now();
        self.ledger
            .claim(NewFile {
                version: version.clone(),
                tenant: "acme-retail".into(),
                rule: "acme-daily-sales".into(),
                discovered_at: now,
            })
            .await
            .unwrap();
        self.ledger
            .take_lease(&version, "ingester-1", Duration::minutes(15), now)
            .await
            .unwrap();
        self.store
            .put(key, b"id,amount\n1,10\n".to_vec(), &lineage.metadata(None))
            .await
            .unwrap();
        self.ledger
            .finish(
                &version,
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
        version
    }

    /// Receives every message visible on `url` (moto: visible at once).
    async fn drain(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .visibility_timeout(120)
                .send()
                .await
                .unwrap();
            if out.messages().is_empty() {
                return all;
            }
            all.extend(out.messages().iter().cloned());
        }
    }

    /// Every message on the catalog queue through the handler, as one SQS
    /// batch; deletes what Lambda would delete and returns the response.
    async fn handle_queue(&self) -> (Vec<aws_sdk_sqs::types::Message>, Value) {
        let messages = self.drain(&self.queue_url).await;
        assert!(!messages.is_empty(), "nothing on the catalog queue");
        let arn = queue_arn(&self.sqs, &self.queue_url).await;
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
        let response = self
            .trigger
            .handle(event, Instant::now() + StdDuration::from_secs(60))
            .await;
        let response = serde_json::to_value(response).unwrap();
        let failed: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect();
        for m in &messages {
            if !failed.contains(&m.message_id().unwrap()) {
                // A dead-lettered message was deleted already; a second
                // delete of its receipt is what Lambda does too.
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await;
            }
        }
        (messages, response)
    }

    async fn runs_of(&self, job: &str) -> Vec<aws_sdk_glue::types::JobRun> {
        self.glue
            .get_job_runs()
            .job_name(job)
            .send()
            .await
            .unwrap()
            .job_runs
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn landed_objects_start_their_glue_jobs_and_failures_reach_ops() {
    let w = setup().await;
    // The key has a space, a plus and `=`: moto sends it as
    // `raw%2Ftenant%3Dacme-retail%2F…%2Fsales+2026-11-21%2Bv2.csv`.
    let key =
        "raw/tenant=acme-retail/dataset=daily-sales/ingest_date=2026-11-21/sales 2026-11-21+v2.csv";
    let landed = w
        .land(key, "daily-sales", "/outgoing/sales 2026-11-21+v2.csv")
        .await;

    // The first batch: S3's test event (sent when the notification was
    // configured) and the object's event.
    let (messages, response) = w.handle_queue().await;
    assert_eq!(messages.len(), 2, "the test event and one object event");
    assert!(
        messages
            .iter()
            .any(|m| m.body().unwrap().contains("s3:TestEvent"))
    );
    assert!(
        messages.iter().any(|m| m.body().unwrap().contains("%2Bv2")),
        "moto encodes the key as S3 does"
    );
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    // One run of the job with the four arguments, its id on the ledger item.
    let record = w.ledger.get(&landed).await.unwrap().unwrap();
    let run_id = record.job_run_id.expect("the run id is recorded");
    let run = w
        .glue
        .get_job_run()
        .job_name(&w.job)
        .run_id(&run_id)
        .send()
        .await
        .unwrap()
        .job_run
        .unwrap();
    assert_eq!(run.id(), Some(run_id.as_str()));
    let arguments = run.arguments().unwrap();
    assert_eq!(arguments["--bucket"], w.bucket);
    assert_eq!(arguments["--key"], key);
    assert_eq!(arguments["--tenant"], "acme-retail");
    assert_eq!(arguments["--dataset"], "daily-sales");
    assert_eq!(arguments.len(), 4, "{arguments:?}");
    assert_eq!(w.runs_of(&w.job).await.len(), 1);

    // S3 delivers the same event again: a duplicate, no second run.
    let body = messages
        .iter()
        .find(|m| m.body().unwrap().contains("%2Bv2"))
        .unwrap()
        .body()
        .unwrap()
        .to_owned();
    w.sqs
        .send_message()
        .queue_url(&w.queue_url)
        .message_body(&body)
        .send()
        .await
        .unwrap();
    let (_, response) = w.handle_queue().await;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(w.runs_of(&w.job).await.len(), 1, "no second run");
    let record = w.ledger.get(&landed).await.unwrap().unwrap();
    assert_eq!(record.job_run_id.as_deref(), Some(run_id.as_str()));

    // An object outside the raw prefix: ignored, nothing started.
    w.store
        .put("landing/tmp/upload.csv", b"x".to_vec(), &Default::default())
        .await
        .unwrap();
    let (messages, response) = w.handle_queue().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert!(w.drain(&w.dlq_url).await.is_empty());
    assert_eq!(w.runs_of(&w.job).await.len(), 1);

    // A dataset whose job does not exist: misconfigured, the message in the
    // catalog DLQ with the reason, an alert naming the job, nothing recorded.
    let stock_key = "raw/tenant=acme-retail/dataset=stock/ingest_date=2026-11-21/stock.csv";
    let stock = w.land(stock_key, "stock", "/outgoing/stock.csv").await;
    let (_, response) = w.handle_queue().await;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let dead = w.drain(&w.dlq_url).await;
    assert_eq!(dead.len(), 1);
    let attributes = dead[0].message_attributes().unwrap();
    assert_eq!(
        attributes["error_kind"].string_value(),
        Some("misconfigured")
    );
    let reason = attributes["error_reason"].string_value().unwrap();
    assert!(reason.contains("job stock does not exist"), "{reason}");
    assert!(dead[0].body().unwrap().contains("stock.csv"));
    assert_eq!(
        w.ledger.get(&stock).await.unwrap().unwrap().job_run_id,
        None
    );
    let published = w.drain(&w.inbox_url).await;
    let alerts: Vec<_> = published
        .iter()
        .map(|m| notification_from_envelope(m.body().unwrap()))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].event, "job_failed");
    assert_eq!(alerts[0].tenant, "acme-retail");
    assert_eq!(alerts[0].severity, Severity::Error);
    // The attributes subscriptions filter on, as SNS delivers them.
    let envelope: Value = serde_json::from_str(published[0].body().unwrap()).unwrap();
    for (name, value) in [
        ("severity", "error"),
        ("event", "job_failed"),
        ("tenant", "acme-retail"),
    ] {
        assert_eq!(
            envelope["MessageAttributes"][name],
            json!({"Type": "String", "Value": value}),
            "{name}: {envelope}"
        );
    }
    assert_eq!(
        alerts[0].subject,
        "acme-retail: catalog job not started for stock.csv"
    );
    for part in [
        "Job:     stock",
        "Dataset: stock",
        "TRIBUTARY_JOB_OVERRIDES",
    ] {
        assert!(alerts[0].body.contains(part), "{part}: {}", alerts[0].body);
    }
}

#[tokio::test]
async fn a_busy_job_leaves_the_message_on_the_queue() {
    let w = setup().await;
    let first = "raw/tenant=acme-retail/dataset=orders/ingest_date=2026-11-21/a.csv";
    let second = "raw/tenant=acme-retail/dataset=orders/ingest_date=2026-11-21/b.csv";
    w.land(first, "orders", "/outgoing/a.csv").await;
    w.land(second, "orders", "/outgoing/b.csv").await;
    // The job allows one run at once and moto keeps runs going: the second
    // object finds it busy through every in-call attempt (1 + 2 + 4 s).
    let (messages, response) = w.handle_queue().await;
    assert_eq!(messages.len(), 3, "the test event and two object events");
    let failed = response["batchItemFailures"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{response}");
    let retried = messages
        .iter()
        .find(|m| Some(failed[0]["itemIdentifier"].as_str().unwrap()) == m.message_id())
        .unwrap()
        .body()
        .unwrap();
    // Whichever came first started; the other waits for the queue's retry.
    let (started, waiting) = if retried.contains("b.csv") {
        ("/outgoing/a.csv", "/outgoing/b.csv")
    } else {
        ("/outgoing/b.csv", "/outgoing/a.csv")
    };
    assert!(retried.contains(&waiting[10..]), "{retried}");
    assert_eq!(w.runs_of(&w.busy_job).await.len(), 1);
    for (path, has_run) in [(started, true), (waiting, false)] {
        let record = w.ledger.get(&version(path)).await.unwrap().unwrap();
        assert_eq!(record.job_run_id.is_some(), has_run, "{path}");
    }
    assert!(
        w.drain(&w.dlq_url).await.is_empty(),
        "not dead-lettered yet"
    );
    assert!(w.drain(&w.inbox_url).await.is_empty(), "no alert yet");
}
