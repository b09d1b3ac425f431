//! One run of the SLA monitor (ARCHITECTURE.md, flow step 4), on a schedule:
//! for every rule with an SLA, judge the windows whose deadline passed since
//! the last run, record one breach per window that no ingested file met (a
//! conditional write: one alert per window, however many runs overlap), alert,
//! and send a "recovered" notice once a late file lands.
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
//!
//! Window `k` is met by an ingested file of the rule discovered in
//! `(D_{k-1}, D_k]` and ingested by `D_k`: the judgement is the same whenever
//! the run happens (a run that catches up a day later decides as a timely one
//! would have). A file that lands after the deadline breaches the window and
//! recovers it at once: the late alert and the recovered notice, in that order.
//!
//! The evidence is one ledger query per tenant per run: its `ingested` files
//! changed since the earliest window start the run looks at (an ingested file's
//! last change is when it landed, never before it was discovered), bounded by
//! `max_evidence`. If the bound cut the answer short, a window the answer
//! cannot vouch for is left for a later run rather than judged breached.
//!
//! An open breach is resolved by the first file of its rule to land that was
//! discovered after the window opened and before the next window's expected
//! time (with the file's path and how late it was): a file found later is
//! taken for the next window's own, so a missing hourly file is not
//! "recovered" by the next hour's. Breaches whose deadline is older than `recheck_for` are no longer
//! looked at. A breach of a rule no longer in the registry (or no longer with
//! an SLA) is left as it is and reported, without notices.
//!
//! Notices follow the rule's notify policy: the late alert is a failure (sent
//! unless `notify: none`); the recovered notice is sent whenever the late alert
//! was wanted. A notice whose publish failed stays pending on the breach and a
//! run at least `retry_notices_after` later publishes it again.
//!
//! A run publishes a tenant's late alerts together, after judging its rules
//! and before re-checking its breaches (so a file that landed late is alerted
//! late before it is notified recovered), and its recovered notices together
//! at the end. Up to `digest_after` of one kind go out one by one; more are
//! folded into one digest, so a monitor catching up after downtime sends one
//! message per tenant rather than one per missed window. The notices are not
//! handed to a [`crate::digest::RunNotices`], which reports success when it
//! holds a notice: each breach is marked sent only after the message carrying
//! its notice was published, and a failed digest leaves them all pending for
//! a later run, which folds them again.
//!
//! Errors are per rule (or per tenant for its shared queries): they are
//! reported and the other rules go on.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use super::windows::{SlaSchedule, Window};
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::ledger::{FileRecord, FileState, Ledger};
use crate::ports::notifier::{Notification, Notifier, Severity};
use crate::ports::sla_store::{
    Breach, BreachOpening, BreachState, Notice, NoticeKind, Recovery, Resolution, SlaStore,
};
use crate::registry::{Registry, Rule, Source, Tenant};

/// Skipped deadlines are counted up to this many (a minutely schedule left
/// for a month is not walked through to say so).
pub const MAX_SKIPPED_COUNTED: usize = 100_000;

/// What a run needs from the outside.
pub struct SlaContext<'a, L, S, N> {
    /// The evidence: ingested files.
    pub ledger: &'a L,
    /// Checkpoints and breaches.
    pub store: &'a S,
    pub notifier: &'a N,
    /// This run's id (the Lambda invocation's): breaches it opens carry it.
    pub run_id: &'a str,
}

/// How far one run goes.
#[derive(Debug, Clone, Copy)]
pub struct SlaSettings {
    /// Deadlines older than this before now are not judged (skipped, counted).
    pub max_catch_up: Duration,
    /// Most windows judged per rule per run; the rest are left for the next.
    pub max_windows: usize,
    /// Breaches whose deadline is older than this are no longer re-checked.
    pub recheck_for: Duration,
    /// How long after a deadline it is judged.
    pub settle: Duration,
    /// Most ledger items read per tenant per run as evidence.
    pub max_evidence: usize,
    /// Most active breaches looked at per tenant per run (newest first).
    pub max_active_breaches: usize,
    /// How long a pending notice is left to the run that made it before
    /// another run publishes it again.
    pub retry_notices_after: Duration,
    /// Notices of one kind a run publishes one by one for a tenant; more go
    /// out as one digest (`TRIBUTARY_DIGEST_AFTER`).
    pub digest_after: usize,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            max_catch_up: Duration::hours(24),
            max_windows: 200,
            recheck_for: Duration::days(30),
            settle: Duration::minutes(2),
            max_evidence: 20_000,
            max_active_breaches: 1_000,
            retry_notices_after: Duration::minutes(10),
            digest_after: crate::digest::DEFAULT_DIGEST_AFTER,
        }
    }
}

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
    fn new(now: DateTime<Utc>, judged_until: DateTime<Utc>) -> Self {
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

    fn fail(&mut self, tenant: &str, rule: Option<&str>, kind: FailureKind, error: String) {
        error!(tenant = %tenant, rule = rule.unwrap_or("-"), %kind, %error, "SLA monitor step failed.");
        self.failures.push(Failure {
            tenant: tenant.to_owned(),
            rule: rule.map(str::to_owned),
            kind,
            error,
        });
    }
}

