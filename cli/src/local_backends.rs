//! The local back-ends in one directory: what the AWS stack keeps in
//! DynamoDB, SQS, S3, SNS and Glue, kept in files by the `local` adapters so
//! that `demo` writes it and `status`, `files`, `dlq` and `registry push
//! --local DIR` read it afterwards.
//!
//! ```text
//! DIR/registry/         registry versions         (DynamoDB registry items)
//! DIR/ledger/           ledger.json               (DynamoDB ledger table)
//! DIR/queues/*.json     poll, ingest, catalog      (SQS queues with their DLQs)
//! DIR/lake/objects/…    the raw layer              (the S3 raw bucket)
//! DIR/alerts.jsonl      published notices          (the SNS topic)
//! DIR/glue/runs.jsonl   job runs that were started (Glue StartJobRun)
//! DIR/metrics.jsonl     EMF lines                  (CloudWatch metrics)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use tributary::ports::clock::{Clock, SystemClock};

/// How many receives a local queue allows before it dead-letters a message
/// (the template's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;
/// The bucket name the local raw layer answers to in S3 events.
pub const BUCKET: &str = "tributary-local";

/// Every local adapter, opened on one directory.
pub struct LocalBackends {
    pub dir: PathBuf,
    pub ledger: FileLedger,
    pub registry: FileRegistryStore,
    pub poll_queue: MemoryQueue,
    pub ingest_queue: MemoryQueue,
    pub catalog_queue: MemoryQueue,
    pub lake: FsObjectStore,
    pub notifier: FileNotifier,
}

impl LocalBackends {
    /// Opens (or starts) the back-ends in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<LocalBackends> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queue = |name: &str| {
            let path = dir.join("queues").join(format!("{name}.json"));
            MemoryQueue::open(&path, name, MAX_RECEIVES, clock.clone())
                .with_context(|| format!("cannot open the {name} queue in {}", path.display()))
        };
        Ok(LocalBackends {
            dir: dir.to_path_buf(),
            ledger: FileLedger::open(dir.join("ledger"))
                .with_context(|| format!("cannot open the ledger in {}", dir.display()))?,
            registry: FileRegistryStore::new(dir.join("registry")),
            poll_queue: queue("poll")?,
            ingest_queue: queue("ingest")?,
            catalog_queue: queue("catalog")?,
            lake: FsObjectStore::new(dir.join("lake")),
            notifier: FileNotifier::new(dir.join("alerts.jsonl")),
        })
    }

    /// Opens the back-ends of a directory that must already hold them (the
    /// ops commands: a typo in `--local` should not start an empty world).
    pub fn open_existing(dir: &Path) -> anyhow::Result<LocalBackends> {
        if !dir.join("ledger").is_dir() {
            anyhow::bail!(
                "{} holds no local back-ends (no ledger/ folder): run `tributary demo --dir {}` first, or name the folder a demo used",
                dir.display(),
                dir.display()
            );
        }
        LocalBackends::open(dir)
    }

    /// The Glue jobs of the local world: every job name exists (there is no
    /// Glue to ask), and each run is recorded.
    pub fn jobs(&self) -> FileJobTrigger {
        FileJobTrigger::new(self.runs_path())
    }

    pub fn runs_path(&self) -> PathBuf {
        self.dir.join("glue").join("runs.jsonl")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }

    /// Where the raw layer's object `key` is on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.dir.join("lake").join("objects").join(key)
    }
}
