//! Redrive: dead letters of the ingest queue moved back to it, filtered, so
//! that the files behind them are ingested again once ops fixed the cause
//! (docs/architecture.md, flow step 5). The `dlq-redrive` function and the CLI call
//! [`redrive`]; a dry run lists what a redrive would move and moves nothing.
//!
//! # Procedure
//! SQS cannot list a queue, so a run browses by receiving: batches of ten, each
//! message hidden for the run's visibility timeout so that no batch brings back
//! one already seen. For each message:
//! 1. read its `FileDiscovered` body; an unreadable one is counted and left;
//! 2. match the [`RedriveFilter`]; a message that does not match is left as it is;
//! 3. a matching one (unless this is a dry run, which only reads the ledger):
//!    make its ledger item ingestible again. `rejected` or `failed` is reset to
//!    `discovered`; `discovered`, and `ingesting` whose lease expired, need
//!    nothing (the ingester leases them); `ingested` needs nothing either: the
//!    file is already in the lake, the ingester drops the message as a
//!    duplicate, and it is counted apart. No item, or a lease an ingester still
//!    holds, and the message is left, counted as failed with the reason;
//! 4. move it to the ingest queue ([`WorkQueue::redrive`]: sent, then deleted
//!    from the DLQ). A failed reset or move leaves the message in the DLQ,
//!    counted as failed with the reason. A reset whose move failed leaves the
//!    item `discovered`, which the next run moves without a reset.
//!
//! The scan stops once `max` messages matched, when a receive brings nothing
//! or only messages already seen, at the caller's deadline, or once half the
//! visibility timeout has passed (moves and returns must use receipts that are
//! still valid). Then every message received and not moved (not matching,
//! unreadable, beyond `max`, a dry run's, a failure) is made visible again at
//! once ([`WorkQueue::return_dead_letter`]), so other readers and the next run
//! see it without waiting out the timeout.
//!
//! # Error kinds
//! A message the ingester dead-lettered carries its failure kind (`rejected`,
//! `misconfigured`, `transient`) in the `error_kind` attribute. One SQS moved
//! by itself after `maxReceiveCount` receives carries none: its kind is
//! `unknown` (the ingester died or timed out on it, so there was no verdict).
//! `unknown` is a kind of its own in filters and counts: a filter on
//! `transient` does not select it, a filter on `unknown` selects only those,
//! and no kind in the filter selects every kind. An attribute naming no known
//! kind (a hand-sent message) reads as `unknown` too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::failure::FailureKind;
use crate::ports::ledger::{FileRecord, FileState, Ledger, LedgerError};
use crate::ports::messages::FileDiscovered;
use crate::ports::work_queue::{Attributes, DeadLetter, MAX_BATCH, QueueError, WorkQueue, attr};

/// How many matching messages a run takes when the request does not say.
pub const DEFAULT_MAX: u32 = 100;
/// The most matching messages one run takes.
pub const MAX_MAX: u32 = 10_000;
/// The shortest visibility timeout a run accepts: it scans for half of it.
pub const MIN_VISIBILITY_SECS: i64 = 2;
/// How many dead letters are made visible again concurrently at the end of a run.
const RETURNS_IN_FLIGHT: usize = 10;
/// The longest text (path, reason) an item of the report keeps, in characters:
/// message bodies and attributes are untrusted, and a report of `MAX_MAX`
/// items must stay small. The message itself is moved unchanged.
const MAX_TEXT_CHARS: usize = 1024;

/// What a dead letter failed with: the failure kinds, and `unknown` for a
/// message SQS moved by itself (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadLetterKind {
    Rejected,
    Misconfigured,
    Transient,
    /// No `error_kind` attribute (SQS moved it after `maxReceiveCount`
    /// receives), or one naming no known kind.
    Unknown,
}

impl DeadLetterKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [DeadLetterKind; 4] = [
        DeadLetterKind::Rejected,
        DeadLetterKind::Misconfigured,
        DeadLetterKind::Transient,
        DeadLetterKind::Unknown,
    ];

    /// The lowercase name used in requests, reports and attributes.
    pub fn name(self) -> &'static str {
        match self {
            DeadLetterKind::Rejected => "rejected",
            DeadLetterKind::Misconfigured => "misconfigured",
            DeadLetterKind::Transient => "transient",
            DeadLetterKind::Unknown => "unknown",
        }
    }

    /// The kind of a dead letter, from its `error_kind` attribute.
    pub fn of(attributes: &Attributes) -> Self {
        attributes
            .get(attr::ERROR_KIND)
            .and_then(|kind| kind.parse().ok())
            .unwrap_or(DeadLetterKind::Unknown)
    }
}

