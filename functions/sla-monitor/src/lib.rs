//! The SLA monitor Lambda (docs/architecture.md, flow step 4). On its EventBridge
//! schedule it runs [`tributary::sla::monitor`] over the current registry:
//! windows whose deadline passed without an ingested file become breaches
//! (one alert each), and late files that landed send a "recovered" notice;
//! more than `TRIBUTARY_DIGEST_AFTER` of one kind for a tenant in a run (a
//! monitor catching up after downtime) go out as one digest. The response is
//! the run's report.
//!
//! Events: the EventBridge scheduled event, whose `time` is the run's "now"
//! (so a retried invocation decides as the first did; the clock when it has
//! none), or `{}` to run now by hand (`aws lambda invoke`).
//!
//! An invocation with a failed step (the table or topic unreachable, a rule
//! whose schedule cannot be evaluated) logs its report and returns an error,
//! so that the Lambda's error metric and alarm see it; the other rules were
//! handled, and the next run (or Lambda's retry of the same event) takes the
//! failed ones again: every write is conditional, nothing is alerted twice.
//!
//! Everything here is glue: the event in, the domain called, the response out.

pub mod aws;
pub mod config;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tracing::error;
use tributary::lambda::{RegistryCache, RegistryCacheError};
use tributary::metrics::{Metric, Metrics};
use tributary::ports::{Backends, Clock};
use tributary::sla::{SlaContext, SlaReport, run};

pub use config::SlaMonitorConfig;

/// The SLA monitor with its adapters, built once per container.
pub struct SlaMonitor<B: Backends> {
    /// The ledger: the evidence of arrivals, and the SLA store.
    pub ledger: B::Ledger,
    pub registry: RegistryCache<B::Registry>,
    pub notifier: B::Notifier,
    /// What "now" is when the event does not say.
    pub clock: B::Clock,
    pub config: SlaMonitorConfig,
}

/// The events the SLA monitor understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The schedule fired at `time` (`None`: a hand-made event; now).
    Schedule { time: Option<DateTime<Utc>> },
}

#[derive(Deserialize)]
struct Scheduled {
    #[serde(default)]
    time: Option<DateTime<Utc>>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum SlaMonitorError {
    #[error("unrecognised event: {0}")]
    UnknownEvent(String),
    #[error("registry: {0}")]
    Registry(#[from] RegistryCacheError),
    /// Some steps failed; the report (logged) says which, and what was done.
    #[error(
        "{} step(s) of the SLA monitor failed, the first: {}; the next run retries them",
        report.failures.len(),
        report.failures.first().map_or_else(String::new, |f| format!(
            "tenant {} rule {}: {} ({})",
            f.tenant,
            f.rule.as_deref().unwrap_or("-"),
            f.error,
            f.kind
        ))
    )]
    Failed { report: Box<SlaReport> },
}

impl Event {
    /// An EventBridge scheduled event (`detail-type` `Scheduled Event`), or
    /// `{}`; anything else is refused, not guessed.
    pub fn parse(payload: Value) -> Result<Event, SlaMonitorError> {
        if payload.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(Event::Schedule { time: None });
        }
        if tributary::lambda::schedule::is_scheduled(&payload) {
            let scheduled: Scheduled = serde_json::from_value(payload)
                .map_err(|e| SlaMonitorError::UnknownEvent(e.to_string()))?;
            return Ok(Event::Schedule {
                time: scheduled.time,
            });
        }
        Err(SlaMonitorError::UnknownEvent(
            "expected an EventBridge scheduled event or {}".into(),
        ))
    }
}

impl<B: Backends> SlaMonitor<B> {
    /// Handles one invocation; `run_id` (the invocation's request id) marks
    /// the breaches it opens.
    pub async fn handle(&self, payload: Value, run_id: &str) -> Result<SlaReport, SlaMonitorError> {
        let Event::Schedule { time } = Event::parse(payload)?;
        let now = time.unwrap_or_else(|| self.clock.now());
        let current = self.registry.current().await?;
        let ctx = SlaContext {
            ledger: &self.ledger,
            store: &self.ledger,
            notifier: &self.notifier,
            run_id,
        };
        let report = run(&ctx, &current.registry, now, self.config.settings).await;
        let mut metrics = self.config.reporting.metrics();
        measure(&mut metrics, &report);
        metrics.emit(self.clock.now());
        if report.failures.is_empty() {
            return Ok(report);
        }
        let json = serde_json::to_string(&report).unwrap_or_default();
        error!(registry_version = current.version, report = %json, "SLA monitor run with failures.");
        Err(SlaMonitorError::Failed {
            report: Box::new(report),
        })
    }
}

