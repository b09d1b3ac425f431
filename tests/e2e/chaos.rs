//! The chaos run: a few hundred files of mixed kinds on the FTP
//! server (plain CSV, gzip, bzip2, AES-256-GCM over gzip, some larger than one
//! multipart part, and invalid ones: too few rows, a truncated gzip, a wrong
//! authentication tag), the world of `world.rs` behind the fault proxy of
//! `fault_proxy.rs` (as in `faults.rs`), and faults injected at random with a
//! fixed seed into a random subset of connections and requests: FTP data
//! connections cut or stalled past the data timeout, control connections lost
//! before the `226`, `421` at login, S3 `SlowDown` on `PutObject`,
//! `UploadPart` and `CompleteMultipartUpload` (and completions whose answer
//! is lost), DynamoDB throttling of claims (single or transactions), leases
//! and final state changes (and claims and state changes whose answer is
//! lost), SNS failing (single requests, and whole invocations). A few "doomed" files have every download cut, so
//! they exhaust their receives and end in the dead-letter queue.
//!
//! The pipeline runs until the queues are empty: polls (two looks, for
//! stability), ingest batches of ten, and failed messages delivered again as
//! SQS does once the visibility timeout passes (the lease of a gone ingester
//! has expired by then: the queue's visibility timeout outlasts the lease);
//! the ingester dead-letters a message on its third receive (`maxReceiveCount`
//! 3). Rounds and wall time are bounded.
//!
//! Then the invariants, collected and reported together: each file is exactly
//! one of ingested / rejected / dead-lettered (ledger state and DLQ contents
//! agree); valid files are never rejected and invalid ones never ingested;
//! the S3 objects are exactly the ingested files, each holding the decoded
//! original, with the ledger's SHA-256 of the received bytes and row count
//! (and the lineage metadata of a single put); no multipart upload is left
//! open; every rejected or dead-lettered file has a reason (ledger error, DLQ
//! attributes) and an alert in the topic's inbox, unless SNS failed every
//! attempt of its invocation's publication, in which case the alert was logged
//! and not queued (counted in the tally). The tally is printed (run with
//! `--nocapture` to see it).
//!
//! `TRIBUTARY_CHAOS_SEED` overrides the seed; `TRIBUTARY_CHAOS_LONG=1` runs the
//! longer version (more and bigger files).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use crate::fault_proxy::{At, CONTROL, Canned, DATA, Dir, Fault, HttpFault, Match};
use crate::faulty_world::{Faulty, faulty_world};
use crate::world::{self, DATA_KEY, World};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::ports::Ledger;
use tributary::ports::ledger::{FileRecord, FileState};
use tributary::ports::messages::FileDiscovered;
use tributary_testkit::compress::{Level, bzip2, gzip};
use tributary_testkit::fixtures::sha256_hex;
use tributary_testkit::moto::moto;

/// The seed when `TRIBUTARY_CHAOS_SEED` is not set.
const DEFAULT_SEED: u64 = 0x7121_b07a_2026;

/// Messages per ingester invocation (the event source mapping's batch size).
const BATCH: i32 = 10;

/// The queues' `maxReceiveCount` (world.rs).
const MAX_RECEIVES: u32 = 3;

fn registry(port: u16) -> String {
    world::acme_registry(
        port,
        "        connect_timeout_secs: 5\n        data_timeout_secs: 2\n",
        r#"
          - id: secure-orders
            match: {glob: "/drop/secure_*"}
            dataset: orders
            format: csv
            header: true
            key: {secrets_manager: tributary/acme/orders-key}
            required_columns: [id, amount]
            min_rows: 2
            notify: failures
          - id: orders
            match: {glob: "/drop/orders_*"}
            dataset: orders
            format: csv
            header: true
            required_columns: [id, amount]
            min_rows: 2
            notify: failures
"#,
    )
}

/// xorshift64* seeded through splitmix64: small, deterministic, good enough.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A coin shared by the proxy's rules (its draws follow the order in which
/// connections and requests arrive).
type Coin = Arc<Mutex<Rng>>;

fn flip(coin: &Coin, p: f64) -> impl Fn() -> bool + Send + Sync + 'static {
    let coin = Arc::clone(coin);
    move || coin.lock().unwrap_or_else(|e| e.into_inner()).chance(p)
}

/// How big the run is.
#[derive(Debug, Clone)]
struct Size {
    plain: usize,
    gzip: usize,
    bzip2: usize,
    aes_gzip: usize,
    short: usize,
    truncated: usize,
    wrong_tag: usize,
    doomed: usize,
    big: usize,
    /// Decoded size of the big files, MiB (parts are 8 MiB).
    big_mib: (u64, u64),
    /// The run must converge within this.
    wall: StdDuration,
}

