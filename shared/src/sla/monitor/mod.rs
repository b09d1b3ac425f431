//! One run of the SLA monitor (docs/architecture.md, flow step 4), on a schedule:
//! for every rule with an SLA, judge the windows whose deadline passed since
//! the last run, record one breach per window that no ingested file met (a
//! conditional write: one alert per window, however many runs overlap), alert,
//! and send a "recovered" notice once a late file lands.
//!
//! A run goes tenant by tenant ([`run_tenant`]), through these phases, one
//! file each:
//!
//! - [`plan`]: which windows of each rule are due (from its checkpoint), which
//!   breaches are still active, and where the checkpoints move at the end;
//! - [`evidence`]: the tenant's ingested files, read once, and what they say
//!   about a window;
//! - [`judge`]: each due window met or breached, and each active breach
//!   recovered or not;
//! - [`notices`]: the late alerts and recovered notices, published one by one
//!   or folded into a digest, and marked sent.
//!
//! What the run did, rule by rule, and what failed is in [`report`]; the unit
//! tests, whole runs on the local adapters, are in `tests.rs`.
//!
//! Errors are per rule (or per tenant for its shared queries): they are
//! reported and the other rules go on.

mod evidence;
mod judge;
mod notices;
mod plan;
mod report;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use tracing::info;

use crate::ports::ledger::Ledger;
use crate::ports::notifier::Notifier;
use crate::ports::sla_store::{NoticeKind, SlaStore};
use crate::registry::{Registry, Tenant};
use evidence::Evidence;
use judge::Breaches;

pub use plan::MAX_SKIPPED_COUNTED;
pub use report::{Failure, OrphanedBreach, RuleReport, SlaReport};

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
    report.add_up_rules();
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

/// One tenant's part of a run, phase by phase. The late alerts go out after
/// the windows are judged and before the breaches are re-checked, so a file
/// that landed late is alerted late before it is notified recovered.
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
    let mut plans = plan::plan_rules(ctx.store, tenant, now, settings, report).await;
    let active = plan::active_breaches(ctx.store, &tenant.id, now, settings, report).await;

    let since = evidence::since(&plans, &active);
    let Some(records) =
        evidence::fetch(ctx.ledger, &tenant.id, since, settings.max_evidence, report).await
    else {
        plans.postpone(report);
        return;
    };
    let evidence = Evidence::new(&tenant.id, &records, settings.max_evidence);

    let opened =
        judge::judge_windows(ctx.store, ctx.run_id, &mut plans, &evidence, now, report).await;
    let mut breaches = Breaches::new(active, opened);

    let late = notices::late_alerts_due(&breaches, &plans, ctx.run_id, now, settings);
    let sent = notices::deliver(
        ctx.notifier,
        ctx.store,
        &tenant.id,
        late,
        NoticeKind::Late,
        settings,
        report,
    )
    .await;
    breaches.update(sent);

    let recovered = judge::recheck_breaches(
        ctx.store, &mut plans, breaches, &evidence, now, settings, report,
    )
    .await;
    notices::deliver(
        ctx.notifier,
        ctx.store,
        &tenant.id,
        recovered,
        NoticeKind::Recovered,
        settings,
        report,
    )
    .await;

    plan::advance_checkpoints(ctx.store, plans, report).await;
}