/// One SLA rule as this run sees it.
struct Plan<'r> {
    source: &'r Source,
    rule: &'r Rule,
    timezone: &'r str,
    /// The checkpoint as read.
    checkpoint: DateTime<Utc>,
    /// Windows are judged after this.
    lower: DateTime<Utc>,
    windows: Vec<Window>,
    more: bool,
    report: RuleReport,
}

/// Runs the monitor over every SLA rule of `registry` at `now`.
pub async fn run<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    registry: &Registry,
    now: DateTime<Utc>,
    settings: SlaSettings,
) -> SlaReport
where
    L: Ledger,
    S: SlaStore,
    N: Notifier,
{
    let judged_until = now - settings.settle;
    let mut report = SlaReport::new(now, judged_until);
    for tenant in &registry.tenants {
        run_tenant(ctx, tenant, now, settings, &mut report).await;
    }
    for rule in &report.rules {
        report.windows += rule.evaluated;
        report.met += rule.met;
        report.breached += rule.breached;
        report.recovered += rule.recovered;
        report.skipped += rule.skipped;
    }
    info!(
        now = %now,
        rules = report.rules.len(),
        windows = report.windows,
        met = report.met,
        breached = report.breached,
        recovered = report.recovered,
        skipped = report.skipped,
        orphaned = report.orphaned.len(),
        failures = report.failures.len(),
        "SLA monitor run finished."
    );
    report
}

fn rule_report(tenant: &Tenant, source: &Source, rule: &Rule) -> RuleReport {
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

/// The tenant's ingested files the run needs, by rule, and from when the
/// answer is complete (`None`: wholly).
struct Evidence<'e> {
    by_rule: HashMap<&'e str, Vec<&'e FileRecord>>,
    /// When the bound cut the answer short: files changed after this
    /// instant are all there, older ones may be missing.
    complete_after: Option<DateTime<Utc>>,
}

