//! The catalog trigger's work on one catalog-queue message (an S3 event
//! notification, see [`super::event`]), object by object:
//!
//! 1. ignore what is not a landed file: other events than `ObjectCreated:*`,
//!    another bucket, keys outside the raw prefix, folder markers, and the
//!    `s3:TestEvent` S3 sends when the notification is configured;
//! 2. `HEAD` the object: gone (deleted since the event) → nothing to do;
//! 3. name the job ([`super::job_name`]) and read tenant and dataset from the
//!    key's `tenant=` / `dataset=` segments, else from the object's lineage;
//! 4. rebuild the file's ledger version from the lineage metadata and read its
//!    ledger item: a run id already there means a duplicate event (skip); an
//!    item not yet `ingested` (the S3 event can overtake the ingester's ledger
//!    write) is waited for, then retried. An object without that lineage (not
//!    written by tributary, or its path cut to fit S3's metadata limit) still
//!    gets its job, with a warning that no ledger item can take the run id;
//! 5. `StartJobRun` with `--bucket`, `--key`, `--tenant`, `--dataset`;
//!    throttling, `ConcurrentRunsExceededException` and outages are retried in
//!    the call with backoff (bounded by the invocation's deadline), then left
//!    to the queue; a missing job or a refusal is misconfigured: alert and
//!    dead letter;
//! 6. write the run id to the ledger item, and start the dataset's crawler if
//!    one is configured (a crawler failure is a warning alert, never a dead
//!    letter: the job already started).
//!
//! A transient failure on the message's last allowed receive is dead-lettered
//! with its reason and alerted (SQS's own redrive would drop the reason).
//!
//! Idempotence: S3 delivers at least once, and the ledger's run id turns a
//! redelivery into `Duplicate`. What remains is a race: two deliveries of one
//! event handled at the same moment both find no run id and both start a run
//! (the later run id overwrites the earlier in the ledger). S3 duplicates are
//! rare and seldom simultaneous; a Glue job that must not run twice for one
//! object should set `MaxConcurrentRuns` or check its own output.
//!
//! The dead-lettering and retrying is per message, not per object: S3 sends
//! one record per message, but a message naming several objects is retried or
//! dead-lettered whole (a redelivery skips what already started, through the
//! ledger, except objects without a ledger item).

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use serde::Serialize;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::event::{self, ObjectEvent, S3Event};
use super::job_name::{CrawlerTemplate, JobNaming, JobOverrides, job_name, segment};
use crate::alerts::{self, ObjectRef};
use crate::failure::FailureKind;
use crate::ingest::lineage::{self, keys};
use crate::poll::select::FileVersion;
use crate::ports::clock::Clock;
use crate::ports::job_trigger::{CrawlerStart, JobTrigger};
use crate::ports::ledger::{FileState, Ledger};
use crate::ports::notifier::Notifier;
use crate::ports::object_store::ObjectStore;
use crate::ports::work_queue::{self, Fate, Received, WorkQueue};

/// What the catalog trigger reaches the outside through.
pub struct CatalogContext<'a, L, St, Q, N, J, C> {
    pub ledger: &'a L,
    /// The raw bucket.
    pub store: &'a St,
    /// The catalog queue the message came from (dead letters).
    pub queue: &'a Q,
    pub notifier: &'a N,
    pub jobs: &'a J,
    pub clock: &'a C,
}

/// How the trigger works; from the function's environment.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// The raw bucket: events for another bucket are ignored.
    pub bucket: String,
    /// Only keys under this prefix start jobs (`raw/`).
    pub raw_prefix: String,
    pub naming: JobNaming,
    pub overrides: JobOverrides,
    /// The crawler to start per dataset; `None` starts none.
    pub crawler: Option<CrawlerTemplate>,
    /// The catalog queue's `maxReceiveCount`: on that receive a transient
    /// failure is dead-lettered with its reason instead of being left to SQS.
    pub max_receives: u32,
    /// The waits between attempts inside one call (Glue busy or unreachable,
    /// a ledger item not yet `ingested`): one more attempt than waits.
    pub backoff: Vec<StdDuration>,
}

impl CatalogSettings {
    /// Settings for `bucket` with the defaults: prefix `raw/`, jobs named by
    /// dataset, no overrides, no crawler, 5 receives, waits of 1, 2 and 4 s.
    pub fn new(bucket: impl Into<String>) -> Self {
        CatalogSettings {
            bucket: bucket.into(),
            raw_prefix: "raw/".into(),
            naming: JobNaming::Dataset,
            overrides: JobOverrides::default(),
            crawler: None,
            max_receives: 5,
            backoff: [1, 2, 4].map(StdDuration::from_secs).to_vec(),
        }
    }
}

