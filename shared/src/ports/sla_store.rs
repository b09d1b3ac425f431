//! The SLA store port: what the SLA monitor remembers between runs. Per rule,
//! a checkpoint (the instant up to which its deadlines were evaluated), and one
//! breach item per window whose deadline passed without an ingested file.
//!
//! Every write is conditional, so that overlapping monitor runs (EventBridge
//! delivers at least once) alert once per window, never a storm:
//! - [`SlaStore::open_breach`]: absent → `open`; only the caller that created
//!   the item (`Opened`) sends the late alert.
//! - [`SlaStore::resolve`]: `open` → `recovered`; only the caller that resolved
//!   it (`Resolved`) sends the recovered notice.
//! - [`SlaStore::notice_sent`]: a notice `pending` → `sent`, once published. A
//!   notice still `pending` a while after its breach was opened or resolved
//!   (the publish failed) is published again by a later run.
//! - [`SlaStore::advance_checkpoint`]: moves forward only.
//!
//! A breach is *active* while it is open or its recovered notice is pending; the
//! monitor lists a tenant's active breaches each run ([`SlaStore::active_breaches`]).
//!
//! Adapters: the ledger's ([`crate::local::FileLedger`],
//! [`crate::aws::dynamodb::DynamoLedger`]); the DynamoDB layout is documented in
//! `aws/dynamodb/sla.rs`.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::failure::FailureKind;
use crate::ports::ledger::LedgerError;

/// Whether a breach still waits for its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BreachState {
    /// The window's deadline passed without an ingested file; none has landed since.
    Open,
    /// A file of the rule landed after the deadline.
    Recovered,
}

impl BreachState {
    /// The lowercase name stored.
    pub fn name(self) -> &'static str {
        match self {
            BreachState::Open => "open",
            BreachState::Recovered => "recovered",
        }
    }
}

impl fmt::Display for BreachState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a notice (the late alert, the recovered notice) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The rule's notify policy wants none.
    NotWanted,
    /// To be published (the publish may have failed: a later run retries).
    Pending,
    /// Published.
    Sent,
}

/// Which of a breach's notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The alert that the file is late (`file_late`).
    Late,
    /// The notice that it landed after all (`file_recovered`).
    Recovered,
}

/// The file that ended a breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub source: String,
    pub path: String,
    /// When the poller found it on the server.
    pub discovered_at: DateTime<Utc>,
    /// When it landed (its ledger item became `ingested`): the arrival the
    /// lateness is measured by.
    pub ingested_at: DateTime<Utc>,
    /// When the monitor resolved the breach.
    pub resolved_at: DateTime<Utc>,
    /// The recovered notice: wanted whenever the late alert was.
    pub notice: Notice,
}

/// One window of one rule whose deadline passed without an ingested file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    pub tenant: String,
    pub source: String,
    pub rule: String,
    pub dataset: String,
    /// The SLA's time zone (IANA), for the wording of notices.
    pub timezone: String,
    /// The window: files discovered in `(window_start, deadline]` meet it.
    pub window_start: DateTime<Utc>,
    /// When the file was expected (the cron occurrence).
    pub expected: DateTime<Utc>,
    /// `expected` + grace.
    pub deadline: DateTime<Utc>,
    /// The next window's expected time: the late file is one discovered in
    /// `(window_start, next_expected)`; one found later is taken for the
    /// next window's.
    pub next_expected: DateTime<Utc>,
    pub state: BreachState,
    pub opened_at: DateTime<Utc>,
    /// The monitor run that opened it (an invocation id): a retried write of
    /// the same run is recognised as its own.
    pub opened_by: String,
    pub late_alert: Notice,
    pub recovery: Option<Recovery>,
}

/// The outcome of [`SlaStore::open_breach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreachOpening {
    /// This caller created the breach: it sends the late alert.
    Opened,
    /// Another run recorded this window already (as it is now).
    AlreadyOpen(Box<Breach>),
}

/// The outcome of [`SlaStore::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// This caller resolved the breach: it sends the recovered notice.
    Resolved(Box<Breach>),
    /// Another run resolved it first (as it is now).
    AlreadyResolved(Box<Breach>),
}

/// Why an SLA store call failed.
#[derive(Debug, thiserror::Error)]
pub enum SlaStoreError {
    /// The store could not be reached or throttled us, or a local I/O error.
    #[error("SLA store {op}: {source}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No breach of `rule` at `deadline`.
    #[error("SLA store: no breach of rule {rule} at {deadline}")]
    NotFound {
        rule: String,
        deadline: DateTime<Utc>,
    },
    /// The store cannot be read (a corrupt file, an item of another shape, a
    /// missing table or no permission).
    #[error("SLA store: corrupt store {location}: {reason}")]
    Corrupt { location: String, reason: String },
}

