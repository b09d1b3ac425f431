//! The ingester's work on one `FileDiscovered` message, from lease to verdict:
//!
//! 1. the message as the caller read it, once (unreadable → dead letter, alert);
//! 2. take the ledger lease (a finished file is a duplicate delivery: done; a
//!    lease held by another ingester: retry later; no ledger item: retry, as
//!    the poller may claim it again);
//! 3. with the lease, and the message's visibility extended while it runs:
//!    look up the rule, fetch the password and key, stream the file from its
//!    server (a pooled session of the source port) through
//!    [`validate_and_upload`];
//! 4. record the outcome in the ledger, then act on it:
//!    - ingested: apply the rule's post-action on the server, in a session
//!      from the source's pool (a failure there is a warning: the object is
//!      complete and the ledger says so), notify per the rule's policy;
//!    - rejected: dead-letter the message with the reasons as attributes, alert;
//!    - misconfigured: dead-letter with the reason, alert;
//!    - transient: leave the message to SQS (a batch item failure), except on
//!      its last allowed receive, when it is dead-lettered with the reason and
//!      ops are alerted (SQS's own redrive would drop the reason).
//!
//! [`ingest_message`] never fails: every path ends in a [`Fate`] the Lambda
//! turns into "delete" or "retry". A ledger write that fails leaves the
//! message for a retry; the deterministic key makes the retry land on the same
//! object.

use std::future::Future;
use std::pin::pin;

use chrono::{DateTime, Duration, Utc};
use sha2::Digest;
use tracing::{error, info, warn};

use super::lineage::Lineage;
use super::object_key::{KeyInput, KeyTemplate};
use super::quarantine;
use super::upload::{
    Destination, FileToIngest, Landed, Landing, UploadOptions, validate_and_upload,
};
use crate::alerts::{self, FileRef};
use crate::engine::data_key::DataKey;
use crate::failure::FailureKind;
use crate::ports::Backends;
use crate::ports::FileVersion;
use crate::ports::clock::Clock;
use crate::ports::ledger::{FileError, FileState, Lease, Ledger, LedgerError, Outcome};
use crate::ports::messages::{FileDiscovered, MessageError};
use crate::ports::notifier::{Notifier, Severity};
use crate::ports::object_store::ObjectStore;
use crate::ports::source::{SessionError, SourceConnector, SourceError, SourceSession};
use crate::ports::work_queue::{self, Fate, Received, WorkQueue};
use crate::registry::{PostAction, Registry, Rule, Source, Tenant};
use crate::secrets::{SecretStore, SecretValue};

/// What the ingester reaches the outside through: the adapters of `B`, and a
/// notifier `N` (`B`'s own, or the run's digest that wraps it).
pub struct IngestContext<'a, B: Backends, N: Notifier = <B as Backends>::Notifier> {
    pub ledger: &'a B::Ledger,
    pub store: &'a B::Store,
    /// The ingest queue the message came from (visibility, dead letters).
    pub queue: &'a B::Queue,
    pub notifier: &'a N,
    pub secrets: &'a B::Secrets,
    /// The sources' servers; the ingester takes pooled sessions.
    pub sources: &'a B::Sources,
    pub clock: &'a B::Clock,
}

/// The registry the message is read against, and its stored version (lineage).
#[derive(Debug, Clone, Copy)]
pub struct RegistryView<'a> {
    pub registry: &'a Registry,
    pub version: &'a str,
}

/// How the ingester works; from the function's environment.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub key_template: KeyTemplate,
    pub upload: UploadOptions,
    /// How long a lease lasts: longer than the function can run, so a lease
    /// expires only when its ingester is gone.
    pub lease: Duration,
    /// The queue's visibility timeout; extended by this much every half of it.
    pub visibility: Duration,
    /// The queue's `maxReceiveCount`: on that receive a transient failure is
    /// dead-lettered with its reason instead of being left to SQS.
    pub max_receives: u32,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            key_template: KeyTemplate::default(),
            upload: UploadOptions::default(),
            lease: Duration::seconds(905),
            visibility: Duration::seconds(960),
            max_receives: 5,
        }
    }
}

