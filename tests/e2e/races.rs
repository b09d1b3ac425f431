//! Races the design promises to survive, on the real servers of
//! `world.rs` (pyftpdlib, moto): two pollers at once send each file once; the
//! same message delivered twice, to two ingesters at once, lands the file
//! once; a file replaced on the server between listing and download is never
//! landed under the old version's identity, and its new version lands.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration as StdDuration;

use crate::world::{self, World, orders_csv, setup};
use aws_lambda_events::sqs::SqsEvent;
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::aws::s3::S3ObjectStore;
use tributary::ports::ledger::FileState;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::{Ledger, ObjectStore};

fn registry(port: u16) -> String {
    world::acme_registry(
        port,
        "        max_connections: 4\n",
        r#"
          - id: orders
            match: {glob: "/drop/orders_*"}
            dataset: orders
            format: csv
            required_columns: [id, amount]
"#,
    )
}

fn manual_poll() -> Value {
    json!({"source": "acme-ftp"})
}

async fn poll_now(world: &World) {
    world
        .poller
        .handle(manual_poll(), Instant::now() + StdDuration::from_secs(60))
        .await
        .unwrap();
}

/// The FileDiscovered messages on the ingest queue, by path (drained: they
/// stay hidden for the receive's visibility timeout).
async fn announced(world: &World) -> (Vec<aws_sdk_sqs::types::Message>, HashMap<String, usize>) {
    let messages = world.drain(&world.ingest_url).await;
    let mut by_path = HashMap::new();
    for m in &messages {
        let file = FileDiscovered::decode(m.body().unwrap()).unwrap();
        *by_path.entry(file.path).or_insert(0) += 1;
    }
    (messages, by_path)
}

async fn object_count(world: &World) -> i32 {
    world
        .s3
        .list_objects_v2()
        .bucket(&world.bucket)
        .send()
        .await
        .unwrap()
        .key_count()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pollers_at_once_announce_each_file_once() {
    let files: BTreeMap<&str, Vec<u8>> = (0..24)
        .map(|i| {
            (
                &*Box::leak(format!("orders_{i:02}.csv").into_boxed_str()),
                orders_csv(3),
            )
        })
        .collect();
    let world = setup(registry, files).await;
    // The first look: nothing is stable yet.
    poll_now(&world).await;
    assert_eq!(announced(&world).await.0.len(), 0);
    tokio::time::sleep(StdDuration::from_millis(1100)).await;

    // Two invocations at once, as two Lambda containers would run them.
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let (a, b) = tokio::join!(
        world.poller.handle(manual_poll(), deadline),
        world.poller.handle(manual_poll(), deadline)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let sent = a["sent"].as_u64().unwrap() + b["sent"].as_u64().unwrap();
    assert_eq!(sent, 24, "{a} {b}");
    let (_, by_path) = announced(&world).await;
    assert_eq!(by_path.len(), 24);
    assert!(by_path.values().all(|n| *n == 1), "{by_path:?}");
    // The loser of each claim says so (or did not get that far).
    let lost = a["lost_races"].as_u64().unwrap_or(0) + b["lost_races"].as_u64().unwrap_or(0);
    let known = a["known"].as_u64().unwrap_or(0) + b["known"].as_u64().unwrap_or(0);
    assert_eq!(
        lost + known,
        24,
        "each file was seen taken by the other: {a} {b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_twice_to_two_ingesters_lands_the_file_once() {
    let files = BTreeMap::from([
        ("orders_a.csv", orders_csv(500)),
        ("orders_b.csv", orders_csv(7)),
    ]);
    let world = setup(registry, files).await;
    poll_now(&world).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    poll_now(&world).await;
    let (messages, by_path) = announced(&world).await;
    assert_eq!(by_path.len(), 2);

    // SQS delivers at least once: the same batch reaches two ingesters at once.
    let event = world.sqs_event(&world.ingest_url, &messages).await;
    let first: SqsEvent = serde_json::from_value(event.clone()).unwrap();
    let second: SqsEvent = serde_json::from_value(event).unwrap();
    let (a, b) = tokio::join!(
        world.ingester.handle(first, "request-a"),
        world.ingester.handle(second, "request-b")
    );
    // Whichever lost a lease asks for a retry; nothing failed for good.
    let retried = a.batch_item_failures.len() + b.batch_item_failures.len();
    assert!(retried <= 2, "{a:?} {b:?}");

    assert_eq!(object_count(&world).await, 2, "each file landed once");
    for m in &messages {
        let file = FileDiscovered::decode(m.body().unwrap()).unwrap();
        let record = world.ledger.get(&file.version()).await.unwrap().unwrap();
        assert_eq!(record.state, FileState::Ingested, "{}", file.path);
        assert_eq!(record.attempts, 1, "one lease was taken: {}", file.path);
    }

    // A third delivery, after both finished: a duplicate, nothing changes.
    let again: SqsEvent =
        serde_json::from_value(world.sqs_event(&world.ingest_url, &messages).await).unwrap();
    let response = world.ingester.handle(again, "request-c").await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(object_count(&world).await, 2);
    let store = S3ObjectStore::new(world.s3.clone(), world.bucket.clone());
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_between_listing_and_download_is_a_new_version() {
    let files = BTreeMap::from([("orders_x.csv", orders_csv(3))]);
    let world = setup(registry, files).await;
    poll_now(&world).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    poll_now(&world).await;
    let (messages, _) = announced(&world).await;
    assert_eq!(messages.len(), 1);
    let old = FileDiscovered::decode(messages[0].body().unwrap()).unwrap();

    // The tenant uploads a new version before the ingester gets to it.
    let replacement = orders_csv(40);
    std::fs::write(world.root.join("drop/orders_x.csv"), &replacement).unwrap();

    let event: SqsEvent =
        serde_json::from_value(world.sqs_event(&world.ingest_url, &messages).await).unwrap();
    let response = world.ingester.handle(event, "request-old").await;
    let record = world.ledger.get(&old.version()).await.unwrap().unwrap();
    assert_ne!(
        record.state,
        FileState::Ingested,
        "the old version must not land with the new bytes: {response:?}"
    );
    assert_eq!(object_count(&world).await, 0);

    // The next polls see a new version (new size and mtime) and announce it.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    poll_now(&world).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    poll_now(&world).await;
    let (fresh, _) = announced(&world).await;
    let new = fresh
        .iter()
        .map(|m| FileDiscovered::decode(m.body().unwrap()).unwrap())
        .find(|f| f.size == replacement.len() as u64)
        .expect("the new version is announced");
    assert_ne!(new.version(), old.version());
    let event: SqsEvent =
        serde_json::from_value(world.sqs_event(&world.ingest_url, &fresh).await).unwrap();
    world.ingester.handle(event, "request-new").await;
    let landed = world.ledger.get(&new.version()).await.unwrap().unwrap();
    assert_eq!(landed.state, FileState::Ingested);
    assert_eq!(landed.rows, Some(40));
    let store = S3ObjectStore::new(world.s3.clone(), world.bucket.clone());
    let key = landed.s3_key.unwrap();
    assert_eq!(store.get(&key).await.unwrap().unwrap(), replacement);
}
