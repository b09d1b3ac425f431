//! One alert per failed file, folded into a digest when a run has many: a
//! function hands its use cases a [`RunNotices`] instead of the notifier, and
//! calls [`RunNotices::flush`] once the run is over. A tenant with at most
//! `digest_after` notifications in the run gets each of them as it was written;
//! a tenant with more gets one digest listing them all (what happened to which
//! file, with the first one's full text as an example), so a rotated key or a
//! dead server that fails a whole batch sends one email, not a storm.
//!
//! The digest's `event` attribute is the notifications' common event when they
//! share one (subscriptions filtering on `file_rejected` still get it), and
//! [`DIGEST_EVENT`] when they mix; its severity is the highest among them.
//! Folding happens within one run (a Lambda invocation); across concurrent
//! invocations each sends its own, which the dead-letter queue's alarm
//! complements.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tracing::error;

use crate::ports::notifier::{Notification, Notifier, NotifyError, Severity};

/// The `event` attribute of a digest whose notifications mix events.
pub const DIGEST_EVENT: &str = "alert_digest";

/// How many notifications of one tenant go out one by one before they are
/// folded into a digest (`TRIBUTARY_DIGEST_AFTER`).
pub const DEFAULT_DIGEST_AFTER: usize = 3;

/// At most this many notifications are listed in a digest; the rest are counted.
const MAX_LISTED: usize = 100;

/// SNS takes 256 KiB; a digest body stays well below.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The notifications of one run, held until [`RunNotices::flush`].
pub struct RunNotices<'a, N> {
    notifier: &'a N,
    digest_after: usize,
    held: Mutex<Vec<Notification>>,
}

/// What a flush published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Notifications sent as they were written.
    pub single: usize,
    /// Digests sent, and how many notifications they folded.
    pub digests: usize,
    pub folded: usize,
    /// Publications that failed (logged with what they carried).
    pub failed: usize,
}

impl<'a, N: Notifier> RunNotices<'a, N> {
    /// Holds notifications for `notifier`; more than `digest_after` of one
    /// tenant are folded (0 folds every notification of a tenant with two or more).
    pub fn new(notifier: &'a N, digest_after: usize) -> Self {
        RunNotices {
            notifier,
            digest_after: digest_after.max(1),
            held: Mutex::new(Vec::new()),
        }
    }

    /// Holds `notification` for the flush.
    pub fn hold(&self, notification: Notification) {
        self.lock().push(notification);
    }

    /// How many notifications are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Notification>> {
        // A panic elsewhere while pushing cannot leave the vector half-written.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes what the run held: one by one, or one digest per tenant
    /// with many. A failed publication is logged with its subject and event
    /// (the ledger and the dead-letter queue keep the facts) and counted.
    pub async fn flush(&self) -> Flushed {
        let held = std::mem::take(&mut *self.lock());
        let mut by_tenant: BTreeMap<String, Vec<Notification>> = BTreeMap::new();
        for n in held {
            by_tenant.entry(n.tenant.clone()).or_default().push(n);
        }
        let mut flushed = Flushed::default();
        for (_, notices) in by_tenant {
            if notices.len() <= self.digest_after {
                for n in &notices {
                    match self.notifier.publish(n).await {
                        Ok(_) => flushed.single += 1,
                        Err(e) => {
                            failed(n, &e);
                            flushed.failed += 1;
                        }
                    }
                }
            } else {
                let digest = digest(&notices);
                match self.notifier.publish(&digest).await {
                    Ok(_) => {
                        flushed.digests += 1;
                        flushed.folded += notices.len();
                    }
                    Err(e) => {
                        failed(&digest, &e);
                        flushed.failed += 1;
                    }
                }
            }
        }
        flushed
    }
}

fn failed(n: &Notification, e: &NotifyError) {
    error!(event = %n.event, tenant = %n.tenant, subject = %n.subject, error = %e, kind = %e.kind(), "Could not publish a notification.");
}

impl<N: Notifier> Notifier for RunNotices<'_, N> {
    /// Holds the notification for the flush; the id is a placeholder.
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        let mut held = self.lock();
        held.push(notification.clone());
        Ok(format!("held-{}", held.len()))
    }
}

/// What a digest of failed files tells ops to do.
const FILES_ADVICE: &str = "What to do: many files failing together usually share one cause (a \
     rotated key or password, a server down, a rule too strict). The ledger records every file \
     (`tributary files --tenant` with `--state rejected` or `--state failed`) and the ingest \
     dead-letter queue holds their messages; fix the cause, then redrive.";

/// One notification folding `notices` (all of one tenant, at least two).
pub fn digest(notices: &[Notification]) -> Notification {
    digest_with_advice(notices, FILES_ADVICE)
}