impl From<FailureKind> for DeadLetterKind {
    fn from(kind: FailureKind) -> Self {
        match kind {
            FailureKind::Rejected => DeadLetterKind::Rejected,
            FailureKind::Misconfigured => DeadLetterKind::Misconfigured,
            FailureKind::Transient => DeadLetterKind::Transient,
        }
    }
}

impl fmt::Display for DeadLetterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`DeadLetterKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error kind {0:?}: expected rejected, misconfigured, transient or unknown")]
pub struct UnknownKind(pub String);

impl FromStr for DeadLetterKind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        DeadLetterKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownKind(name.to_owned()))
    }
}

/// Which dead letters a run takes: every field given must equal the message's
/// (exactly, case included); an empty filter takes every message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<DeadLetterKind>,
}

impl RedriveFilter {
    /// Whether the dead letter of `file`, of `kind`, is taken.
    pub fn matches(&self, file: &FileDiscovered, kind: DeadLetterKind) -> bool {
        fn is(wanted: Option<&str>, actual: &str) -> bool {
            wanted.is_none_or(|wanted| wanted == actual)
        }
        is(self.tenant.as_deref(), &file.tenant)
            && is(self.source.as_deref(), &file.source)
            && is(self.rule.as_deref(), &file.rule)
            && self.error_kind.is_none_or(|wanted| wanted == kind)
    }
}

/// What ops ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveRequest {
    pub filter: RedriveFilter,
    /// The most matching messages to take (1 to [`MAX_MAX`]).
    pub max: u32,
    /// List what would be moved; move nothing, reset nothing.
    pub dry_run: bool,
}

impl Default for RedriveRequest {
    fn default() -> Self {
        RedriveRequest {
            filter: RedriveFilter::default(),
            max: DEFAULT_MAX,
            dry_run: false,
        }
    }
}

impl RedriveRequest {
    /// Refuses a `max` out of range and empty filter fields (an empty tenant
    /// would match nothing: surely a mistake).
    pub fn validate(&self) -> Result<(), RedriveError> {
        if !(1..=MAX_MAX).contains(&self.max) {
            return Err(RedriveError::Invalid(format!(
                "max must be between 1 and {MAX_MAX}, not {}",
                self.max
            )));
        }
        for (field, value) in [
            ("tenant", &self.filter.tenant),
            ("source", &self.filter.source),
            ("rule", &self.filter.rule),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(RedriveError::Invalid(format!(
                    "{field} must not be empty: leave it out to take every {field}"
                )));
            }
        }
        Ok(())
    }
}

/// How a run works; from the caller's configuration.
#[derive(Debug, Clone, Copy)]
pub struct RedriveSettings {
    /// How long each received dead letter stays hidden during the run; the
    /// run scans for at most half of it.
    pub visibility: Duration,
    /// When to stop scanning: the invocation's deadline less the time the
    /// returns at the end need.
    pub deadline: Option<Instant>,
}

/// What became of a matching dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Dry run: a redrive would move it (resetting its ledger item first when
    /// `rejected` or `failed`).
    WouldMove,
    /// Dry run: a redrive would move it, though the file is already ingested.
    WouldMoveAlreadyIngested,
    /// Dry run: a redrive would leave it, for `problem`.
    WouldFail,
    /// Moved to the ingest queue (its ledger item reset if it needed one).
    Moved,
    /// Moved, though the file is already ingested: the ingester drops it as a
    /// duplicate.
    AlreadyIngested,
    /// Left in the DLQ, for `problem`.
    Failed,
}

impl ItemOutcome {
    /// Whether the message left the DLQ.
    pub fn moved(self) -> bool {
        matches!(self, ItemOutcome::Moved | ItemOutcome::AlreadyIngested)
    }
}

/// One matching dead letter, and what became of it (the list a dry run shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveItem {
    pub message_id: String,
    pub tenant: String,
    pub source: String,
    pub rule: String,
    pub path: String,
    pub size: u64,
    pub error_kind: DeadLetterKind,
    /// The `error_reason` attribute, when the ingester dead-lettered it.
    pub error_reason: Option<String>,
    /// The receive count SQS reports for the message, this run's included.
    pub receive_count: u32,
    /// The ledger item's state before the run; `None`: no item, or the
    /// ledger could not be read (`problem` says which).
    pub ledger_state: Option<FileState>,
    pub outcome: ItemOutcome,
    /// Why the message is (or would be) left in the DLQ.
    pub problem: Option<String>,
}

/// Counts of matching dead letters. `matched` is the sum of `moved`,
/// `already_ingested` and `left`; `left` (still in the DLQ: a dry run's, and
/// failures) includes `failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub matched: u64,
    pub moved: u64,
    pub already_ingested: u64,
    pub failed: u64,
    pub left: u64,
}