/// Adds a run's breaches and recoveries to its metrics, per tenant and source.
///
/// (The run's notices are folded by the domain, not through a
/// [`tributary::digest::RunNotices`]: the monitor keeps a breach's notice
/// pending until the message carrying it was published, which a holder that
/// answers "sent" before the flush would hide from it.)
pub fn measure(metrics: &mut Metrics, report: &SlaReport) {
    for rule in &report.rules {
        if rule.breached > 0 {
            metrics.add(
                &rule.tenant,
                &rule.source,
                Metric::SlaBreaches,
                rule.breached as f64,
            );
        }
        if rule.recovered > 0 {
            metrics.add(
                &rule.tenant,
                &rule.source,
                Metric::SlaRecoveries,
                rule.recovered as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use tributary::metrics::EmfLine;
    use tributary::sla::monitor::RuleReport;

    use super::*;

    fn event(json: &str) -> Result<Event, SlaMonitorError> {
        Event::parse(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn the_sample_event_gives_the_run_its_time() {
        let parsed = event(include_str!("../../../events/sla-monitor-schedule.json")).unwrap();
        assert_eq!(
            parsed,
            Event::Schedule {
                time: Some("2026-11-21T06:00:00Z".parse().unwrap())
            }
        );
        assert_eq!(event("{}").unwrap(), Event::Schedule { time: None });
        assert_eq!(
            event(r#"{"detail-type":"Scheduled Event","source":"aws.events"}"#).unwrap(),
            Event::Schedule { time: None },
            "no time: the clock's"
        );
    }

    #[test]
    fn other_payloads_are_refused_not_guessed() {
        for json in [
            r#"{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-21T06:00:00Z"}"#,
            r#"{"detail-type":"Scheduled Event","time":"yesterday"}"#,
            r#"{"Records":[]}"#,
            "[]",
            "null",
        ] {
            assert!(
                matches!(event(json), Err(SlaMonitorError::UnknownEvent(_))),
                "{json}"
            );
        }
    }

    fn rule(
        tenant: &str,
        source: &str,
        rule: &str,
        breached: usize,
        recovered: usize,
    ) -> RuleReport {
        RuleReport {
            tenant: tenant.into(),
            source: source.into(),
            rule: rule.into(),
            started: false,
            evaluated: breached + 1,
            met: 1,
            breached,
            already_breached: 1,
            recovered,
            skipped: 4,
            more: false,
            checkpoint: None,
        }
    }

    #[test]
    fn breaches_and_recoveries_become_metrics_per_tenant_and_source() {
        let now: DateTime<Utc> = "2026-11-22T05:45:00Z".parse().unwrap();
        let report = SlaReport {
            now,
            judged_until: now,
            windows: 0,
            met: 0,
            breached: 0,
            recovered: 0,
            skipped: 0,
            notified: 0,
            digests: 0,
            rules: vec![
                rule("acme-retail", "acme-ftp", "daily-sales", 2, 0),
                rule("acme-retail", "acme-ftp", "hourly-stock", 3, 1),
                rule("acme-retail", "acme-sftp", "returns", 0, 2),
                // Nothing breached or recovered: no line, not a line of zeros
                // (already_breached and skipped are not counted again).
                rule("globex", "globex-ftp", "orders", 0, 0),
            ],
            orphaned: Vec::new(),
            failures: Vec::new(),
        };
        let mut metrics = Metrics::new("tributary", "sla-monitor");
        measure(&mut metrics, &report);

        let lines: Vec<EmfLine> = metrics
            .emf_lines(now)
            .iter()
            .map(|l| EmfLine::read(l).unwrap())
            .collect();
        let count = |v: f64| ("Count".to_owned(), json!(v));
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.tenant.as_str(), l.source.as_str(), l.metrics.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "acme-retail",
                    "acme-ftp",
                    BTreeMap::from([
                        ("SlaBreaches".to_owned(), count(5.0)),
                        ("SlaRecoveries".to_owned(), count(1.0)),
                    ])
                ),
                (
                    "acme-retail",
                    "acme-sftp",
                    BTreeMap::from([("SlaRecoveries".to_owned(), count(2.0))])
                ),
            ]
        );
        for line in &lines {
            assert_eq!(line.function, "sla-monitor");
            assert_eq!(line.namespace, "tributary");
            assert_eq!(line.dimensions, [vec!["tenant", "source"], vec!["tenant"]]);
        }
    }
}