impl Size {
    fn short() -> Self {
        Size {
            plain: 70,
            gzip: 45,
            bzip2: 35,
            aes_gzip: 30,
            short: 8,
            truncated: 6,
            wrong_tag: 6,
            doomed: 4,
            big: 3,
            big_mib: (9, 10),
            wall: StdDuration::from_secs(300),
        }
    }

    fn long() -> Self {
        Size {
            plain: 250,
            gzip: 150,
            bzip2: 100,
            aes_gzip: 100,
            short: 20,
            truncated: 15,
            wrong_tag: 15,
            doomed: 10,
            big: 10,
            big_mib: (9, 20),
            wall: StdDuration::from_secs(1500),
        }
    }
}

/// What a file is, and so what it may become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Plain,
    Gzip,
    Bzip2,
    AesGzip,
    Big,
    /// Too few rows for `min_rows`.
    Short,
    /// A gzip cut in half (as stored on the server).
    Truncated,
    /// AES-GCM whose tag does not authenticate.
    WrongTag,
    /// Valid, but every download of it is cut: it exhausts its receives.
    Doomed,
}

impl Kind {
    fn valid(self) -> bool {
        !matches!(self, Kind::Short | Kind::Truncated | Kind::WrongTag)
    }
}

/// One file of the drop folder.
struct Planned {
    name: String,
    kind: Kind,
    /// As stored on the server (as received).
    stored: Vec<u8>,
    /// SHA-256 of the decoded bytes (what the object must hold).
    decoded_sha256: String,
    decoded_len: usize,
    rows: u64,
}

impl Planned {
    fn path(&self) -> String {
        format!("/drop/{}", self.name)
    }
}

fn csv(rng: &mut Rng, rows: u64) -> Vec<u8> {
    let mut text = String::from("id,amount\n");
    for i in 0..rows {
        text.push_str(&format!("{i},{}\n", rng.range(0, 1_000_000)));
    }
    text.into_bytes()
}

/// A CSV of at least `bytes` bytes; returns it and its data rows.
fn big_csv(rng: &mut Rng, bytes: u64) -> (Vec<u8>, u64) {
    let mut text = String::from("id,amount\n");
    let mut rows = 0;
    while (text.len() as u64) < bytes {
        text.push_str(&format!("{rows},{}\n", rng.range(0, 1_000_000_000)));
        rows += 1;
    }
    (text.into_bytes(), rows)
}

/// Whole-file AES-256-GCM: nonce ‖ ciphertext ‖ tag.
fn aes_gcm(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(&DATA_KEY).unwrap();
    let mut nonce = [0u8; 12];
    for b in &mut nonce {
        *b = rng.next_u64() as u8;
    }
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(&Nonce::from(nonce), data).unwrap());
    out
}