impl Evidence<'_> {
    fn files(&self, rule: &str) -> &[&FileRecord] {
        self.by_rule.get(rule).map_or(&[], Vec::as_slice)
    }

    /// Whether window `w` was met: a file discovered in it and ingested by its
    /// deadline.
    fn meets(&self, rule: &str, w: &Window) -> bool {
        self.files(rule).iter().any(|f| {
            f.discovered_at > w.start && f.discovered_at <= w.deadline && f.updated_at <= w.deadline
        })
    }

    /// Whether the answer covers every file that could meet window `w`.
    fn covers(&self, w: &Window) -> bool {
        self.complete_after.is_none_or(|after| w.start >= after)
    }

    /// The first file of `rule` to land that was discovered in
    /// `(start, before)`.
    fn first_between(
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

async fn run_tenant<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    tenant: &Tenant,
    now: DateTime<Utc>,
    settings: SlaSettings,
    report: &mut SlaReport,
) where
    L: Ledger,
    S: SlaStore,
    N: Notifier,
{
    let mut plans: Vec<Plan<'_>> = Vec::new();
    for source in &tenant.sources {
        for rule in source.rules.iter().filter(|r| r.sla.is_some()) {
            if let Some(plan) = plan(ctx.store, tenant, source, rule, now, settings, report).await {
                plans.push(plan);
            }
        }
    }

    // The tenant's active breaches: of all its rules, removed ones included
    // (so they are reported), which is why a tenant without SLA rules is
    // asked too.
    let active = match ctx
        .store
        .active_breaches(
            &tenant.id,
            now - settings.recheck_for,
            settings.max_active_breaches,
        )
        .await
    {
        Ok(active) => {
            if active.len() >= settings.max_active_breaches {
                warn!(tenant = %tenant.id, limit = settings.max_active_breaches, "More active SLA breaches than one run looks at; the newest are handled.");
            }
            active
        }
        Err(e) => {
            report.fail(&tenant.id, None, e.kind(), e.to_string());
            Vec::new()
        }
    };

    // One evidence query, from the earliest window start it must cover.
    let planned: HashMap<&str, usize> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| (p.rule.id.as_str(), i))
        .collect();
    let since = plans
        .iter()
        .filter_map(|p| p.windows.first().map(|w| w.start))
        .chain(
            active
                .iter()
                .filter(|b| b.state == BreachState::Open && planned.contains_key(b.rule.as_str()))
                .map(|b| b.window_start),
        )
        .min();
    let records = match since {
        None => Some(Vec::new()),
        Some(since) => match ctx
            .ledger
            .by_state_since(
                &tenant.id,
                FileState::Ingested,
                since,
                settings.max_evidence,
            )
            .await
        {
            Ok(records) => Some(records),
            Err(e) => {
                report.fail(&tenant.id, None, e.kind(), e.to_string());
                None
            }
        },
    };
    let Some(records) = records else {
        // Without evidence nothing is judged; checkpoints stay.
        for mut plan in plans {
            plan.report.more = true;
            report.rules.push(plan.report);
        }
        return;
    };
    let complete_after = (records.len() >= settings.max_evidence)
        .then(|| records.last().map(|r| r.updated_at))
        .flatten();
    if let Some(after) = complete_after {
        warn!(tenant = %tenant.id, limit = settings.max_evidence, complete_after = %after, "The evidence query hit its bound; windows it cannot vouch for wait for a later run.");
    }
    let mut by_rule: HashMap<&str, Vec<&FileRecord>> = HashMap::new();
    for record in &records {
        by_rule
            .entry(record.rule.as_str())
            .or_default()
            .push(record);
    }
    let evidence = Evidence {
        by_rule,
        complete_after,
    };

    // Judge the windows; new breaches join the active ones.
    let mut to_check: BTreeMap<(DateTime<Utc>, String), Breach> = active
        .into_iter()
        .map(|b| ((b.deadline, b.rule.clone()), b))
        .collect();
    let mut opened_now = HashSet::new();
    for plan in &mut plans {
        for breach in judge(ctx, tenant, plan, &evidence, now, report).await {
            let key = (breach.deadline, breach.rule.clone());
            opened_now.insert(key.clone());
            to_check.insert(key, breach);
        }
    }

    // The late alerts, oldest deadline first: of the breaches this run
    // opened, and those another run left pending long enough ago that it
    // is not still publishing them. Before the re-checks, so a file that
    // landed late is alerted late before it is notified recovered.
    let stale = |at: DateTime<Utc>| now - at >= settings.retry_notices_after;
    let mut late = Vec::new();
    for (key, b) in &to_check {
        if !planned.contains_key(b.rule.as_str())
            || b.state != BreachState::Open
            || b.late_alert != Notice::Pending
        {
            continue;
        }
        if opened_now.contains(key) {
            late.push(b.clone());
        } else if b.opened_by != ctx.run_id && stale(b.opened_at) {
            info!(rule = %b.rule, deadline = %b.deadline, "Publishing a late alert left pending.");
            late.push(b.clone());
        }
    }
    for sent in deliver(ctx, &tenant.id, late, NoticeKind::Late, settings, report).await {
        to_check.insert((sent.deadline, sent.rule.clone()), sent);
    }

    // Re-check the active breaches: recoveries, and recovered notices left
    // pending; the notices go out together afterwards.
    let mut recovered = Vec::new();
    for breach in to_check.into_values() {
        let Some(&index) = planned.get(breach.rule.as_str()) else {
            // A rule of the registry not planned this run (just started, or
            // its plan failed, reported) waits for the next run.
            if !has_rule_with_sla(tenant, &breach.rule) {
                warn!(tenant = %breach.tenant, rule = %breach.rule, deadline = %breach.deadline, "SLA breach of a rule no longer in the registry (or without an SLA): left as it is.");
                report.orphaned.push(OrphanedBreach {
                    tenant: breach.tenant.clone(),
                    rule: breach.rule.clone(),
                    deadline: breach.deadline,
                    state: breach.state,
                });
            }
            continue;
        };
        let plan = &mut plans[index];
        match recheck(ctx, plan, breach, &evidence, now, settings).await {
            Ok(Some(to_notify)) => recovered.push(to_notify),
            Ok(None) => {}
            Err((kind, error)) => report.fail(&tenant.id, Some(&plan.rule.id), kind, error),
        }
    }
    deliver(
        ctx,
        &tenant.id,
        recovered,
        NoticeKind::Recovered,
        settings,
        report,
    )
    .await;

    // Move the checkpoints over what was judged: everything up to now, or
    // the windows judged in order before the run stopped (a bound, a window
    // the evidence cannot vouch for, a failed write).
    for mut plan in plans {
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
            match ctx.store.advance_checkpoint(&plan.rule.id, to).await {
                Ok(_) => plan.report.checkpoint = Some(to),
                Err(e) => report.fail(&tenant.id, Some(&plan.rule.id), e.kind(), e.to_string()),
            }
        }
        report.rules.push(plan.report);
    }
}

/// Whether `tenant` still has `rule` with an SLA (a breach of it is not an
/// orphan, even if this run could not plan the rule).
fn has_rule_with_sla(tenant: &Tenant, rule: &str) -> bool {
    tenant
        .sources
        .iter()
        .any(|s| s.rules.iter().any(|r| r.id == rule && r.sla.is_some()))
}