/// What became of one object of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ObjectOutcome {
    /// The job run started; `recorded` says whether the ledger item took its id.
    /// `tenant` and `source` are what the key and the lineage say (`None`:
    /// neither does), for the run's metrics.
    Started {
        key: String,
        job: String,
        run_id: String,
        recorded: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        tenant: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// The ledger already holds a run for this file: a duplicate event.
    Duplicate { key: String, job_run_id: String },
    /// Nothing to do, and why.
    Ignored { key: String, why: String },
    /// Misconfigured, or transient on the last receive: the message goes to
    /// the dead-letter queue for it (ops were alerted). `tenant` and `source`
    /// as far as known when it failed (a failed HEAD leaves only the key's).
    Failed {
        key: String,
        kind: FailureKind,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tenant: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// Transient: the message is left on the queue for another delivery.
    Retry { key: String, reason: String },
}

/// One message handled: its objects' outcomes and the message's fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handled {
    pub objects: Vec<ObjectOutcome>,
    #[serde(flatten)]
    pub fate: Fate,
}

impl Handled {
    /// Whether the message must stay on the queue (reported as a failure).
    pub fn retry(&self) -> bool {
        self.fate.retry()
    }
}

/// Handles one catalog-queue message; see the module docs. Waits between
/// attempts end before `deadline` (the invocation's, less a reserve).
pub async fn handle_message<L, St, Q, N, J, C>(
    ctx: &CatalogContext<'_, L, St, Q, N, J, C>,
    settings: &CatalogSettings,
    received: &Received,
    deadline: Instant,
) -> Handled
where
    L: Ledger,
    St: ObjectStore,
    Q: WorkQueue,
    N: Notifier,
    J: JobTrigger,
    C: Clock,
{
    let events = match event::parse(&received.body) {
        Ok(S3Event::Objects(events)) => events,
        Ok(S3Event::Test { bucket }) => {
            info!(message_id = %received.id, bucket = bucket.as_deref().unwrap_or("-"), "S3 test event; acknowledged.");
            return Handled {
                objects: Vec::new(),
                fate: Fate::Done(()),
            };
        }
        Err(error) => {
            let reason = error.to_string();
            error!(message_id = %received.id, %reason, "Unreadable catalog message.");
            alerts::publish(
                ctx.notifier,
                alerts::message_unreadable("the catalog queue", &received.id, &reason),
            )
            .await;
            return Handled {
                objects: Vec::new(),
                fate: work_queue::dead_letter(ctx.queue, received, error.kind(), reason).await,
            };
        }
    };
    let last_receive = received.is_last_receive(settings.max_receives);
    let mut objects = Vec::with_capacity(events.len());
    for object in &events {
        objects.push(handle_object(ctx, settings, object, last_receive, deadline).await);
    }

    let failed: Vec<(FailureKind, &str)> = objects
        .iter()
        .filter_map(|o| match o {
            ObjectOutcome::Failed { kind, reason, .. } => Some((*kind, reason.as_str())),
            _ => None,
        })
        .collect();
    let retry: Vec<&str> = objects
        .iter()
        .filter_map(|o| match o {
            ObjectOutcome::Retry { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let fate = if !failed.is_empty() {
        let kind = if failed.iter().any(|(k, _)| *k == FailureKind::Misconfigured) {
            FailureKind::Misconfigured
        } else {
            FailureKind::Transient
        };
        let reason = failed
            .iter()
            .map(|(_, r)| *r)
            .collect::<Vec<_>>()
            .join("; ");
        work_queue::dead_letter(ctx.queue, received, kind, reason).await
    } else if !retry.is_empty() {
        Fate::Retry {
            reason: retry.join("; "),
        }
    } else {
        Fate::Done(())
    };
    Handled { objects, fate }
}

/// What the job is started for: the object, its tenant and dataset, and the
/// source it came from (the lineage's; the key does not name it).
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    tenant: Option<String>,
    dataset: Option<String>,
    source: Option<String>,
}

impl Target<'_> {
    fn object(&self) -> ObjectRef<'_> {
        ObjectRef {
            tenant: self.tenant.as_deref().unwrap_or("-"),
            dataset: self.dataset.as_deref().unwrap_or("-"),
            bucket: self.bucket,
            key: self.key,
        }
    }
}

