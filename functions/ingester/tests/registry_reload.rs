//! The ingester's registry reload, end to end on the local adapters and the
//! embedded FTP server: when a batch holds a message naming a rule the cached
//! registry lacks, [`Ingester::handle`] reads the store once before handling
//! it, so a file whose rule was pushed after the cache was filled lands
//! instead of being dead-lettered as misconfigured; and a message naming a
//! rule no registry version has is dead-lettered as misconfigured, with its
//! reason, after that one read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::SqsBatchResponse;
use chrono::{DateTime, Duration, Utc};
use tributary::ftp::Password;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::lambda::{Env, RegistryCache, sqs};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use tributary::ports::clock::SystemClock;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::registry_store::{RegistryStore, RegistryStoreError, StoredRegistry};
use tributary::ports::work_queue::{OutgoingMessage, WorkQueue, attr};
use tributary::ports::{Backends, FileState, Ledger, NewFile, ObjectStore};
use tributary::registry::Syntax;
use tributary::secrets::LocalSecrets;
use tributary_ingester::{Ingester, IngesterConfig};

const CSV: &str = "id,amount\n1,10\n2,20\n";
const PASSWORD: &str = "reload-pw";
const QUEUE_ARN: &str = "arn:aws:sqs:local:000000000000:tributary-ingest";

/// The file registry store, counting how often the newest version is read
/// (what the cache does on a fill or a reload).
#[derive(Clone)]
struct CountingStore {
    inner: FileRegistryStore,
    reads: Arc<AtomicUsize>,
}

impl CountingStore {
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl RegistryStore for CountingStore {
    async fn current(&self) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.current().await
    }

    async fn push(
        &self,
        syntax: Syntax,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, RegistryStoreError> {
        self.inner.push(syntax, text, now).await
    }

    async fn get(&self, version: u64) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        self.inner.get(version).await
    }
}

/// The adapters the ingester runs on here.
struct Local;

impl Backends for Local {
    type Ledger = FileLedger;
    type Registry = CountingStore;
    type Queue = MemoryQueue;
    type Store = FsObjectStore;
    type Notifier = FileNotifier;
    type Secrets = LocalSecrets;
    type Jobs = FileJobTrigger;
    type Clock = SystemClock;
    type Sources = tributary::ftp::FtpConnector;
}

struct World {
    dir: tempfile::TempDir,
    server: EmbeddedFtpServer,
    ingester: Ingester<Local>,
}

/// An embedded FTP server holding `/in/orders.csv`, an ingester over an
/// empty registry store whose cache would keep what it read for an hour,
/// and registry v1 pushed: source `acme-ftp` with rule `notes` only.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ftp");
    std::fs::create_dir_all(root.join("in")).unwrap();
    std::fs::write(root.join("in/orders.csv"), CSV).unwrap();
    std::fs::write(dir.path().join("ftp-password"), PASSWORD).unwrap();
    let server = EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(&root).credentials("u", Password::new(PASSWORD)),
    )
    .await
    .unwrap();

    let store = CountingStore {
        inner: FileRegistryStore::new(dir.path().join("registry")),
        reads: Arc::default(),
    };
    let mut config = IngesterConfig::from_env(&Env::from_map(Default::default())).unwrap();
    config.reporting.metrics_file = Some(dir.path().join("metrics.jsonl"));
    let ingester = Ingester::<Local> {
        ledger: FileLedger::in_memory(),
        registry: RegistryCache::new(store, StdDuration::from_secs(3600)),
        store: FsObjectStore::new(dir.path().join("lake")),
        queue: MemoryQueue::new("ingest", 5, Arc::new(SystemClock)),
        notifier: FileNotifier::new(dir.path().join("alerts.jsonl")),
        secrets: LocalSecrets,
        clock: SystemClock,
        sources: Default::default(),
        config,
    };
    let world = World {
        dir,
        server,
        ingester,
    };
    assert_eq!(world.push(false).await, 1);
    world
}

impl World {
    /// Pushes the registry: rule `notes` (for `.txt` files) only, or with
    /// rule `orders` for `/in/*.csv` added when `with_orders`. Returns the
    /// version the store gave it.
    async fn push(&self, with_orders: bool) -> u64 {
        let orders = if with_orders {
            r#"
          - id: orders
            match: {glob: "/in/*.csv"}
            dataset: orders
            format: csv
            header: true"#
        } else {
            ""
        };
        let password = self.dir.path().join("ftp-password");
        let yaml = format!(
            r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: u
        password: {{file: {password}}}
        directories: [/in]
        rules:
          - id: notes
            match: {{glob: "/in/*.txt"}}
            dataset: notes
            format: csv{orders}
"#,
            port = self.server.port(),
            password = serde_json::to_string(&password).unwrap(),
        );
        self.ingester
            .registry
            .store()
            .push(Syntax::Yaml, &yaml, Utc::now())
            .await
            .unwrap()
    }

