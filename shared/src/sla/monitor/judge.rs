//! The decisions: each due window met or breached (a breach opened once,
//! however many runs overlap), and each active breach recovered once its late
//! file landed, or left as it is when its rule is gone.
//!
//! Window `k` is met by an ingested file of the rule discovered in
//! `(D_{k-1}, D_k]` and ingested by `D_k`: the judgement is the same whenever
//! the run happens (a run that catches up a day later decides as a timely one
//! would have). A file that lands after the deadline breaches the window and
//! recovers it at once: the late alert and the recovered notice, in that order.
//!
//! An open breach is resolved by the first file of its rule to land that was
//! discovered after the window opened and before the next window's expected
//! time (with the file's path and how late it was): a file found later is
//! taken for the next window's own, so a missing hourly file is not
//! "recovered" by the next hour's. Breaches whose deadline is older than
//! `recheck_for` are no longer looked at. A breach of a rule no longer in the
//! registry (or no longer with an SLA) is left as it is and reported, without
//! notices.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::SlaSettings;
use super::evidence::Evidence;
use super::plan::{Plan, Plans};
use super::report::{OrphanedBreach, RuleReport, SlaReport};
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::notifier::Severity;
use crate::ports::sla_store::{
    Breach, BreachOpening, BreachState, Notice, Recovery, Resolution, SlaStore,
};
use crate::registry::Tenant;
use crate::sla::windows::Window;

/// A breach's place among a tenant's: its deadline, then its rule.
type BreachKey = (DateTime<Utc>, String);

fn key(breach: &Breach) -> BreachKey {
    (breach.deadline, breach.rule.clone())
}

/// The breaches a run handles for one tenant, oldest deadline first: the
/// active ones it read and the ones it opened, each as last stored.
pub(super) struct Breaches {
    by_deadline: BTreeMap<BreachKey, Breach>,
    /// Opened by this run: their late alerts are this run's to publish.
    opened_now: HashSet<BreachKey>,
}

impl Breaches {
    /// The active breaches read, joined by those this run opened.
    pub(super) fn new(active: Vec<Breach>, opened: Vec<Breach>) -> Self {
        let mut by_deadline: BTreeMap<BreachKey, Breach> =
            active.into_iter().map(|b| (key(&b), b)).collect();
        let mut opened_now = HashSet::new();
        for breach in opened {
            let key = key(&breach);
            opened_now.insert(key.clone());
            by_deadline.insert(key, breach);
        }
        Breaches {
            by_deadline,
            opened_now,
        }
    }

    /// Each breach, oldest deadline first, and whether this run opened it.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Breach, bool)> {
        self.by_deadline
            .iter()
            .map(|(key, breach)| (breach, self.opened_now.contains(key)))
    }

    /// Replaces breaches by their stored versions (a notice marked sent).
    pub(super) fn update(&mut self, stored: Vec<Breach>) {
        for breach in stored {
            self.by_deadline.insert(key(&breach), breach);
        }
    }
}

/// Judges the due windows of every planned rule ([`judge`]); returns the
/// breaches this run opened.
pub(super) async fn judge_windows(
    store: &impl SlaStore,
    run_id: &str,
    plans: &mut Plans<'_>,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    report: &mut SlaReport,
) -> Vec<Breach> {
    let tenant = plans.tenant();
    let mut opened = Vec::new();
    for plan in plans.iter_mut() {
        opened.extend(judge(store, run_id, tenant, plan, evidence, now, report).await);
    }
    opened
}

/// Judges `plan`'s windows in order, opening a breach for each one not met;
/// returns the breaches this run opened (their late alerts, if wanted,
/// pending: the run publishes them next). Stops at the first window the
/// evidence cannot vouch for, or at a failed write.
async fn judge(
    store: &impl SlaStore,
    run_id: &str,
    tenant: &Tenant,
    plan: &mut Plan<'_>,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    report: &mut SlaReport,
) -> Vec<Breach> {
    let mut opened = Vec::new();
    plan.report.more = plan.more;
    let rule = plan.rule;
    for w in plan.windows.clone() {
        let met = evidence.meets(&rule.id, &w);
        if !met && !evidence.covers(&w) {
            plan.report.more = true;
            break;
        }
        if met {
            plan.report.evaluated += 1;
            plan.report.met += 1;
            continue;
        }
        let breach = breach_of(tenant, plan, &w, now, run_id);
        match store.open_breach(&breach).await {
            Ok(BreachOpening::Opened) => {
                plan.report.evaluated += 1;
                plan.report.breached += 1;
                warn!(
                    tenant = %tenant.id,
                    rule = %rule.id,
                    expected = %alerts::local_time(w.expected, plan.timezone),
                    deadline = %w.deadline,
                    "No file ingested by the deadline: SLA breach opened."
                );
                opened.push(breach);
            }
            Ok(BreachOpening::AlreadyOpen(_)) => {
                plan.report.evaluated += 1;
                plan.report.already_breached += 1;
            }
            Err(e) => {
                report.fail(&tenant.id, Some(&rule.id), e.kind(), e.to_string());
                plan.report.more = true;
                break;
            }
        }
    }
    opened
}