/// Handles one object of a notification; see the module docs. The message's
/// fate is decided by [`handle_message`] from every object's outcome.
pub async fn handle_object<L, St, Q, N, J, C>(
    ctx: &CatalogContext<'_, L, St, Q, N, J, C>,
    settings: &CatalogSettings,
    object: &ObjectEvent,
    last_receive: bool,
    deadline: Instant,
) -> ObjectOutcome
where
    L: Ledger,
    St: ObjectStore,
    N: Notifier,
    J: JobTrigger,
    C: Clock,
{
    let key = object.key.as_str();
    let ignored = |why: String| {
        info!(key, %why, "Ignored.");
        ObjectOutcome::Ignored {
            key: key.to_owned(),
            why,
        }
    };
    if !object.is_created() {
        return ignored(format!("{} is not an object creation", object.event_name));
    }
    if object.bucket != settings.bucket {
        warn!(bucket = %object.bucket, raw_bucket = %settings.bucket, key, "An event for another bucket; check the bucket's notification configuration.");
        return ignored(format!(
            "bucket {} is not the raw bucket {}",
            object.bucket, settings.bucket
        ));
    }
    if !key.starts_with(&settings.raw_prefix) {
        return ignored(format!("outside the raw prefix {:?}", settings.raw_prefix));
    }
    if key.ends_with('/') {
        return ignored("a folder marker, not a file".into());
    }

    let mut target = Target {
        bucket: &settings.bucket,
        key,
        tenant: segment(key, "tenant").map(str::to_owned),
        dataset: segment(key, "dataset").map(str::to_owned),
        source: None,
    };
    let info = match ctx.store.head(key).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            warn!(
                key,
                "The object is gone (deleted since the event); nothing to catalog."
            );
            return ignored("the object no longer exists".into());
        }
        Err(error) => {
            return fail(
                ctx.notifier,
                &target,
                None,
                error.kind(),
                error.to_string(),
                last_receive,
            )
            .await;
        }
    };
    let from_lineage = |k: &'static str| lineage::value(&info.metadata, k).ok().flatten();
    target.tenant = target.tenant.or_else(|| from_lineage(keys::TENANT));
    target.dataset = target.dataset.or_else(|| from_lineage(keys::DATASET));
    target.source = from_lineage(keys::SOURCE);

    let job = match job_name(
        key,
        target.dataset.as_deref(),
        settings.naming,
        &settings.overrides,
    ) {
        Ok(job) => job,
        Err(error) => {
            let reason = format!("{error} (TRIBUTARY_JOB_NAMING={})", settings.naming);
            return fail(
                ctx.notifier,
                &target,
                None,
                FailureKind::Misconfigured,
                reason,
                last_receive,
            )
            .await;
        }
    };

    // The ledger item that takes the run id, if the object has one.
    let version = match lineage::file_version(&info.metadata) {
        Ok(version) => Some(version),
        Err(gap) => {
            warn!(key, %gap, "No ledger item can take the run id; the job is started anyway.");
            None
        }
    };
    let record_on = match version {
        None => None,
        Some(version) => match ledger_check(ctx.ledger, settings, &version, key, deadline).await {
            Ok(LedgerCheck::Record) => Some(version),
            Ok(LedgerCheck::Unrecorded) => None,
            Ok(LedgerCheck::Duplicate(job_run_id)) => {
                info!(key, %job_run_id, "The file's job already started: a duplicate event.");
                return ObjectOutcome::Duplicate {
                    key: key.to_owned(),
                    job_run_id,
                };
            }
            Err((kind, reason)) => {
                return fail(
                    ctx.notifier,
                    &target,
                    Some(&job),
                    kind,
                    reason,
                    last_receive,
                )
                .await;
            }
        },
    };

    let mut arguments = BTreeMap::from([
        ("--bucket".to_owned(), settings.bucket.clone()),
        ("--key".to_owned(), key.to_owned()),
    ]);
    for (name, value) in [("--tenant", &target.tenant), ("--dataset", &target.dataset)] {
        match value {
            Some(value) => {
                arguments.insert(name.to_owned(), value.clone());
            }
            None => warn!(
                key,
                argument = name,
                "Neither the key nor the lineage names it; the job runs without it."
            ),
        }
    }
    let mut attempt = 0;
    let run = loop {
        match ctx.jobs.start(&job, &arguments).await {
            Ok(run) => break run,
            Err(error) if error.kind() == FailureKind::Transient => {
                match pause(settings, attempt, deadline) {
                    Some(wait) => {
                        warn!(key, %job, %error, attempt, "Glue is busy; trying again.");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return fail(
                            ctx.notifier,
                            &target,
                            Some(&job),
                            FailureKind::Transient,
                            error.to_string(),
                            last_receive,
                        )
                        .await;
                    }
                }
            }
            Err(error) => {
                return fail(
                    ctx.notifier,
                    &target,
                    Some(&job),
                    error.kind(),
                    error.to_string(),
                    last_receive,
                )
                .await;
            }
        }
    };
    info!(key, %job, run_id = %run.run_id, "Catalog job started.");

    let recorded = match &record_on {
        Some(version) => {
            record_run(
                ctx.ledger,
                ctx.notifier,
                ctx.clock,
                &target,
                version,
                &job,
                &run.run_id,
            )
            .await
        }
        None => false,
    };
    if let Some(template) = &settings.crawler {
        crawl(
            ctx.jobs,
            ctx.notifier,
            settings,
            &target,
            template,
            &run.run_id,
            deadline,
        )
        .await;
    }
    ObjectOutcome::Started {
        key: key.to_owned(),
        job,
        run_id: run.run_id,
        recorded,
        tenant: target.tenant,
        source: target.source,
    }
}

/// What the ledger says before a job is started.
enum LedgerCheck {
    /// The item is `ingested` for this object, without a run: start, then record.
    Record,
    /// Start, but there is no item for this object to record on.
    Unrecorded,
    /// The item already has this run id.
    Duplicate(String),
}