/// Judges `plan`'s windows in order, opening a breach for each one not met;
/// returns the breaches this run opened (their late alerts, if wanted,
/// pending: [`run_tenant`] publishes them). Stops at the first window the
/// evidence cannot vouch for, or at a failed write.
async fn judge<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    tenant: &Tenant,
    plan: &mut Plan<'_>,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    report: &mut SlaReport,
) -> Vec<Breach>
where
    L: Ledger,
    S: SlaStore,
    N: Notifier,
{
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
        let breach = Breach {
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
            opened_by: ctx.run_id.to_owned(),
            late_alert: if alerts::wanted(rule.notify, Severity::Error) {
                Notice::Pending
            } else {
                Notice::NotWanted
            },
            recovery: None,
        };
        match ctx.store.open_breach(&breach).await {
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

/// The notification of notice `kind` of `breach`.
fn notice(breach: &Breach, kind: NoticeKind) -> Result<Notification, (FailureKind, String)> {
    match kind {
        NoticeKind::Late => Ok(alerts::file_late(breach)),
        NoticeKind::Recovered => alerts::file_recovered(breach).ok_or_else(|| {
            (
                FailureKind::Misconfigured,
                format!(
                    "breach of rule {} at {} has no recovery to notify",
                    breach.rule, breach.deadline
                ),
            )
        }),
    }
}

/// Publishes notice `kind` of `breach` and marks it sent; returns the breach
/// as stored. A failed publish leaves the notice pending for a later run.
async fn send<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    breach: &Breach,
    kind: NoticeKind,
    report: &mut SlaReport,
) -> Result<Breach, (FailureKind, String)>
where
    S: SlaStore,
    N: Notifier,
{
    let notification = notice(breach, kind)?;
    ctx.notifier
        .publish(&notification)
        .await
        .map_err(|e| (e.kind(), format!("{} notice: {e}", notification.event)))?;
    report.notified += 1;
    ctx.store
        .notice_sent(&breach.rule, breach.deadline, kind)
        .await
        .map_err(|e| (e.kind(), e.to_string()))
}

/// What a digest of SLA notices tells ops.
fn digest_advice(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Late => {
            "What to do: many files late together usually share one cause: the tenant's \
             upload did not run, the source cannot be polled (the poller's alerts, the \
             PollsFailed metric), or the monitor is catching up after it did not run. Each \
             breach is recorded; a file_recovered notice follows when its file lands."
        }
        NoticeKind::Recovered => {
            "Nothing to do: these late files have landed and their breaches are resolved."
        }
    }
}

/// Publishes notice `kind` of each of `breaches` (one tenant's) and marks it
/// sent; returns the breaches so marked, as stored. Up to `digest_after` go
/// out one by one; more go out as one digest, and are marked sent only once
/// the digest is published, so a failed digest leaves every one of them
/// pending for a later run (which folds them again). Failures are reported.
async fn deliver<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    tenant: &str,
    breaches: Vec<Breach>,
    kind: NoticeKind,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Vec<Breach>
where
    S: SlaStore,
    N: Notifier,
{
    let mut sent = Vec::with_capacity(breaches.len());
    if breaches.len() <= settings.digest_after.max(1) {
        for breach in &breaches {
            match send(ctx, breach, kind, report).await {
                Ok(stored) => sent.push(stored),
                Err((k, error)) => report.fail(tenant, Some(&breach.rule), k, error),
            }
        }
        return sent;
    }
    let mut folded = Vec::with_capacity(breaches.len());
    let mut notifications = Vec::with_capacity(breaches.len());
    for breach in breaches {
        match notice(&breach, kind) {
            Ok(notification) => {
                notifications.push(notification);
                folded.push(breach);
            }
            Err((k, error)) => report.fail(tenant, Some(&breach.rule), k, error),
        }
    }
    let digest = crate::digest::digest_with_advice(&notifications, digest_advice(kind));
    if let Err(e) = ctx.notifier.publish(&digest).await {
        let error = format!(
            "{} digest of {} notices: {e}; they stay pending",
            digest.event,
            notifications.len()
        );
        report.fail(tenant, None, e.kind(), error);
        return sent;
    }
    info!(tenant, event = %digest.event, folded = folded.len(), "SLA notices published as one digest.");
    report.digests += 1;
    report.notified += folded.len();
    for breach in &folded {
        match ctx
            .store
            .notice_sent(&breach.rule, breach.deadline, kind)
            .await
        {
            Ok(stored) => sent.push(stored),
            Err(e) => report.fail(tenant, Some(&breach.rule), e.kind(), e.to_string()),
        }
    }
    sent
}

