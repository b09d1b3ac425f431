//! What a run reports: per rule, the windows judged, met and breached, the
//! breaches recovered, the deadlines skipped; over the run, the notices
//! published; and the breaches left as they are and the steps that failed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::error;

use crate::failure::FailureKind;
use crate::ports::sla_store::BreachState;
use crate::registry::{Rule, Source, Tenant};

/// What a run did for one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub tenant: String,
    pub source: String,
    pub rule: String,
    /// The rule was seen for the first time: its checkpoint starts now and no
    /// window was judged.
    pub started: bool,
    /// Windows judged.
    pub evaluated: usize,
    /// Of those, met by an ingested file.
    pub met: usize,
    /// Of those, breaches this run opened (and alerted, per the notify policy).
    pub breached: usize,
    /// Of those, breaches another run had opened already (no second alert).
    pub already_breached: usize,
    /// Breaches this run resolved: their late file landed.
    pub recovered: usize,
    /// Deadlines older than the catch-up bound, not judged.
    pub skipped: usize,
    /// Windows are left for the next run (the per-run bound, or evidence cut
    /// short by its bound).
    pub more: bool,
    /// The checkpoint after this run.
    pub checkpoint: Option<DateTime<Utc>>,
}

/// A breach left as it is: its rule is not in the registry any more, or has
/// no SLA now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanedBreach {
    pub tenant: String,
    pub rule: String,
    pub deadline: DateTime<Utc>,
    pub state: BreachState,
}

/// Something that failed; the run went on with the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub tenant: String,
    /// `None`: a tenant-wide step (its evidence, its breaches).
    pub rule: Option<String>,
    pub kind: FailureKind,
    pub error: String,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaReport {
    pub now: DateTime<Utc>,
    /// Deadlines up to here were due for judgement (`now − settle`).
    pub judged_until: DateTime<Utc>,
    /// Windows judged (the total over `rules`, as the next four).
    pub windows: usize,
    /// Windows met by an ingested file.
    pub met: usize,
    /// Breaches opened by this run: the "SLA breaches" metric.
    pub breached: usize,
    /// Breaches this run resolved (their late file landed).
    pub recovered: usize,
    /// Deadlines older than the catch-up bound, not judged.
    pub skipped: usize,
    /// Notices published (late alerts and recovered notices), each counted
    /// once, whether it went out alone or folded into a digest.
    pub notified: usize,
    /// Digests published (each folding more than `digest_after` notices of
    /// one kind for one tenant).
    pub digests: usize,
    pub rules: Vec<RuleReport>,
    pub orphaned: Vec<OrphanedBreach>,
    pub failures: Vec<Failure>,
}

impl SlaReport {
    pub(super) fn new(now: DateTime<Utc>, judged_until: DateTime<Utc>) -> Self {
        SlaReport {
            now,
            judged_until,
            windows: 0,
            met: 0,
            breached: 0,
            recovered: 0,
            skipped: 0,
            notified: 0,
            digests: 0,
            rules: Vec::new(),
            orphaned: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Adds up the totals over `rules`: windows, met, breached, recovered,
    /// skipped.
    pub(super) fn add_up_rules(&mut self) {
        for rule in &self.rules {
            self.windows += rule.evaluated;
            self.met += rule.met;
            self.breached += rule.breached;
            self.recovered += rule.recovered;
            self.skipped += rule.skipped;
        }
    }

    /// Records a failed step (and logs it); the run goes on.
    pub(super) fn fail(
        &mut self,
        tenant: &str,
        rule: Option<&str>,
        kind: FailureKind,
        error: String,
    ) {
        error!(tenant = %tenant, rule = rule.unwrap_or("-"), %kind, %error, "SLA monitor step failed.");
        self.failures.push(Failure {
            tenant: tenant.to_owned(),
            rule: rule.map(str::to_owned),
            kind,
            error,
        });
    }
}

/// A rule's report before anything was done for it.
pub(super) fn rule_report(tenant: &Tenant, source: &Source, rule: &Rule) -> RuleReport {
    RuleReport {
        tenant: tenant.id.clone(),
        source: source.id.clone(),
        rule: rule.id.clone(),
        started: false,
        evaluated: 0,
        met: 0,
        breached: 0,
        already_breached: 0,
        recovered: 0,
        skipped: 0,
        more: false,
        checkpoint: None,
    }
}