/// What a handled message came to, besides its [`Fate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingestion {
    /// The file landed: its key, data rows, bytes as received and decoded.
    Ingested {
        object_key: String,
        rows: u64,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// Already ingested or rejected: a duplicate delivery.
    Duplicate { state: FileState },
}

impl From<Landed> for Ingestion {
    /// A landed file's key and figures, as the ledger recorded them (both
    /// are read from the same [`Landed`]).
    fn from(landed: Landed) -> Self {
        Ingestion::Ingested {
            object_key: landed.object_key,
            rows: landed.report.rows,
            bytes_in: landed.report.received_bytes,
            bytes_out: landed.report.decoded_bytes,
        }
    }
}

/// One message handled: the file it named (`None` when the body was
/// unreadable) and what became of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub file: Option<FileDiscovered>,
    pub fate: Fate<Ingestion>,
}

/// The message's file with its tenant, source and rule, looked up once.
struct Job<'r> {
    message: &'r FileDiscovered,
    tenant: &'r Tenant,
    source: &'r Source,
    rule: &'r Rule,
}

/// What an attempt with the lease came to: the file read to a verdict (the
/// ledger's [`Outcome`] is read from it), and the source's login secret, with
/// which a landed file's post-action takes a session from the source's pool
/// (the download's session went back to it, and comes out checked).
struct Attempt {
    landing: Landing,
    secret: SecretValue,
    /// The file's quarantine report, when it has one.
    report_key: Option<String>,
}

/// Handles one received message, whose body the caller read once into
/// `decoded` (the [`FileDiscovered`], or why it is unreadable); see the module
/// docs. `owner` names this attempt in the lease (the invocation's request id
/// and the message id).
///
/// A message that would be retried on its last allowed receive is
/// dead-lettered here with its reason instead, so the DLQ always says why.
pub async fn ingest_message<B: Backends, N: Notifier>(
    ctx: &IngestContext<'_, B, N>,
    registry: RegistryView<'_>,
    received: &Received,
    decoded: Result<FileDiscovered, MessageError>,
    owner: &str,
    settings: &IngestSettings,
) -> Handled {
    let (file, fate) = match decoded {
        Ok(message) => {
            let fate = ingest_file(ctx, registry, received, &message, owner, settings).await;
            (Some(message), fate)
        }
        Err(error) => {
            let reason = error.to_string();
            error!(%reason, "Unreadable message.");
            alerts::publish(
                ctx.notifier,
                alerts::message_unreadable("the ingest queue", &received.id, &reason),
            )
            .await;
            let fate = work_queue::dead_letter(ctx.queue, received, error.kind(), reason).await;
            (None, fate)
        }
    };
    let fate = match fate {
        Fate::Retry { reason } if received.is_last_receive(settings.max_receives) => {
            error!(receive = received.receive_count, %reason, "Last allowed receive; dead-lettered with its reason.");
            if let Some(message) = &file {
                alerts::publish(
                    ctx.notifier,
                    alerts::file_failed(
                        file_ref(message),
                        FailureKind::Transient,
                        &reason,
                        received.receive_count,
                    ),
                )
                .await;
            }
            work_queue::dead_letter(ctx.queue, received, FailureKind::Transient, reason).await
        }
        fate => fate,
    };
    Handled { file, fate }
}

