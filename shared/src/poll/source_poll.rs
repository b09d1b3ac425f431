//! One poll of one source, as the poller runs it for a `PollSource` message:
//! log in, walk the directories, make coarse listing times exact, decide which
//! matched files are complete, skip the versions the ledger knows, claim each
//! new version with a conditional write and send one `FileDiscovered` message
//! per claimed file to the ingest queue. Nothing is downloaded.
//!
//! Claims go in steps of [`MAX_CLAIMS`](crate::ports::ledger::MAX_CLAIMS)
//! (one ledger transaction), their messages in queue batches of ten; when a
//! send fails, the claims whose message was not sent are released (deleted
//! while still untouched) so that the next poll claims them again. A claim that
//! could not be released is named in the error, for ops.
//!
//! Time: the walk, the refinement and the claim loop each stop once the
//! deadline (the Lambda's remaining time less a reserve) has passed; the report
//! then says the poll was partial, and the next poll continues. A file whose
//! listed time had to be made exact (`MDTM`) is taken only once it was: its
//! identity must be the same on every poll.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::Serialize;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::observations::ObservationStore;
use super::select::{ListedFile, Readiness, SourceRules, observe, select};
use super::walk::{WalkLimits, refine, walk};
use crate::failure::FailureKind;
use crate::ports::Backends;
use crate::ports::ledger::{Claim, Claims, FileState, Ledger, LedgerError, MAX_CLAIMS, NewFile};
use crate::ports::listing::Precision;
use crate::ports::messages::FileDiscovered;
use crate::ports::source::{SessionError, SourceConnector, SourceError, SourceSession};
use crate::ports::work_queue::{MAX_BATCH, OutgoingMessage, QueueError, WorkQueue};
use crate::registry::{PatternError, Source, Tenant};
use crate::secrets::{SecretError, SecretStore};

/// Files whose listed time is made exact with one round of `MDTM` commands
/// before the deadline is looked at again.
const REFINE_STEP: usize = 50;

/// How many of a tenant's newest `discovered` items a poll looks through for
/// claims whose message was lost.
pub const REANNOUNCE_SCAN: usize = 1000;

/// Attribute names on `FileDiscovered` messages (for DLQ filters and redrive).
pub mod attr {
    pub const TENANT: &str = "tenant";
    pub const SOURCE: &str = "source";
    pub const RULE: &str = "rule";
}

/// What a poll reaches the outside through: the adapters of `B` it uses.
pub struct PollContext<'a, B: Backends> {
    /// The ledger, which also keeps what the previous poll observed.
    pub ledger: &'a B::Ledger,
    pub ingest_queue: &'a B::Queue,
    pub secrets: &'a B::Secrets,
    /// The sources' servers.
    pub sources: &'a B::Sources,
}

/// How far one poll may go.
#[derive(Debug, Clone, Copy)]
pub struct PollSettings {
    /// Walk bounds; `walk.deadline` bounds the whole poll.
    pub walk: WalkLimits,
    /// Most files refined with `MDTM`/`SIZE` in one poll.
    pub refine_limit: usize,
    /// How long a file must have looked the same before "unchanged since the
    /// previous poll" holds.
    pub min_unchanged: chrono::Duration,
    /// A claim still `discovered` and never leased this long after it was
    /// made is announced again (zero: never).
    pub reannounce_after: chrono::Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            walk: WalkLimits::default(),
            refine_limit: 10_000,
            min_unchanged: chrono::Duration::seconds(60),
            reannounce_after: chrono::Duration::hours(1),
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub tenant: String,
    pub source: String,
    /// Regular files listed.
    pub listed: usize,
    /// Files a rule matches.
    pub matched: usize,
    /// Matched files complete now.
    pub ready: usize,
    /// Matched files not taken yet (still being written, no marker, …).
    pub not_yet: usize,
    /// Ready versions the ledger already knew.
    pub known: usize,
    /// Versions this poll claimed and sent to the ingester.
    pub sent: usize,
    /// Versions another poll claimed between our dedupe and our claim.
    pub lost_races: usize,
    /// Of `sent`, old claims whose message was lost, announced again.
    pub reannounced: usize,
    /// Listing lines and sub-directories passed over (logged as warnings).
    pub passed_over: usize,
    /// Whether everything was looked at; when false, `partial` says what stopped
    /// the poll and the next poll continues.
    pub complete: bool,
    pub partial: Option<String>,
    /// Whether the source is paused (then nothing was done).
    pub paused: bool,
}