/// The drop folder, in a seeded random order of kinds (numbered names, so no
/// name is a prefix of another).
fn plan_files(rng: &mut Rng, size: &Size) -> Vec<Planned> {
    let mut kinds = Vec::new();
    for (kind, n) in [
        (Kind::Plain, size.plain),
        (Kind::Gzip, size.gzip),
        (Kind::Bzip2, size.bzip2),
        (Kind::AesGzip, size.aes_gzip),
        (Kind::Big, size.big),
        (Kind::Short, size.short),
        (Kind::Truncated, size.truncated),
        (Kind::WrongTag, size.wrong_tag),
        (Kind::Doomed, size.doomed),
    ] {
        kinds.extend(std::iter::repeat_n(kind, n));
    }
    for i in (1..kinds.len()).rev() {
        let j = rng.range(0, i as u64) as usize;
        kinds.swap(i, j);
    }
    let mut big_seen = 0;
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            let rows = rng.range(2, 400);
            let (name, decoded, rows, stored) = match kind {
                Kind::Plain => {
                    let data = csv(rng, rows);
                    (format!("orders_plain_{i:04}.csv"), data.clone(), rows, data)
                }
                Kind::Gzip => {
                    let data = csv(rng, rows);
                    let stored = gzip(&data, Level::Fast);
                    (format!("orders_gz_{i:04}.csv.gz"), data, rows, stored)
                }
                Kind::Bzip2 => {
                    let data = csv(rng, rows);
                    let stored = bzip2(&data, Level::Fast);
                    (format!("orders_bz_{i:04}.csv.bz2"), data, rows, stored)
                }
                Kind::AesGzip => {
                    let data = csv(rng, rows);
                    let stored = aes_gcm(rng, &gzip(&data, Level::Fast));
                    (
                        format!("secure_gzaes_{i:04}.csv.gz.aes"),
                        data,
                        rows,
                        stored,
                    )
                }
                Kind::Big => {
                    let mib = rng.range(size.big_mib.0, size.big_mib.1);
                    let bytes = mib * 1024 * 1024 + rng.range(0, 512 * 1024);
                    let (data, rows) = big_csv(rng, bytes);
                    big_seen += 1;
                    match big_seen % 3 {
                        1 => (format!("orders_big_{i:04}.csv"), data.clone(), rows, data),
                        2 => {
                            let stored = gzip(&data, Level::Fast);
                            (format!("orders_biggz_{i:04}.csv.gz"), data, rows, stored)
                        }
                        _ => {
                            let stored = aes_gcm(rng, &gzip(&data, Level::Fast));
                            (
                                format!("secure_bigaes_{i:04}.csv.gz.aes"),
                                data,
                                rows,
                                stored,
                            )
                        }
                    }
                }
                Kind::Short => {
                    let data = csv(rng, 1);
                    (format!("orders_short_{i:04}.csv"), data.clone(), 1, data)
                }
                Kind::Truncated => {
                    let data = csv(rng, rows.max(50));
                    let mut stored = gzip(&data, Level::Fast);
                    stored.truncate(stored.len() / 2);
                    (format!("orders_trunc_{i:04}.csv.gz"), data, rows, stored)
                }
                Kind::WrongTag => {
                    let data = csv(rng, rows);
                    let mut stored = aes_gcm(rng, &gzip(&data, Level::Fast));
                    let last = stored.len() - 1;
                    stored[last] ^= 0x5a;
                    (
                        format!("secure_badtag_{i:04}.csv.gz.aes"),
                        data,
                        rows,
                        stored,
                    )
                }
                Kind::Doomed => {
                    let data = csv(rng, rows);
                    (
                        format!("orders_doomed_{i:04}.csv"),
                        data.clone(),
                        rows,
                        data,
                    )
                }
            };
            Planned {
                name,
                kind,
                decoded_sha256: sha256_hex(&decoded),
                decoded_len: decoded.len(),
                rows,
                stored,
            }
        })
        .collect()
}

/// The fault kinds, as counted by the proxy (rule names).
const SNS_KINDS: [&str; 2] = ["sns_error", "sns_outage"];