/// The file of a readable message: lease, attempt, ledger, then the
/// post-action, alerts and dead letters its outcome calls for.
async fn ingest_file<B: Backends, N: Notifier>(
    ctx: &IngestContext<'_, B, N>,
    registry: RegistryView<'_>,
    received: &Received,
    message: &FileDiscovered,
    owner: &str,
    settings: &IngestSettings,
) -> Fate<Ingestion> {
    let version = message.version();
    let now = ctx.clock.now();
    let lease = ctx
        .ledger
        .take_lease(&version, owner, settings.lease, now)
        .await;
    let record = match lease {
        Ok(Lease::Taken(record)) => record,
        Ok(Lease::Finished(state)) => {
            info!(path = %message.path, %state, "Duplicate delivery of a finished file.");
            return Fate::Done(Ingestion::Duplicate { state });
        }
        Ok(Lease::Held { owner, until }) => {
            return Fate::Retry {
                reason: format!(
                    "another ingester ({}) holds the lease until {}",
                    owner.as_deref().unwrap_or("?"),
                    until.map_or_else(|| "?".into(), |t| t.to_rfc3339())
                ),
            };
        }
        Err(error) => {
            let kind = error.kind();
            let reason = error.to_string();
            // No item may be a claim the poller released after a send that
            // looked failed but was delivered: the next poll claims it again,
            // so retry (and dead-letter with the reason on the last receive).
            if kind == FailureKind::Transient || matches!(error, LedgerError::NotFound { .. }) {
                return Fate::Retry { reason };
            }
            let file = file_ref(message);
            alerts::publish(ctx.notifier, alerts::file_failed(file, kind, &reason, 0)).await;
            return work_queue::dead_letter(ctx.queue, received, kind, reason).await;
        }
    };

    let job = find(registry.registry, message);
    let policy = match &job {
        Ok(job) => job.rule.notify,
        Err(_) => registry
            .registry
            .find_rule(&message.rule)
            .map(|(_, _, rule)| rule.notify)
            .unwrap_or_default(),
    };
    let attempt = async {
        let job = job.as_ref().map_err(Clone::clone)?;
        attempt(
            ctx.store,
            ctx.secrets,
            ctx.sources,
            registry.version,
            job,
            settings,
            now,
        )
        .await
    };
    let attempt = with_visibility(ctx.queue, &received.receipt, settings.visibility, attempt).await;
    let file = file_ref(message);

    match attempt {
        Ok(Attempt {
            landing,
            secret,
            report_key,
        }) => {
            let outcome = landing.outcome(report_key.clone());
            if let Err(error) = finish(ctx.ledger, ctx.clock, &version, owner, &outcome).await {
                return Fate::Retry {
                    reason: error.to_string(),
                };
            }
            match landing {
                Landing::Landed(landed) => {
                    let (key, rows) = (&landed.object_key, landed.report.rows);
                    info!(path = %message.path, %key, rows, "Ingested.");
                    if let Ok(job) = &job {
                        let now = ctx.clock.now();
                        post_action(ctx.notifier, ctx.sources, &secret, job, now).await;
                    }
                    if let Some(report) = &report_key
                        && alerts::wanted(policy, Severity::Warning)
                    {
                        let invalid = landed.report.invalid_rows;
                        let notice = alerts::rows_quarantined(file, key, rows, invalid, report);
                        alerts::publish(ctx.notifier, notice).await;
                    }
                    if alerts::wanted(policy, Severity::Info) {
                        let decoded = landed.report.decoded_bytes;
                        alerts::publish(
                            ctx.notifier,
                            alerts::file_ingested(file, key, rows, decoded),
                        )
                        .await;
                    }
                    Fate::Done(Ingestion::from(landed))
                }
                Landing::Rejected(report) => {
                    let reason = report.reasons.join("; ");
                    warn!(path = %message.path, %reason, "Rejected.");
                    if alerts::wanted(policy, Severity::Error) {
                        let notice =
                            alerts::file_rejected(file, &report.reasons, report_key.as_deref());
                        alerts::publish(ctx.notifier, notice).await;
                    }
                    work_queue::dead_letter(ctx.queue, received, FailureKind::Rejected, reason)
                        .await
                }
            }
        }
        Err(failure) => {
            let outcome = Outcome::Failed(failure.clone());
            if let Err(error) = finish(ctx.ledger, ctx.clock, &version, owner, &outcome).await {
                warn!(path = %message.path, %error, "Recording the failure failed; the message is retried.");
                return Fate::Retry {
                    reason: failure.reason,
                };
            }
            if failure.kind == FailureKind::Transient {
                warn!(path = %message.path, reason = %failure.reason, receive = received.receive_count, "Transient failure; SQS delivers the message again.");
                return Fate::Retry {
                    reason: failure.reason,
                };
            }
            error!(path = %message.path, kind = %failure.kind, reason = %failure.reason, "Failed; dead-lettered.");
            if alerts::wanted(policy, Severity::Error) {
                alerts::publish(
                    ctx.notifier,
                    alerts::file_failed(file, failure.kind, &failure.reason, record.attempts),
                )
                .await;
            }
            work_queue::dead_letter(ctx.queue, received, failure.kind, failure.reason).await
        }
    }
}