impl KindCounts {
    fn add(&mut self, outcome: ItemOutcome) {
        self.matched += 1;
        match outcome {
            ItemOutcome::Moved => self.moved += 1,
            ItemOutcome::AlreadyIngested => self.already_ingested += 1,
            ItemOutcome::Failed => {
                self.failed += 1;
                self.left += 1;
            }
            ItemOutcome::WouldMove
            | ItemOutcome::WouldMoveAlreadyIngested
            | ItemOutcome::WouldFail => self.left += 1,
        }
    }
}

/// Why the scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `max` messages matched; more may match: run again.
    MaxReached,
    /// A receive brought nothing, or only messages already seen: every dead
    /// letter visible to this run was looked at.
    Exhausted,
    /// The deadline, or half the visibility timeout, passed: run again.
    OutOfTime,
    /// A receive failed mid-run (`receive_error`): run again.
    ReceiveFailed,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    pub dry_run: bool,
    pub filter: RedriveFilter,
    pub max: u32,
    /// Dead letters received (each once).
    pub scanned: u64,
    /// Of `scanned`, bodies that are no readable `FileDiscovered` (left).
    pub unreadable: u64,
    /// Of `scanned`, readable ones the filter does not take (left).
    pub not_matching: u64,
    /// Of `scanned`, matching ones received after `max` was reached (left).
    pub beyond_max: u64,
    /// Of `scanned`, the matching ones taken, over every kind.
    pub total: KindCounts,
    /// The same, per kind (kinds with no match are absent).
    pub by_kind: BTreeMap<DeadLetterKind, KindCounts>,
    pub stopped: StopReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_error: Option<String>,
    /// Left messages that could not be made visible at once (they come back
    /// when the visibility timeout ends).
    pub not_returned: u64,
    /// The matching messages, in the order received.
    pub items: Vec<RedriveItem>,
}

impl RedriveReport {
    fn new(request: &RedriveRequest) -> Self {
        RedriveReport {
            dry_run: request.dry_run,
            filter: request.filter.clone(),
            max: request.max,
            scanned: 0,
            unreadable: 0,
            not_matching: 0,
            beyond_max: 0,
            total: KindCounts::default(),
            by_kind: BTreeMap::new(),
            stopped: StopReason::Exhausted,
            receive_error: None,
            not_returned: 0,
            items: Vec::new(),
        }
    }

