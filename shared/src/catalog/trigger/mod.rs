//! The catalog trigger's work on one catalog-queue message (an S3 event
//! notification, see [`super::event`]), object by object, one file per phase:
//!
//! 1. [`target`]: ignore what is not a landed file: other events than
//!    `ObjectCreated:*`, another bucket, keys outside the raw prefix, folder
//!    markers, and the `s3:TestEvent` S3 sends when the notification is
//!    configured;
//! 2. [`target`]: `HEAD` the object: gone (deleted since the event) → nothing
//!    to do;
//! 3. [`job`]: name the job ([`super::job_name`]); [`target`] reads tenant and
//!    dataset from the key's `tenant=` / `dataset=` segments, else from the
//!    object's lineage;
//! 4. [`ledger`]: rebuild the file's ledger version from the lineage metadata
//!    and read its ledger item: a run id already there means a duplicate event
//!    (skip); an item not yet `ingested` (the S3 event can overtake the
//!    ingester's ledger write) is waited for, then retried. An object without
//!    that lineage (not written by tributary, or its path cut to fit S3's
//!    metadata limit) still gets its job, with a warning that no ledger item
//!    can take the run id;
//! 5. [`job`]: `StartJobRun` with `--bucket`, `--key`, `--tenant`,
//!    `--dataset`; throttling, `ConcurrentRunsExceededException` and outages
//!    are retried in the call with backoff (bounded by the invocation's
//!    deadline), then left to the queue; a missing job or a refusal is
//!    misconfigured: alert and dead letter;
//! 6. [`ledger`]: write the run id to the ledger item, and [`crawler`]: start
//!    the dataset's crawler if one is configured (a crawler failure is a
//!    warning alert, never a dead letter: the job already started).
//!
//! [`handle_object`] runs these steps; a step that ends the object's work
//! early returns a [`stop::Stop`], which [`stop`] turns into its
//! [`ObjectOutcome`]. [`handle_message`] decides the message's fate from its
//! objects' outcomes. The unit tests, whole messages on the local adapters,
//! are in `tests.rs`.
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

mod crawler;
mod job;
mod ledger;
mod stop;
mod target;
#[cfg(test)]
mod tests;

use std::time::Duration as StdDuration;

use serde::Serialize;
use tokio::time::Instant;
use tracing::{error, info};

use self::stop::Stop;
use self::target::Target;
use super::event::{self, ObjectEvent, S3Event};
use super::job_name::{CrawlerTemplate, JobNaming, JobOverrides};
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::Backends;
use crate::ports::notifier::Notifier;
use crate::ports::work_queue::{self, Fate, Received};

/// What the catalog trigger reaches the outside through: the adapters of `B`,
/// and a notifier `N` (`B`'s own, or the run's digest that wraps it).
pub struct CatalogContext<'a, B: Backends, N: Notifier = <B as Backends>::Notifier> {
    pub ledger: &'a B::Ledger,
    /// The raw bucket.
    pub store: &'a B::Store,
    /// The catalog queue the message came from (dead letters).
    pub queue: &'a B::Queue,
    pub notifier: &'a N,
    pub jobs: &'a B::Jobs,
    pub clock: &'a B::Clock,
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

/// Handles one catalog-queue message; see the module docs. Waits between
/// attempts end before `deadline` (the invocation's, less a reserve).
pub async fn handle_message<B: Backends, N: Notifier>(
    ctx: &CatalogContext<'_, B, N>,
    settings: &CatalogSettings,
    received: &Received,
    deadline: Instant,
) -> Handled {
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

/// Handles one object of a notification; see the module docs. The message's
/// fate is decided by [`handle_message`] from every object's outcome.
pub async fn handle_object<B: Backends, N: Notifier>(
    ctx: &CatalogContext<'_, B, N>,
    settings: &CatalogSettings,
    object: &ObjectEvent,
    last_receive: bool,
    deadline: Instant,
) -> ObjectOutcome {
    let mut target = Target::from_key(&settings.bucket, &object.key);
    match start(ctx, settings, object, &mut target, deadline).await {
        Ok(started) => started,
        Err(stop) => stop.outcome(ctx.notifier, &target, last_receive).await,
    }
}

/// The steps of the module docs, one call each, for one object: `target`
/// gathers what is known of it as they go (the failure alerts name it).
async fn start<B: Backends, N: Notifier>(
    ctx: &CatalogContext<'_, B, N>,
    settings: &CatalogSettings,
    object: &ObjectEvent,
    target: &mut Target<'_>,
    deadline: Instant,
) -> Result<ObjectOutcome, Stop> {
    let backoff = &settings.backoff;
    target::landed_file(object, &settings.bucket, &settings.raw_prefix)?;
    let metadata = target::head(ctx.store, target.key).await?;
    target.read_lineage(&metadata);
    let job = job::name(target, settings.naming, &settings.overrides)?;
    let record_on =
        ledger::record_on(ctx.ledger, &metadata, target.key, &job, backoff, deadline).await?;
    let run = job::start(ctx.jobs, target, &job, backoff, deadline).await?;
    info!(key = target.key, %job, run_id = %run.run_id, "Catalog job started.");

    let recorded = match &record_on {
        Some(version) => {
            ledger::record_run(
                ctx.ledger,
                ctx.notifier,
                ctx.clock,
                target,
                version,
                &job,
                &run.run_id,
            )
            .await
        }
        None => false,
    };
    if let Some(template) = &settings.crawler {
        crawler::crawl(
            ctx.jobs,
            ctx.notifier,
            target,
            template,
            &run.run_id,
            backoff,
            deadline,
        )
        .await;
    }
    Ok(ObjectOutcome::Started {
        key: target.key.to_owned(),
        job,
        run_id: run.run_id,
        recorded,
        tenant: target.tenant.clone(),
        source: target.source.clone(),
    })
}

/// The wait before attempt `attempt + 1`, if `backoff` has one and it ends
/// before the deadline.
fn pause(backoff: &[StdDuration], attempt: usize, deadline: Instant) -> Option<StdDuration> {
    let wait = *backoff.get(attempt)?;
    (Instant::now() + wait < deadline).then_some(wait)
}
