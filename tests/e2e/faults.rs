//! Fault injection end to end: the world of `world.rs` (pyftpdlib,
//! moto, the functions built from their environment) with a fault proxy
//! (`fault_proxy.rs`) between the functions and every server. pyftpdlib
//! listens on 127.0.0.2; the proxy listens on 127.0.0.1 on its control port
//! and on each passive port, so control and data connections both cross it.
//! The functions' SDK clients reach moto through an HTTP fault proxy; the
//! test's own clients talk to moto directly.
//!
//! Each scenario breaks one thing and asserts the design's promise: nothing
//! lost, nothing twice. A file ends ingested exactly once (right SHA-256, row
//! count and object) or rejected with its reason; a transient failure leaves
//! the message for another delivery (a batch item failure) with the ledger not
//! `ingested`; no multipart upload is left open. Redelivery is what SQS does
//! once the visibility timeout passes: the test makes failed messages visible
//! again at once.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use crate::fault_proxy::{At, CONTROL, Canned, DATA, Dir, Fault, HttpFault, Match};
use crate::faulty_world::{Faulty, faulty_world};
use crate::world::{self, World, orders_csv};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::Message;
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::failure::FailureKind;
use tributary::ports::Ledger;
use tributary::ports::ledger::{FileRecord, FileState};
use tributary::ports::messages::FileDiscovered;
use tributary_testkit::fixtures::sha256_hex;
use tributary_testkit::moto::moto;

fn registry(port: u16) -> String {
    world::acme_registry(
        port,
        "        connect_timeout_secs: 5\n        data_timeout_secs: 2\n",
        r#"
          - id: orders
            match: {glob: "/drop/orders_*"}
            dataset: orders
            format: csv
            required_columns: [id, amount]
            min_rows: 2
            notify: all
"#,
    )
}

