//! The port contract suite (`contract/`) run against the AWS adapters on a moto
//! server, plus what only the AWS adapters promise (error mapping).

use crate::{Inbox, TimeTravel};
use aws_sdk_dynamodb::types::AttributeValue;
use tributary::aws::dynamodb::{self, DynamoLedger, DynamoRegistryStore};
use tributary::aws::glue::GlueJobTrigger;
use tributary::aws::s3::S3ObjectStore;
use tributary::aws::secrets::AwsSecrets;
use tributary::aws::sns::{SnsNotifier, sns_subject};
use tributary::aws::sqs::SqsWorkQueue;
use tributary::failure::FailureKind;
use tributary::ports::{
    CrawlerError, CrawlerStart, JobError, JobTrigger, Ledger, Metadata, MultipartUpload,
    Notification, Notifier, NotifyError, ObjectStore, ObjectStoreError, OutgoingMessage,
    QueueError, Severity, WorkQueue,
};
use tributary::registry::SecretRef;
use tributary::secrets::{SecretError, SecretStore};
use tributary_testkit::moto::{
    glue_crawler, glue_job, moto, notification_from_envelope, queue_pair, topic_with_inbox, unique,
};

// Object store.

async fn object_store() -> S3ObjectStore {
    let client = moto().s3().await;
    let bucket = moto().bucket(&client).await;
    S3ObjectStore::new(client, bucket)
}

#[tokio::test]
async fn object_store_multipart_completes() {
    crate::object_store_multipart_completes(&object_store().await).await;
}

#[tokio::test]
async fn object_store_abort_leaves_nothing() {
    crate::object_store_abort_leaves_nothing(&object_store().await).await;
}

#[tokio::test]
async fn object_store_put_round_trips() {
    let store = object_store().await;
    crate::object_store_put_round_trips(&store).await;
    let info = store
        .head("raw/tenant=acme/dataset=small/one.jsonl")
        .await
        .unwrap()
        .unwrap();
    let age = chrono::Utc::now() - info.last_modified;
    assert!(age.num_seconds().abs() < 300, "last modified {age}");
}

#[tokio::test]
async fn object_store_refuses_small_middle_parts() {
    crate::object_store_refuses_small_middle_parts(&object_store().await).await;
}