impl SlaStoreError {
    /// An unreachable store is retried (by the next run); the rest needs ops.
    pub fn kind(&self) -> FailureKind {
        match self {
            SlaStoreError::Unavailable { .. } => FailureKind::Transient,
            SlaStoreError::NotFound { .. } | SlaStoreError::Corrupt { .. } => {
                FailureKind::Misconfigured
            }
        }
    }
}

impl From<LedgerError> for SlaStoreError {
    /// The ledger adapters' shared helpers report ledger errors; the SLA
    /// store's are the same failures.
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Unavailable { op, source } => SlaStoreError::Unavailable { op, source },
            LedgerError::Corrupt { location, reason } => {
                SlaStoreError::Corrupt { location, reason }
            }
            other => SlaStoreError::Corrupt {
                location: "ledger".to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// The breach state machine, written once: adapters read a breach, ask these
/// what a transition gives, and persist the answer under their own
/// concurrency control.
impl Breach {
    /// Whether the monitor still has something to do with it: open, or its
    /// recovered notice pending. (A late alert still pending once the file
    /// landed is not sent any more: the recovered notice says it all.)
    pub fn is_active(&self) -> bool {
        self.state == BreachState::Open
            || self
                .recovery
                .as_ref()
                .is_some_and(|r| r.notice == Notice::Pending)
    }

    /// How late the file landed: its arrival less the expected time.
    pub fn lateness(&self) -> Option<Duration> {
        self.recovery
            .as_ref()
            .map(|r| r.ingested_at - self.expected)
    }

    /// The breach resolved by `recovery`; `None` when it is not open (already
    /// resolved: write nothing).
    pub fn resolved(&self, recovery: &Recovery) -> Option<Breach> {
        if self.state != BreachState::Open {
            return None;
        }
        let mut next = self.clone();
        next.state = BreachState::Recovered;
        next.recovery = Some(recovery.clone());
        Some(next)
    }

    /// The breach with notice `kind` marked sent; `None` when there is nothing
    /// to change (not pending: not wanted, sent already, or no recovery yet).
    pub fn with_notice_sent(&self, kind: NoticeKind) -> Option<Breach> {
        let mut next = self.clone();
        let notice = match kind {
            NoticeKind::Late => &mut next.late_alert,
            NoticeKind::Recovered => &mut next.recovery.as_mut()?.notice,
        };
        if *notice != Notice::Pending {
            return None;
        }
        *notice = Notice::Sent;
        Some(next)
    }
}

/// What the SLA monitor keeps between runs.
pub trait SlaStore: Send + Sync {
    /// The instant up to which `rule`'s deadlines were evaluated; `None` for a
    /// rule never seen.
    fn checkpoint(
        &self,
        rule: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, SlaStoreError>> + Send;

    /// Moves `rule`'s checkpoint to `to` if it is later than the stored one
    /// (or there is none); returns whether it moved. Never moves it back, so
    /// an overlapping run that is behind cannot undo another's progress.
    fn advance_checkpoint(
        &self,
        rule: &str,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, SlaStoreError>> + Send;

    /// Records `breach` (state `open`) unless its rule already has one at its
    /// deadline. The same breach written again (every field equal: the
    /// caller's own write retried after a lost answer) is `Opened` again.
    fn open_breach(
        &self,
        breach: &Breach,
    ) -> impl Future<Output = Result<BreachOpening, SlaStoreError>> + Send;

    /// Up to `limit` active breaches of `tenant` (open, or the recovered
    /// notice pending) whose deadline is at or after `since`, latest deadline
    /// first.
    fn active_breaches(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Breach>, SlaStoreError>> + Send;

    /// Resolves the open breach of `rule` at `deadline` with `recovery`.
    /// `NotFound` when there is no such breach.
    fn resolve(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        recovery: &Recovery,
    ) -> impl Future<Output = Result<Resolution, SlaStoreError>> + Send;

    /// Marks notice `kind` of the breach of `rule` at `deadline` as sent (a
    /// notice not pending is left as it is); returns the breach as stored.
    fn notice_sent(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        kind: NoticeKind,
    ) -> impl Future<Output = Result<Breach, SlaStoreError>> + Send;
}