/// Why a poll failed. Claims it made were sent, or released, or are named.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("source {source_id}: password: {source}")]
    Secret {
        source_id: String,
        #[source]
        source: SecretError,
    },
    /// The source's server (connecting, logging in, listing).
    #[error("source {source_id}: {source}")]
    Server {
        source_id: String,
        kind: FailureKind,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("source {source_id}: rules: {source}")]
    Rules {
        source_id: String,
        #[source]
        source: PatternError,
    },
    #[error("source {source_id}: ledger: {source}")]
    Ledger {
        source_id: String,
        #[source]
        source: LedgerError,
    },
    #[error("source {source_id}: observations: {source}")]
    Observations {
        source_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "source {source_id}: sending to the ingest queue: {source}; {released} claim(s) released for the next poll{}",
        stranded_note(.stranded)
    )]
    Queue {
        source_id: String,
        #[source]
        source: QueueError,
        released: usize,
        /// Claimed versions neither sent nor released: no message will come for
        /// them until ops redrive them (`path SIZE@MTIME`).
        stranded: Vec<String>,
    },
}

fn stranded_note(stranded: &[String]) -> String {
    if stranded.is_empty() {
        String::new()
    } else {
        format!(
            "; {} claim(s) could not be released and need a redrive: {}",
            stranded.len(),
            stranded.join(", ")
        )
    }
}

impl PollError {
    /// The failure kind: an unreachable server or service is transient, a
    /// missing secret or a refused login is misconfigured.
    pub fn kind(&self) -> FailureKind {
        match self {
            PollError::Secret { source, .. } => source.kind(),
            PollError::Server { kind, .. } => *kind,
            PollError::Rules { .. } => FailureKind::Misconfigured,
            PollError::Ledger { source, .. } => source.kind(),
            PollError::Observations { .. } => FailureKind::Transient,
            PollError::Queue { source, .. } => source.kind(),
        }
    }
}