    fn record(&mut self, item: RedriveItem) {
        self.total.add(item.outcome);
        self.by_kind
            .entry(item.error_kind)
            .or_default()
            .add(item.outcome);
        self.items.push(item);
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// A bad request or setting: nothing was read.
    #[error("invalid redrive request: {0}")]
    Invalid(String),
    /// The very first receive failed: nothing was done.
    #[error("the dead-letter queue cannot be read: {0}")]
    Receive(#[source] QueueError),
}

impl RedriveError {
    /// A bad request needs ops to fix it; the queue's errors keep their kind.
    pub fn kind(&self) -> FailureKind {
        match self {
            RedriveError::Invalid(_) => FailureKind::Misconfigured,
            RedriveError::Receive(error) => error.kind(),
        }
    }
}

/// What a matching message needs, from its ledger item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// `rejected` or `failed`: reset to `discovered`, then move.
    Reset,
    /// `discovered`, or `ingesting` with an expired lease: move as is.
    Move,
    /// `ingested`: move as is; the ingester drops it as a duplicate.
    AlreadyIngested,
    /// Leave it, for this reason.
    Leave(String),
}

fn plan(record: Option<&FileRecord>, now: DateTime<Utc>) -> Plan {
    let Some(record) = record else {
        return Plan::Leave(
            "no ledger item for this file version (never claimed, or released for the \
             next poll to claim again): the ingester could not lease it"
                .to_owned(),
        );
    };
    match record.state {
        FileState::Rejected | FileState::Failed => Plan::Reset,
        FileState::Discovered => Plan::Move,
        FileState::Ingesting => match record.lease_until {
            Some(until) if until > now => Plan::Leave(format!(
                "an ingester ({}) holds the lease until {}: redrive it after that",
                record.lease_owner.as_deref().unwrap_or("?"),
                until.to_rfc3339()
            )),
            _ => Plan::Move,
        },
        FileState::Ingested => Plan::AlreadyIngested,
    }
}

/// `text`, cut to [`MAX_TEXT_CHARS`] characters with an ellipsis.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Runs one redrive (see the module docs). `now` stamps the ledger resets and
/// decides whether a lease expired; `progress` sees each matching message's
/// item as soon as its outcome is known (the CLI's progress bar).
///
/// Fails only when nothing was done: a bad request, or a first receive that
/// failed. Everything after that, failures included, is in the report.
pub async fn redrive<Q, L, P>(
    queue: &Q,
    ledger: &L,
    request: &RedriveRequest,
    settings: RedriveSettings,
    now: DateTime<Utc>,
    mut progress: P,
) -> Result<RedriveReport, RedriveError>
where
    Q: WorkQueue,
    L: Ledger,
    P: FnMut(&RedriveItem) + Send,
{
    request.validate()?;
    let visibility_secs = settings.visibility.num_seconds();
    if visibility_secs < MIN_VISIBILITY_SECS {
        return Err(RedriveError::Invalid(format!(
            "the visibility timeout must be at least {MIN_VISIBILITY_SECS}s, not {visibility_secs}s"
        )));
    }
    let half = std::time::Duration::from_secs(visibility_secs.unsigned_abs() / 2);
    let stop_at = settings.deadline.map_or(Instant::now() + half, |deadline| {
        deadline.min(Instant::now() + half)
    });
    let max = u64::from(request.max);
    let mut report = RedriveReport::new(request);
    let mut seen: HashSet<String> = HashSet::new();
    // Message id → its latest receipt, for every message to make visible again.
    let mut to_return: HashMap<String, String> = HashMap::new();

    loop {
        if report.total.matched >= max {
            report.stopped = StopReason::MaxReached;
            break;
        }
        if Instant::now() >= stop_at {
            report.stopped = StopReason::OutOfTime;
            break;
        }
        let batch = match queue
            .receive_dead_letters(MAX_BATCH, settings.visibility)
            .await
        {
            Ok(batch) => batch,
            Err(error) if seen.is_empty() => return Err(RedriveError::Receive(error)),
            Err(error) => {
                warn!(%error, "Receiving dead letters failed; the run stops here.");
                report.stopped = StopReason::ReceiveFailed;
                report.receive_error = Some(error.to_string());
                break;
            }
        };
        let mut fresh = Vec::with_capacity(batch.len());
        for message in batch {
            if seen.insert(message.id.clone()) {
                fresh.push(message);
            } else {
                // Back after its visibility ended (a slow run): returned with
                // its new receipt, not handled twice.
                to_return.insert(message.id.clone(), message.receipt.clone());
            }
        }
        if fresh.is_empty() {
            report.stopped = StopReason::Exhausted;
            break;
        }

        let mut taken = Vec::new();
        for message in fresh {
            report.scanned += 1;
            let file = match FileDiscovered::decode(&message.body) {
                Ok(file) => file,
                Err(error) => {
                    warn!(message_id = %message.id, %error, "Unreadable dead letter; left in the dead-letter queue.");
                    report.unreadable += 1;
                    to_return.insert(message.id, message.receipt);
                    continue;
                }
            };
            let kind = DeadLetterKind::of(&message.attributes);
            if !request.filter.matches(&file, kind) {
                report.not_matching += 1;
                to_return.insert(message.id, message.receipt);
            } else if report.total.matched + taken.len() as u64 >= max {
                report.beyond_max += 1;
                to_return.insert(message.id, message.receipt);
            } else {
                taken.push((message, file, kind));
            }
        }
        // The messages of one batch are independent: handled concurrently.
        let items = join_all(taken.iter().map(|(message, file, kind)| {
            handle(queue, ledger, message, file, *kind, request.dry_run, now)
        }))
        .await;
        for ((message, ..), item) in taken.into_iter().zip(items) {
            if !item.outcome.moved() {
                to_return.insert(message.id, message.receipt);
            }
            progress(&item);
            report.record(item);
        }
    }

    report.not_returned = return_all(queue, to_return).await;
    info!(
        dry_run = report.dry_run,
        scanned = report.scanned,
        matched = report.total.matched,
        moved = report.total.moved,
        already_ingested = report.total.already_ingested,
        failed = report.total.failed,
        left = report.total.left,
        unreadable = report.unreadable,
        not_matching = report.not_matching,
        stopped = ?report.stopped,
        "Redrive finished."
    );
    Ok(report)
}

/// One matching message: the ledger read, and unless `dry_run`, the reset and
/// the move.
async fn handle<Q: WorkQueue, L: Ledger>(
    queue: &Q,
    ledger: &L,
    message: &DeadLetter,
    file: &FileDiscovered,
    kind: DeadLetterKind,
    dry_run: bool,
    now: DateTime<Utc>,
) -> RedriveItem {
    let mut item = RedriveItem {
        message_id: message.id.clone(),
        tenant: clip(&file.tenant),
        source: clip(&file.source),
        rule: clip(&file.rule),
        path: clip(&file.path),
        size: file.size,
        error_kind: kind,
        error_reason: message.attributes.get(attr::ERROR_REASON).map(|r| clip(r)),
        receive_count: message.receive_count,
        ledger_state: None,
        outcome: ItemOutcome::WouldMove,
        problem: None,
    };
    let version = file.version();
    let plan = match ledger.get(&version).await {
        Ok(record) => {
            item.ledger_state = record.as_ref().map(|r| r.state);
            plan(record.as_ref(), now)
        }
        Err(error) => Plan::Leave(format!("reading the ledger: {error}")),
    };
    let leave = |mut item: RedriveItem, outcome: ItemOutcome, problem: String| {
        item.outcome = outcome;
        item.problem = Some(clip(&problem));
        item
    };
    if dry_run {
        item.outcome = match plan {
            Plan::Leave(problem) => return leave(item, ItemOutcome::WouldFail, problem),
            Plan::AlreadyIngested => ItemOutcome::WouldMoveAlreadyIngested,
            Plan::Reset | Plan::Move => ItemOutcome::WouldMove,
        };
        return item;
    }
    let outcome = match plan {
        Plan::Leave(problem) => {
            warn!(message_id = %message.id, tenant = %file.tenant, source = %file.source, path = %file.path, %problem, "Dead letter left in the dead-letter queue.");
            return leave(item, ItemOutcome::Failed, problem);
        }
        Plan::Reset => match ledger.reset(&version, now).await {
            // Reset meanwhile (a duplicate of the message in the same batch,
            // another run): what this one wanted.
            Ok(_)
            | Err(LedgerError::Conflict {
                from: FileState::Discovered,
                ..
            }) => ItemOutcome::Moved,
            Err(error) => {
                warn!(message_id = %message.id, path = %file.path, %error, "Ledger reset failed; the dead letter stays.");
                return leave(
                    item,
                    ItemOutcome::Failed,
                    format!("resetting the ledger item: {error}"),
                );
            }
        },
        Plan::Move => ItemOutcome::Moved,
        Plan::AlreadyIngested => ItemOutcome::AlreadyIngested,
    };
    if let Err(error) = queue.redrive(message).await {
        warn!(message_id = %message.id, path = %file.path, %error, "Moving the dead letter failed; it stays in the dead-letter queue.");
        return leave(
            item,
            ItemOutcome::Failed,
            format!("moving to the ingest queue: {error}"),
        );
    }
    info!(message_id = %message.id, tenant = %file.tenant, source = %file.source, rule = %file.rule, path = %file.path, error_kind = %kind, outcome = ?outcome, "Dead letter moved to the ingest queue.");
    item.outcome = outcome;
    item
}

/// Makes every message in `receipts` visible again; the count that failed.
async fn return_all<Q: WorkQueue>(queue: &Q, receipts: HashMap<String, String>) -> u64 {
    let results: Vec<_> = futures_util::stream::iter(receipts)
        .map(|(id, receipt)| async move {
            let result = queue.return_dead_letter(&receipt).await;
            (id, result)
        })
        .buffer_unordered(RETURNS_IN_FLIGHT)
        .collect()
        .await;
    let mut failed = 0;
    for (id, result) in results {
        if let Err(error) = result {
            warn!(message_id = %id, %error, "Could not make a dead letter visible again; it returns when its visibility timeout ends.");
            failed += 1;
        }
    }
    failed
}

#[cfg(test)]
mod tests;