/// One active breach of a planned rule: resolve it if its file landed.
/// Returns the breach whose recovered notice is to be published (resolved
/// now, or left pending by another run long enough ago); late alerts were
/// published before ([`run_tenant`]).
async fn recheck<L, S, N>(
    ctx: &SlaContext<'_, L, S, N>,
    plan: &mut Plan<'_>,
    breach: Breach,
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
    settings: SlaSettings,
) -> Result<Option<Breach>, (FailureKind, String)>
where
    L: Ledger,
    S: SlaStore,
    N: Notifier,
{
    let stale = |at: DateTime<Utc>| now - at >= settings.retry_notices_after;
    if breach.state == BreachState::Open {
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
        let resolved = match ctx
            .store
            .resolve(&breach.rule, breach.deadline, &recovery)
            .await
            .map_err(|e| (e.kind(), e.to_string()))?
        {
            Resolution::Resolved(resolved) => *resolved,
            Resolution::AlreadyResolved(_) => return Ok(None),
        };
        plan.report.recovered += 1;
        info!(
            tenant = %resolved.tenant,
            rule = %resolved.rule,
            path = %recovery.path,
            expected = %resolved.expected,
            late_by = %alerts::duration_text(recovery.ingested_at - resolved.expected),
            "The late file landed: SLA breach recovered."
        );
        return Ok((recovery.notice == Notice::Pending).then_some(resolved));
    }
    let pending_since = breach
        .recovery
        .as_ref()
        .filter(|r| r.notice == Notice::Pending)
        .map(|r| r.resolved_at);
    if pending_since.is_some_and(stale) {
        info!(rule = %breach.rule, deadline = %breach.deadline, "Publishing a recovered notice left pending.");
        return Ok(Some(breach));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::{FileLedger, FileNotifier};
    use crate::poll::select::FileVersion;
    use crate::ports::ledger::{NewFile, Outcome};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Tenant `acme` (UTC) with one source and `rules` (YAML list items).
    fn registry(rules: &str) -> Registry {
        let text = format!(
            r#"
version: 1
tenants:
  - id: acme
    timezone: UTC
    sources:
      - id: acme-ftp
        host: ftp.example.com
        protocol: ftp
        username: u
        password: {{ env: P }}
        directories: [/out]
        rules:
{rules}
"#
        );
        let registry = Registry::from_yaml_str(&text).unwrap();
        registry.validate().unwrap();
        registry
    }

    fn rule(id: &str, expected: &str, notify: &str) -> String {
        format!(
            r#"          - id: {id}
            match: {{ glob: "/out/{id}_*.csv" }}
            dataset: {id}
            format: csv
            notify: {notify}
            sla: {{ expected: "{expected}", grace_minutes: 30 }}
"#
        )
    }

    /// A file of `rule` discovered and ingested at the times given.
    async fn land(ledger: &FileLedger, rule: &str, path: &str, discovered: &str, ingested: &str) {
        let version = FileVersion {
            source: "acme-ftp".into(),
            path: path.into(),
            size: 10,
            mtime: None,
        };
        ledger
            .claim(NewFile {
                version: version.clone(),
                tenant: "acme".into(),
                rule: rule.into(),
                discovered_at: at(discovered),
            })
            .await
            .unwrap();
        ledger
            .take_lease(&version, "ingester", Duration::minutes(15), at(ingested))
            .await
            .unwrap();
        let outcome = Outcome::Ingested {
            sha256: "ab".repeat(32),
            bytes_in: 10,
            bytes_out: 10,
            rows: 1,
            s3_key: format!("raw{path}"),
        };
        ledger
            .finish(&version, "ingester", outcome, at(ingested))
            .await
            .unwrap();
    }

    struct World {
        _dir: tempfile::TempDir,
        ledger: FileLedger,
        notifier: FileNotifier,
        settings: SlaSettings,
    }

    impl World {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let notifier = FileNotifier::new(dir.path().join("notifications.jsonl"));
            World {
                _dir: dir,
                ledger: FileLedger::in_memory(),
                notifier,
                settings: SlaSettings::default(),
            }
        }

        async fn run(&self, registry: &Registry, now: &str) -> SlaReport {
            let ctx = SlaContext {
                ledger: &self.ledger,
                store: &self.ledger,
                notifier: &self.notifier,
                run_id: now,
            };
            run(&ctx, registry, at(now), self.settings).await
        }

        /// (event, subject) of everything published so far.
        fn published(&self) -> Vec<(String, String)> {
            self.notifier
                .published()
                .unwrap()
                .into_iter()
                .map(|p| (p.notification.event, p.notification.subject))
                .collect()
        }
    }

    #[tokio::test]
    async fn a_new_rule_starts_now_and_no_earlier_window_is_judged() {
        let w = World::new();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        let report = w.run(&r, "2026-11-21T12:00:00Z").await;
        assert_eq!(report.rules.len(), 1);
        let rule = &report.rules[0];
        assert!(rule.started);
        assert_eq!(rule.evaluated, 0);
        assert_eq!(rule.checkpoint, Some(at("2026-11-21T11:58:00Z")));
        assert!(w.published().is_empty());
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(
            w.ledger.checkpoint("orders").await.unwrap(),
            Some(at("2026-11-21T11:58:00Z"))
        );
    }

    #[tokio::test]
    async fn one_alert_per_window_across_runs_then_one_recovered_notice() {
        let w = World::new();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        // 06:30 passed with nothing ingested.
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        assert_eq!((report.windows, report.breached, report.met), (1, 1, 0));
        assert_eq!(w.published().len(), 1);
        assert_eq!(w.published()[0].0, "file_late");
        // Later runs: no new window, no second alert.
        for now in ["2026-11-21T06:50:00Z", "2026-11-21T07:00:00Z"] {
            let report = w.run(&r, now).await;
            assert_eq!((report.windows, report.breached), (0, 0));
        }
        assert_eq!(w.published().len(), 1);

        // The file lands at 07:40: one recovered notice naming how late.
        land(
            &w.ledger,
            "orders",
            "/out/orders_1.csv",
            "2026-11-21T07:35:00Z",
            "2026-11-21T07:40:00Z",
        )
        .await;
        let report = w.run(&r, "2026-11-21T07:45:00Z").await;
        assert_eq!(report.recovered, 1);
        let published = w.published();
        assert_eq!(published.len(), 2);
        assert_eq!(published[1].0, "file_recovered");
        assert!(
            published[1]
                .1
                .contains("1 h 40 min after the expected 06:00 UTC"),
            "{}",
            published[1].1
        );
        let report = w.run(&r, "2026-11-21T08:00:00Z").await;
        assert_eq!(report.recovered, 0);
        assert_eq!(w.published().len(), 2);
        let breach = &w
            .ledger
            .active_breaches("acme", at("2026-11-01T00:00:00Z"), 10)
            .await
            .unwrap();
        assert!(breach.is_empty(), "nothing left to do: {breach:?}");

        // The next day's file is on time: met, no notice.
        land(
            &w.ledger,
            "orders",
            "/out/orders_2.csv",
            "2026-11-22T05:50:00Z",
            "2026-11-22T05:52:00Z",
        )
        .await;
        let report = w.run(&r, "2026-11-22T06:35:00Z").await;
        assert_eq!((report.windows, report.met, report.breached), (1, 1, 0));
        assert_eq!(w.published().len(), 2);
    }

    #[tokio::test]
    async fn a_window_another_run_already_breached_is_not_alerted_again() {
        let w = World::new();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        let other = Breach {
            tenant: "acme".into(),
            source: "acme-ftp".into(),
            rule: "orders".into(),
            dataset: "orders".into(),
            timezone: "UTC".into(),
            window_start: at("2026-11-20T06:30:00Z"),
            expected: at("2026-11-21T06:00:00Z"),
            deadline: at("2026-11-21T06:30:00Z"),
            next_expected: at("2026-11-22T06:00:00Z"),
            state: BreachState::Open,
            opened_at: at("2026-11-21T06:44:00Z"),
            opened_by: "an overlapping run".into(),
            late_alert: Notice::Sent,
            recovery: None,
        };
        assert_eq!(
            w.ledger.open_breach(&other).await.unwrap(),
            BreachOpening::Opened
        );
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        assert_eq!(report.rules[0].already_breached, 1);
        assert_eq!(report.breached, 0);
        assert!(w.published().is_empty());
    }

    #[tokio::test]
    async fn a_file_ingested_after_the_deadline_is_late_even_if_found_before_it() {
        let w = World::new();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        // Discovered in time, but it landed after the deadline (retries).
        land(
            &w.ledger,
            "orders",
            "/out/orders_1.csv",
            "2026-11-21T06:20:00Z",
            "2026-11-21T06:40:00Z",
        )
        .await;
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        assert_eq!((report.breached, report.recovered), (1, 1));
        let events: Vec<String> = w.published().into_iter().map(|(e, _)| e).collect();
        assert_eq!(events, ["file_late", "file_recovered"]);
        assert!(
            w.published()[1]
                .1
                .contains("40 min after the expected 06:00 UTC")
        );
    }

    #[tokio::test]
    async fn catching_up_after_a_day_down_is_bounded_and_says_what_it_skipped() {
        let mut w = World::new();
        let r = registry(&rule("hourly", "0 * * * *", "failures"));
        w.run(&r, "2026-11-20T00:00:00Z").await;
        // Every hour's file lands on time, but the one of 12:00.
        for hour in 0..27 {
            let expected = at("2026-11-20T00:00:00Z") + Duration::hours(hour);
            if expected == at("2026-11-20T12:00:00Z") {
                continue;
            }
            let found = (expected + Duration::minutes(5)).to_rfc3339();
            let landed = (expected + Duration::minutes(7)).to_rfc3339();
            land(
                &w.ledger,
                "hourly",
                &format!("/out/hourly_{hour}.csv"),
                &found,
                &landed,
            )
            .await;
        }
        // Down for 26 hours, then a run with at most 10 windows per run.
        w.settings.max_windows = 10;
        let first = w.run(&r, "2026-11-21T02:00:00Z").await;
        let rule = &first.rules[0];
        assert_eq!(
            rule.skipped, 2,
            "00:30 and 01:30 on the 20th are older than a day"
        );
        assert_eq!((rule.evaluated, rule.more), (10, true));
        assert_eq!(rule.checkpoint, Some(at("2026-11-20T11:30:00Z")));
        assert_eq!(first.breached, 0);
        // The backlog is finished by the next runs, the skipped deadlines
        // are not counted again, and the one missing file is one alert.
        let second = w.run(&r, "2026-11-21T02:01:00Z").await;
        assert_eq!(
            (second.rules[0].evaluated, second.rules[0].skipped),
            (10, 0)
        );
        assert_eq!(second.breached, 1);
        let third = w.run(&r, "2026-11-21T02:02:00Z").await;
        let rule = &third.rules[0];
        assert_eq!((rule.evaluated, rule.more), (4, false));
        assert_eq!(
            first.windows + second.windows + third.windows,
            24,
            "exactly the windows of the last 24 hours"
        );
        assert_eq!(first.met + second.met + third.met, 23);
        assert_eq!(w.published().len(), 1);
        assert!(
            w.published()[0].1.contains("expected 12:00 UTC"),
            "{:?}",
            w.published()
        );
    }

    #[tokio::test]
    async fn notify_none_records_breaches_without_notices() {
        let w = World::new();
        let r = registry(&rule("quiet", "0 6 * * *", "none"));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        assert_eq!(report.breached, 1);
        land(
            &w.ledger,
            "quiet",
            "/out/quiet_1.csv",
            "2026-11-21T07:00:00Z",
            "2026-11-21T07:01:00Z",
        )
        .await;
        let report = w.run(&r, "2026-11-21T07:10:00Z").await;
        assert_eq!(report.recovered, 1);
        assert!(w.published().is_empty());
        assert_eq!(report.notified, 0);
    }

    #[tokio::test]
    async fn a_late_alert_that_could_not_be_published_is_sent_by_a_later_run() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the notifier's directory should be: publishing fails.
        let blocker = dir.path().join("out");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let notifier = FileNotifier::new(blocker.join("notifications.jsonl"));
        let ledger = FileLedger::in_memory();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        let run_at = |now: &'static str| {
            let ctx = SlaContext {
                ledger: &ledger,
                store: &ledger,
                notifier: &notifier,
                run_id: now,
            };
            let registry = &r;
            async move { run(&ctx, registry, at(now), SlaSettings::default()).await }
        };
        run_at("2026-11-21T05:00:00Z").await;
        let report = run_at("2026-11-21T06:45:00Z").await;
        assert_eq!(report.breached, 1);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert_eq!(report.failures[0].kind, FailureKind::Transient);
        assert!(report.failures[0].error.contains("file_late"));

        std::fs::remove_file(&blocker).unwrap();
        // Too soon: the run that opened the breach may still be publishing.
        let report = run_at("2026-11-21T06:50:00Z").await;
        assert_eq!(report.notified, 0);
        let report = run_at("2026-11-21T07:00:00Z").await;
        assert_eq!(report.notified, 1);
        let report = run_at("2026-11-21T07:15:00Z").await;
        assert_eq!(report.notified, 0);
        let published = notifier.published().unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].notification.event, "file_late");
    }

    #[tokio::test]
    async fn catching_up_after_downtime_folds_the_late_alerts_into_one_digest() {
        let w = World::new();
        let r = registry(&rule("hourly", "0 * * * *", "failures"));
        w.run(&r, "2026-11-21T00:00:00Z").await;
        // Down until 06:45: the windows of 00:30 … 06:30 all passed unmet.
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.breached, 7);
        assert_eq!((report.notified, report.digests), (7, 1));
        let sent = w.notifier.published().unwrap();
        assert_eq!(sent.len(), 1, "one message, not one per window: {sent:?}");
        let digest = &sent[0].notification;
        assert_eq!(
            digest.event, "file_late",
            "subscriptions on file_late get it"
        );
        assert_eq!(digest.severity, Severity::Error);
        assert_eq!(digest.tenant, "acme");
        assert_eq!(digest.subject, "acme: 7 alerts (7 file_late)");
        for hour in 0..=6 {
            let expected = format!("expected {hour:02}:00 UTC");
            assert!(
                digest.body.contains(&expected),
                "{expected}: {}",
                digest.body
            );
        }
        assert!(digest.body.contains("catching up"), "{}", digest.body);
        // Each breach is marked sent: no run publishes them again.
        let breaches = w
            .ledger
            .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
            .await
            .unwrap();
        assert_eq!(breaches.len(), 7);
        assert!(breaches.iter().all(|b| b.late_alert == Notice::Sent));
        let report = w.run(&r, "2026-11-21T07:00:00Z").await;
        assert_eq!((report.notified, report.digests), (0, 0));
        assert_eq!(w.published().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_digest_leaves_its_notices_pending_and_recoveries_fold_too() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the notifier's directory should be: publishing fails.
        let blocker = dir.path().join("out");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let notifier = FileNotifier::new(blocker.join("notifications.jsonl"));
        let ledger = FileLedger::in_memory();
        let rules = ["a", "b", "c", "d"].map(|id| rule(id, "0 6 * * *", "failures"));
        let r = registry(&rules.concat());
        let run_at = |now: &'static str| {
            let ctx = SlaContext {
                ledger: &ledger,
                store: &ledger,
                notifier: &notifier,
                run_id: now,
            };
            let registry = &r;
            async move { run(&ctx, registry, at(now), SlaSettings::default()).await }
        };
        let pending = || async {
            ledger
                .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
                .await
                .unwrap()
                .iter()
                .filter(|b| b.late_alert == Notice::Pending)
                .count()
        };
        run_at("2026-11-21T05:00:00Z").await;

        // Four rules late at once: one digest, which cannot be published.
        let report = run_at("2026-11-21T06:45:00Z").await;
        assert_eq!(report.breached, 4);
        assert_eq!((report.notified, report.digests), (0, 0));
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        let failure = &report.failures[0];
        assert_eq!(
            (failure.kind, failure.rule.as_deref()),
            (FailureKind::Transient, None)
        );
        assert!(
            failure.error.contains("file_late digest of 4 notices"),
            "{}",
            failure.error
        );
        assert_eq!(pending().await, 4, "nothing marked sent that was not");

        std::fs::remove_file(&blocker).unwrap();
        // Too soon: the run that opened the breaches may still be publishing.
        let report = run_at("2026-11-21T06:50:00Z").await;
        assert_eq!(report.notified, 0);
        // A later run publishes them, folded again rather than one by one.
        let report = run_at("2026-11-21T07:00:00Z").await;
        assert_eq!((report.notified, report.digests), (4, 1));
        assert_eq!(pending().await, 0);
        let published = notifier.published().unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(
            published[0].notification.subject,
            "acme: 4 alerts (4 file_late)"
        );

        // The four files land late: one recovered digest.
        for id in ["a", "b", "c", "d"] {
            land(
                &ledger,
                id,
                &format!("/out/{id}_1.csv"),
                "2026-11-21T07:20:00Z",
                "2026-11-21T07:25:00Z",
            )
            .await;
        }
        let report = run_at("2026-11-21T07:30:00Z").await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.recovered, 4);
        assert_eq!((report.notified, report.digests), (4, 1));
        let published = notifier.published().unwrap();
        assert_eq!(published.len(), 2);
        let digest = &published[1].notification;
        assert_eq!(digest.event, "file_recovered");
        assert_eq!(digest.severity, Severity::Info);
        assert_eq!(digest.subject, "acme: 4 alerts (4 file_recovered)");
        assert!(digest.body.contains("Nothing to do"), "{}", digest.body);
        // Nothing is left to do, and nothing is sent twice.
        let report = run_at("2026-11-21T07:45:00Z").await;
        assert_eq!(report.notified, 0);
        assert_eq!(notifier.published().unwrap().len(), 2);
        assert!(
            ledger
                .active_breaches("acme", at("2026-11-01T00:00:00Z"), 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn evidence_cut_short_by_its_bound_leaves_the_window_for_later() {
        let mut w = World::new();
        let r = registry(&format!(
            "{}{}",
            rule("orders", "0 6 * * *", "failures"),
            rule("busy", "0 6 * * 1", "failures")
        ));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        // Many files of another rule landed after the window opened.
        for i in 0..5 {
            let t = at("2026-11-21T06:00:00Z") + Duration::minutes(i);
            land(
                &w.ledger,
                "busy",
                &format!("/out/busy_{i}.csv"),
                &t.to_rfc3339(),
                &t.to_rfc3339(),
            )
            .await;
        }
        w.settings.max_evidence = 3;
        let report = w.run(&r, "2026-11-21T06:45:00Z").await;
        let orders = report.rules.iter().find(|r| r.rule == "orders").unwrap();
        assert_eq!((orders.evaluated, orders.more), (0, true));
        assert_eq!(report.breached, 0);
        assert_eq!(
            orders.checkpoint,
            Some(at("2026-11-21T04:58:00Z")),
            "not moved"
        );
        w.settings.max_evidence = 100;
        let report = w.run(&r, "2026-11-21T06:46:00Z").await;
        assert_eq!(report.breached, 1);
    }

    #[tokio::test]
    async fn breaches_of_removed_rules_are_reported_and_left_alone() {
        let w = World::new();
        let both = registry(&format!(
            "{}{}",
            rule("orders", "0 6 * * *", "failures"),
            rule("gone", "0 6 * * *", "failures")
        ));
        w.run(&both, "2026-11-21T05:00:00Z").await;
        let report = w.run(&both, "2026-11-21T06:45:00Z").await;
        assert_eq!(report.breached, 2);
        let only = registry(&rule("orders", "0 6 * * *", "failures"));
        land(
            &w.ledger,
            "gone",
            "/out/gone_1.csv",
            "2026-11-21T07:00:00Z",
            "2026-11-21T07:01:00Z",
        )
        .await;
        let report = w.run(&only, "2026-11-21T07:10:00Z").await;
        assert_eq!(report.recovered, 0);
        assert_eq!(
            report.orphaned,
            [OrphanedBreach {
                tenant: "acme".into(),
                rule: "gone".into(),
                deadline: at("2026-11-21T06:30:00Z"),
                state: BreachState::Open,
            }]
        );
        assert_eq!(w.published().len(), 2, "the two late alerts only");
    }

    #[tokio::test]
    async fn old_breaches_are_no_longer_rechecked() {
        let mut w = World::new();
        let r = registry(&rule("orders", "0 6 * * *", "failures"));
        w.run(&r, "2026-11-21T05:00:00Z").await;
        w.run(&r, "2026-11-21T06:45:00Z").await;
        w.settings.recheck_for = Duration::days(2);
        w.settings.max_catch_up = Duration::minutes(30);
        // Discovered in time to be the late file of the 21st, but ingested
        // (redriven) three days later.
        land(
            &w.ledger,
            "orders",
            "/out/orders_late.csv",
            "2026-11-21T09:00:00Z",
            "2026-11-24T07:01:00Z",
        )
        .await;
        let report = w.run(&r, "2026-11-24T07:10:00Z").await;
        assert_eq!(report.recovered, 0, "the breach of the 21st is too old");
        assert_eq!(report.rules[0].skipped, 3);
        w.settings.recheck_for = Duration::days(30);
        let report = w.run(&r, "2026-11-24T07:11:00Z").await;
        assert_eq!(
            report.recovered, 1,
            "within the re-check period it would be"
        );
    }
}
