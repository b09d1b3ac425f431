//! What a run looks at for one tenant: the windows of each SLA rule that are
//! due, the breaches still active, and, at the end, where each rule's
//! checkpoint moves.
//!
//! Per rule, the SLA store keeps a checkpoint: deadlines up to it were judged.
//! A rule seen for the first time starts at "now": no window before the monitor
//! knew the rule is judged. A run judges the deadlines in
//! `(max(checkpoint, now − max_catch_up), now − settle]`, oldest first and at
//! most `max_windows` of them; the checkpoint moves only over windows judged,
//! so a backlog is finished by the next runs, and a monitor that was down for
//! longer than `max_catch_up` says how many deadlines it skipped. `settle`
//! keeps a just-passed deadline back a little, for the ledger's index and the
//! functions' clocks to agree.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::SlaSettings;
use super::report::{RuleReport, SlaReport, rule_report};
use crate::ports::sla_store::{Breach, SlaStore};
use crate::registry::{Rule, Source, Tenant};
use crate::sla::windows::{SlaSchedule, Window};

/// Skipped deadlines are counted up to this many (a minutely schedule left
/// for a month is not walked through to say so).
pub const MAX_SKIPPED_COUNTED: usize = 100_000;

/// One SLA rule as this run sees it.
pub(super) struct Plan<'r> {
    pub(super) source: &'r Source,
    pub(super) rule: &'r Rule,
    pub(super) timezone: &'r str,
    /// The checkpoint as read.
    checkpoint: DateTime<Utc>,
    /// Windows are judged after this.
    lower: DateTime<Utc>,
    pub(super) windows: Vec<Window>,
    pub(super) more: bool,
    pub(super) report: RuleReport,
}

/// A tenant's planned rules (those with windows to judge this run), in
/// registry order, found by rule id.
pub(super) struct Plans<'r> {
    tenant: &'r Tenant,
    plans: Vec<Plan<'r>>,
    index: HashMap<&'r str, usize>,
}

impl<'r> Plans<'r> {
    fn new(tenant: &'r Tenant, plans: Vec<Plan<'r>>) -> Self {
        let index = plans
            .iter()
            .enumerate()
            .map(|(i, p)| (p.rule.id.as_str(), i))
            .collect();
        Plans {
            tenant,
            plans,
            index,
        }
    }

    /// The tenant whose rules these are.
    pub(super) fn tenant(&self) -> &'r Tenant {
        self.tenant
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Plan<'r>> {
        self.plans.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Plan<'r>> {
        self.plans.iter_mut()
    }

    /// Whether `rule` was planned this run.
    pub(super) fn contains(&self, rule: &str) -> bool {
        self.index.contains_key(rule)
    }

    /// The plan of `rule`, if it was planned this run.
    pub(super) fn get_mut(&mut self, rule: &str) -> Option<&mut Plan<'r>> {
        let &index = self.index.get(rule)?;
        self.plans.get_mut(index)
    }

    /// Without evidence nothing is judged: every planned rule is reported
    /// with windows left for a later run, and the checkpoints stay.
    pub(super) fn postpone(self, report: &mut SlaReport) {
        for mut plan in self.plans {
            plan.report.more = true;
            report.rules.push(plan.report);
        }
    }
}

/// Plans every SLA rule of `tenant` ([`plan`]); rules done for this run
/// (started, or failed) are reported already and left out.
pub(super) async fn plan_rules<'r>(
    store: &impl SlaStore,
    tenant: &'r Tenant,
    now: DateTime<Utc>,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Plans<'r> {
    let mut plans = Vec::new();
    for source in &tenant.sources {
        for rule in source.rules.iter().filter(|r| r.sla.is_some()) {
            if let Some(plan) = plan(store, tenant, source, rule, now, settings, report).await {
                plans.push(plan);
            }
        }
    }
    Plans::new(tenant, plans)
}