async fn poll_now(world: &World) -> Value {
    world
        .poller
        .handle(
            json!({"source": "acme-ftp"}),
            Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap()
}

/// Two looks 1.1 s apart (files must be unchanged between polls), then the
/// FileDiscovered messages on the ingest queue.
async fn announce(world: &World) -> Vec<Message> {
    poll_now(world).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    poll_now(world).await;
    world.drain(&world.ingest_url).await
}

/// The schedule's fan-out, then the poll-queue message through the poller's
/// handler as Lambda delivers it; returns the ids it asked to retry.
async fn poll_via_queue(world: &World) -> Vec<String> {
    let schedule = world::schedule_event();
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let report = world.poller.handle(schedule, deadline).await.unwrap();
    assert_eq!(report["sent"], json!(["acme-ftp"]), "{report}");
    let messages = world.drain(&world.poll_url).await;
    assert_eq!(messages.len(), 1, "one PollSource message per poll");
    let event = world.sqs_event(&world.poll_url, &messages).await;
    let response = world
        .poller
        .handle(event, Instant::now() + StdDuration::from_secs(120))
        .await
        .unwrap();
    world.settle(&world.poll_url, &messages, &response).await
}

/// The message announcing the file named `name`, and the file.
fn named(messages: &[Message], name: &str) -> (Message, FileDiscovered) {
    let message = messages
        .iter()
        .find(|m| m.body().unwrap().contains(name))
        .cloned()
        .unwrap();
    let file = FileDiscovered::decode(message.body().unwrap()).unwrap();
    (message, file)
}

fn files_of(messages: &[Message]) -> Vec<FileDiscovered> {
    messages
        .iter()
        .map(|m| FileDiscovered::decode(m.body().unwrap()).unwrap())
        .collect()
}

/// One delivery of `messages` to the ingester (invocation `request`), settled
/// as Lambda settles a partial batch response; messages it asked to retry are
/// made visible again (the visibility timeout passing). Returns the response
/// and how long the handler took.
async fn deliver(
    world: &World,
    messages: &[Message],
    request: &str,
) -> (SqsBatchResponse, StdDuration) {
    let event: SqsEvent =
        serde_json::from_value(world.sqs_event(&world.ingest_url, messages).await).unwrap();
    let started = std::time::Instant::now();
    let response = world.ingester.handle(event, request).await;
    let took = started.elapsed();
    let value = serde_json::to_value(&response).unwrap();
    let failed = world.settle(&world.ingest_url, messages, &value).await;
    for m in messages {
        if failed.iter().any(|id| Some(id.as_str()) == m.message_id()) {
            world
                .sqs
                .change_message_visibility()
                .queue_url(&world.ingest_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }
    (response, took)
}

async fn record(world: &World, file: &FileDiscovered) -> FileRecord {
    world.ledger.get(&file.version()).await.unwrap().unwrap()
}

/// The first delivery failed transiently: retried, not ingested, nothing in
/// S3, no upload left, nothing dead-lettered.
async fn assert_transient(world: &World, file: &FileDiscovered, response: &SqsBatchResponse) {
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "a transient failure is a batch item failure: {response:?}"
    );
    let record = record(world, file).await;
    assert_ne!(record.state, FileState::Ingested, "{record:?}");
    assert_eq!(record.state, FileState::Failed, "{record:?}");
    let error = record.error.expect("the failure is recorded");
    assert_eq!(error.kind, FailureKind::Transient, "{error:?}");
    assert!(world.object_keys().await.is_empty(), "nothing is visible");
    assert_eq!(
        world.open_uploads().await,
        Vec::<String>::new(),
        "no upload is left open"
    );
    assert!(world.drain(&world.ingest_dlq).await.is_empty());
}

/// `file` landed exactly once: ledger `ingested` with the right SHA-256 and
/// rows, the only object holding its name has the original bytes, no upload
/// is left open.
async fn assert_landed_once(world: &World, file: &FileDiscovered, original: &[u8], rows: u64) {
    let record = record(world, file).await;
    assert_eq!(record.state, FileState::Ingested, "{record:?}");
    assert_eq!(
        record.sha256.as_deref(),
        Some(sha256_hex(original).as_str())
    );
    assert_eq!(record.rows, Some(rows));
    let key = record.s3_key.clone().unwrap();
    let name = file.path.rsplit('/').next().unwrap();
    let stem = name.split('.').next().unwrap();
    let keys = world.object_keys().await;
    let ours: Vec<&String> = keys.iter().filter(|k| k.contains(stem)).collect();
    assert_eq!(ours, [&key], "one object for {name}: {keys:?}");
    let body = world
        .s3
        .get_object()
        .bucket(&world.bucket)
        .key(&key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(sha256_hex(&body), sha256_hex(original), "{key}");
    assert_eq!(
        world.open_uploads().await,
        Vec::<String>::new(),
        "no upload is left open"
    );
}

/// Every request to moto was read by the proxy (none piped raw past its rules).
fn assert_all_parsed(faulty: &Faulty) {
    assert_eq!(
        faulty.aws.raw_fallbacks(),
        0,
        "every request was parsed: {:?}",
        faulty.aws.raw_heads()
    );
}

/// A data connection fault on the first download, then a clean retry.
async fn ftp_fault_then_retry(fault: Fault, lane: &'static str, max_secs: u64) -> Faulty {
    let original = orders_csv(20_000);
    let faulty = faulty_world(
        registry,
        BTreeMap::from([("orders_big.csv", original.clone())]),
    )
    .await;
    let world = &faulty.world;
    let messages = announce(world).await;
    assert_eq!(messages.len(), 1);
    let file = &files_of(&messages)[0];

    faulty.ftp.on_connection("fault", Some(lane), fault, 1);
    let (response, took) = deliver(world, &messages, "request-1").await;
    assert_eq!(faulty.ftp.injected("fault"), 1, "the fault happened");
    assert!(
        took < StdDuration::from_secs(max_secs),
        "the failure took {took:?}"
    );
    assert_transient(world, file, &response).await;

    // SQS delivers it again: it lands, once.
    let again = world.drain(&world.ingest_url).await;
    assert_eq!(again.len(), 1, "the message is delivered again");
    let (response, _) = deliver(world, &again, "request-2").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file, &original, 20_000).await;
    assert_eq!(record(world, file).await.attempts, 2);
    faulty
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_data_connection_cut_mid_transfer_is_retried_and_lands_once() {
    let cut = Fault::Cut {
        dir: Dir::Down,
        at: At::Bytes(64 * 1024),
    };
    ftp_fault_then_retry(cut, DATA, 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_control_connection_lost_before_226_is_retried_and_lands_once() {
    // Every byte arrives on the data connection; the control connection dies
    // just before the server's 226, so the transfer is never confirmed.
    let cut = Fault::Cut {
        dir: Dir::Down,
        at: At::Pattern(b"226 ".to_vec()),
    };
    ftp_fault_then_retry(cut, CONTROL, 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_stall_past_the_data_timeout_is_retried_and_lands_once() {
    // The source's data_timeout_secs is 2: the download gives up within a
    // few seconds, long before the server would go on.
    let stall = Fault::Stall {
        dir: Dir::Down,
        at: At::Bytes(64 * 1024),
        pause: StdDuration::from_secs(15),
    };
    ftp_fault_then_retry(stall, DATA, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_421_at_login_is_transient_and_retried() {
    let original = orders_csv(50);
    let faulty = faulty_world(
        registry,
        BTreeMap::from([("orders_a.csv", original.clone())]),
    )
    .await;
    let world = &faulty.world;
    let messages = announce(world).await;
    let file = &files_of(&messages)[0];
    let too_many = b"421 Too many users, try again later.\r\n".to_vec();

    // Every connect attempt of the call (3) is refused: transient.
    faulty
        .ftp
        .on_connection("421", Some(CONTROL), Fault::Refuse(too_many.clone()), 3);
    let (response, _) = deliver(world, &messages, "request-1").await;
    assert_eq!(faulty.ftp.injected("421"), 3, "three connect attempts");
    assert_transient(world, file, &response).await;

    // Next delivery: one refusal, and the client's own retry gets in.
    faulty
        .ftp
        .on_connection("421-once", Some(CONTROL), Fault::Refuse(too_many), 1);
    let again = world.drain(&world.ingest_url).await;
    let (response, _) = deliver(world, &again, "request-2").await;
    assert_eq!(faulty.ftp.injected("421-once"), 1);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file, &original, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_slow_down_and_a_failed_completion_land_the_file_once() {
    let (original, rows) = large_csv();
    let faulty = faulty_world(
        registry,
        BTreeMap::from([("orders_large.csv", original.clone())]),
    )
    .await;
    let world = &faulty.world;
    let messages = announce(world).await;
    let file = &files_of(&messages)[0];

    // Two SlowDowns on UploadPart (the SDK's retries absorb them), then
    // CompleteMultipartUpload failing on each of the SDK's three attempts.
    faulty.aws.on_request(
        "upload-part",
        Match::s3_upload_part(),
        HttpFault::Answer(Canned::s3_slow_down()),
        2,
    );
    faulty.aws.on_request(
        "complete",
        Match::s3_complete_upload(),
        HttpFault::Answer(Canned::s3_slow_down()),
        3,
    );
    let (response, _) = deliver(world, &messages, "request-1").await;
    assert_eq!(faulty.aws.injected("upload-part"), 2);
    assert_eq!(faulty.aws.injected("complete"), 3);
    assert_transient(world, file, &response).await;

    let again = world.drain(&world.ingest_url).await;
    let (response, _) = deliver(world, &again, "request-2").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file, &original, rows).await;
    assert_all_parsed(&faulty);
}

/// A CSV larger than one part (8 MiB by default), so it is a multipart
/// upload; returns its bytes and data rows.
fn large_csv() -> (Vec<u8>, u64) {
    let mut rows = 0;
    let mut text = String::from("id,amount\n");
    while text.len() < 9 * 1024 * 1024 {
        text.push_str(&format!("{rows},{}\n", rows * 10));
        rows += 1;
    }
    (text.into_bytes(), rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_completion_answers_land_each_file_once() {
    let (large, rows) = large_csv();
    let mut other = large.clone();
    other.extend_from_slice(b"999999999,1\n");
    let files = BTreeMap::from([
        ("orders_large.csv", large.clone()),
        ("orders_other.csv", other.clone()),
    ]);
    let faulty = faulty_world(registry, files).await;
    let world = &faulty.world;
    let messages = announce(world).await;
    let (first, file_1) = named(&messages, "orders_large.csv");
    let (second, file_2) = named(&messages, "orders_other.csv");
    let (file_1, file_2) = (&file_1, &file_2);

    // S3 completes the upload but its answer is lost once: the SDK's retry
    // of the completion is answered as a success (moto, like S3, accepts
    // completing a completed upload again), and the file lands in that call.
    faulty.aws.on_request(
        "complete-lost",
        Match::s3_complete_upload(),
        HttpFault::ForwardThenAnswer(Canned::s3_slow_down()),
        1,
    );
    let (response, _) = deliver(world, &[first], "request-1").await;
    assert_eq!(faulty.aws.injected("complete-lost"), 1);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file_1, &large, rows).await;

    // Every answer of the call is lost: the object is complete in S3, but the
    // ingester cannot know, so the message is retried and the ledger does
    // not say ingested; the retry lands the file on the same key, once.
    faulty.aws.on_request(
        "complete-lost-3",
        Match::s3_complete_upload(),
        HttpFault::ForwardThenAnswer(Canned::s3_slow_down()),
        3,
    );
    let (response, _) = deliver(world, &[second], "request-2").await;
    assert_eq!(faulty.aws.injected("complete-lost-3"), 3);
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    let failed = record(world, file_2).await;
    assert_eq!(failed.state, FileState::Failed, "{failed:?}");
    assert_eq!(failed.error.unwrap().kind, FailureKind::Transient);
    assert_eq!(
        world.open_uploads().await,
        Vec::<String>::new(),
        "no upload is left open"
    );
    let again = world.drain(&world.ingest_url).await;
    assert_eq!(again.len(), 1);
    let (response, _) = deliver(world, &again, "request-3").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file_2, &other, rows + 1).await;
    assert_eq!(world.object_keys().await.len(), 2);
    assert_all_parsed(&faulty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_during_the_claim_loses_and_doubles_nothing() {
    let files = BTreeMap::from([
        ("orders_a.csv", orders_csv(5)),
        ("orders_b.csv", orders_csv(7)),
    ]);
    let faulty = faulty_world(registry, files.clone()).await;
    let world = &faulty.world;
    poll_now(world).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;

    // The claim (one TransactWriteItems of conditional puts of `discovered`
    // items, for both files) is throttled on every attempt the SDK makes: the
    // poll fails, transient, and its message is left for SQS.
    let claim = || Match::dynamodb("TransactWriteItems").and_body_contains("discovered#");
    faulty.aws.on_request(
        "claim",
        claim(),
        HttpFault::Answer(Canned::dynamodb_throttling()),
        3,
    );
    let failed = poll_via_queue(world).await;
    assert_eq!(faulty.aws.injected("claim"), 3);
    assert_eq!(failed.len(), 1, "the poll is retried");
    assert!(world.drain(&world.ingest_url).await.is_empty());

    // The next poll: throttled twice more, absorbed by the SDK's retries.
    faulty.aws.on_request(
        "claim-again",
        claim(),
        HttpFault::Answer(Canned::dynamodb_throughput_exceeded()),
        2,
    );
    assert!(poll_via_queue(world).await.is_empty());
    assert_eq!(faulty.aws.injected("claim-again"), 2);
    let messages = world.drain(&world.ingest_url).await;
    let mut paths: Vec<String> = files_of(&messages).into_iter().map(|f| f.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/drop/orders_a.csv", "/drop/orders_b.csv"],
        "each once"
    );

    let (response, _) = deliver(world, &messages, "request-1").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    for file in files_of(&messages) {
        let name = file.path.trim_start_matches("/drop/");
        let original = &files[name];
        let rows = if name == "orders_a.csv" { 5 } else { 7 };
        assert_landed_once(world, &file, original, rows).await;
    }
    assert!(poll_via_queue(world).await.is_empty());
    assert!(
        world.drain(&world.ingest_url).await.is_empty(),
        "nothing new"
    );
    assert_all_parsed(&faulty);
}

/// Moves the lease of `file` into the past, as the visibility timeout (960 s,
/// longer than the 905 s lease) would before SQS delivers the message again.
async fn expire_lease(world: &World, file: &FileDiscovered) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let dynamodb = moto().dynamodb().await;
    let table = &world.table;
    let version = file.version();
    let source_and_path = json!([version.source, version.path]);
    let key = std::collections::HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("file#{source_and_path}")),
        ),
        ("sk".to_owned(), AttributeValue::S(version.version_key())),
    ]);
    let mut item = dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut record: Value = serde_json::from_str(item["record"].as_s().unwrap()).unwrap();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    record["lease_until"] = json!(past);
    let rev: u64 = item["rev"].as_n().unwrap().parse().unwrap();
    item.insert("record".into(), AttributeValue::S(record.to_string()));
    item.insert("rev".into(), AttributeValue::N((rev + 1).to_string()));
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_during_the_final_state_change_loses_and_doubles_nothing() {
    let files = BTreeMap::from([
        ("orders_a.csv", orders_csv(5)),
        ("orders_b.csv", orders_csv(7)),
    ]);
    let faulty = faulty_world(registry, files.clone()).await;
    let world = &faulty.world;
    let messages = announce(world).await;
    let (a, file_a) = named(&messages, "orders_a.csv");
    let (b, file_b) = named(&messages, "orders_b.csv");
    let (file_a, file_b) = (&file_a, &file_b);
    let finish = || Match::dynamodb("PutItem").and_body_contains("ingested#");

    // Throttled on the SDK's three attempts once: the ingester's own retry
    // of the final write gets through, in the same call.
    faulty.aws.on_request(
        "finish",
        finish(),
        HttpFault::Answer(Canned::dynamodb_throttling()),
        3,
    );
    let (response, _) = deliver(world, &[a], "request-1").await;
    assert_eq!(faulty.aws.injected("finish"), 3);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file_a, &files["orders_a.csv"], 5).await;

    // Throttled on every try of the call: the object is complete but the
    // ledger could not say so; the message is retried, never dropped.
    faulty.aws.on_request(
        "finish-down",
        finish(),
        HttpFault::Answer(Canned::dynamodb_throttling()),
        9,
    );
    let (response, _) = deliver(world, &[b], "request-2").await;
    assert_eq!(faulty.aws.injected("finish-down"), 9);
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    let held = record(world, file_b).await;
    assert_eq!(held.state, FileState::Ingesting, "{held:?}");

    // Delivered again at once: the lease is still held; nothing is done twice.
    let again = world.drain(&world.ingest_url).await;
    assert_eq!(again.len(), 1);
    let (response, _) = deliver(world, &again, "request-3").await;
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    assert_eq!(record(world, file_b).await.attempts, 1);

    // Once the lease ran out (as it has when SQS's visibility timeout
    // passes), the next delivery lands the file, on the same single object.
    expire_lease(world, file_b).await;
    let last = world.drain(&world.ingest_url).await;
    assert_eq!(last.len(), 1);
    let (response, _) = deliver(world, &last, "request-4").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_landed_once(world, file_b, &files["orders_b.csv"], 7).await;
    assert_eq!(record(world, file_b).await.attempts, 2);
    assert_eq!(world.object_keys().await.len(), 2);
    assert_all_parsed(&faulty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_publish_failing_does_not_stop_files_landing_or_rejecting() {
    let files = BTreeMap::from([
        ("orders_ok.csv", orders_csv(3)),
        ("orders_short.csv", orders_csv(1)),
    ]);
    let faulty = faulty_world(registry, files.clone()).await;
    let world = &faulty.world;
    let messages = announce(world).await;
    assert_eq!(messages.len(), 2);

    faulty.aws.on_request(
        "publish",
        Match::sns_publish(),
        HttpFault::Answer(Canned::sns_internal_error()),
        100,
    );
    let (response, _) = deliver(world, &messages, "request-1").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // Two alerts (one ingested, one rejected), each tried by the SDK three
    // times, then logged as failed: they are not queued for later.
    assert_eq!(faulty.aws.injected("publish"), 6);
    assert!(world.alerts().await.is_empty());

    let by_path = |path: &str| {
        files_of(&messages)
            .into_iter()
            .find(|f| f.path == path)
            .unwrap()
    };
    let ok = by_path("/drop/orders_ok.csv");
    assert_landed_once(world, &ok, &files["orders_ok.csv"], 3).await;
    // The rejected file is still rejected and dead-lettered with its reason,
    // which is what the DLQ alarm shows ops.
    let short = by_path("/drop/orders_short.csv");
    let rejected = record(world, &short).await;
    assert_eq!(rejected.state, FileState::Rejected, "{rejected:?}");
    let dead = world.drain(&world.ingest_dlq).await;
    assert_eq!(dead.len(), 1);
    let attributes = dead[0].message_attributes().unwrap();
    let kind = attributes["error_kind"].string_value().unwrap();
    let reason = attributes["error_reason"].string_value().unwrap();
    assert_eq!(kind, "rejected");
    assert!(reason.contains("min_rows"), "{reason}");

    // A single failure is absorbed by the SDK's retry: the alert arrives.
    faulty.aws.clear();
    faulty.aws.on_request(
        "publish-once",
        Match::sns_publish(),
        HttpFault::Answer(Canned::sns_internal_error()),
        1,
    );
    std::fs::write(world.root.join("drop/orders_late.csv"), orders_csv(4)).unwrap();
    let late = announce(world).await;
    assert_eq!(late.len(), 1);
    let (response, _) = deliver(world, &late, "request-2").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(faulty.aws.injected("publish-once"), 1);
    let alerts = world.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].1.contains("orders_late.csv"), "{alerts:?}");
    assert_all_parsed(&faulty);
}
