//! The ingester's work on one `FileDiscovered` message, from lease to verdict:
//!
//! 1. read the message (unreadable → dead letter, alert);
//! 2. take the ledger lease (a finished file is a duplicate delivery: done; a
//!    lease held by another ingester: retry later; no ledger item: dead letter);
//! 3. with the lease, and the message's visibility extended while it runs:
//!    look up the rule, fetch the password and key, stream the file from FTP
//!    through [`validate_and_upload`];
//! 4. record the outcome in the ledger, then act on it:
//!    - ingested: apply the rule's post-action on the server (a failure there
//!      is a warning: the object is complete and the ledger says so), notify
//!      per the rule's policy;
//!    - rejected: dead-letter the message with the reasons as attributes, alert;
//!    - misconfigured: dead-letter with the reason, alert;
//!    - transient: leave the message to SQS (a batch item failure), except on
//!      its last allowed receive, when it is dead-lettered with the reason and
//!      ops are alerted (SQS's own redrive would drop the reason).
//!
//! [`ingest_message`] never fails: every path ends in a [`Disposition`] the
//! Lambda turns into "delete" or "retry". A ledger write that fails leaves the
//! message for a retry; the deterministic key makes the retry land on the same
//! object.

use std::future::Future;
use std::pin::pin;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::Digest;
use tracing::{error, info, warn};

use super::lineage::Lineage;
use super::object_key::{KeyInput, KeyTemplate};
use super::upload::{Destination, FileToIngest, Ingested, UploadOptions, validate_and_upload};
use crate::alerts::{self, FileRef};
use crate::engine::data_key::DataKey;
use crate::failure::FailureKind;
use crate::ftp::pools::SourcePools;
use crate::ftp::{Password, apply_post_action};
use crate::ports::clock::Clock;
use crate::ports::ledger::{FileError, FileState, Lease, Ledger, LedgerError, Outcome};
use crate::ports::messages::FileDiscovered;
use crate::ports::notifier::{Notification, Notifier};
use crate::ports::object_store::ObjectStore;
use crate::ports::work_queue::{Received, WorkQueue};
use crate::registry::{PostAction, Registry, Rule, Source, Tenant};
use crate::secrets::SecretStore;

/// What the ingester reaches the outside through.
pub struct IngestContext<'a, L, St, Q, N, S, C> {
    pub ledger: &'a L,
    pub store: &'a St,
    /// The ingest queue the message came from (visibility, dead letters).
    pub queue: &'a Q,
    pub notifier: &'a N,
    pub secrets: &'a S,
    pub pools: &'a SourcePools,
    pub clock: &'a C,
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

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "disposition", rename_all = "snake_case")]
pub enum Disposition {
    /// The file landed: its key, data rows, bytes as received and decoded.
    Ingested {
        object_key: String,
        rows: u64,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// Already ingested or rejected: a duplicate delivery.
    Duplicate { state: FileState },
    /// Dead-lettered with its reason (rejected, misconfigured, or transient
    /// on its last receive).
    DeadLettered { kind: FailureKind, reason: String },
    /// Left on the queue for another delivery (a batch item failure).
    Retry { reason: String },
}

impl Disposition {
    /// Whether the message must stay on the queue (reported as a failure).
    pub fn retry(&self) -> bool {
        matches!(self, Disposition::Retry { .. })
    }
}

/// A failure inside an attempt, classified.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    reason: String,
}

impl Failure {
    fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Failure {
            kind,
            reason: reason.into(),
        }
    }
}

/// What an attempt with the lease came to.
enum Attempt {
    Landed {
        object_key: String,
        outcome: Outcome,
        rows: u64,
        decoded: u64,
    },
    Rejected {
        outcome: Outcome,
        reasons: Vec<String>,
    },
}