#[tokio::test]
async fn object_store_missing_bucket_is_misconfigured() {
    let store = S3ObjectStore::new(moto().s3().await, "tributary-no-such-bucket");
    let err = store
        .put("raw/x.csv", b"x".to_vec(), &Metadata::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectStoreError::Denied { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(
        err.to_string().contains("tributary-no-such-bucket"),
        "{err}"
    );
}

#[tokio::test]
async fn object_store_unknown_upload_is_no_such_upload() {
    let store = object_store().await;
    let upload = MultipartUpload {
        key: "raw/never-started.csv".into(),
        upload_id: "no-such-upload-id".into(),
    };
    let err = store.put_part(&upload, 1, vec![1; 10]).await.unwrap_err();
    assert!(
        matches!(err, ObjectStoreError::NoSuchUpload { .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Transient);
    store.abort_upload(&upload).await.unwrap();
    let err = store.put("", vec![], &Metadata::new()).await.unwrap_err();
    assert!(matches!(err, ObjectStoreError::InvalidKey { .. }), "{err}");
}

// Work queue: real queues with small visibility timeouts, and real sleeps.

struct Sleep;

impl TimeTravel for Sleep {
    async fn advance(&self, by: chrono::Duration) {
        tokio::time::sleep(by.to_std().unwrap()).await;
    }
}

async fn work_queue(max_receives: u32) -> SqsWorkQueue {
    let client = moto().sqs().await;
    let (url, dead_url) = queue_pair(&client, max_receives).await;
    SqsWorkQueue::new(client, url, dead_url)
}

#[tokio::test]
async fn queue_visibility_and_delete() {
    crate::queue_visibility_and_delete(&work_queue(5).await, &Sleep).await;
}

#[tokio::test]
async fn queue_max_receives_dead_letters() {
    crate::queue_max_receives_dead_letters(&work_queue(3).await, &Sleep, 3).await;
}

#[tokio::test]
async fn queue_dead_letter_with_a_blank_reason() {
    crate::queue_dead_letter_with_a_blank_reason(&work_queue(5).await).await;
}

#[tokio::test]
async fn queue_explicit_dead_letter_keeps_reason() {
    crate::queue_explicit_dead_letter_keeps_reason(&work_queue(5).await).await;
}

#[tokio::test]
async fn queue_return_dead_letter_is_visible_at_once() {
    crate::queue_return_dead_letter_is_visible_at_once(&work_queue(5).await).await;
}

#[tokio::test]
async fn queue_missing_queue_is_misconfigured_and_stale_receipts_are_transient() {
    let client = moto().sqs().await;
    let missing = format!("{}/123456789012/tributary-no-such-queue", moto().endpoint);
    let queue = SqsWorkQueue::new(client, &missing, &missing);
    let err = queue
        .send_batch(&[OutgoingMessage::new("x")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");

    let queue = work_queue(5).await;
    queue
        .send_batch(&[OutgoingMessage::new("x")])
        .await
        .unwrap();
    let got = queue
        .receive(1, chrono::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    queue.delete(&got[0].receipt).await.unwrap();
    let err = queue
        .extend_visibility(&got[0].receipt, chrono::Duration::seconds(10))
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::StaleReceipt { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Transient);
    let err = queue
        .receive(11, chrono::Duration::seconds(1))
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Invalid { .. }), "{err}");
}

// Notifier: an SQS queue subscribed to the topic stands in for the email subscriber.

struct SubscribedQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    expected: usize,
}

impl Inbox for SubscribedQueue {
    async fn received(&self) -> Vec<Notification> {
        let mut got = Vec::new();
        for _ in 0..50 {
            if got.len() >= self.expected {
                break;
            }
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for message in out.messages() {
                got.push(notification_from_envelope(message.body().unwrap()));
            }
        }
        got
    }
}

async fn subscribed_topic(expected: usize) -> (SnsNotifier, SubscribedQueue) {
    let sns = moto().sns().await;
    let sqs = moto().sqs().await;
    let (topic, url) = topic_with_inbox(&sns, &sqs).await;
    (
        SnsNotifier::new(sns, topic),
        SubscribedQueue {
            client: sqs,
            url,
            expected,
        },
    )
}

#[tokio::test]
async fn notifier_preserves_attributes() {
    let (notifier, inbox) = subscribed_topic(2).await;
    crate::notifier_preserves_attributes(&notifier, &inbox).await;
}

#[tokio::test]
async fn notifier_fits_subjects_to_sns_and_missing_topics_are_misconfigured() {
    let (notifier, inbox) = subscribed_topic(1).await;
    let long = Notification {
        subject: format!("acme: {}\nrejected: naïve.csv", "x".repeat(200)),
        body: "details".into(),
        tenant: "acme".into(),
        severity: Severity::Warning,
        event: "file_late".into(),
    };
    notifier.publish(&long).await.unwrap();
    let got = inbox.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject, sns_subject(&long.subject));
    assert!(got[0].subject.len() <= 100 && got[0].subject.is_ascii());
    assert!(!got[0].subject.contains('\n'));
    assert_eq!(
        (got[0].severity, got[0].event.as_str()),
        (Severity::Warning, "file_late")
    );

    let missing = SnsNotifier::new(
        moto().sns().await,
        "arn:aws:sns:us-east-1:123456789012:tributary-no-such-topic",
    );
    let err = missing.publish(&long).await.unwrap_err();
    assert!(matches!(err, NotifyError::Denied { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
}

// Secrets: Secrets Manager and SSM SecureString, cached.

const FTP_PASSWORD: &str = "s3cret-Pa55-never-logged";

#[tokio::test]
async fn secrets_resolve_from_secrets_manager_and_ssm_and_are_cached() {
    let sm = moto().secrets_manager().await;
    let ssm = moto().ssm().await;
    let secret_name = unique("tributary/acme/ftp");
    sm.create_secret()
        .name(&secret_name)
        .secret_string(FTP_PASSWORD)
        .send()
        .await
        .unwrap();
    let parameter = format!("/{}", unique("tributary/acme/key"));
    ssm.put_parameter()
        .name(&parameter)
        .value("key-material")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let secrets = AwsSecrets::new(sm.clone(), ssm.clone());
    let sm_ref = SecretRef::SecretsManager(secret_name.clone());
    let ssm_ref = SecretRef::Ssm(parameter.clone());
    assert_eq!(
        secrets.resolve(&sm_ref).await.unwrap().expose(),
        FTP_PASSWORD
    );
    assert_eq!(
        secrets.resolve(&ssm_ref).await.unwrap().expose(),
        "key-material"
    );

    // Rotated: the cached value is served within the TTL, the new one without a cache.
    sm.put_secret_value()
        .secret_id(&secret_name)
        .secret_string("rotated")
        .send()
        .await
        .unwrap();
    assert_eq!(
        secrets.resolve(&sm_ref).await.unwrap().expose(),
        FTP_PASSWORD
    );
    let uncached = AwsSecrets::new(sm, ssm).with_ttl(std::time::Duration::ZERO);
    assert_eq!(uncached.resolve(&sm_ref).await.unwrap().expose(), "rotated");
    assert_eq!(
        uncached.resolve(&ssm_ref).await.unwrap().expose(),
        "key-material"
    );
}

#[tokio::test]
async fn missing_secrets_are_misconfigured_and_name_no_value() {
    let secrets = AwsSecrets::new(moto().secrets_manager().await, moto().ssm().await);
    for reference in [
        SecretRef::SecretsManager(unique("tributary/absent")),
        SecretRef::Ssm(format!("/{}", unique("tributary/absent"))),
    ] {
        let err = secrets.resolve(&reference).await.unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
        assert!(err.to_string().contains(&reference.to_string()), "{err}");
        assert!(!format!("{err:?}").contains(FTP_PASSWORD));
    }
    let err = secrets.resolve(&SecretRef::Inline).await.unwrap_err();
    assert!(matches!(err, SecretError::Inline));
}

// Ledger: a fresh table with its GSI per test.

async fn ledger() -> DynamoLedger {
    let client = moto().dynamodb().await;
    let table = unique("tributary-ledger");
    DynamoLedger::create_table(&client, &table).await.unwrap();
    DynamoLedger::new(client, table)
}

#[tokio::test]
async fn ledger_claims_once() {
    crate::ledger_claims_once(&ledger().await).await;
}

#[tokio::test]
async fn ledger_claims_many_at_once() {
    crate::ledger_claims_many_at_once(&ledger().await).await;
}

#[tokio::test]
async fn ledger_leases() {
    crate::ledger_leases(&ledger().await).await;
}

#[tokio::test]
async fn ledger_refuses_illegal_transitions() {
    crate::ledger_refuses_illegal_transitions(&ledger().await).await;
}

#[tokio::test]
async fn ledger_known_is_batched_and_exact() {
    crate::ledger_known_is_batched_and_exact(&ledger().await).await;
}

#[tokio::test]
async fn ledger_by_state_is_newest_first() {
    crate::ledger_by_state_is_newest_first(&ledger().await).await;
}

#[tokio::test]
async fn ledger_by_state_since_is_bounded_by_the_last_change() {
    crate::ledger_by_state_since_is_bounded_by_the_last_change(&ledger().await).await;
}

#[tokio::test]
async fn ledger_releases_only_unleased_claims() {
    crate::ledger_releases_only_unleased_claims(&ledger().await).await;
}

#[tokio::test]
async fn ledger_release_races_a_lease() {
    crate::ledger_release_races_a_lease(&ledger().await).await;
}

#[tokio::test]
async fn poll_log_keeps_each_sources_last_poll() {
    crate::poll_log_keeps_each_sources_last_poll(&ledger().await).await;
}

#[tokio::test]
async fn observations_round_trip() {
    crate::observations_round_trip(&ledger().await).await;
}

/// Observation items carry `expires_at` (epoch seconds, seven days after the
/// poll) and the table's TTL is on that attribute, so vanished paths go away.
#[tokio::test]
async fn observations_expire_through_the_table_ttl() {
    use tributary::poll::observations::ObservationStore;
    use tributary::poll::select::Observation;
    let client = moto().dynamodb().await;
    let table = unique("tributary-ledger");
    DynamoLedger::create_table(&client, &table).await.unwrap();
    let ledger = DynamoLedger::new(client.clone(), &table);
    let seen_at: chrono::DateTime<chrono::Utc> = "2024-05-01T06:00:00Z".parse().unwrap();
    let observation = Observation {
        size: Some(10),
        mtime: None,
        seen_at,
    };
    ledger
        .save("acme-ftp", &[("/out/a.csv".into(), observation)])
        .await
        .unwrap();

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some(dynamodb::EXPIRES_AT));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            dynamodb::PK,
            AttributeValue::S(r#"obs#["acme-ftp"]"#.into()),
        )
        .key(dynamodb::SK, AttributeValue::S("/out/a.csv".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires_at: i64 = item[dynamodb::EXPIRES_AT].as_n().unwrap().parse().unwrap();
    assert_eq!(
        expires_at,
        (seen_at + chrono::Duration::days(7)).timestamp()
    );
}

#[tokio::test]
async fn ledger_missing_table_is_misconfigured() {
    let ledger = DynamoLedger::new(moto().dynamodb().await, "tributary-no-such-table");
    let version = tributary::ports::FileVersion {
        source: "acme-ftp".into(),
        path: "/out/a.csv".into(),
        size: 1,
        mtime: None,
    };
    let err = ledger.get(&version).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");
    assert!(err.to_string().contains("tributary-no-such-table"), "{err}");
}

#[tokio::test]
async fn ledger_racing_leases_have_one_winner() {
    use tributary::ports::{Lease, NewFile};
    let ledger = ledger().await;
    let now: chrono::DateTime<chrono::Utc> = "2024-05-01T07:00:00Z".parse().unwrap();
    let version = tributary::ports::FileVersion {
        source: "acme-ftp".into(),
        path: "/out/race.csv".into(),
        size: 10,
        mtime: Some(now),
    };
    ledger
        .claim(NewFile {
            version: version.clone(),
            tenant: "acme".into(),
            rule: "orders".into(),
            discovered_at: now,
        })
        .await
        .unwrap();
    let lease = chrono::Duration::minutes(5);
    let (a, b) = tokio::join!(
        ledger.take_lease(&version, "ingester-a", lease, now),
        ledger.take_lease(&version, "ingester-b", lease, now)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let taken: Vec<_> = outcomes
        .iter()
        .filter_map(|l| match l {
            Lease::Taken(record) => Some(record.lease_owner.clone().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(taken.len(), 1, "{outcomes:?}");
    let held = outcomes
        .iter()
        .find(|l| matches!(l, Lease::Held { .. }))
        .unwrap();
    assert_eq!(
        held,
        &Lease::Held {
            owner: Some(taken[0].clone()),
            until: Some(now + lease)
        }
    );
    assert_eq!(ledger.get(&version).await.unwrap().unwrap().attempts, 1);
}

// SLA store: the ledger's, in a fresh table per test.

#[tokio::test]
async fn sla_store_checkpoints_only_move_forward() {
    crate::sla_store_checkpoints_only_move_forward(&ledger().await).await;
}

#[tokio::test]
async fn sla_store_opens_a_breach_once() {
    crate::sla_store_opens_a_breach_once(&ledger().await).await;
}

#[tokio::test]
async fn sla_store_resolves_once_and_tracks_notices() {
    crate::sla_store_resolves_once_and_tracks_notices(&ledger().await).await;
}

#[tokio::test]
async fn sla_store_lists_active_breaches_latest_first() {
    crate::sla_store_lists_active_breaches_latest_first(&ledger().await).await;
}

/// Finished breaches leave the GSI (a sparse use of it): the index holds only
/// what the monitor still has to do.
#[tokio::test]
async fn sla_breaches_leave_the_index_once_finished() {
    use tributary::ports::{Breach, BreachState, Notice, Recovery, SlaStore};
    let client = moto().dynamodb().await;
    let table = unique("tributary-ledger");
    DynamoLedger::create_table(&client, &table).await.unwrap();
    let ledger = DynamoLedger::new(client.clone(), &table);
    let deadline: chrono::DateTime<chrono::Utc> = "2026-11-21T06:30:00Z".parse().unwrap();
    let breach = Breach {
        tenant: "acme".into(),
        source: "acme-ftp".into(),
        rule: "orders".into(),
        dataset: "orders".into(),
        timezone: "UTC".into(),
        window_start: deadline - chrono::Duration::days(1),
        expected: deadline - chrono::Duration::minutes(30),
        deadline,
        next_expected: deadline + chrono::Duration::hours(23) + chrono::Duration::minutes(30),
        state: BreachState::Open,
        opened_at: deadline,
        opened_by: "run".into(),
        late_alert: Notice::NotWanted,
        recovery: None,
    };
    ledger.open_breach(&breach).await.unwrap();
    let indexed = || async {
        client
            .scan()
            .table_name(&table)
            .index_name(dynamodb::BY_TENANT_STATE)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|item| item[dynamodb::TENANT_STATE].as_s().unwrap().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(indexed().await, ["sla_active#acme"]);
    let recovery = Recovery {
        source: "acme-ftp".into(),
        path: "/out/orders.csv".into(),
        discovered_at: deadline,
        ingested_at: deadline,
        resolved_at: deadline,
        notice: Notice::NotWanted,
    };
    ledger.resolve("orders", deadline, &recovery).await.unwrap();
    assert!(indexed().await.is_empty());
}

// Registry store: in a fresh ledger table per test.

async fn registry_store() -> DynamoRegistryStore {
    ledger().await.registry_store()
}

#[tokio::test]
async fn registry_store_pushes_and_keeps_versions() {
    crate::registry_store_pushes_and_keeps_versions(&registry_store().await).await;
}

#[tokio::test]
async fn registry_store_refuses_invalid_registries() {
    crate::registry_store_refuses_invalid_registries(&registry_store().await).await;
}

#[tokio::test]
async fn registry_store_refuses_too_large() {
    crate::registry_store_refuses_too_large(
        &registry_store().await,
        dynamodb::MAX_DYNAMO_REGISTRY_BYTES,
    )
    .await;
}

#[tokio::test]
async fn registry_store_concurrent_pushes_never_share_a_version() {
    crate::registry_store_concurrent_pushes_never_share_a_version(&registry_store().await).await;
}

/// The limit is one DynamoDB takes: a registry of exactly that size (padded
/// with a comment) is stored and read back whole.
#[tokio::test]
async fn registry_store_takes_a_registry_right_at_its_limit() {
    use tributary::ports::RegistryStore;
    use tributary::registry::Syntax;
    let store = registry_store().await;
    let limit = dynamodb::MAX_DYNAMO_REGISTRY_BYTES as usize;
    let mut text = crate::REGISTRY_YAML.to_owned();
    text.push('#');
    text.push_str(&"x".repeat(limit - text.len()));
    assert_eq!(text.len(), limit);
    let now = chrono::Utc::now();
    assert_eq!(store.push(Syntax::Yaml, &text, now).await.unwrap(), 1);
    let stored = store.current().await.unwrap().unwrap();
    assert_eq!(stored.text, text);
    stored.load().unwrap();
}

/// A `current` pointer naming a version with no item, or an item of another
/// shape, is reported as a corrupt store, not as "nothing pushed".
#[tokio::test]
async fn registry_store_reports_a_damaged_table_as_corrupt() {
    use tributary::ports::{RegistryStore, RegistryStoreError};
    let client = moto().dynamodb().await;
    let table = unique("tributary-ledger");
    DynamoLedger::create_table(&client, &table).await.unwrap();
    let store = DynamoRegistryStore::new(client.clone(), &table);
    client
        .put_item()
        .table_name(&table)
        .item(dynamodb::PK, AttributeValue::S("registry".into()))
        .item(dynamodb::SK, AttributeValue::S("current".into()))
        .item("version", AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let err = store.current().await.unwrap_err();
    assert!(matches!(err, RegistryStoreError::Corrupt { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(err.to_string().contains("version 7"), "{err}");

    client
        .put_item()
        .table_name(&table)
        .item(dynamodb::PK, AttributeValue::S("registry".into()))
        .item(dynamodb::SK, AttributeValue::S("v#0000000007".into()))
        .item("version", AttributeValue::N("7".into()))
        .item("syntax", AttributeValue::S("toml".into()))
        .item("text", AttributeValue::S("x".into()))
        .item(
            "stored_at",
            AttributeValue::S("2024-05-01T00:00:00Z".into()),
        )
        .send()
        .await
        .unwrap();
    let err = store.get(7).await.unwrap_err();
    assert!(matches!(err, RegistryStoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("toml"), "{err}");

    let missing = DynamoRegistryStore::new(client, "tributary-no-such-table");
    let err = missing.current().await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");
    assert!(err.to_string().contains("tributary-no-such-table"), "{err}");
}

// Job trigger: Glue jobs on moto, whose runs are held `STARTING` so that
// concurrent-run limits apply.

#[tokio::test]
async fn job_trigger_starts_and_refuses_unknown() {
    moto().hold_glue_job_runs(1000);
    let client = moto().glue().await;
    let job = glue_job(&client, 10).await;
    let trigger = GlueJobTrigger::new(client.clone());
    crate::job_trigger_starts_and_refuses_unknown(&trigger, &job, &unique("no-such-job")).await;

    // The arguments reached Glue with the run.
    let args = std::collections::BTreeMap::from([
        ("--bucket".to_owned(), "raw".to_owned()),
        ("--tenant".to_owned(), "acme".to_owned()),
    ]);
    let run = trigger.start(&job, &args).await.unwrap();
    let stored = client
        .get_job_run()
        .job_name(&job)
        .run_id(&run.run_id)
        .send()
        .await
        .unwrap()
        .job_run
        .unwrap();
    assert_eq!(stored.id(), Some(run.run_id.as_str()));
    let arguments = stored.arguments().unwrap();
    assert_eq!(arguments["--bucket"], "raw");
    assert_eq!(arguments["--tenant"], "acme");
}

#[tokio::test]
async fn job_trigger_is_busy_beyond_max_concurrent_runs() {
    moto().hold_glue_job_runs(1000);
    let client = moto().glue().await;
    let job = glue_job(&client, 1).await;
    let trigger = GlueJobTrigger::new(client);
    let args = std::collections::BTreeMap::from([("--key".to_owned(), "raw/x.csv".to_owned())]);
    trigger.start(&job, &args).await.unwrap();
    let err = trigger.start(&job, &args).await.unwrap_err();
    assert!(matches!(err, JobError::Busy { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Transient);
    assert!(err.to_string().contains(&job), "{err}");
}

/// Crawls are held `RUNNING`, so a second start finds the crawler running:
/// `AlreadyRunning` (Glue's `CrawlerRunningException`), not an error.
#[tokio::test]
async fn job_trigger_starts_crawlers() {
    moto().hold_glue_crawls(1000);
    let client = moto().glue().await;
    let crawler = glue_crawler(&client).await;
    let trigger = GlueJobTrigger::new(client.clone());
    crate::job_trigger_starts_crawlers(&trigger, &crawler, &unique("no-such-crawler")).await;
    assert_eq!(
        trigger.start_crawler(&crawler).await.unwrap(),
        CrawlerStart::AlreadyRunning
    );
    let state = client
        .get_crawler()
        .name(&crawler)
        .send()
        .await
        .unwrap()
        .crawler
        .unwrap()
        .state;
    assert_eq!(state, Some(aws_sdk_glue::types::CrawlerState::Running));
}

/// An HTTP endpoint answering every request with `status` and the AWS error
/// `code` (what Glue sends when it throttles, fails or refuses): moto cannot
/// be made to throttle or fail on demand.
async fn failing_endpoint(status: u16, code: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // Read the whole request (head and body) before answering.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let body = format!(r#"{{"__type":"{code}","message":"from the test endpoint"}}"#);
                let answer = format!(
                    "HTTP/1.1 {status} Test\r\nContent-Type: application/x-amz-json-1.1\r\n\
                     x-amzn-errortype: {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    endpoint
}

/// Throttling is `Busy`, a 5xx `Unavailable` (both transient); no permission
/// is `Denied` (misconfigured).
#[tokio::test]
async fn job_trigger_maps_throttling_outages_and_refusals() {
    let args = std::collections::BTreeMap::new();
    for (status, code, expected) in [
        (400, "ThrottlingException", FailureKind::Transient),
        (500, "InternalServiceException", FailureKind::Transient),
        (400, "AccessDeniedException", FailureKind::Misconfigured),
    ] {
        let config = aws_sdk_glue::config::Builder::from(&moto().sdk_config().await)
            .endpoint_url(failing_endpoint(status, code).await)
            .retry_config(aws_sdk_glue::config::retry::RetryConfig::disabled())
            .build();
        let trigger = GlueJobTrigger::new(aws_sdk_glue::Client::from_conf(config));
        let err = trigger.start("catalog", &args).await.unwrap_err();
        match code {
            "ThrottlingException" => assert!(matches!(err, JobError::Busy { .. }), "{err}"),
            "InternalServiceException" => {
                assert!(matches!(err, JobError::Unavailable { .. }), "{err}")
            }
            _ => assert!(matches!(err, JobError::Denied { .. }), "{err}"),
        }
        assert_eq!(err.kind(), expected, "{code}: {err}");
        assert!(err.to_string().contains("catalog"), "{err}");
    }
}

/// The same mapping for crawlers: throttling is `Busy`, a 5xx `Unavailable`,
/// no permission `Denied`.
#[tokio::test]
async fn crawler_start_maps_throttling_outages_and_refusals() {
    for (status, code, expected) in [
        (400, "ThrottlingException", FailureKind::Transient),
        (500, "InternalServiceException", FailureKind::Transient),
        (400, "AccessDeniedException", FailureKind::Misconfigured),
    ] {
        let config = aws_sdk_glue::config::Builder::from(&moto().sdk_config().await)
            .endpoint_url(failing_endpoint(status, code).await)
            .retry_config(aws_sdk_glue::config::retry::RetryConfig::disabled())
            .build();
        let trigger = GlueJobTrigger::new(aws_sdk_glue::Client::from_conf(config));
        let err = trigger.start_crawler("tributary-sales").await.unwrap_err();
        match code {
            "ThrottlingException" => assert!(matches!(err, CrawlerError::Busy { .. }), "{err}"),
            "InternalServiceException" => {
                assert!(matches!(err, CrawlerError::Unavailable { .. }), "{err}")
            }
            _ => assert!(matches!(err, CrawlerError::Denied { .. }), "{err}"),
        }
        assert_eq!(err.kind(), expected, "{code}: {err}");
        assert!(err.to_string().contains("tributary-sales"), "{err}");
    }
}