fn file_ref(message: &FileDiscovered) -> FileRef<'_> {
    FileRef {
        tenant: &message.tenant,
        source: &message.source,
        rule: &message.rule,
        path: &message.path,
    }
}

/// The message's rule with its tenant and source.
fn find<'r>(registry: &'r Registry, message: &'r FileDiscovered) -> Result<Job<'r>, FileError> {
    let (tenant, source) = registry.find_source(&message.source).ok_or_else(|| {
        FileError::new(
            FailureKind::Misconfigured,
            format!("source {} is not in the registry", message.source),
        )
    })?;
    let rule = source
        .rules
        .iter()
        .find(|r| r.id == message.rule)
        .ok_or_else(|| {
            FileError::new(
                FailureKind::Misconfigured,
                format!(
                    "rule {} is not a rule of source {} in the registry",
                    message.rule, message.source
                ),
            )
        })?;
    Ok(Job {
        message,
        tenant,
        source,
        rule,
    })
}

/// One attempt under the lease: fetch, validate, upload.
async fn attempt<C: SourceConnector>(
    store: &impl ObjectStore,
    secrets: &impl SecretStore,
    sources: &C,
    registry_version: &str,
    job: &Job<'_>,
    settings: &IngestSettings,
    now: DateTime<Utc>,
) -> Result<Attempt, FileError> {
    let Job {
        message,
        tenant,
        source,
        rule,
    } = job;
    let secret_failure = |e: crate::secrets::SecretError| FileError::new(e.kind(), e.to_string());
    let password = secrets
        .resolve(&source.password)
        .await
        .map_err(secret_failure)?;
    let key = match &rule.key {
        Some(reference) => {
            let value = secrets.resolve(reference).await.map_err(secret_failure)?;
            Some(DataKey::from_base64(value.expose()).map_err(|e| {
                FileError::new(
                    FailureKind::Misconfigured,
                    format!("the key of rule {} ({reference}): {e}", rule.id),
                )
            })?)
        }
        None => None,
    };
    let object_key = settings
        .key_template
        .render(&KeyInput {
            tenant: &tenant.id,
            dataset: &rule.dataset,
            ingest_date: message.discovered_at.date_naive(),
            path: &message.path,
            layers: rule.layers.as_deref(),
        })
        .map_err(|e| FileError::new(e.kind(), e.to_string()))?;
    let lineage = Lineage {
        tenant: tenant.id.clone(),
        dataset: rule.dataset.clone(),
        source_id: source.id.clone(),
        source_host: source.host.clone(),
        source_path: message.path.clone(),
        listed_size: message.size,
        ftp_mtime: message.mtime,
        rule_id: rule.id.clone(),
        registry_version: registry_version.to_owned(),
        ingested_at: now,
    };
    let object_key = free_key(store, object_key, &lineage, message).await?;
    let server_failure = |e: SessionError<C>| FileError::new(e.kind(), e.to_string());
    let mut session = sources
        .pooled(source, &password)
        .await
        .map_err(server_failure)?;
    let download = session
        .read(&message.path, 0, Some(message.size))
        .await
        .map_err(server_failure)?;
    let landing = validate_and_upload(
        download,
        FileToIngest {
            name: message.path.clone(),
            spec: rule.validation_spec(&tenant.timezone),
            key,
        },
        store,
        Destination {
            object_key: &object_key,
            lineage: &lineage,
            options: settings.upload,
        },
    )
    .await
    .map_err(|e| FileError::new(e.kind(), e.to_string()))?;
    let report_key = landing
        .needs_report()
        .then(|| quarantine::report_key(&object_key));
    Ok(Attempt {
        landing,
        secret: password,
        report_key,
    })
}