/// The breach of window `w` of `plan`'s rule, as run `run_id` opens it at
/// `now`: its late alert pending if the rule's notify policy wants it.
fn breach_of(
    tenant: &Tenant,
    plan: &Plan<'_>,
    w: &Window,
    now: DateTime<Utc>,
    run_id: &str,
) -> Breach {
    let rule = plan.rule;
    Breach {
        tenant: tenant.id.clone(),
        source: plan.source.id.clone(),
        rule: rule.id.clone(),
        dataset: rule.dataset.clone(),
        timezone: plan.timezone.to_owned(),
        window_start: w.start,
        expected: w.expected,
        deadline: w.deadline,
        next_expected: w.next_expected,
        state: BreachState::Open,
        opened_at: now,
        opened_by: run_id.to_owned(),
        late_alert: if alerts::wanted(rule.notify, Severity::Error) {
            Notice::Pending
        } else {
            Notice::NotWanted
        },
        recovery: None,
    }
}

/// Re-checks every breach ([`recheck`]) of a planned rule; a breach of a rule
/// the registry no longer has with an SLA is reported as orphaned, and one of
/// a rule not planned this run (just started, or its plan failed, reported)
/// waits for the next run. Returns the breaches whose recovered notices are
/// to be published.
pub(super) async fn recheck_breaches(
    store: &impl SlaStore,
    plans: &mut Plans<'_>,
    breaches: Breaches,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Vec<Breach> {
    let tenant = plans.tenant();
    let mut recovered = Vec::new();
    for breach in breaches.by_deadline.into_values() {
        let Some(plan) = plans.get_mut(&breach.rule) else {
            if !has_rule_with_sla(tenant, &breach.rule) {
                report_orphan(&breach, report);
            }
            continue;
        };
        match recheck(store, &mut plan.report, breach, evidence, now, settings).await {
            Ok(Some(to_notify)) => recovered.push(to_notify),
            Ok(None) => {}
            Err((kind, error)) => report.fail(&tenant.id, Some(&plan.rule.id), kind, error),
        }
    }
    recovered
}

/// Whether `tenant` still has `rule` with an SLA (a breach of it is not an
/// orphan, even if this run could not plan the rule).
fn has_rule_with_sla(tenant: &Tenant, rule: &str) -> bool {
    tenant
        .sources
        .iter()
        .any(|s| s.rules.iter().any(|r| r.id == rule && r.sla.is_some()))
}

/// A breach of a rule no longer in the registry (or without an SLA): left as
/// it is, and reported.
fn report_orphan(breach: &Breach, report: &mut SlaReport) {
    warn!(tenant = %breach.tenant, rule = %breach.rule, deadline = %breach.deadline, "SLA breach of a rule no longer in the registry (or without an SLA): left as it is.");
    report.orphaned.push(OrphanedBreach {
        tenant: breach.tenant.clone(),
        rule: breach.rule.clone(),
        deadline: breach.deadline,
        state: breach.state,
    });
}

/// One active breach of a planned rule: resolve it if its file landed
/// ([`resolve_if_landed`]), or, resolved already, publish its recovered
/// notice again if another run left it pending long enough ago. Returns the
/// breach whose recovered notice is to be published; late alerts were
/// published before.
async fn recheck(
    store: &impl SlaStore,
    rule_report: &mut RuleReport,
    breach: Breach,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    settings: SlaSettings,
) -> Result<Option<Breach>, (FailureKind, String)> {
    if breach.state == BreachState::Open {
        return resolve_if_landed(store, rule_report, breach, evidence, now).await;
    }
    Ok(recovered_notice_left_pending(breach, now, settings))
}

/// Resolves open `breach` with the first file of its rule to land that was
/// discovered in its window or before the next window's expected time.
/// Returns the breach as resolved when its recovered notice is wanted;
/// `None` when no such file landed, or another run resolved it first.
async fn resolve_if_landed(
    store: &impl SlaStore,
    rule_report: &mut RuleReport,
    breach: Breach,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Breach>, (FailureKind, String)> {
    let Some(file) =
        evidence.first_between(&breach.rule, breach.window_start, breach.next_expected)
    else {
        return Ok(None);
    };
    let recovery = Recovery {
        source: file.version.source.clone(),
        path: file.version.path.clone(),
        discovered_at: file.discovered_at,
        ingested_at: file.updated_at,
        resolved_at: now,
        notice: if breach.late_alert == Notice::NotWanted {
            Notice::NotWanted
        } else {
            Notice::Pending
        },
    };
    let resolved = match store
        .resolve(&breach.rule, breach.deadline, &recovery)
        .await
        .map_err(|e| (e.kind(), e.to_string()))?
    {
        Resolution::Resolved(resolved) => *resolved,
        Resolution::AlreadyResolved(_) => return Ok(None),
    };
    rule_report.recovered += 1;
    info!(
        tenant = %resolved.tenant,
        rule = %resolved.rule,
        path = %recovery.path,
        expected = %resolved.expected,
        late_by = %alerts::duration_text(recovery.ingested_at - resolved.expected),
        "The late file landed: SLA breach recovered."
    );
    Ok((recovery.notice == Notice::Pending).then_some(resolved))
}

/// `breach` (resolved) when its recovered notice was left pending by another
/// run at least `retry_notices_after` ago.
fn recovered_notice_left_pending(
    breach: Breach,
    now: DateTime<Utc>,
    settings: SlaSettings,
) -> Option<Breach> {
    let pending_since = breach
        .recovery
        .as_ref()
        .filter(|r| r.notice == Notice::Pending)
        .map(|r| r.resolved_at);
    if pending_since.is_some_and(|at| now - at >= settings.retry_notices_after) {
        info!(rule = %breach.rule, deadline = %breach.deadline, "Publishing a recovered notice left pending.");
        return Some(breach);
    }
    None
}