fn deadline_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Polls `source` once (see the module docs). `now` is the listing time and
/// each claimed file's `discovered_at`.
pub async fn poll_source<B: Backends>(
    ctx: &PollContext<'_, B>,
    tenant: &Tenant,
    source: &Source,
    now: DateTime<Utc>,
    settings: PollSettings,
) -> Result<PollReport, PollError> {
    let mut report = PollReport {
        tenant: tenant.id.clone(),
        source: source.id.clone(),
        complete: true,
        ..PollReport::default()
    };
    if source.paused {
        info!(source = %source.id, "Source is paused; not polled.");
        report.paused = true;
        return Ok(report);
    }
    let id = || source.id.clone();
    let rules = SourceRules::compile(source).map_err(|source| PollError::Rules {
        source_id: id(),
        source,
    })?;
    let password = ctx
        .secrets
        .resolve(&source.password)
        .await
        .map_err(|source| PollError::Secret {
            source_id: id(),
            source,
        })?;
    let server_error = |error: SessionError<B::Sources>| PollError::Server {
        source_id: id(),
        kind: error.kind(),
        source: Box::new(error),
    };
    let mut session = ctx
        .sources
        .connect(source, &password)
        .await
        .map_err(server_error)?;
    drop(password);
    let files =
        list_complete_identities(&mut session, source, &rules, now, settings, &mut report).await;
    session.close().await;
    let files = files.map_err(server_error)?;

    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let observations_error = |e: <B::Ledger as ObservationStore>::Error| PollError::Observations {
        source_id: id(),
        source: Box::new(e),
    };
    let previous = ObservationStore::load(ctx.ledger, &source.id, &paths)
        .await
        .map_err(observations_error)?;
    let candidates = select(&rules, &files, &previous, now, settings.min_unchanged);
    ObservationStore::save(ctx.ledger, &source.id, &observe(&files, &previous, now))
        .await
        .map_err(observations_error)?;

    let mut ready = Vec::new();
    for candidate in candidates {
        match (candidate.readiness, candidate.version, candidate.rule_id) {
            (Readiness::Ready, Some(version), Some(rule)) => ready.push((version, rule)),
            (Readiness::NotYet(why), _, Some(_)) => {
                report.not_yet += 1;
                debug!(source = %source.id, path = %candidate.file.path, %why, "Not taken yet.");
            }
            _ => {}
        }
    }
    report.ready = ready.len();
    let versions: Vec<_> = ready.iter().map(|(v, _)| v.clone()).collect();
    let ledger_error = |source| PollError::Ledger {
        source_id: id(),
        source,
    };
    let known = ctx.ledger.known(&versions).await.map_err(ledger_error)?;
    report.known = known.len();
    let new: Vec<_> = ready
        .into_iter()
        .filter(|(version, _)| !known.contains(version))
        .collect();

    // Claims go to the ledger a hundred at a time (one DynamoDB transaction),
    // their messages to the queue ten at a time (one SendMessageBatch).
    for step in new.chunks(MAX_CLAIMS) {
        if deadline_passed(settings.walk.deadline) {
            report.complete = false;
            report.partial = Some(format!(
                "out of time with {} new file(s) not claimed yet; the next poll takes them",
                new.len() - report.sent - report.lost_races
            ));
            break;
        }
        let files = step
            .iter()
            .map(|(version, rule)| NewFile {
                version: version.clone(),
                tenant: tenant.id.clone(),
                rule: rule.clone(),
                discovered_at: now,
            })
            .collect();
        let Claims { claims, stopped } = ctx.ledger.claim_all(files).await;
        let mut claimed = Vec::with_capacity(claims.len());
        for ((version, rule), claim) in step.iter().zip(claims) {
            match claim {
                Claim::Claimed => claimed.push(FileDiscovered {
                    tenant: tenant.id.clone(),
                    source: source.id.clone(),
                    rule: rule.clone(),
                    path: version.path.clone(),
                    size: version.size,
                    mtime: version.mtime,
                    discovered_at: now,
                }),
                Claim::AlreadyKnown(_) => report.lost_races += 1,
            }
        }
        // Claims made are sent before giving up on an error; when the queue
        // fails, the claims whose message was not sent are released for the
        // next poll.
        send_all_claimed(ctx, &source.id, &claimed, &mut report).await?;
        if let Some(error) = stopped {
            return Err(ledger_error(error));
        }
    }
    if !deadline_passed(settings.walk.deadline)
        && settings.reannounce_after > chrono::Duration::zero()
    {
        reannounce_stale(ctx, tenant, source, now, settings, &mut report).await?;
    }
    info!(
        source = %source.id, listed = report.listed, matched = report.matched,
        ready = report.ready, not_yet = report.not_yet, known = report.known,
        sent = report.sent, complete = report.complete,
        "Poll finished."
    );
    Ok(report)
}

/// Releases the claim of a file whose message was not sent, so that the next
/// poll claims it again; one that cannot be released is named in `stranded`
/// (no message will come for it until ops redrive it).
async fn release_claim(
    ledger: &impl Ledger,
    source_id: &str,
    file: &FileDiscovered,
    released: &mut usize,
    stranded: &mut Vec<String>,
) {
    let version = file.version();
    match ledger.release(&version).await {
        Ok(()) => *released += 1,
        Err(release_error) => {
            error!(source = source_id, path = %file.path, version = %version.version_key(), error = %release_error, "A claimed file could not be sent nor released: redrive it.");
            stranded.push(format!("{} {}", file.path, version.version_key()));
        }
    }
}

