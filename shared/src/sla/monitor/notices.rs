//! The notices of breaches: which late alerts are due, how each notice reads,
//! and how a tenant's notices of one kind go out (one by one, or folded into a
//! digest) and are marked sent.
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

use chrono::{DateTime, Utc};
use tracing::info;

use super::SlaSettings;
use super::judge::Breaches;
use super::plan::Plans;
use super::report::SlaReport;
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::notifier::{Notification, Notifier};
use crate::ports::sla_store::{Breach, BreachState, Notice, NoticeKind, SlaStore};

/// The late alerts to publish, oldest deadline first: of the open breaches of
/// planned rules whose alert is pending, those this run opened, and those
/// another run left pending long enough ago that it is not still publishing
/// them.
pub(super) fn late_alerts_due(
    breaches: &Breaches,
    plans: &Plans<'_>,
    run_id: &str,
    now: DateTime<Utc>,
    settings: SlaSettings,
) -> Vec<Breach> {
    let stale = |at: DateTime<Utc>| now - at >= settings.retry_notices_after;
    let mut late = Vec::new();
    for (b, opened_now) in breaches.iter() {
        if !plans.contains(&b.rule)
            || b.state != BreachState::Open
            || b.late_alert != Notice::Pending
        {
            continue;
        }
        if opened_now {
            late.push(b.clone());
        } else if b.opened_by != run_id && stale(b.opened_at) {
            info!(rule = %b.rule, deadline = %b.deadline, "Publishing a late alert left pending.");
            late.push(b.clone());
        }
    }
    late
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
/// out one by one ([`send_each`]); more go out as one digest
/// ([`send_digest`]). Failures are reported.
pub(super) async fn deliver(
    notifier: &impl Notifier,
    store: &impl SlaStore,
    tenant: &str,
    breaches: Vec<Breach>,
    kind: NoticeKind,
    settings: SlaSettings,
    report: &mut SlaReport,
) -> Vec<Breach> {
    if breaches.len() <= settings.digest_after.max(1) {
        send_each(notifier, store, tenant, &breaches, kind, report).await
    } else {
        send_digest(notifier, store, tenant, breaches, kind, report).await
    }
}

/// Publishes notice `kind` of each of `breaches` on its own ([`send`]);
/// returns the breaches marked sent, as stored.
async fn send_each(
    notifier: &impl Notifier,
    store: &impl SlaStore,
    tenant: &str,
    breaches: &[Breach],
    kind: NoticeKind,
    report: &mut SlaReport,
) -> Vec<Breach> {
    let mut sent = Vec::with_capacity(breaches.len());
    for breach in breaches {
        match send(notifier, store, breach, kind, report).await {
            Ok(stored) => sent.push(stored),
            Err((k, error)) => report.fail(tenant, Some(&breach.rule), k, error),
        }
    }
    sent
}

/// Publishes notice `kind` of `breach` and marks it sent; returns the breach
/// as stored. A failed publish leaves the notice pending for a later run.
async fn send(
    notifier: &impl Notifier,
    store: &impl SlaStore,
    breach: &Breach,
    kind: NoticeKind,
    report: &mut SlaReport,
) -> Result<Breach, (FailureKind, String)> {
    let notification = notice(breach, kind)?;
    notifier
        .publish(&notification)
        .await
        .map_err(|e| (e.kind(), format!("{} notice: {e}", notification.event)))?;
    report.notified += 1;
    store
        .notice_sent(&breach.rule, breach.deadline, kind)
        .await
        .map_err(|e| (e.kind(), e.to_string()))
}

/// Publishes notice `kind` of all of `breaches` as one digest, and marks each
/// sent only once the digest is published: a failed digest leaves every one
/// of them pending for a later run (which folds them again). Returns the
/// breaches marked sent, as stored.
async fn send_digest(
    notifier: &impl Notifier,
    store: &impl SlaStore,
    tenant: &str,
    breaches: Vec<Breach>,
    kind: NoticeKind,
    report: &mut SlaReport,
) -> Vec<Breach> {
    let mut sent = Vec::with_capacity(breaches.len());
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
    if let Err(e) = notifier.publish(&digest).await {
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
        match store.notice_sent(&breach.rule, breach.deadline, kind).await {
            Ok(stored) => sent.push(stored),
            Err(e) => report.fail(tenant, Some(&breach.rule), e.kind(), e.to_string()),
        }
    }
    sent
}