/// Arms the random rules: each new connection or request that a rule could
/// apply to gets its fault with the rule's probability (one seeded coin for
/// all). `sns_down` turns SNS off for as long as it is set.
fn arm_random_faults(faulty: &Faulty, coin: &Coin, sns_down: &Arc<AtomicBool>) {
    let ftp = &faulty.ftp;
    let forever = u32::MAX;
    ftp.on_connection_when(
        "ftp_421",
        Some(CONTROL),
        Fault::Refuse(b"421 Too many users, try again later.\r\n".to_vec()),
        forever,
        flip(coin, 0.3),
    );
    ftp.on_connection_when(
        "ftp_control_cut_before_226",
        Some(CONTROL),
        Fault::Cut {
            dir: Dir::Down,
            at: At::Pattern(b"226 ".to_vec()),
        },
        forever,
        flip(coin, 0.2),
    );
    // Doomed files: every RETR of them loses its control connection (after
    // the random rules, which a connection may get instead).
    ftp.on_connection(
        "ftp_doomed_cut",
        Some(CONTROL),
        Fault::Cut {
            dir: Dir::Up,
            at: At::Pattern(b"RETR /drop/orders_doomed_".to_vec()),
        },
        forever,
    );
    for (at, p) in [(200, 0.05), (3000, 0.03), (256 * 1024, 0.05)] {
        ftp.on_connection_when(
            "ftp_data_cut",
            Some(DATA),
            Fault::Cut {
                dir: Dir::Down,
                at: At::Bytes(at),
            },
            forever,
            flip(coin, p),
        );
    }
    // Past the source's data_timeout_secs (2).
    ftp.on_connection_when(
        "ftp_data_stall",
        Some(DATA),
        Fault::Stall {
            dir: Dir::Down,
            at: At::Bytes(100),
            pause: StdDuration::from_secs(4),
        },
        forever,
        flip(coin, 0.02),
    );

    let aws = &faulty.aws;
    let when = |matcher: Match, p: f64| {
        let f = flip(coin, p);
        Match::new(move |r| matcher.accepts(r) && f())
    };
    let single_put = Match::new(|r| {
        r.method == "PUT"
            && !r.query_has("partNumber")
            && !r.query_has("uploadId")
            && r.header("x-amz-copy-source").is_none()
    });
    aws.on_request(
        "s3_slowdown_put",
        when(single_put, 0.04),
        HttpFault::Answer(Canned::s3_slow_down()),
        forever,
    );
    aws.on_request(
        "s3_slowdown_upload_part",
        when(Match::s3_upload_part(), 0.2),
        HttpFault::Answer(Canned::s3_slow_down()),
        forever,
    );
    aws.on_request(
        "s3_complete_answer_lost",
        when(Match::s3_complete_upload(), 0.15),
        HttpFault::ForwardThenAnswer(Canned::s3_slow_down()),
        forever,
    );
    aws.on_request(
        "s3_slowdown_complete",
        when(Match::s3_complete_upload(), 0.25),
        HttpFault::Answer(Canned::s3_slow_down()),
        forever,
    );
    // Claims: a conditional PutItem each, or up to a hundred in one
    // TransactWriteItems (the poller's batched claims).
    let claim = || {
        Match::new(|r| {
            matches!(
                r.header("x-amz-target"),
                Some("DynamoDB_20120810.PutItem" | "DynamoDB_20120810.TransactWriteItems")
            ) && r.body_contains("discovered#")
        })
    };
    aws.on_request(
        "ddb_claim_answer_lost",
        when(claim(), 0.05),
        HttpFault::ForwardThenAnswer(Canned::dynamodb_throttling()),
        forever,
    );
    aws.on_request(
        "ddb_throttle_claim",
        when(claim(), 0.1),
        HttpFault::Answer(Canned::dynamodb_throttling()),
        forever,
    );
    aws.on_request(
        "ddb_throttle_lease",
        when(
            Match::dynamodb("PutItem").and_body_contains("ingesting#"),
            0.05,
        ),
        HttpFault::Answer(Canned::dynamodb_throughput_exceeded()),
        forever,
    );
    let finish = || {
        Match::new(|r| {
            r.header("x-amz-target") == Some("DynamoDB_20120810.PutItem")
                && (r.body_contains("ingested#")
                    || r.body_contains("rejected#")
                    || r.body_contains("failed#"))
        })
    };
    aws.on_request(
        "ddb_finish_answer_lost",
        when(finish(), 0.03),
        HttpFault::ForwardThenAnswer(Canned::dynamodb_throttling()),
        forever,
    );
    aws.on_request(
        "ddb_throttle_finish",
        when(finish(), 0.08),
        HttpFault::Answer(Canned::dynamodb_throttling()),
        forever,
    );
    let down = Arc::clone(sns_down);
    let publish = Match::sns_publish();
    aws.on_request(
        "sns_outage",
        Match::new(move |r| down.load(Ordering::SeqCst) && publish.accepts(r)),
        HttpFault::Answer(Canned::sns_internal_error()),
        forever,
    );
    aws.on_request(
        "sns_error",
        when(Match::sns_publish(), 0.1),
        HttpFault::Answer(Canned::sns_internal_error()),
        forever,
    );
}

/// The proxies' counts of injected faults, by kind.
fn injected(faulty: &Faulty) -> BTreeMap<String, u32> {
    let mut all = faulty.ftp.injected_counts();
    all.extend(faulty.aws.injected_counts());
    all
}

fn sns_faults(faulty: &Faulty) -> u32 {
    SNS_KINDS.iter().map(|k| faulty.aws.injected(k)).sum()
}

/// One poll of the source, as the poll queue's message would run it.
async fn poll(world: &World) -> Result<Value, String> {
    world
        .poller
        .handle(
            json!({"source": "acme-ftp"}),
            Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Up to one batch of visible ingest messages, with their attributes.
async fn receive_batch(world: &World) -> Vec<Message> {
    world
        .sqs
        .receive_message()
        .queue_url(&world.ingest_url)
        .max_number_of_messages(BATCH)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .visibility_timeout(120)
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec()
}

/// Messages on `url`, visible or in flight.
async fn queue_depth(world: &World, url: &str) -> u64 {
    let attributes = world
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    attributes
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

/// Moves the lease of `version` into the past, as it is when SQS delivers a
/// message again: the visibility timeout (960 s) outlasts the lease (905 s).
/// The test's own client writes straight to moto.
async fn expire_lease(world: &World, version: &tributary::ports::FileVersion) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let dynamodb = moto().dynamodb().await;
    let source_and_path = json!([version.source, version.path]);
    let key = HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("file#{source_and_path}")),
        ),
        ("sk".to_owned(), AttributeValue::S(version.version_key())),
    ]);
    let Some(mut item) = dynamodb
        .get_item()
        .table_name(&world.table)
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
    else {
        return;
    };
    let mut record: Value = serde_json::from_str(item["record"].as_s().unwrap()).unwrap();
    record["lease_until"] = json!(chrono::Utc::now() - chrono::Duration::seconds(1));
    let rev: u64 = item["rev"].as_n().unwrap().parse().unwrap();
    item.insert("record".into(), AttributeValue::S(record.to_string()));
    item.insert("rev".into(), AttributeValue::N((rev + 1).to_string()));
    dynamodb
        .put_item()
        .table_name(&world.table)
        .set_item(Some(item))
        .condition_expression("#rev = :rev")
        .expression_attribute_names("#rev", "rev")
        .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
        .send()
        .await
        .unwrap();
}

