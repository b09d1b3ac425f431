//! The last poll of each source and how it ended — the first column ops read
//! in `tributary status`. The poller records every poll; only each source's
//! latest is kept.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::LedgerError;

/// The longest `detail` kept: a reason, not a log.
pub const MAX_DETAIL_CHARS: usize = 500;

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollOutcome {
    /// Listed every directory.
    Complete,
    /// Stopped early (the deadline, a listing limit); the next poll goes on.
    Partial,
    /// The source is paused in the registry.
    Paused,
    /// The poll failed (connection, login, listing, queue).
    Failed,
}

impl PollOutcome {
    pub fn name(self) -> &'static str {
        match self {
            PollOutcome::Complete => "complete",
            PollOutcome::Partial => "partial",
            PollOutcome::Paused => "paused",
            PollOutcome::Failed => "failed",
        }
    }
}

/// One poll of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRecord {
    pub tenant: String,
    pub source: String,
    pub at: DateTime<Utc>,
    pub outcome: PollOutcome,
    /// Files the poll sent to the ingest queue.
    pub sent: u64,
    /// Why it failed or stopped early (at most [`MAX_DETAIL_CHARS`]); empty
    /// when complete.
    pub detail: String,
}

impl PollRecord {
    /// The record with `detail` cut to [`MAX_DETAIL_CHARS`] characters.
    pub fn new(
        tenant: &str,
        source: &str,
        at: DateTime<Utc>,
        outcome: PollOutcome,
        sent: u64,
        detail: &str,
    ) -> Self {
        PollRecord {
            tenant: tenant.to_owned(),
            source: source.to_owned(),
            at,
            outcome,
            sent,
            detail: detail.chars().take(MAX_DETAIL_CHARS).collect(),
        }
    }
}

/// Where the last poll of each source is kept.
pub trait PollLog: Send + Sync {
    /// Keeps `record` as its source's last poll, replacing the previous one.
    fn record_poll(
        &self,
        record: &PollRecord,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// The last polls of `sources` (sources never polled are absent), in no
    /// particular order.
    fn last_polls(
        &self,
        sources: &[String],
    ) -> impl Future<Output = Result<Vec<PollRecord>, LedgerError>> + Send;
}