/// Handles one received message; see the module docs. `owner` names this
/// attempt in the lease (the invocation's request id and the message id).
///
/// A message that would be retried on its last allowed receive is
/// dead-lettered here with its reason instead, so the DLQ always says why.
pub async fn ingest_message<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    registry: RegistryView<'_>,
    received: &Received,
    owner: &str,
    settings: &IngestSettings,
) -> Disposition
where
    L: Ledger,
    St: ObjectStore,
    Q: WorkQueue,
    N: Notifier,
    S: SecretStore,
    C: Clock,
{
    let disposition = ingest_once(ctx, registry, received, owner, settings).await;
    let Disposition::Retry { reason } = disposition else {
        return disposition;
    };
    if received.receive_count < settings.max_receives {
        return Disposition::Retry { reason };
    }
    error!(message_id = %received.id, receive = received.receive_count, %reason, "Last allowed receive; dead-lettered with its reason.");
    if let Ok(message) = FileDiscovered::decode(&received.body) {
        notify(
            ctx,
            alerts::file_failed(
                file_ref(&message),
                FailureKind::Transient,
                &reason,
                received.receive_count,
            ),
        )
        .await;
    }
    dead_letter(ctx, received, FailureKind::Transient, reason).await
}

async fn ingest_once<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    registry: RegistryView<'_>,
    received: &Received,
    owner: &str,
    settings: &IngestSettings,
) -> Disposition
where
    L: Ledger,
    St: ObjectStore,
    Q: WorkQueue,
    N: Notifier,
    S: SecretStore,
    C: Clock,
{
    let message = match FileDiscovered::decode(&received.body) {
        Ok(message) => message,
        Err(error) => {
            let reason = error.to_string();
            error!(message_id = %received.id, %reason, "Unreadable message.");
            notify(
                ctx,
                alerts::message_unreadable("the ingest queue", &received.id, &reason),
            )
            .await;
            return dead_letter(ctx, received, error.kind(), reason).await;
        }
    };
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
            return Disposition::Duplicate { state };
        }
        Ok(Lease::Held { owner, until }) => {
            return Disposition::Retry {
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
                return Disposition::Retry { reason };
            }
            let file = file_ref(&message);
            notify(ctx, alerts::file_failed(file, kind, &reason, 0)).await;
            return dead_letter(ctx, received, kind, reason).await;
        }
    };

    let attempt = attempt(ctx, registry, &message, settings, now);
    let attempt = with_visibility(ctx.queue, &received.receipt, settings.visibility, attempt).await;
    let policy = registry
        .registry
        .find_rule(&message.rule)
        .map(|(_, _, rule)| rule.notify)
        .unwrap_or_default();
    let file = file_ref(&message);

    match attempt {
        Ok(Attempt::Landed {
            object_key,
            outcome,
            rows,
            decoded,
        }) => {
            let bytes_in = match &outcome {
                Outcome::Ingested { bytes_in, .. } => *bytes_in,
                _ => 0,
            };
            if let Err(error) = finish(ctx, &version, owner, outcome).await {
                return Disposition::Retry {
                    reason: error.to_string(),
                };
            }
            info!(path = %message.path, key = %object_key, rows, "Ingested.");
            post_action(ctx, registry, &message, policy).await;
            if alerts::wanted(policy, crate::ports::notifier::Severity::Info) {
                notify(ctx, alerts::file_ingested(file, &object_key, rows, decoded)).await;
            }
            Disposition::Ingested {
                object_key,
                rows,
                bytes_in,
                bytes_out: decoded,
            }
        }
        Ok(Attempt::Rejected { outcome, reasons }) => {
            if let Err(error) = finish(ctx, &version, owner, outcome).await {
                return Disposition::Retry {
                    reason: error.to_string(),
                };
            }
            let reason = reasons.join("; ");
            warn!(path = %message.path, %reason, "Rejected.");
            if alerts::wanted(policy, crate::ports::notifier::Severity::Error) {
                notify(ctx, alerts::file_rejected(file, &reasons)).await;
            }
            dead_letter(ctx, received, FailureKind::Rejected, reason).await
        }
        Err(failure) => {
            let outcome = Outcome::Failed(FileError {
                kind: failure.kind,
                reason: failure.reason.clone(),
            });
            if let Err(error) = finish(ctx, &version, owner, outcome).await {
                warn!(path = %message.path, %error, "Recording the failure failed; the message is retried.");
                return Disposition::Retry {
                    reason: failure.reason,
                };
            }
            if failure.kind == FailureKind::Transient {
                warn!(path = %message.path, reason = %failure.reason, receive = received.receive_count, "Transient failure; SQS delivers the message again.");
                return Disposition::Retry {
                    reason: failure.reason,
                };
            }
            error!(path = %message.path, kind = %failure.kind, reason = %failure.reason, "Failed; dead-lettered.");
            if alerts::wanted(policy, crate::ports::notifier::Severity::Error) {
                notify(
                    ctx,
                    alerts::file_failed(file, failure.kind, &failure.reason, record.attempts),
                )
                .await;
            }
            dead_letter(ctx, received, failure.kind, failure.reason).await
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

/// The rule of the message with its tenant and source.
fn find<'r>(
    registry: &'r Registry,
    message: &FileDiscovered,
) -> Result<(&'r Tenant, &'r Source, &'r Rule), Failure> {
    let (tenant, source) = registry.find_source(&message.source).ok_or_else(|| {
        Failure::new(
            FailureKind::Misconfigured,
            format!("source {} is not in the registry", message.source),
        )
    })?;
    let rule = source
        .rules
        .iter()
        .find(|r| r.id == message.rule)
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Misconfigured,
                format!(
                    "rule {} is not a rule of source {} in the registry",
                    message.rule, message.source
                ),
            )
        })?;
    Ok((tenant, source, rule))
}

