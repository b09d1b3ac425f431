//! The world the end-to-end tests run in: a tenant's drop folder on a real FTP
//! server process (pyftpdlib), and S3, DynamoDB, SQS, SNS and Secrets Manager
//! on a moto server, with the functions built from the environment the SAM
//! template sets. Handlers are called with the JSON events Lambda would
//! deliver, built from messages received from the real (moto) queues, and
//! messages are deleted afterwards exactly as Lambda does with a partial batch
//! response.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::lambda::Env;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::registry_store::RegistryStore;
use tributary::registry::Syntax;
use tributary_catalog_trigger::aws::AwsCatalogTrigger;
use tributary_dlq_redrive::aws::AwsRedriver;
use tributary_ingester::aws::AwsIngester;
use tributary_poller::aws::AwsPoller;

use tributary_testkit::moto::{
    glue_job, moto, notification_from_envelope, notify_queue_of_created_objects, queue_arn,
    queue_pair, topic_with_inbox, unique,
};
use tributary_testkit::process::{
    ServerProcess, free_port, free_port_range, python_with_pyftpdlib,
};
use tributary_testkit::{PASSWORD, USER};

/// The AES-256 data key of encrypted test files (`tributary/acme/orders-key`).
pub const DATA_KEY: [u8; 32] = {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = (i as u8).wrapping_mul(31).wrapping_add(7);
        i += 1;
    }
    key
};

pub struct World {
    pub _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub _ftp: ServerProcess,
    pub ftp_port: u16,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub poll_url: String,
    pub ingest_url: String,
    pub ingest_dlq: String,
    pub inbox_url: String,
    /// The DynamoDB table of the ledger and registry.
    pub table: String,
    pub ledger: DynamoLedger,
    pub registry_store: DynamoRegistryStore,
    pub poller: AwsPoller,
    pub ingester: AwsIngester,
    /// The raw bucket notifies this queue of every created object.
    pub catalog_url: String,
    pub catalog_dlq: String,
    pub glue: aws_sdk_glue::Client,
    /// The Glue job dataset `orders` is mapped to (`TRIBUTARY_JOB_OVERRIDES`).
    pub orders_job: String,
    pub catalog_trigger: AwsCatalogTrigger,
    pub redriver: AwsRedriver,
}

/// Where the world's servers listen and how the functions reach them
/// (`Placement::default()`: pyftpdlib on 127.0.0.1 and free ports, the
/// functions straight to moto).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The FTP server's interface, control port and passive range. An
    /// interface other than 127.0.0.1 needs something (a proxy) listening on
    /// 127.0.0.1 at the same control port already: the registry names
    /// 127.0.0.1 and that port.
    pub ftp: Option<FtpPlacement>,
    /// The endpoint of the functions' SDK clients (a proxy in front of moto);
    /// the test's own clients always talk to moto directly.
    pub aws_endpoint: Option<String>,
}

/// Where pyftpdlib listens.
#[derive(Debug, Clone)]
pub struct FtpPlacement {
    pub interface: String,
    pub port: u16,
    /// The passive port range, inclusive.
    pub passive: (u16, u16),
}

/// The registry of the tests' one tenant, `acme`, whose source `acme-ftp`
/// reads `/drop` on 127.0.0.1:`port` as [`USER`] (password in Secrets
/// Manager); `source_settings` are further lines of the source (timeouts,
/// connections: eight spaces deep) and `rules` its rules (ten spaces deep).
pub fn acme_registry(port: u16, source_settings: &str, rules: &str) -> String {
    format!(
        r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: {USER}
        password: {{secrets_manager: tributary/acme/ftp}}
        directories: [/drop]
        poll_schedule: "*/5 * * * *"
{source_settings}        rules:
{rules}"#
    )
}

/// An `id,amount` CSV of `rows` data rows.
pub fn orders_csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("id,amount\n");
    for i in 0..rows {
        text.push_str(&format!("{i},{}\n", i * 10));
    }
    text.into_bytes()
}

/// The EventBridge event the fan-out schedule delivers to the poller.
pub fn schedule_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-21T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/tributary-fan-out"],
        "detail": {}
    })
}

/// Starts pyftpdlib on a drop folder holding `files`, and moto with the
/// table, bucket, queues, topic and secrets; pushes `registry(ftp_port)` as
/// version 1; builds the functions from the environment the template sets.
pub async fn setup(registry: fn(u16) -> String, files: BTreeMap<&str, Vec<u8>>) -> World {
    setup_at(registry, files, Placement::default()).await
}