/// Claims still `discovered` and never leased long after they were made had
/// their message lost (the poller died between claim and send, a send whose
/// failure went unseen, a message past the queue's retention): each is
/// released, claimed afresh and announced again. A duplicate of a message
/// still queued is harmless (the lease and the ledger absorb it). Looks at the
/// tenant's newest [`REANNOUNCE_SCAN`] discovered items.
async fn reannounce_stale<B: Backends>(
    ctx: &PollContext<'_, B>,
    tenant: &Tenant,
    source: &Source,
    now: DateTime<Utc>,
    settings: PollSettings,
    report: &mut PollReport,
) -> Result<(), PollError> {
    let stale: Vec<_> = ctx
        .ledger
        .by_state(&tenant.id, FileState::Discovered, REANNOUNCE_SCAN)
        .await
        .map_err(|e| PollError::Ledger {
            source_id: source.id.clone(),
            source: e,
        })?
        .into_iter()
        .filter(|r| {
            r.version.source == source.id
                && r.attempts == 0
                && now - r.updated_at >= settings.reannounce_after
        })
        .collect();
    for step in stale.chunks(MAX_BATCH) {
        let mut claimed = Vec::new();
        for record in step {
            // Released only while still untouched; a lease taken meanwhile wins.
            if ctx.ledger.release(&record.version).await.is_err() {
                continue;
            }
            let claim = ctx
                .ledger
                .claim(NewFile {
                    version: record.version.clone(),
                    tenant: record.tenant.clone(),
                    rule: record.rule.clone(),
                    discovered_at: now,
                })
                .await
                .map_err(|e| PollError::Ledger {
                    source_id: source.id.clone(),
                    source: e,
                })?;
            if claim == Claim::Claimed {
                warn!(source = %source.id, path = %record.version.path, claimed_at = %record.discovered_at, "A claim was never picked up; announcing it again.");
                claimed.push(FileDiscovered {
                    tenant: record.tenant.clone(),
                    source: source.id.clone(),
                    rule: record.rule.clone(),
                    path: record.version.path.clone(),
                    size: record.version.size,
                    mtime: record.version.mtime,
                    discovered_at: now,
                });
            }
        }
        let before = report.sent;
        send_claimed(ctx, &source.id, &claimed, report).await?;
        report.reannounced += report.sent - before;
    }
    Ok(())
}

/// Walks the source and returns the matched files whose identity is exact
/// (precise time and a size), refining coarse ones while time remains.
async fn list_complete_identities<S: SourceSession>(
    session: &mut S,
    source: &Source,
    rules: &SourceRules<'_>,
    now: DateTime<Utc>,
    settings: PollSettings,
    report: &mut PollReport,
) -> Result<Vec<ListedFile>, S::Error> {
    let walked = walk(session, source, now, settings.walk).await?;
    report.listed = walked.files.len();
    report.passed_over = walked.passed.len();
    if walked.truncated {
        report.complete = false;
        report.partial = Some(if walked.out_of_time {
            format!(
                "out of time after listing {} director(ies); the next poll continues",
                walked.dirs_listed
            )
        } else {
            "the walk reached its directory or file limit".to_owned()
        });
    }
    let (mut exact, mut coarse): (Vec<ListedFile>, Vec<ListedFile>) = walked
        .files
        .into_iter()
        .filter(|f| rules.rule_for(&f.path).is_some())
        .partition(|f| f.precision == Precision::Second && f.size.is_some());
    report.matched = exact.len() + coarse.len();
    let wanted = coarse.len();
    coarse.truncate(settings.refine_limit);
    let mut refined = 0;
    for step in coarse.chunks_mut(REFINE_STEP) {
        if deadline_passed(settings.walk.deadline) {
            break;
        }
        refine(session, step, step.len()).await?;
        refined += step.len();
    }
    coarse.truncate(refined);
    // A file whose MDTM failed keeps its coarse listed time: not taken in this
    // poll, or its identity would differ from the next poll's exact one.
    coarse.retain(|f| f.precision == Precision::Second && f.size.is_some());
    if coarse.len() < wanted {
        let left = wanted - coarse.len();
        warn!(source = %source.id, left, "Listing times not made exact in this poll; those files wait for the next.");
        report.complete = false;
        report.partial.get_or_insert_with(|| {
            format!("{left} file(s) still need an exact modification time (MDTM); the next poll continues")
        });
    }
    exact.extend(coarse);
    Ok(exact)
}