/// Reads the item of `version`, waiting (per the backoff) for one that is not
/// yet `ingested`. `Err` is the failure (kind, reason) when it stays so or the
/// ledger cannot be read.
async fn ledger_check(
    ledger: &impl Ledger,
    settings: &CatalogSettings,
    version: &FileVersion,
    key: &str,
    deadline: Instant,
) -> Result<LedgerCheck, (FailureKind, String)> {
    let mut attempt = 0;
    loop {
        let reason = match ledger.get(version).await {
            Ok(None) => {
                warn!(key, source = %version.source, path = %version.path, version = %version.version_key(),
                    "The object's lineage names no ledger item; the job is started, the run id is not recorded.");
                return Ok(LedgerCheck::Unrecorded);
            }
            Ok(Some(record)) => {
                if let Some(run_id) = record.job_run_id {
                    return Ok(LedgerCheck::Duplicate(run_id));
                }
                if record.state == FileState::Ingested {
                    if record.s3_key.as_deref() == Some(key) {
                        return Ok(LedgerCheck::Record);
                    }
                    warn!(
                        key,
                        ledger_key = record.s3_key.as_deref().unwrap_or("-"),
                        "The ledger item landed this file at another key (a copy?); the run id is not recorded on it."
                    );
                    return Ok(LedgerCheck::Unrecorded);
                }
                format!(
                    "the ledger item of {}:{} is {}, not yet ingested (the ingester has not recorded the file)",
                    version.source, version.path, record.state
                )
            }
            Err(error) if error.kind() == FailureKind::Transient => error.to_string(),
            Err(error) => return Err((error.kind(), error.to_string())),
        };
        match pause(settings, attempt, deadline) {
            Some(wait) => {
                info!(key, %reason, attempt, "Waiting for the ledger.");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            None => return Err((FailureKind::Transient, reason)),
        }
    }
}

/// The wait before attempt `attempt + 1`, if there is one and it ends before
/// the deadline.
fn pause(settings: &CatalogSettings, attempt: usize, deadline: Instant) -> Option<StdDuration> {
    let wait = *settings.backoff.get(attempt)?;
    (Instant::now() + wait < deadline).then_some(wait)
}

/// Attempts at writing the run id before giving up with a warning.
const RECORD_TRIES: u32 = 3;

/// Writes the run id to the ledger item; a failure is a warning alert (the run
/// started; retrying the message would start another).
async fn record_run(
    ledger: &impl Ledger,
    notifier: &impl Notifier,
    clock: &impl Clock,
    target: &Target<'_>,
    version: &FileVersion,
    job: &str,
    run_id: &str,
) -> bool {
    let mut delay = StdDuration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match ledger.set_job_run(version, run_id, clock.now()).await {
            Ok(()) => return true,
            Err(error) if error.kind() == FailureKind::Transient && tries < RECORD_TRIES => {
                warn!(key = target.key, %error, tries, "Recording the run id failed; trying again.");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(error) => {
                error!(key = target.key, %job, %run_id, %error, "The run id could not be recorded.");
                alerts::publish(
                    notifier,
                    alerts::job_run_unrecorded(target.object(), job, run_id, &error.to_string()),
                )
                .await;
                return false;
            }
        }
    }
}

/// Starts the dataset's crawler; failures are warnings.
async fn crawl(
    jobs: &impl JobTrigger,
    notifier: &impl Notifier,
    settings: &CatalogSettings,
    target: &Target<'_>,
    template: &CrawlerTemplate,
    run_id: &str,
    deadline: Instant,
) {
    let Some(dataset) = target.dataset.as_deref() else {
        warn!(key = target.key, "No dataset: no crawler to start.");
        return;
    };
    let crawler = match template.render(target.key, target.tenant.as_deref().unwrap_or(""), dataset)
    {
        Ok(crawler) => crawler,
        Err(error) => {
            warn!(key = target.key, %error, "No valid crawler name.");
            alerts::publish(
                notifier,
                alerts::crawler_not_started(target.object(), run_id, "-", &error.to_string()),
            )
            .await;
            return;
        }
    };
    let mut attempt = 0;
    loop {
        match jobs.start_crawler(&crawler).await {
            Ok(CrawlerStart::Started) => {
                info!(key = target.key, %crawler, "Crawler started.");
                return;
            }
            Ok(CrawlerStart::AlreadyRunning) => {
                info!(key = target.key, %crawler, "Crawler already running.");
                return;
            }
            Err(error) => {
                if error.kind() == FailureKind::Transient
                    && let Some(wait) = pause(settings, attempt, deadline)
                {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                warn!(key = target.key, %crawler, %error, "The crawler was not started.");
                alerts::publish(
                    notifier,
                    alerts::crawler_not_started(
                        target.object(),
                        run_id,
                        &crawler,
                        &error.to_string(),
                    ),
                )
                .await;
                return;
            }
        }
    }
}

/// A failure of one object: transient ones are retried by the queue except on
/// the last receive; the others, and those, are alerted and dead-lettered.
async fn fail(
    notifier: &impl Notifier,
    target: &Target<'_>,
    job: Option<&str>,
    kind: FailureKind,
    reason: String,
    last_receive: bool,
) -> ObjectOutcome {
    let key = target.key.to_owned();
    if kind == FailureKind::Transient && !last_receive {
        warn!(%key, job = job.unwrap_or("-"), %reason, "Transient failure; SQS delivers the message again.");
        return ObjectOutcome::Retry { key, reason };
    }
    error!(%key, job = job.unwrap_or("-"), %kind, %reason, "The catalog job was not started; dead-lettered.");
    alerts::publish(
        notifier,
        alerts::job_not_started(target.object(), job, kind, &reason),
    )
    .await;
    ObjectOutcome::Failed {
        key,
        kind,
        reason,
        tenant: target.tenant.clone(),
        source: target.source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use chrono::{Duration, Utc};

    use super::*;
    use crate::ingest::Lineage;
    use crate::local::{FileJobTrigger, FileLedger, FileNotifier, FsObjectStore, MemoryQueue};
    use crate::ports::clock::ManualClock;
    use crate::ports::job_trigger::{CrawlerError, JobError, JobRun};
    use crate::ports::ledger::{NewFile, Outcome};
    use crate::ports::work_queue::{OutgoingMessage, attr};

    const KEY: &str =
        "raw/tenant=acme-retail/dataset=daily-sales/ingest_date=2026-11-21/sales 2026-11-21.csv";
    const ENCODED: &str = "raw/tenant%3Dacme-retail/dataset%3Ddaily-sales/ingest_date%3D2026-11-21/sales+2026-11-21.csv";
    const BUCKET: &str = "raw-bucket";

    /// The local job trigger, failing the first calls with scripted errors
    /// (Glue throttles and limits concurrent runs; the file trigger does not).
    struct Flaky {
        inner: FileJobTrigger,
        failures: Mutex<VecDeque<JobError>>,
        crawler_failures: Mutex<VecDeque<CrawlerError>>,
    }

    impl JobTrigger for Flaky {
        async fn start(
            &self,
            job: &str,
            arguments: &BTreeMap<String, String>,
        ) -> Result<JobRun, JobError> {
            let failure = self.failures.lock().unwrap().pop_front();
            match failure {
                Some(error) => Err(error),
                None => self.inner.start(job, arguments).await,
            }
        }

        async fn start_crawler(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
            let failure = self.crawler_failures.lock().unwrap().pop_front();
            match failure {
                Some(error) => Err(error),
                None => self.inner.start_crawler(crawler).await,
            }
        }
    }

    fn busy() -> JobError {
        JobError::Busy {
            job: "daily-sales".into(),
            reason: "ConcurrentRunsExceededException: max 1".into(),
        }
    }

    struct World {
        _dir: tempfile::TempDir,
        ledger: FileLedger,
        store: FsObjectStore,
        queue: MemoryQueue,
        notifier: FileNotifier,
        jobs: Flaky,
        clock: Arc<ManualClock>,
        settings: CatalogSettings,
    }

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut settings = CatalogSettings::new(BUCKET);
        settings.backoff = vec![StdDuration::from_millis(1); 3];
        settings.max_receives = 3;
        World {
            ledger: FileLedger::in_memory(),
            store: FsObjectStore::new(dir.path().join("lake")),
            queue: MemoryQueue::new("catalog", 3, clock.clone()),
            notifier: FileNotifier::new(dir.path().join("alerts.jsonl")),
            jobs: Flaky {
                inner: FileJobTrigger::new(dir.path().join("runs.jsonl"))
                    .with_known_jobs(["daily-sales", "sales-load", "ingest_date=2026-11-21"])
                    .with_known_crawlers(["tributary-daily-sales"]),
                failures: Mutex::new(VecDeque::new()),
                crawler_failures: Mutex::new(VecDeque::new()),
            },
            clock,
            settings,
            _dir: dir,
        }
    }

    fn version() -> FileVersion {
        FileVersion {
            source: "acme-ftp".into(),
            path: "/outgoing/sales 2026-11-21.csv".into(),
            size: 27,
            mtime: Some("2026-11-21T05:55:00.5Z".parse().unwrap()),
        }
    }

    fn lineage() -> Lineage {
        let v = version();
        Lineage {
            tenant: "acme-retail".into(),
            dataset: "daily-sales".into(),
            source_id: v.source,
            source_host: "ftp.acme.example".into(),
            source_path: v.path,
            listed_size: v.size,
            ftp_mtime: v.mtime,
            rule_id: "acme-daily-sales".into(),
            registry_version: "3".into(),
            ingested_at: "2026-11-21T06:01:00Z".parse().unwrap(),
        }
    }

    fn notification(bucket: &str, encoded_key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": encoded_key, "size": 27}}
        }]})
        .to_string()
    }

    impl World {
        /// The object with its lineage, and its ledger item in `state`.
        async fn landed(&self, key: &str, state: FileState) {
            self.store
                .put(
                    key,
                    b"id,amount\n1,10\n".to_vec(),
                    &lineage().metadata(None),
                )
                .await
                .unwrap();
            let now = self.clock.now();
            self.ledger
                .claim(NewFile {
                    version: version(),
                    tenant: "acme-retail".into(),
                    rule: "acme-daily-sales".into(),
                    discovered_at: now,
                })
                .await
                .unwrap();
            if state == FileState::Discovered {
                return;
            }
            self.ledger
                .take_lease(&version(), "ingester-1", Duration::minutes(15), now)
                .await
                .unwrap();
            if state == FileState::Ingested {
                self.ledger
                    .finish(
                        &version(),
                        "ingester-1",
                        Outcome::Ingested {
                            sha256: "ab".repeat(32),
                            bytes_in: 27,
                            bytes_out: 27,
                            rows: 1,
                            s3_key: key.to_owned(),
                        },
                        now,
                    )
                    .await
                    .unwrap();
            }
        }

        async fn deliver(&self, body: &str) -> Received {
            self.queue
                .send_batch(&[OutgoingMessage::new(body)])
                .await
                .unwrap();
            self.redeliver().await
        }

        async fn redeliver(&self) -> Received {
            // Past the visibility timeout of an earlier receive.
            self.clock.advance(Duration::minutes(10));
            let mut got = self.queue.receive(1, Duration::minutes(5)).await.unwrap();
            assert_eq!(got.len(), 1);
            got.remove(0)
        }

        async fn handle(&self, received: &Received) -> Handled {
            let ctx = CatalogContext {
                ledger: &self.ledger,
                store: &self.store,
                queue: &self.queue,
                notifier: &self.notifier,
                jobs: &self.jobs,
                clock: &self.clock,
            };
            let deadline = Instant::now() + StdDuration::from_secs(60);
            let disposition = handle_message(&ctx, &self.settings, received, deadline).await;
            // What Lambda does with a message not named in the batch response.
            if disposition.fate == Fate::Done(()) {
                self.queue.delete(&received.receipt).await.unwrap();
            }
            disposition
        }

        fn alerts(&self) -> Vec<crate::ports::Notification> {
            self.notifier
                .published()
                .unwrap()
                .into_iter()
                .map(|p| p.notification)
                .collect()
        }

        async fn dead_letters(&self) -> Vec<Received> {
            self.queue
                .receive_dead_letters(10, Duration::minutes(5))
                .await
                .unwrap()
        }
    }

    #[tokio::test]
    async fn a_landed_file_starts_its_job_once_and_the_ledger_keeps_the_run() {
        let w = world();
        w.landed(KEY, FileState::Ingested).await;
        let received = w.deliver(&notification(BUCKET, ENCODED)).await;
        let disposition = w.handle(&received).await;
        let runs = w.jobs.inner.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            disposition,
            Handled {
                objects: vec![ObjectOutcome::Started {
                    key: KEY.into(),
                    job: "daily-sales".into(),
                    run_id: runs[0].run_id.clone(),
                    recorded: true,
                    tenant: Some("acme-retail".into()),
                    source: Some("acme-ftp".into()),
                }],
                fate: Fate::Done(()),
            }
        );
        assert!(!disposition.retry());
        assert_eq!(
            runs[0].arguments,
            BTreeMap::from([
                ("--bucket".to_owned(), BUCKET.to_owned()),
                ("--key".to_owned(), KEY.to_owned()),
                ("--tenant".to_owned(), "acme-retail".to_owned()),
                ("--dataset".to_owned(), "daily-sales".to_owned()),
            ])
        );
        let record = w.ledger.get(&version()).await.unwrap().unwrap();
        assert_eq!(record.job_run_id.as_deref(), Some(runs[0].run_id.as_str()));
        assert!(w.alerts().is_empty());

        // S3 delivers the event again: a duplicate, no second run.
        let received = w.deliver(&notification(BUCKET, ENCODED)).await;
        let disposition = w.handle(&received).await;
        assert_eq!(
            disposition.objects,
            vec![ObjectOutcome::Duplicate {
                key: KEY.into(),
                job_run_id: runs[0].run_id.clone(),
            }]
        );
        assert_eq!(disposition.fate, Fate::Done(()));
        assert_eq!(w.jobs.inner.runs().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_test_event_and_objects_that_are_not_landed_files_are_ignored() {
        let w = world();
        w.landed(KEY, FileState::Ingested).await;
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T06:00:00.000Z","Bucket":"raw-bucket"}"#;
        let disposition = w.handle(&w.deliver(test).await).await;
        assert_eq!(disposition.fate, Fate::Done(()));
        assert!(disposition.objects.is_empty());

        let removed =
            notification(BUCKET, ENCODED).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        for (body, why) in [
            (notification("other-bucket", ENCODED), "not the raw bucket"),
            (
                notification(BUCKET, "landing/x.csv"),
                "outside the raw prefix",
            ),
            (notification(BUCKET, "raw/tenant%3Dacme/"), "folder marker"),
            (notification(BUCKET, "raw/gone.csv"), "no longer exists"),
            (removed, "not an object creation"),
        ] {
            let disposition = w.handle(&w.deliver(&body).await).await;
            assert_eq!(disposition.fate, Fate::Done(()), "{body}");
            assert!(
                matches!(&disposition.objects[..], [ObjectOutcome::Ignored { why: got, .. }] if got.contains(why)),
                "{why}: {disposition:?}"
            );
        }
        assert!(w.jobs.inner.runs().unwrap().is_empty());
        assert!(w.alerts().is_empty());
        assert!(w.dead_letters().await.is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_body_is_dead_lettered_with_its_reason_and_an_alert() {
        let w = world();
        let received = w.deliver(r#"{"v":1,"tenant":"acme"}"#).await;
        let disposition = w.handle(&received).await;
        assert!(
            matches!(&disposition.fate, Fate::DeadLettered { kind: FailureKind::Misconfigured, reason } if reason.contains("no Records")),
            "{disposition:?}"
        );
        let dead = w.dead_letters().await;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].attributes[attr::ERROR_KIND], "misconfigured");
        assert!(dead[0].attributes[attr::ERROR_REASON].contains("no Records"));
        let alerts = w.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event, "message_unreadable");
        assert!(
            alerts[0].body.contains("the catalog queue"),
            "{}",
            alerts[0].body
        );

        // An undecodable key: the same, naming the key.
        let received = w.deliver(&notification(BUCKET, "raw/100%.csv")).await;
        let disposition = w.handle(&received).await;
        assert!(
            matches!(&disposition.fate, Fate::DeadLettered { reason, .. } if reason.contains("raw/100%.csv") && reason.contains("invalid escape")),
            "{disposition:?}"
        );
    }

    #[tokio::test]
    async fn a_missing_job_is_misconfigured_alerted_and_dead_lettered() {
        let w = world();
        let key = "raw/tenant=acme-retail/dataset=stock/ingest_date=2026-11-21/stock.csv";
        w.landed(key, FileState::Ingested).await;
        let received = w.deliver(&notification(BUCKET, key)).await;
        let disposition = w.handle(&received).await;
        let Fate::DeadLettered { kind, reason } = &disposition.fate else {
            panic!("{disposition:?}");
        };
        assert_eq!(*kind, FailureKind::Misconfigured);
        assert!(reason.contains("job stock does not exist"), "{reason}");
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Failed { tenant, source, .. }]
                if tenant.as_deref() == Some("acme-retail") && source.as_deref() == Some("acme-ftp")),
            "the lineage's source, for the metrics: {disposition:?}"
        );
        let dead = w.dead_letters().await;
        assert_eq!(dead.len(), 1);
        assert!(dead[0].attributes[attr::ERROR_REASON].contains("stock"));
        let alerts = w.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event, "job_failed");
        assert_eq!(alerts[0].tenant, "acme-retail");
        for part in [
            "Dataset: stock",
            key,
            "Job:     stock",
            "TRIBUTARY_JOB_OVERRIDES",
        ] {
            assert!(alerts[0].body.contains(part), "{part}: {}", alerts[0].body);
        }
        // Nothing recorded on the ledger item.
        assert_eq!(
            w.ledger.get(&version()).await.unwrap().unwrap().job_run_id,
            None
        );
    }

    #[tokio::test]
    async fn a_key_that_names_no_job_is_misconfigured() {
        let w = world();
        let key = "raw/loose/file.csv";
        w.store
            .put(key, b"x".to_vec(), &Default::default())
            .await
            .unwrap();
        let disposition = w.handle(&w.deliver(&notification(BUCKET, key)).await).await;
        assert!(
            matches!(&disposition.fate, Fate::DeadLettered { kind: FailureKind::Misconfigured, reason } if reason.contains("no dataset= segment") && reason.contains("TRIBUTARY_JOB_NAMING=dataset")),
            "{disposition:?}"
        );
        assert_eq!(w.alerts()[0].event, "job_failed");
    }

    #[tokio::test]
    async fn glue_busy_is_retried_in_the_call_then_left_to_the_queue_then_dead_lettered() {
        let w = world();
        w.landed(KEY, FileState::Ingested).await;
        // Busy twice, then it starts: one delivery is enough.
        w.jobs.failures.lock().unwrap().extend([busy(), busy()]);
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(
                &disposition.objects[..],
                [ObjectOutcome::Started { recorded: true, .. }]
            ),
            "{disposition:?}"
        );
        assert_eq!(w.jobs.inner.runs().unwrap().len(), 1);

        // Busy beyond the in-call attempts: the queue retries, until the last
        // allowed receive, which dead-letters with the reason and alerts.
        let w = world();
        w.landed(KEY, FileState::Ingested).await;
        w.jobs
            .failures
            .lock()
            .unwrap()
            .extend(std::iter::repeat_with(busy).take(12));
        let mut received = w.deliver(&notification(BUCKET, ENCODED)).await;
        for receive in 1..=2 {
            assert_eq!(received.receive_count, receive);
            let disposition = w.handle(&received).await;
            assert!(disposition.retry(), "{disposition:?}");
            assert!(
                matches!(&disposition.fate, Fate::Retry { reason } if reason.contains("ConcurrentRunsExceededException")),
                "{disposition:?}"
            );
            assert!(w.alerts().is_empty());
            received = w.redeliver().await;
        }
        let disposition = w.handle(&received).await;
        assert!(
            matches!(
                &disposition.fate,
                Fate::DeadLettered {
                    kind: FailureKind::Transient,
                    ..
                }
            ),
            "{disposition:?}"
        );
        assert_eq!(
            w.jobs.failures.lock().unwrap().len(),
            0,
            "4 attempts per receive"
        );
        assert_eq!(w.dead_letters().await.len(), 1);
        let alerts = w.alerts();
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0].body.contains("(transient)") && alerts[0].body.contains("MaxConcurrentRuns")
        );
        assert!(w.jobs.inner.runs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn waits_end_before_the_deadline() {
        let w = world();
        w.landed(KEY, FileState::Ingested).await;
        let mut settings = w.settings.clone();
        settings.backoff = vec![StdDuration::from_secs(30); 3];
        w.jobs.failures.lock().unwrap().push_back(busy());
        let ctx = CatalogContext {
            ledger: &w.ledger,
            store: &w.store,
            queue: &w.queue,
            notifier: &w.notifier,
            jobs: &w.jobs,
            clock: &w.clock,
        };
        let received = w.deliver(&notification(BUCKET, ENCODED)).await;
        let started = Instant::now();
        let deadline = started + StdDuration::from_secs(5);
        let disposition = handle_message(&ctx, &settings, &received, deadline).await;
        assert!(started.elapsed() < StdDuration::from_secs(5));
        assert!(disposition.retry(), "{disposition:?}");
    }

    #[tokio::test]
    async fn a_file_the_ledger_does_not_yet_call_ingested_waits_without_starting() {
        let w = world();
        w.landed(KEY, FileState::Ingesting).await;
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(&disposition.fate, Fate::Retry { reason } if reason.contains("is ingesting, not yet ingested")),
            "{disposition:?}"
        );
        assert!(w.jobs.inner.runs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_object_without_lineage_still_starts_its_job_unrecorded() {
        let w = world();
        w.store
            .put(KEY, b"x".to_vec(), &Default::default())
            .await
            .unwrap();
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Started { recorded: false, job, tenant, source, .. }]
                if job == "daily-sales" && tenant.as_deref() == Some("acme-retail") && source.is_none()),
            "the key names the tenant, nothing names the source: {disposition:?}"
        );
        let runs = w.jobs.inner.runs().unwrap();
        assert_eq!(runs[0].arguments["--tenant"], "acme-retail");

        // Lineage whose ledger item does not exist (another table?): the same.
        let w = world();
        w.store
            .put(KEY, b"x".to_vec(), &lineage().metadata(None))
            .await
            .unwrap();
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(
                &disposition.objects[..],
                [ObjectOutcome::Started {
                    recorded: false,
                    ..
                }]
            ),
            "{disposition:?}"
        );

        // A custom key layout: tenant and dataset come from the lineage.
        let w = world();
        let key = "raw/acme/sales.csv";
        w.landed(key, FileState::Ingested).await;
        let disposition = w.handle(&w.deliver(&notification(BUCKET, key)).await).await;
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Started { recorded: true, job, tenant, source, .. }]
                if job == "daily-sales" && tenant.as_deref() == Some("acme-retail") && source.as_deref() == Some("acme-ftp")),
            "{disposition:?}"
        );
        let runs = w.jobs.inner.runs().unwrap();
        assert_eq!(runs[0].arguments["--dataset"], "daily-sales");
        assert_eq!(runs[0].arguments["--tenant"], "acme-retail");
    }

    #[tokio::test]
    async fn parent_folder_naming_and_overrides() {
        let mut w = world();
        w.landed(KEY, FileState::Ingested).await;
        w.settings.naming = JobNaming::ParentFolder;
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Started { job, .. }] if job == "ingest_date=2026-11-21"),
            "{disposition:?}"
        );

        let mut w = world();
        w.landed(KEY, FileState::Ingested).await;
        w.settings.overrides = JobOverrides::parse("daily-sales=sales-load").unwrap();
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(
            matches!(&disposition.objects[..], [ObjectOutcome::Started { job, .. }] if job == "sales-load"),
            "{disposition:?}"
        );
    }

    #[tokio::test]
    async fn the_crawler_starts_after_the_job_and_its_failure_is_only_a_warning() {
        let mut w = world();
        w.landed(KEY, FileState::Ingested).await;
        w.settings.crawler = Some(CrawlerTemplate::parse("tributary-{dataset}").unwrap());
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert!(matches!(
            &disposition.objects[..],
            [ObjectOutcome::Started { .. }]
        ));
        let crawls = w.jobs.inner.crawls().unwrap();
        assert_eq!(crawls.len(), 1);
        assert_eq!(crawls[0].crawler, "tributary-daily-sales");

        let mut w = world();
        w.landed(KEY, FileState::Ingested).await;
        w.settings.crawler = Some(CrawlerTemplate::parse("missing-{dataset}").unwrap());
        let disposition = w
            .handle(&w.deliver(&notification(BUCKET, ENCODED)).await)
            .await;
        assert_eq!(disposition.fate, Fate::Done(()));
        assert!(matches!(
            &disposition.objects[..],
            [ObjectOutcome::Started { recorded: true, .. }]
        ));
        let alerts = w.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event, "crawler_failed");
        assert_eq!(alerts[0].severity, crate::ports::Severity::Warning);
        assert!(alerts[0].body.contains("missing-daily-sales"));
        assert!(w.dead_letters().await.is_empty());
    }
}