/// [`setup`] with the servers placed as `placement` says (the fault tests
/// put proxies between the functions and the servers).
pub async fn setup_at(
    registry: fn(u16) -> String,
    files: BTreeMap<&str, Vec<u8>>,
    placement: Placement,
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("drop")).unwrap();
    for (name, bytes) in files {
        std::fs::write(root.join("drop").join(name), bytes).unwrap();
    }

    let ftp_at = placement.ftp.clone().unwrap_or_else(|| FtpPlacement {
        interface: "127.0.0.1".to_owned(),
        port: free_port(),
        passive: free_port_range(10),
    });
    let (port, (low, high)) = (ftp_at.port, ftp_at.passive);
    let mut command = Command::new(python_with_pyftpdlib());
    command.args(["-m", "pyftpdlib", "-i", &ftp_at.interface, "-w"]);
    command.args(["-p", &port.to_string()]);
    command.arg("-d").arg(&root);
    command.args(["-u", USER, "-P", PASSWORD]);
    command.args(["-r", &format!("{low}-{high}")]);
    let ftp = ServerProcess::start("pyftpdlib", command, port, &dir.path().join("ftp.log"));
    if ftp_at.interface != "127.0.0.1" {
        // ServerProcess waited on 127.0.0.1 (the proxy): wait for the server.
        let deadline = std::time::Instant::now() + StdDuration::from_secs(15);
        while std::net::TcpStream::connect((ftp_at.interface.as_str(), port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pyftpdlib did not listen on {}:{port} within 15 s:\n{}",
                ftp_at.interface,
                ftp.output()
            );
            std::thread::sleep(StdDuration::from_millis(50));
        }
    }

    let moto = moto();
    let sdk = moto.sdk_config().await;
    let function_sdk = match &placement.aws_endpoint {
        Some(endpoint) => sdk.to_builder().endpoint_url(endpoint).build(),
        None => sdk.clone(),
    };
    let dynamodb = moto.dynamodb().await;
    let sqs = moto.sqs().await;
    let sns = moto.sns().await;
    let s3 = moto.s3().await;
    let secrets = moto.secrets_manager().await;

    let glue = moto.glue().await;
    let table = unique("ledger");
    DynamoLedger::create_table(&dynamodb, &table).await.unwrap();
    let bucket = moto.bucket(&s3).await;
    let (poll_url, poll_dlq) = queue_pair(&sqs, 3).await;
    let (ingest_url, ingest_dlq) = queue_pair(&sqs, 3).await;
    let (catalog_url, catalog_dlq) = queue_pair(&sqs, 3).await;
    let orders_job = glue_job(&glue, 10).await;
    // As the template configures it: created objects under raw/ notify the
    // catalog queue (moto sends real S3 event notifications).
    notify_queue_of_created_objects(&s3, &sqs, &bucket, &catalog_url).await;

    // Alerts reach the test as an email subscriber would see them: through a
    // queue subscribed to the topic (moto delivers no email).
    let (topic, inbox_url) = topic_with_inbox(&sns, &sqs).await;

    for (name, value) in [
        ("tributary/acme/ftp", PASSWORD.to_owned()),
        (
            "tributary/acme/orders-key",
            base64::engine::general_purpose::STANDARD.encode(DATA_KEY),
        ),
    ] {
        // One moto per test binary: a second world of the same binary finds
        // the secrets (same names, same values) already there.
        let created = secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await;
        if let Err(error) = created {
            let exists = error
                .as_service_error()
                .is_some_and(|e| e.is_resource_exists_exception());
            assert!(exists, "cannot create secret {name}: {error:?}");
        }
    }
    let store = DynamoRegistryStore::new(dynamodb.clone(), table.clone());
    let version = store
        .push(Syntax::Yaml, &registry(port), Utc::now())
        .await
        .unwrap();
    assert_eq!(version, 1);

    // The functions' environments, as the SAM template sets them.
    let overrides = format!("orders={orders_job}");
    let env = Env::from_map(HashMap::from(
        [
            ("TRIBUTARY_TABLE", table.as_str()),
            ("TRIBUTARY_TOPIC_ARN", topic.as_str()),
            ("TRIBUTARY_POLL_QUEUE_URL", poll_url.as_str()),
            ("TRIBUTARY_POLL_DLQ_URL", poll_dlq.as_str()),
            ("TRIBUTARY_INGEST_QUEUE_URL", ingest_url.as_str()),
            ("TRIBUTARY_INGEST_DLQ_URL", ingest_dlq.as_str()),
            ("TRIBUTARY_BUCKET", bucket.as_str()),
            ("TRIBUTARY_S3_PATH_STYLE", "true"),
            ("TRIBUTARY_MAX_RECEIVES", "3"),
            ("TRIBUTARY_REGISTRY_TTL_SECS", "0"),
            ("TRIBUTARY_MIN_UNCHANGED_SECS", "1"),
            ("TRIBUTARY_CATALOG_QUEUE_URL", catalog_url.as_str()),
            ("TRIBUTARY_CATALOG_DLQ_URL", catalog_dlq.as_str()),
            ("TRIBUTARY_JOB_OVERRIDES", overrides.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    ));
    let poller = tributary_poller::aws::from_env(&env, &function_sdk).unwrap();
    let ingester = tributary_ingester::aws::from_env(&env, &function_sdk).unwrap();
    let catalog_trigger = tributary_catalog_trigger::aws::from_env(&env, &function_sdk).unwrap();
    let redriver = tributary_dlq_redrive::aws::from_env(&env, &function_sdk).unwrap();
    World {
        _dir: dir,
        root,
        _ftp: ftp,
        ftp_port: port,
        sqs,
        s3,
        bucket,
        poll_url,
        ingest_url,
        ingest_dlq,
        inbox_url,
        table: table.clone(),
        ledger: DynamoLedger::new(dynamodb, table),
        registry_store: store,
        poller,
        ingester,
        catalog_url,
        catalog_dlq,
        glue,
        orders_job,
        catalog_trigger,
        redriver,
    }
}

impl World {
    /// Every object key in the raw bucket.
    pub async fn object_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        keys
    }

    /// The multipart uploads left open in the raw bucket, as `key (id)`.
    pub async fn open_uploads(&self) -> Vec<String> {
        self.s3
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap()
            .uploads()
            .iter()
            .map(|u| format!("{:?} ({:?})", u.key(), u.upload_id()))
            .collect()
    }

    /// Receives every message visible on `url` (moto: visible at once).
    pub async fn drain(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
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

    /// The SQS event Lambda would deliver for `messages` of `url`.
    pub async fn sqs_event(&self, url: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
        let arn = queue_arn(&self.sqs, url).await;
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
                let message_attributes: serde_json::Map<String, Value> = m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    json!({"stringValue": v.string_value(), "dataType": v.data_type()}),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Deletes what Lambda deletes after a partial batch response: every
    /// message not named in `batchItemFailures`. Returns the failed ids.
    pub async fn settle(
        &self,
        url: &str,
        messages: &[aws_sdk_sqs::types::Message],
        response: &Value,
    ) -> Vec<String> {
        let failed: Vec<String> = response["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect();
        for m in messages {
            if !failed.iter().any(|id| Some(id.as_str()) == m.message_id()) {
                // A dead-lettered message was deleted already; a second delete
                // of the same receipt is what Lambda would do too.
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await;
            }
        }
        failed
    }

    /// One scheduled poll: the poll-queue message through the poller's handler.
    pub async fn poll(&self) -> Value {
        let messages = self.drain(&self.poll_url).await;
        assert_eq!(messages.len(), 1, "one PollSource message per poll");
        let event = self.sqs_event(&self.poll_url, &messages).await;
        let response = self
            .poller
            .handle(event, Instant::now() + StdDuration::from_secs(120))
            .await
            .unwrap();
        let failed = self.settle(&self.poll_url, &messages, &response).await;
        assert!(failed.is_empty(), "the poll failed: {response}");
        response
    }

    /// The fan-out for the schedule, then that poll.
    pub async fn scheduled_poll(&self) {
        let event = schedule_event();
        let report = self
            .poller
            .handle(event, Instant::now() + StdDuration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(report["sent"], json!(["acme-ftp"]), "{report}");
        self.poll().await;
    }

    /// Every FileDiscovered on the ingest queue through the ingester's
    /// handler; returns the messages handled.
    pub async fn ingest(&self) -> Vec<FileDiscovered> {
        let messages = self.drain(&self.ingest_url).await;
        let event: SqsEvent =
            serde_json::from_value(self.sqs_event(&self.ingest_url, &messages).await).unwrap();
        let response =
            serde_json::to_value(self.ingester.handle(event, "request-1").await).unwrap();
        let failed = self.settle(&self.ingest_url, &messages, &response).await;
        assert!(
            failed.is_empty(),
            "no transient failures expected: {response}"
        );
        messages
            .iter()
            .map(|m| FileDiscovered::decode(m.body().unwrap()).unwrap())
            .collect()
    }

    /// The catalog queue's S3 notifications through the catalog trigger's
    /// handler; returns its batch response.
    pub async fn catalog(&self) -> Value {
        let messages = self.drain(&self.catalog_url).await;
        let event: SqsEvent =
            serde_json::from_value(self.sqs_event(&self.catalog_url, &messages).await).unwrap();
        let response = serde_json::to_value(
            self.catalog_trigger
                .handle(event, Instant::now() + StdDuration::from_secs(60))
                .await,
        )
        .unwrap();
        let failed = self.settle(&self.catalog_url, &messages, &response).await;
        assert!(failed.is_empty(), "catalog trigger failures: {response}");
        response
    }

    pub async fn alerts(&self) -> Vec<(String, String, String)> {
        let mut got = Vec::new();
        for message in self.drain(&self.inbox_url).await {
            let notice = notification_from_envelope(message.body().unwrap());
            assert_eq!(notice.tenant, "acme", "{notice:?}");
            got.push((notice.event, notice.subject, notice.body));
        }
        got
    }
}