/// The key this version lands on: the template's key, unless another file
/// (another path, or another version of this path) already holds it, in which
/// case the key gets a tag derived from this version's identity, so no file
/// ever replaces another. A retry of the same version finds its own lineage
/// and keeps the key.
async fn free_key<St: ObjectStore>(
    store: &St,
    key: String,
    lineage: &Lineage,
    message: &FileDiscovered,
) -> Result<String, FileError> {
    let existing = store
        .head(&key)
        .await
        .map_err(|e| FileError::new(e.kind(), e.to_string()))?;
    let Some(existing) = existing else {
        return Ok(key);
    };
    let ours = lineage.metadata(None);
    let same = [
        super::lineage::keys::SOURCE_HOST,
        super::lineage::keys::SOURCE_PATH_SHA256,
        super::lineage::keys::FTP_MTIME,
    ]
    .iter()
    .all(|k| existing.metadata.get(*k) == ours.get(*k));
    if same
        && existing
            .metadata
            .get(super::lineage::keys::RECEIVED_BYTES)
            .is_none_or(|b| *b == message.size.to_string())
    {
        return Ok(key);
    }
    let identity = format!(
        "{}\n{}\n{}",
        message.source,
        message.path,
        message.version().version_key()
    );
    let digest = sha2::Sha256::digest(identity.as_bytes());
    let tag = hex::encode(&digest[..6]);
    let tagged = super::object_key::with_version_tag(&key, &tag);
    warn!(key = %key, tagged = %tagged, path = %message.path, "Another file already holds this key; landing this version on a tagged key.");
    Ok(tagged)
}

/// Runs `work` while extending the message's visibility every half timeout,
/// so a long transfer is not delivered to a second ingester meanwhile.
async fn with_visibility<Q: WorkQueue, T>(
    queue: &Q,
    receipt: &str,
    visibility: Duration,
    work: impl Future<Output = T>,
) -> T {
    let period = (visibility / 2)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(30))
        .max(std::time::Duration::from_secs(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut work = pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => {
                // The transfer waits for this one call; it is short and rare.
                if let Err(error) = queue.extend_visibility(receipt, visibility).await {
                    warn!(%error, "Could not extend the message's visibility; a second delivery may start and will find the lease held.");
                }
            }
        }
    }
}

async fn finish(
    ledger: &impl Ledger,
    clock: &impl Clock,
    version: &FileVersion,
    owner: &str,
    outcome: &Outcome,
) -> Result<(), LedgerError> {
    // The object may already be visible: a few quick retries keep a brief
    // table hiccup from sending the whole file through again.
    let mut delay = std::time::Duration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match ledger
            .finish(version, owner, outcome.clone(), clock.now())
            .await
        {
            Ok(_) => return Ok(()),
            Err(error @ LedgerError::Unavailable { .. }) if tries < FINISH_TRIES => {
                warn!(%error, tries, "Recording the outcome failed; trying again.");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Attempts at recording an outcome before the message is left for a retry.
const FINISH_TRIES: u32 = 3;

/// Applies the rule's post-action on the server, in a session from the
/// source's pool (an idle one is checked before reuse, a dead one replaced); a
/// failure is a warning (the file landed).
async fn post_action<C: SourceConnector>(
    notifier: &impl Notifier,
    sources: &C,
    secret: &SecretValue,
    job: &Job<'_>,
    now: DateTime<Utc>,
) {
    let Job {
        message,
        source,
        rule,
        ..
    } = job;
    let action = match &rule.post_action {
        PostAction::Leave => return,
        PostAction::Delete => "delete".to_owned(),
        PostAction::MoveTo(dir) => format!("move to {dir}"),
    };
    let result = async {
        let mut session = sources.pooled(source, secret).await?;
        session
            .post_action(&message.path, &rule.post_action, now)
            .await
    }
    .await;
    if let Err(error) = result {
        let reason = error.to_string();
        warn!(path = %message.path, %action, %reason, "The post-action failed; the file stays on the server.");
        if alerts::wanted(rule.notify, Severity::Warning) {
            alerts::publish(
                notifier,
                alerts::post_action_failed(file_ref(message), &action, &reason),
            )
            .await;
        }
    }
}