/// One attempt under the lease: fetch, validate, upload.
async fn attempt<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    registry: RegistryView<'_>,
    message: &FileDiscovered,
    settings: &IngestSettings,
    now: DateTime<Utc>,
) -> Result<Attempt, Failure>
where
    St: ObjectStore,
    S: SecretStore,
{
    let (tenant, source, rule) = find(registry.registry, message)?;
    let secret_failure = |e: crate::secrets::SecretError| Failure::new(e.kind(), e.to_string());
    let password = ctx
        .secrets
        .resolve(&source.password)
        .await
        .map_err(secret_failure)?;
    let key = match &rule.key {
        Some(reference) => {
            let value = ctx
                .secrets
                .resolve(reference)
                .await
                .map_err(secret_failure)?;
            Some(DataKey::from_base64(value.expose()).map_err(|e| {
                Failure::new(
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
        .map_err(|e| Failure::new(e.kind(), e.to_string()))?;
    let lineage = Lineage {
        tenant: tenant.id.clone(),
        dataset: rule.dataset.clone(),
        source_id: source.id.clone(),
        source_host: source.host.clone(),
        source_path: message.path.clone(),
        listed_size: message.size,
        ftp_mtime: message.mtime,
        rule_id: rule.id.clone(),
        registry_version: registry.version.to_owned(),
        ingested_at: now,
    };
    let object_key = free_key(ctx.store, object_key, &lineage, message).await?;
    let ftp_failure = |e: crate::ftp::FtpError| Failure::new(e.kind(), e.to_string());
    let pool = ctx
        .pools
        .pool_for(source, Password::new(password.expose()))
        .map_err(ftp_failure)?;
    drop(password);
    let mut client = pool.get().await.map_err(ftp_failure)?;
    let download = client
        .retr(&message.path, Some(message.size))
        .await
        .map_err(ftp_failure)?;
    let ingested = validate_and_upload(
        download,
        FileToIngest {
            name: message.path.clone(),
            spec: rule.validation_spec(),
            key,
        },
        ctx.store,
        Destination {
            object_key: &object_key,
            lineage: &lineage,
            options: settings.upload,
        },
    )
    .await
    .map_err(|e| Failure::new(e.kind(), e.to_string()))?;
    Ok(match ingested {
        Ingested::Landed(landed) => {
            let report = landed.report;
            Attempt::Landed {
                outcome: Outcome::Ingested {
                    sha256: report.sha256_hex().unwrap_or_default(),
                    bytes_in: report.received_bytes,
                    bytes_out: report.decoded_bytes,
                    rows: report.rows,
                    s3_key: landed.object_key.clone(),
                },
                object_key: landed.object_key,
                rows: report.rows,
                decoded: report.decoded_bytes,
            }
        }
        Ingested::Rejected(report) => Attempt::Rejected {
            outcome: Outcome::Rejected {
                sha256: report.sha256_hex(),
                bytes_in: report.received_bytes,
                reason: report.reasons.join("; "),
            },
            reasons: report.reasons,
        },
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
) -> Result<String, Failure> {
    let existing = store
        .head(&key)
        .await
        .map_err(|e| Failure::new(e.kind(), e.to_string()))?;
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

async fn finish<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    version: &crate::poll::select::FileVersion,
    owner: &str,
    outcome: Outcome,
) -> Result<(), LedgerError>
where
    L: Ledger,
    C: Clock,
{
    // The object may already be visible: a few quick retries keep a brief
    // table hiccup from sending the whole file through again.
    let mut delay = std::time::Duration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match ctx
            .ledger
            .finish(version, owner, outcome.clone(), ctx.clock.now())
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

/// Applies the rule's post-action; a failure is a warning (the file landed).
async fn post_action<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    registry: RegistryView<'_>,
    message: &FileDiscovered,
    policy: crate::registry::NotifyPolicy,
) where
    N: Notifier,
    S: SecretStore,
    C: Clock,
{
    let Ok((_, source, rule)) = find(registry.registry, message) else {
        return;
    };
    if rule.post_action == PostAction::Leave {
        return;
    }
    let action = match &rule.post_action {
        PostAction::Leave => "leave".to_owned(),
        PostAction::Delete => "delete".to_owned(),
        PostAction::MoveTo(dir) => format!("move to {dir}"),
    };
    let result = async {
        let password = ctx
            .secrets
            .resolve(&source.password)
            .await
            .map_err(|e| e.to_string())?;
        let pool = ctx
            .pools
            .pool_for(source, Password::new(password.expose()))
            .map_err(|e| e.to_string())?;
        let mut client = pool.get().await.map_err(|e| e.to_string())?;
        apply_post_action(
            &mut client,
            &message.path,
            &rule.post_action,
            ctx.clock.now(),
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    if let Err(reason) = result {
        warn!(path = %message.path, %action, %reason, "The post-action failed; the file stays on the server.");
        if alerts::wanted(policy, crate::ports::notifier::Severity::Warning) {
            notify(
                ctx,
                alerts::post_action_failed(file_ref(message), &action, &reason),
            )
            .await;
        }
    }
}

/// Publishes `notification`; a failure is logged (the ledger and the DLQ keep
/// the truth, and the DLQ alarm still reaches ops).
async fn notify<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    notification: Notification,
) where
    N: Notifier,
{
    if let Err(error) = ctx.notifier.publish(&notification).await {
        error!(event = %notification.event, tenant = %notification.tenant, %error, "Could not publish a notification.");
    }
}

/// Moves the message to the dead-letter queue with its reason; if that fails,
/// the message is retried instead (never lost).
async fn dead_letter<L, St, Q, N, S, C>(
    ctx: &IngestContext<'_, L, St, Q, N, S, C>,
    received: &Received,
    kind: FailureKind,
    reason: String,
) -> Disposition
where
    Q: WorkQueue,
{
    match ctx.queue.dead_letter(received, kind, &reason).await {
        Ok(()) => Disposition::DeadLettered { kind, reason },
        Err(error) => {
            error!(message_id = %received.id, %error, "Dead-lettering failed; the message is retried.");
            Disposition::Retry {
                reason: format!("{reason} (and dead-lettering failed: {error})"),
            }
        }
    }
}