/// What the run saw of each delivery.
#[derive(Debug, Default)]
struct Deliveries {
    count: u32,
    /// Items asked to retry.
    retried: u32,
    /// Deliveries with SNS off for the whole invocation.
    sns_outages: u32,
    /// Path → (delivery number, SNS faults injected during it) of the
    /// delivery that settled the file's message (not retried).
    settled: HashMap<String, (u32, u32)>,
    /// Messages settled more than once (a duplicate delivery).
    settled_twice: Vec<String>,
    /// Leases found held at a redelivery and expired.
    leases_expired: u32,
}

/// One ingester invocation for `messages`, settled as Lambda settles a
/// partial batch response; retried messages become visible again at once
/// (the visibility timeout passing), with a held lease expired as it would be.
async fn deliver(
    faulty: &Faulty,
    messages: &[Message],
    sns_down: &AtomicBool,
    outage: bool,
    log: &mut Deliveries,
) {
    let world = &faulty.world;
    log.count += 1;
    let number = log.count;
    let event: SqsEvent =
        serde_json::from_value(world.sqs_event(&world.ingest_url, messages).await).unwrap();
    let sns_before = sns_faults(faulty);
    sns_down.store(outage, Ordering::SeqCst);
    let response = world
        .ingester
        .handle(event, &format!("chaos-{number}"))
        .await;
    sns_down.store(false, Ordering::SeqCst);
    if outage {
        log.sns_outages += 1;
    }
    let sns_during = sns_faults(faulty) - sns_before;
    let value = serde_json::to_value(&response).unwrap();
    let failed = world.settle(&world.ingest_url, messages, &value).await;
    for m in messages {
        let file = FileDiscovered::decode(m.body().unwrap()).unwrap();
        if failed.iter().any(|id| Some(id.as_str()) == m.message_id()) {
            log.retried += 1;
            let record = world.ledger.get(&file.version()).await.unwrap();
            if let Some(record) = record
                && record.state == FileState::Ingesting
                && record.lease_until.is_some_and(|t| t > chrono::Utc::now())
            {
                expire_lease(world, &file.version()).await;
                log.leases_expired += 1;
            }
            world
                .sqs
                .change_message_visibility()
                .queue_url(&world.ingest_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        } else if log
            .settled
            .insert(file.path.clone(), (number, sns_during))
            .is_some()
        {
            log.settled_twice.push(file.path.clone());
        }
    }
}

/// Every ledger item of the tenant, by path (several versions of one path
/// would be a file twice).
async fn ledger_items(world: &World) -> BTreeMap<String, Vec<FileRecord>> {
    let mut by_path: BTreeMap<String, Vec<FileRecord>> = BTreeMap::new();
    for state in [
        FileState::Discovered,
        FileState::Ingesting,
        FileState::Ingested,
        FileState::Rejected,
        FileState::Failed,
    ] {
        for record in world.ledger.by_state("acme", state, 100_000).await.unwrap() {
            by_path
                .entry(record.version.path.clone())
                .or_default()
                .push(record);
        }
    }
    by_path
}

/// What became of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Ingested,
    Rejected,
    DeadLettered,
}

