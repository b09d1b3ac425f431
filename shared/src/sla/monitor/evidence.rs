//! The evidence a run judges by: one tenant's ingested files, read in one
//! ledger query, and what they say about a window.
//!
//! The evidence is one ledger query per tenant per run: its `ingested` files
//! changed since the earliest window start the run looks at (an ingested file's
//! last change is when it landed, never before it was discovered), bounded by
//! `max_evidence`. If the bound cut the answer short, a window the answer
//! cannot vouch for is left for a later run rather than judged breached.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::plan::Plans;
use super::report::SlaReport;
use crate::ports::ledger::{FileRecord, FileState, Ledger};
use crate::ports::sla_store::{Breach, BreachState};
use crate::sla::windows::Window;

/// The earliest instant the evidence must cover: the first window start of
/// every planned rule, and the window start of every open breach of one.
/// `None`: nothing to judge, no query needed.
pub(super) fn since(plans: &Plans<'_>, active: &[Breach]) -> Option<DateTime<Utc>> {
    plans
        .iter()
        .filter_map(|p| p.windows.first().map(|w| w.start))
        .chain(
            active
                .iter()
                .filter(|b| b.state == BreachState::Open && plans.contains(&b.rule))
                .map(|b| b.window_start),
        )
        .min()
}

/// The tenant's ingested files changed since `since`, newest first, at most
/// `max_evidence` of them (none asked for when `since` is `None`). `None`
/// when the query failed (reported).
pub(super) async fn fetch(
    ledger: &impl Ledger,
    tenant: &str,
    since: Option<DateTime<Utc>>,
    max_evidence: usize,
    report: &mut SlaReport,
) -> Option<Vec<FileRecord>> {
    let Some(since) = since else {
        return Some(Vec::new());
    };
    match ledger
        .by_state_since(tenant, FileState::Ingested, since, max_evidence)
        .await
    {
        Ok(records) => Some(records),
        Err(e) => {
            report.fail(tenant, None, e.kind(), e.to_string());
            None
        }
    }
}

/// The tenant's ingested files the run needs, by rule, and from when the
/// answer is complete (`None`: wholly).
pub(super) struct Evidence<'e> {
    by_rule: HashMap<&'e str, Vec<&'e FileRecord>>,
    /// When the bound cut the answer short: files changed after this
    /// instant are all there, older ones may be missing.
    complete_after: Option<DateTime<Utc>>,
}

impl<'e> Evidence<'e> {
    /// The evidence in `records`, as [`fetch`] read them for `tenant` with
    /// the bound `max_evidence`.
    pub(super) fn new(tenant: &str, records: &'e [FileRecord], max_evidence: usize) -> Self {
        let complete_after = (records.len() >= max_evidence)
            .then(|| records.last().map(|r| r.updated_at))
            .flatten();
        if let Some(after) = complete_after {
            warn!(tenant = %tenant, limit = max_evidence, complete_after = %after, "The evidence query hit its bound; windows it cannot vouch for wait for a later run.");
        }
        let mut by_rule: HashMap<&str, Vec<&FileRecord>> = HashMap::new();
        for record in records {
            by_rule
                .entry(record.rule.as_str())
                .or_default()
                .push(record);
        }
        Evidence {
            by_rule,
            complete_after,
        }
    }

    fn files(&self, rule: &str) -> &[&FileRecord] {
        self.by_rule.get(rule).map_or(&[], Vec::as_slice)
    }

    /// Whether window `w` was met: a file discovered in it and ingested by its
    /// deadline.
    pub(super) fn meets(&self, rule: &str, w: &Window) -> bool {
        self.files(rule).iter().any(|f| {
            f.discovered_at > w.start && f.discovered_at <= w.deadline && f.updated_at <= w.deadline
        })
    }

    /// Whether the answer covers every file that could meet window `w`.
    pub(super) fn covers(&self, w: &Window) -> bool {
        self.complete_after.is_none_or(|after| w.start >= after)
    }

    /// The first file of `rule` to land that was discovered in
    /// `(start, before)`.
    pub(super) fn first_between(
        &self,
        rule: &str,
        start: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> Option<&FileRecord> {
        self.files(rule)
            .iter()
            .filter(|f| f.discovered_at > start && f.discovered_at < before)
            .min_by(|a, b| (a.updated_at, &a.version.path).cmp(&(b.updated_at, &b.version.path)))
            .copied()
    }
}