    /// The message the poller would send for `/in/orders.csv` under `rule`,
    /// with its ledger item claimed as the poller claims it.
    async fn discovered(&self, rule: &str) -> FileDiscovered {
        let file = FileDiscovered {
            tenant: "acme".into(),
            source: "acme-ftp".into(),
            rule: rule.into(),
            path: "/in/orders.csv".into(),
            size: CSV.len() as u64,
            mtime: None,
            discovered_at: Utc::now(),
        };
        self.ingester
            .ledger
            .claim(NewFile {
                version: file.version(),
                tenant: file.tenant.clone(),
                rule: file.rule.clone(),
                discovered_at: file.discovered_at,
            })
            .await
            .unwrap();
        file
    }

    /// What Lambda does with the ingest queue: receives `file`'s message,
    /// hands it to the ingester as an SQS event, and deletes every message
    /// the partial batch response does not name (one the ingester
    /// dead-lettered is gone already, so its delete fails and is ignored).
    async fn deliver(&self, file: &FileDiscovered) -> SqsBatchResponse {
        let queue = &self.ingester.queue;
        queue
            .send_batch(&[OutgoingMessage::new(file.encode())])
            .await
            .unwrap();
        let received = queue.receive(10, Duration::minutes(16)).await.unwrap();
        assert_eq!(received.len(), 1);
        let event = sqs::event(QUEUE_ARN, &received).unwrap();
        let response = self.ingester.handle(event, "req-1").await;
        let retried = sqs::failed_ids(&response);
        for message in received.iter().filter(|m| !retried.contains(&m.id)) {
            let _ = queue.delete(&message.receipt).await;
        }
        response
    }

    /// Fills the registry cache with v1 and pushes v2, which adds rule
    /// `orders`: the cache still holds v1 afterwards.
    async fn stale_cache(&self) {
        let cache = &self.ingester.registry;
        assert_eq!(cache.current().await.unwrap().version, 1);
        assert_eq!(self.push(true).await, 2);
        assert_eq!(
            cache.current().await.unwrap().version,
            1,
            "within its TTL the cache does not read the store by itself"
        );
        assert_eq!(cache.store().reads(), 1);
    }
}

#[tokio::test]
async fn a_rule_pushed_after_the_cache_was_filled_is_found_by_one_reload_and_ingested() {
    let w = world().await;
    w.stale_cache().await;
    let file = w.discovered("orders").await;

    let response = w.deliver(&file).await;

    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        sqs::failed_ids(&response)
    );
    let record = w
        .ingester
        .ledger
        .get(&file.version())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, FileState::Ingested, "{:?}", record.error);
    assert_eq!(record.rows, Some(2));
    let key = record.s3_key.unwrap();
    assert!(key.starts_with("raw/tenant=acme/dataset=orders/"), "{key}");
    assert_eq!(
        w.ingester.store.get(&key).await.unwrap().unwrap(),
        CSV.as_bytes()
    );
    let meta = w.ingester.store.head(&key).await.unwrap().unwrap().metadata;
    assert_eq!(meta["registry-version"], "2");
    assert_eq!(
        w.ingester.queue.depths(),
        (0, 0),
        "deleted, not dead-lettered"
    );
    let cache = &w.ingester.registry;
    assert_eq!(cache.store().reads(), 2, "one reload for the batch");
    assert_eq!(cache.current().await.unwrap().version, 2);
}

#[tokio::test]
async fn a_rule_in_no_registry_version_is_dead_lettered_as_misconfigured_after_one_reload() {
    let w = world().await;
    w.stale_cache().await;
    let file = w.discovered("nowhere").await;

    let response = w.deliver(&file).await;

    assert!(
        response.batch_item_failures.is_empty(),
        "dead-lettered, not retried: {:?}",
        sqs::failed_ids(&response)
    );
    let cache = &w.ingester.registry;
    assert_eq!(cache.store().reads(), 2, "one reload for the batch");
    assert_eq!(cache.current().await.unwrap().version, 2);
    assert_eq!(w.ingester.queue.depths(), (0, 1));
    let dead = w
        .ingester
        .queue
        .receive_dead_letters(10, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, file.encode());
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "misconfigured");
    let reason = &dead[0].attributes[attr::ERROR_REASON];
    assert!(
        reason.contains("rule nowhere is not a rule of source acme-ftp"),
        "{reason}"
    );
    let record = w
        .ingester
        .ledger
        .get(&file.version())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, FileState::Failed);
    assert_eq!(record.s3_key, None);
}