/// What is due for a rule: read its checkpoint (starting it if new) and list
/// its windows. `None` when the rule is done for this run (started, or failed).
async fn plan<'r, S: SlaStore>(
    store: &S,
    tenant: &'r Tenant,
    source: &'r Source,
    rule: &'r Rule,
    now: DateTime<Utc>,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Option<Plan<'r>> {
    let sla = rule.sla.as_ref()?;
    let mut rule_report = rule_report(tenant, source, rule);
    let failed = |report: &mut SlaReport, mut rule_report: RuleReport, kind, error: String| {
        report.fail(&tenant.id, Some(&rule.id), kind, error);
        rule_report.more = true;
        report.rules.push(rule_report);
        None
    };
    let schedule = match SlaSchedule::for_rule(tenant, sla) {
        Ok(schedule) => schedule,
        Err(e) => return failed(report, rule_report, e.kind(), e.to_string()),
    };
    let judged_until = now - settings.settle;
    let checkpoint = match store.checkpoint(&rule.id).await {
        Ok(checkpoint) => checkpoint,
        Err(e) => return failed(report, rule_report, e.kind(), e.to_string()),
    };
    let Some(checkpoint) = checkpoint else {
        // First sight: judge from now on.
        if let Err(e) = store.advance_checkpoint(&rule.id, judged_until).await {
            return failed(report, rule_report, e.kind(), e.to_string());
        }
        info!(tenant = %tenant.id, rule = %rule.id, from = %judged_until, "SLA rule seen for the first time; its windows are judged from now on.");
        rule_report.started = true;
        rule_report.checkpoint = Some(judged_until);
        report.rules.push(rule_report);
        return None;
    };
    let lower = checkpoint.max(now - settings.max_catch_up);
    if checkpoint < lower {
        match schedule.count_deadlines(checkpoint, lower, MAX_SKIPPED_COUNTED) {
            Ok(skipped) => rule_report.skipped = skipped,
            Err(e) => return failed(report, rule_report, e.kind(), e.to_string()),
        }
        if rule_report.skipped > 0 {
            warn!(
                tenant = %tenant.id,
                rule = %rule.id,
                skipped = rule_report.skipped,
                checkpoint = %checkpoint,
                from = %lower,
                "Deadlines older than the catch-up bound are skipped, not judged."
            );
        }
    }
    let windows = match schedule.windows(lower, judged_until, settings.max_windows.max(1)) {
        Ok(windows) => windows,
        Err(e) => return failed(report, rule_report, e.kind(), e.to_string()),
    };
    rule_report.checkpoint = Some(checkpoint);
    Some(Plan {
        source,
        rule,
        timezone: sla.timezone(tenant),
        checkpoint,
        lower,
        windows: windows.windows,
        more: windows.more,
        report: rule_report,
    })
}

/// The tenant's active breaches: of all its rules, removed ones included (so
/// they are reported), which is why a tenant without SLA rules is asked too.
/// A failed read is reported and leaves none.
pub(super) async fn active_breaches(
    store: &impl SlaStore,
    tenant: &str,
    now: DateTime<Utc>,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Vec<Breach> {
    match store
        .active_breaches(
            tenant,
            now - settings.recheck_for,
            settings.max_active_breaches,
        )
        .await
    {
        Ok(active) => {
            if active.len() >= settings.max_active_breaches {
                warn!(tenant = %tenant, limit = settings.max_active_breaches, "More active SLA breaches than one run looks at; the newest are handled.");
            }
            active
        }
        Err(e) => {
            report.fail(tenant, None, e.kind(), e.to_string());
            Vec::new()
        }
    }
}

/// Moves the checkpoints over what was judged: everything up to
/// `report.judged_until`, or the windows judged in order before the run
/// stopped (a bound, a window the evidence cannot vouch for, a failed write).
/// Reports each rule.
pub(super) async fn advance_checkpoints(
    store: &impl SlaStore,
    plans: Plans<'_>,
    report: &mut SlaReport,
) {
    let tenant = &plans.tenant.id;
    for mut plan in plans.plans {
        let to = if plan.report.more {
            plan.report
                .evaluated
                .checked_sub(1)
                .and_then(|last| plan.windows.get(last))
                .map_or(plan.lower, |w| w.deadline)
        } else {
            report.judged_until
        };
        if to > plan.checkpoint {
            match store.advance_checkpoint(&plan.rule.id, to).await {
                Ok(_) => plan.report.checkpoint = Some(to),
                Err(e) => report.fail(tenant, Some(&plan.rule.id), e.kind(), e.to_string()),
            }
        }
        report.rules.push(plan.report);
    }
}