/// Sends `claimed` in batches of [`MAX_BATCH`], all at once: a chunk of a
/// hundred claims makes ten `SendMessageBatch` calls, and one after another
/// they would cost ten round trips (a thousand for 10,000 new files). Each
/// batch is [`send_claimed`]; their errors are folded into the first one
/// (released and stranded claims added up).
async fn send_all_claimed<B: Backends>(
    ctx: &PollContext<'_, B>,
    source_id: &str,
    claimed: &[FileDiscovered],
    report: &mut PollReport,
) -> Result<(), PollError> {
    let sends: Vec<_> = claimed
        .chunks(MAX_BATCH)
        .map(|batch| async move {
            let mut sent = PollReport::default();
            let outcome = send_claimed(ctx, source_id, batch, &mut sent).await;
            (sent.sent, outcome)
        })
        .collect();
    let mut failed: Option<PollError> = None;
    for (sent, outcome) in join_all(sends).await {
        report.sent += sent;
        if let Err(error) = outcome {
            failed = Some(match failed {
                None => error,
                Some(first) => fold_queue_errors(first, error),
            });
        }
    }
    failed.map_or(Ok(()), Err)
}

/// `first`, with the claims `other` released or stranded added to its own.
fn fold_queue_errors(mut first: PollError, other: PollError) -> PollError {
    if let (
        PollError::Queue {
            released, stranded, ..
        },
        PollError::Queue {
            released: more_released,
            stranded: more_stranded,
            ..
        },
    ) = (&mut first, other)
    {
        *released += more_released;
        stranded.extend(more_stranded);
    }
    first
}

/// Sends claimed files in one batch. When the batch fails, each message is
/// tried alone (a batch may fail in part), and the claims whose message could
/// not be sent are released for the next poll.
async fn send_claimed<B: Backends>(
    ctx: &PollContext<'_, B>,
    source_id: &str,
    claimed: &[FileDiscovered],
    report: &mut PollReport,
) -> Result<(), PollError> {
    if claimed.is_empty() {
        return Ok(());
    }
    let messages: Vec<OutgoingMessage> = claimed.iter().map(message).collect();
    let Err(batch_error) = ctx.ingest_queue.send_batch(&messages).await else {
        report.sent += claimed.len();
        return Ok(());
    };
    warn!(source = source_id, error = %batch_error, "Sending a batch failed; sending its messages one by one.");
    let mut last_error = batch_error;
    let mut released = 0;
    let mut stranded = Vec::new();
    for (file, outgoing) in claimed.iter().zip(messages) {
        match ctx
            .ingest_queue
            .send_batch(std::slice::from_ref(&outgoing))
            .await
        {
            Ok(()) => report.sent += 1,
            Err(error) => {
                last_error = error;
                release_claim(ctx.ledger, source_id, file, &mut released, &mut stranded).await;
            }
        }
    }
    if released == 0 && stranded.is_empty() {
        return Ok(());
    }
    Err(PollError::Queue {
        source_id: source_id.to_owned(),
        source: last_error,
        released,
        stranded,
    })
}

/// The ingest-queue message for a claimed file.
pub fn message(file: &FileDiscovered) -> OutgoingMessage {
    let mut outgoing = OutgoingMessage::new(file.encode());
    outgoing
        .attributes
        .insert(attr::TENANT.into(), file.tenant.clone());
    outgoing
        .attributes
        .insert(attr::SOURCE.into(), file.source.clone());
    outgoing
        .attributes
        .insert(attr::RULE.into(), file.rule.clone());
    outgoing
}