/// [`digest`] ending with `advice` (what to do) instead of the advice for
/// failed files: the SLA monitor's late files call for other checks.
pub fn digest_with_advice(notices: &[Notification], advice: &str) -> Notification {
    let tenant = notices.first().map_or("-", |n| n.tenant.as_str());
    let severity = notices
        .iter()
        .map(|n| n.severity)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Severity::Info);
    let mut events: BTreeMap<&str, usize> = BTreeMap::new();
    for n in notices {
        *events.entry(n.event.as_str()).or_default() += 1;
    }
    let event = match events.keys().collect::<Vec<_>>().as_slice() {
        [one] => (**one).to_owned(),
        _ => DIGEST_EVENT.to_owned(),
    };
    let tally = events
        .iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect::<Vec<_>>()
        .join(", ");

    let mut body = format!(
        "Tenant: {tenant}\n\n{} notifications in one run ({tally}); folded into this digest.\n\n",
        notices.len()
    );
    for n in notices.iter().take(MAX_LISTED) {
        body.push_str(&format!("  - [{}] {}\n", n.event, n.subject));
    }
    if notices.len() > MAX_LISTED {
        body.push_str(&format!("  … and {} more\n", notices.len() - MAX_LISTED));
    }
    if let Some(first) = notices.iter().find(|n| n.severity == severity) {
        body.push_str(&format!(
            "\nThe first of them in full:\n\n{}\n",
            first.body.trim_end()
        ));
    }
    body.push_str(&format!("\n{}\n", advice.trim_end()));
    if body.len() > MAX_BODY_BYTES {
        let mut cut = MAX_BODY_BYTES;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str("\n… (cut)\n");
    }
    Notification {
        subject: format!("{tenant}: {} alerts ({tally})", notices.len()),
        body,
        tenant: tenant.to_owned(),
        severity,
        event,
    }
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::FileNotifier;

    fn notice(tenant: &str, event: &str, severity: Severity, i: usize) -> Notification {
        Notification {
            subject: format!("{tenant}: {event} /in/f{i}.csv"),
            body: format!("Tenant: {tenant}\nFile: /in/f{i}.csv\nWhy: reason {i}\n"),
            tenant: tenant.into(),
            severity,
            event: event.into(),
        }
    }

    fn sent(notifier: &FileNotifier) -> Vec<Notification> {
        notifier
            .published()
            .unwrap()
            .into_iter()
            .map(|p| p.notification)
            .collect()
    }

    #[tokio::test]
    async fn a_few_go_out_one_by_one_and_many_fold_into_one_digest_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let notifier = FileNotifier::new(dir.path().join("alerts.jsonl"));
        let run = RunNotices::new(&notifier, 3);
        for i in 0..2 {
            run.publish(&notice("globex", "file_rejected", Severity::Error, i))
                .await
                .unwrap();
        }
        for i in 0..7 {
            run.publish(&notice("acme", "file_failed", Severity::Error, i))
                .await
                .unwrap();
        }
        run.publish(&notice("acme", "file_rejected", Severity::Error, 99))
            .await
            .unwrap();
        assert!(
            sent(&notifier).is_empty(),
            "nothing goes out before the flush"
        );
        assert_eq!(run.len(), 10);

        let flushed = run.flush().await;
        assert_eq!(
            flushed,
            Flushed {
                single: 2,
                digests: 1,
                folded: 8,
                failed: 0
            }
        );
        let out = sent(&notifier);
        assert_eq!(out.len(), 3);
        let digest = out.iter().find(|n| n.tenant == "acme").unwrap();
        assert_eq!(digest.event, DIGEST_EVENT, "mixed events");
        assert_eq!(digest.severity, Severity::Error);
        assert_eq!(
            digest.subject,
            "acme: 8 alerts (7 file_failed, 1 file_rejected)"
        );
        for i in 0..7 {
            assert!(
                digest.body.contains(&format!("/in/f{i}.csv")),
                "{}",
                digest.body
            );
        }
        assert!(digest.body.contains("Why: reason 0"), "the first in full");
        assert!(digest.body.contains("What to do"));
        assert_eq!(
            out.iter().filter(|n| n.tenant == "globex").count(),
            2,
            "a tenant with few keeps them one by one"
        );
        assert!(run.is_empty(), "a flush empties the run");
        assert_eq!(run.flush().await, Flushed::default());
    }

    #[test]
    fn a_digest_of_one_event_keeps_it_and_a_huge_one_is_bounded() {
        let notices: Vec<_> = (0..5000)
            .map(|i| notice("acme", "file_rejected", Severity::Warning, i))
            .collect();
        let d = digest(&notices);
        assert_eq!(d.event, "file_rejected");
        assert_eq!(d.severity, Severity::Warning);
        assert!(d.body.contains("and 4900 more"), "listing is bounded");
        assert!(d.body.len() <= MAX_BODY_BYTES + 16);
    }
}