/// A dead-lettered message's reason.
#[derive(Debug, Clone)]
struct DeadLetter {
    kind: String,
    reason: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_run_loses_nothing_and_lands_nothing_twice() {
    let started = std::time::Instant::now();
    let seed = std::env::var("TRIBUTARY_CHAOS_SEED")
        .ok()
        .map(|s| {
            let s = s.trim();
            s.strip_prefix("0x")
                .map_or_else(|| s.parse(), |hex| u64::from_str_radix(hex, 16))
                .unwrap_or_else(|e| panic!("TRIBUTARY_CHAOS_SEED={s:?}: {e}"))
        })
        .unwrap_or(DEFAULT_SEED);
    let long = std::env::var("TRIBUTARY_CHAOS_LONG").is_ok_and(|v| v == "1");
    let size = if long { Size::long() } else { Size::short() };
    println!(
        "chaos seed={seed} ({}; TRIBUTARY_CHAOS_SEED={seed} repeats it)",
        if long { "long" } else { "short" }
    );

    let mut rng = Rng::new(seed);
    let planned = plan_files(&mut rng, &size);
    let by_path: BTreeMap<String, &Planned> = planned.iter().map(|p| (p.path(), p)).collect();
    let stored_bytes: usize = planned.iter().map(|p| p.stored.len()).sum();
    println!(
        "chaos: {} files, {:.1} MiB stored, made in {:.1?}",
        planned.len(),
        stored_bytes as f64 / (1024.0 * 1024.0),
        started.elapsed()
    );
    let files: BTreeMap<&str, Vec<u8>> = planned
        .iter()
        .map(|p| (p.name.as_str(), p.stored.clone()))
        .collect();
    let faulty = faulty_world(registry, files).await;
    let world = &faulty.world;
    let coin: Coin = Arc::new(Mutex::new(Rng::new(seed ^ 0xc4a0_5c4a_05c4_a05c)));
    let sns_down = Arc::new(AtomicBool::new(false));
    arm_random_faults(&faulty, &coin, &sns_down);

    // The pipeline, until every file has an item and the queue is empty.
    let deadline = std::time::Instant::now() + size.wall;
    let mut log = Deliveries::default();
    let (mut polls, mut failed_polls, mut rounds) = (0u32, 0u32, 0u32);
    let max_rounds = 30;
    let max_deliveries = (planned.len() as u32) * MAX_RECEIVES + 100;
    let mut converged = false;
    while rounds < max_rounds && std::time::Instant::now() < deadline {
        rounds += 1;
        // Two looks, a little more than TRIBUTARY_MIN_UNCHANGED_SECS apart.
        for look in 0..2 {
            if look > 0 {
                tokio::time::sleep(StdDuration::from_millis(1100)).await;
            }
            polls += 1;
            if let Err(error) = poll(world).await {
                failed_polls += 1;
                eprintln!("chaos: poll {polls} failed: {error}");
            }
        }
        while log.count < max_deliveries && std::time::Instant::now() < deadline {
            let messages = receive_batch(world).await;
            if messages.is_empty() {
                break;
            }
            let outage = rng.chance(0.1);
            deliver(&faulty, &messages, &sns_down, outage, &mut log).await;
        }
        let items = ledger_items(world).await;
        let depth = queue_depth(world, &world.ingest_url).await;
        eprintln!(
            "chaos: round {rounds} after {:.1?}: {} of {} files in the ledger, {} deliveries, ingest queue {depth}",
            started.elapsed(),
            items.len(),
            planned.len(),
            log.count
        );
        if depth == 0 && by_path.keys().all(|p| items.contains_key(p)) {
            converged = true;
            break;
        }
    }
    let run_time = started.elapsed();

    // The invariants: collect every violation, then report them together.
    let mut violations: Vec<String> = Vec::new();
    if !converged {
        violations.push(format!(
            "did not converge within {rounds} rounds / {:?}",
            size.wall
        ));
    }
    let items = ledger_items(world).await;
    let keys = world.object_keys().await;
    let uploads = world.open_uploads().await;
    if !uploads.is_empty() {
        violations.push(format!("multipart uploads left open: {uploads:?}"));
    }
    let ingest_depth = queue_depth(world, &world.ingest_url).await;
    if ingest_depth != 0 {
        violations.push(format!("{ingest_depth} messages left on the ingest queue"));
    }
    let mut dead: HashMap<String, Vec<DeadLetter>> = HashMap::new();
    for m in world.drain(&world.ingest_dlq).await {
        let file = FileDiscovered::decode(m.body().unwrap()).unwrap();
        let attribute = |name: &str| {
            m.message_attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned()
        };
        dead.entry(file.path).or_default().push(DeadLetter {
            kind: attribute("error_kind"),
            reason: attribute("error_reason"),
        });
    }
    let alerts: Vec<(String, String, String)> = world.alerts().await;
    for path in items.keys() {
        if !by_path.contains_key(path) {
            violations.push(format!("a ledger item for no file of the run: {path}"));
        }
    }
    for path in dead.keys() {
        if !by_path.contains_key(path) {
            violations.push(format!("a dead letter for no file of the run: {path}"));
        }
    }
    for path in &log.settled_twice {
        violations.push(format!("{path}: its message was settled twice"));
    }

    let mut fates: BTreeMap<Fate, u32> = BTreeMap::new();
    let mut fates_by_kind: BTreeMap<(Kind, Fate), u32> = BTreeMap::new();
    let mut ingested_keys: BTreeSet<String> = BTreeSet::new();
    let (mut alerted, mut alerts_lost_to_sns) = (0u32, 0u32);
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    for (path, file) in &by_path {
        let Some(records) = items.get(path) else {
            violations.push(format!(
                "{path}: lost (no ledger item: never claimed or its claim vanished)"
            ));
            continue;
        };
        if records.len() != 1 {
            violations.push(format!(
                "{path}: {} ledger items for one file: {records:?}",
                records.len()
            ));
        }
        let record = &records[0];
        let dead_letters = dead.get(path).map(Vec::as_slice).unwrap_or_default();
        if dead_letters.len() > 1 {
            violations.push(format!(
                "{path}: dead-lettered {} times: {dead_letters:?}",
                dead_letters.len()
            ));
        }
        let stem = file.name.split('.').next().unwrap();
        // A rejected file's report lives under quarantine/, beside the lake:
        // it is not an object of the raw layer.
        let (reports, objects): (Vec<&String>, Vec<&String>) = keys
            .iter()
            .filter(|k| k.rsplit('/').next().is_some_and(|n| n.starts_with(stem)))
            .partition(|k| k.starts_with("quarantine/"));
        let fate = match (record.state, dead_letters.first()) {
            (FileState::Ingested, None) => Fate::Ingested,
            (FileState::Rejected, Some(d)) if d.kind == "rejected" => Fate::Rejected,
            (FileState::Failed | FileState::Ingesting | FileState::Discovered, Some(d))
                if d.kind != "rejected" =>
            {
                Fate::DeadLettered
            }
            (state, d) => {
                violations.push(format!(
                    "{path}: ledger {state:?} and dead letter {d:?} disagree: {record:?}"
                ));
                continue;
            }
        };
        *fates.entry(fate).or_default() += 1;
        *fates_by_kind.entry((file.kind, fate)).or_default() += 1;
        let expected = match file.kind {
            Kind::Doomed => fate == Fate::DeadLettered,
            kind if kind.valid() => fate != Fate::Rejected,
            _ => fate != Fate::Ingested,
        };
        if !expected {
            violations.push(format!(
                "{path}: a {:?} file ended {fate:?}: {record:?} {dead_letters:?}",
                file.kind
            ));
        }
        match fate {
            Fate::Ingested => {
                let key = record.s3_key.clone().unwrap_or_default();
                if !reports.is_empty() {
                    violations.push(format!("{path}: ingested, but reports exist: {reports:?}"));
                }
                if objects != [&key] {
                    violations.push(format!(
                        "{path}: ingested at {key:?}, objects of its name: {objects:?}"
                    ));
                }
                ingested_keys.insert(key.clone());
                if record.sha256.as_deref() != Some(sha256_hex(&file.stored).as_str()) {
                    violations.push(format!(
                        "{path}: ledger sha256 {:?} is not that of the received bytes",
                        record.sha256
                    ));
                }
                if record.rows != Some(file.rows) {
                    violations.push(format!(
                        "{path}: ledger rows {:?}, expected {}",
                        record.rows, file.rows
                    ));
                }
                let object = world
                    .s3
                    .get_object()
                    .bucket(&world.bucket)
                    .key(&key)
                    .send()
                    .await;
                let Ok(object) = object else {
                    violations.push(format!("{path}: cannot read {key}: {object:?}"));
                    continue;
                };
                let metadata = object.metadata().cloned().unwrap_or_default();
                let body = object.body.collect().await.unwrap().into_bytes();
                if body.len() != file.decoded_len || sha256_hex(&body) != file.decoded_sha256 {
                    violations.push(format!(
                        "{path}: the object {key} ({} bytes) is not the decoded original ({} bytes)",
                        body.len(),
                        file.decoded_len
                    ));
                }
                if metadata.get("source-path") != Some(path) {
                    violations.push(format!("{path}: lineage source-path {metadata:?}"));
                }
                // A single put carries the figures; a multipart upload only
                // what was known when it started (upload.rs).
                if let Some(sha) = metadata.get("sha256")
                    && *sha != sha256_hex(&file.stored)
                {
                    violations.push(format!("{path}: lineage sha256 {sha} is wrong"));
                }
                if let Some(rows) = metadata.get("rows")
                    && *rows != file.rows.to_string()
                {
                    violations.push(format!("{path}: lineage rows {rows} is wrong"));
                }
                if file.decoded_len < 8 * 1024 * 1024 && !metadata.contains_key("sha256") {
                    violations.push(format!("{path}: a single put without lineage sha256"));
                }
            }
            Fate::Rejected | Fate::DeadLettered => {
                if !objects.is_empty() {
                    violations.push(format!(
                        "{path}: {fate:?} but objects of its name exist: {objects:?} ({record:?})"
                    ));
                }
                // Every rejection has its report, named by the ledger. (A
                // dead-lettered file may have one from a rejection whose
                // ledger write failed, retried until its last receive.)
                if fate == Fate::Rejected
                    && (record.report_key.is_none()
                        || reports != record.report_key.iter().collect::<Vec<_>>())
                {
                    violations.push(format!(
                        "{path}: rejected with report {:?}, reports found {reports:?}",
                        record.report_key
                    ));
                }
                let d = &dead_letters[0];
                if d.reason.trim().is_empty() {
                    violations.push(format!("{path}: dead letter without a reason: {d:?}"));
                }
                let reason_head: String = d.reason.chars().take(60).collect();
                *reasons
                    .entry(format!("{:?}/{}: {reason_head}", file.kind, d.kind))
                    .or_default() += 1;
                let ledger_reason = record.error.as_ref().map(|e| e.reason.clone());
                if record.state != FileState::Ingesting
                    && ledger_reason.as_deref().is_none_or(|r| r.trim().is_empty())
                {
                    violations.push(format!("{path}: ledger has no reason: {record:?}"));
                }
                if file.kind == Kind::Short
                    && fate == Fate::Rejected
                    && !d.reason.contains("min_rows")
                {
                    violations.push(format!("{path}: short file rejected for {:?}", d.reason));
                }
                let needle = match fate {
                    Fate::Rejected => format!("acme: rejected {path}"),
                    _ => format!("failure on {path}"),
                };
                // A single alert's subject, or a line of a digest's listing.
                let line = format!("{needle}\n");
                let found = alerts
                    .iter()
                    .any(|(_, subject, body)| subject.ends_with(&needle) || body.contains(&line));
                let settled = log.settled.get(path).copied();
                if found {
                    alerted += 1;
                } else if let Some((_, sns)) = settled
                    && sns >= 3
                {
                    // SNS failed each of the SDK's three attempts at (at
                    // least) one publication of that invocation: the ingester
                    // logged the alert (digest.rs `flush`), nothing queued it.
                    alerts_lost_to_sns += 1;
                } else {
                    violations.push(format!(
                        "{path}: {fate:?} without an alert (settled by delivery {settled:?}, \
                         (number, SNS faults during it))"
                    ));
                }
            }
        }
    }
    // Every object of the raw layer is an ingested file's; every report under
    // quarantine/ is a file's that was not ingested (checked above per file).
    for key in keys.iter().filter(|k| !k.starts_with("quarantine/")) {
        if !ingested_keys.contains(key) {
            violations.push(format!("an object that is no ingested file's: {key}"));
        }
    }

    let count = |f: Fate| fates.get(&f).copied().unwrap_or(0);
    let faults = injected(&faulty);
    let total_faults: u32 = faults.values().sum();
    let faults_text = faults
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "chaos seed={seed}: files={} ingested={} rejected={} dead-lettered={} \
         alerts: queued={alerted} lost-to-sns(logged)={alerts_lost_to_sns}",
        planned.len(),
        count(Fate::Ingested),
        count(Fate::Rejected),
        count(Fate::DeadLettered),
    );
    println!("chaos faults injected ({total_faults}): {faults_text}");
    println!(
        "chaos run: {rounds} rounds, {polls} polls ({failed_polls} failed), {} deliveries \
         ({} items retried, {} leases expired at redelivery, {} with SNS down), \
         {} objects, {} alerts in the inbox, wall {:.1?}",
        log.count,
        log.retried,
        log.leases_expired,
        log.sns_outages,
        keys.len(),
        alerts.len(),
        run_time
    );
    println!("chaos fates by kind: {fates_by_kind:?}");
    for (reason, n) in &reasons {
        println!("chaos reason x{n}: {reason}");
    }
    assert!(
        faulty.aws.raw_fallbacks() == 0,
        "requests piped raw past the rules: {:?}",
        faulty.aws.raw_heads()
    );
    assert!(
        violations.is_empty(),
        "chaos seed={seed}: {} invariant violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(
        total_faults > 0 && faults.len() >= 5,
        "too few kinds of faults fired: {faults:?}"
    );
}
