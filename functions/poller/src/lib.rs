//! The poller Lambda (docs/architecture.md, flow step 1). One function, three events:
//!
//! - the EventBridge schedule: fan out, one `PollSource` message per due source
//!   on the poll queue ([`tributary::poll::fan_out`]);
//! - a poll-queue SQS batch: poll each message's source
//!   ([`tributary::poll::source_poll`]), reporting transient failures as batch
//!   item failures so SQS retries them (and finally dead-letters them);
//! - a manual payload `{"source": "ID"}`: poll that source now and return the
//!   report (ops, `cargo lambda invoke`).
//!
//! Everything here is glue: the event in, the domain called, the response out.

pub mod aws;
pub mod config;

use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{Instrument, error, info, warn};
use tributary::alerts;
use tributary::digest::RunNotices;
use tributary::failure::FailureKind;
use tributary::lambda::{RegistryCache, RegistryCacheError};
use tributary::lambda::{schedule, sqs};
use tributary::metrics::{Metric, Metrics};
use tributary::poll::fan_out::fan_out;
use tributary::poll::source_poll::{PollContext, PollError, PollReport, PollSettings, poll_source};
use tributary::poll::walk::WalkLimits;
use tributary::ports::messages::PollSource;
use tributary::ports::work_queue::{self, Fate, QueueError, Received};
use tributary::ports::{Backends, Clock};
use tributary::ports::{PollLog, PollOutcome, PollRecord};

pub use config::PollerConfig;

/// The poller with its adapters, built once per container.
pub struct Poller<B: Backends> {
    pub ledger: B::Ledger,
    pub registry: RegistryCache<B::Registry>,
    pub poll_queue: B::Queue,
    pub ingest_queue: B::Queue,
    pub notifier: B::Notifier,
    pub secrets: B::Secrets,
    /// The sources' servers (a fresh session per poll).
    pub sources: B::Sources,
    /// What "now" is: the schedule's fire time aside, every poll reads it here.
    pub clock: B::Clock,
    pub config: PollerConfig,
}

/// The events the poller understands.
#[derive(Debug)]
pub enum Event {
    /// The schedule fired at `time`.
    Schedule { time: DateTime<Utc> },
    /// Messages from the poll queue.
    Sqs(SqsEvent),
    /// Poll this source now.
    Manual { source: String },
}

#[derive(Deserialize)]
struct Scheduled {
    time: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    source: String,
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error("unrecognised event: {0}")]
    UnknownEvent(String),
    #[error("registry: {0}")]
    Registry(#[from] RegistryCacheError),
    #[error("fan-out: {0}")]
    FanOut(#[from] QueueError),
    #[error("source {0} is not in the registry")]
    UnknownSource(String),
    #[error(transparent)]
    Poll(#[from] PollError),
}

impl Event {
    /// Tells the three shapes apart: SQS (`Records`), an EventBridge scheduled
    /// event (`detail-type`), or the manual `{"source": ID}`.
    pub fn parse(payload: Value) -> Result<Event, PollerError> {
        let bad = |e: serde_json::Error| PollerError::UnknownEvent(e.to_string());
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload).map(Event::Sqs).map_err(bad);
        }
        if schedule::is_scheduled(&payload) {
            let scheduled: Scheduled = serde_json::from_value(payload).map_err(bad)?;
            return Ok(Event::Schedule {
                time: scheduled.time,
            });
        }
        if payload.get("source").is_some() {
            let manual: Manual = serde_json::from_value(payload).map_err(bad)?;
            return Ok(Event::Manual {
                source: manual.source,
            });
        }
        Err(PollerError::UnknownEvent(
            "expected an SQS event, an EventBridge scheduled event or {\"source\": ID}".into(),
        ))
    }
}

/// How long a poll may run when the invocation's deadline is unusable (the
/// template's 300 s timeout).
pub const FALLBACK_TIMEOUT: StdDuration = StdDuration::from_secs(300);

/// The instant to stop listing: the invocation's deadline (milliseconds since
/// the epoch, from the Lambda context) less `reserve`; when that deadline is
/// not in the future (`cargo lambda watch` sends a duration in its place),
/// [`FALLBACK_TIMEOUT`] less `reserve` from now.
pub fn deadline(deadline_ms: u64, reserve: StdDuration) -> Instant {
    tributary::lambda::deadline(deadline_ms, reserve)
        .unwrap_or_else(|| Instant::now() + FALLBACK_TIMEOUT.saturating_sub(reserve))
}

impl<B: Backends> Poller<B> {
    /// Handles one invocation; `deadline` is when listing must stop.
    pub async fn handle(&self, payload: Value, deadline: Instant) -> Result<Value, PollerError> {
        match Event::parse(payload)? {
            Event::Schedule { time } => {
                let current = self.registry.current().await?;
                let report = fan_out(
                    &current.registry,
                    time,
                    self.config.fan_out_interval,
                    &self.poll_queue,
                )
                .await?;
                Ok(json!(report))
            }
            Event::Manual { source } => {
                let report = self.poll(&source, self.clock.now(), deadline).await?;
                let mut metrics = self.config.reporting.metrics();
                measure(&mut metrics, &report);
                metrics.emit(self.clock.now());
                Ok(json!(report))
            }
            Event::Sqs(event) => Ok(json!(self.poll_batch(event, deadline).await)),
        }
    }

    /// Polls `source_id` of the current registry.
    async fn poll(
        &self,
        source_id: &str,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<PollReport, PollerError> {
        let mut current = self.registry.current().await?;
        if current.registry.find_source(source_id).is_none() {
            // Perhaps pushed since the cache was filled.
            current = self.registry.reload().await?;
        }
        let (tenant, source) = current
            .registry
            .find_source(source_id)
            .ok_or_else(|| PollerError::UnknownSource(source_id.to_owned()))?;
        let ctx = PollContext::<B> {
            ledger: &self.ledger,
            ingest_queue: &self.ingest_queue,
            secrets: &self.secrets,
            sources: &self.sources,
        };
        let settings = PollSettings {
            walk: WalkLimits {
                deadline: Some(deadline),
                ..self.config.walk
            },
            refine_limit: self.config.refine_limit,
            min_unchanged: self.config.min_unchanged,
            reannounce_after: self.config.reannounce_after,
        };
        let result = poll_source(&ctx, tenant, source, now, settings).await;
        let record = poll_record(&tenant.id, &source.id, now, &result);
        if let Err(error) = self.ledger.record_poll(&record).await {
            // The poll's own work is done; only `tributary status` misses it.
            warn!(source = %source.id, %error, "The poll could not be recorded.");
        }
        Ok(result?)
    }

    /// Polls the source of each message; returns the partial batch response.
    async fn poll_batch(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> aws_lambda_events::sqs::SqsBatchResponse {
        let notices = RunNotices::new(&self.notifier, self.config.reporting.digest_after);
        let mut metrics = self.config.reporting.metrics();
        let mut batch = sqs::PartialBatch::default();
        for message in sqs::messages(&event) {
            let fate = self
                .poll_message(&message, &notices, &mut metrics, deadline)
                .instrument(sqs::span(&message))
                .await;
            batch.settle(&message, &fate);
        }
        notices.flush().await;
        metrics.emit(self.clock.now());
        batch.response()
    }

    /// Polls the source one poll-queue message names. An unreadable message
    /// is dead-lettered; a poll that failed for a reason retrying cannot mend
    /// is alerted and dropped (the next scheduled poll tries again once ops
    /// fixed the configuration).
    async fn poll_message(
        &self,
        message: &Received,
        notices: &RunNotices<'_, B::Notifier>,
        metrics: &mut Metrics,
        deadline: Instant,
    ) -> Fate {
        let request = match PollSource::decode(&message.body) {
            Ok(request) => request,
            Err(error) => {
                let reason = error.to_string();
                notices.hold(alerts::message_unreadable(
                    "the poll queue",
                    &message.id,
                    &reason,
                ));
                return work_queue::dead_letter(&self.poll_queue, message, error.kind(), reason)
                    .await;
            }
        };
        match self.poll(&request.source, self.clock.now(), deadline).await {
            Ok(report) => {
                info!(source = %report.source, sent = report.sent, complete = report.complete, partial = ?report.partial, "Polled.");
                measure(metrics, &report);
                Fate::Done(())
            }
            Err(PollerError::UnknownSource(source)) => {
                warn!(%source, "The source is no longer in the registry; the poll message is dropped.");
                Fate::Done(())
            }
            Err(error) => {
                let kind = match &error {
                    PollerError::Poll(e) => e.kind(),
                    PollerError::Registry(e) => e.kind(),
                    _ => FailureKind::Transient,
                };
                measure_failed(metrics, &request);
                if kind == FailureKind::Transient {
                    warn!(source = %request.source, %error, "Poll failed; SQS retries it.");
                    return Fate::Retry {
                        reason: error.to_string(),
                    };
                }
                error!(source = %request.source, %kind, %error, "Poll failed.");
                notices.hold(alerts::poll_failed(
                    &request.tenant,
                    &request.source,
                    kind,
                    &error.to_string(),
                ));
                Fate::Done(())
            }
        }
    }
}

/// What the poll log keeps of a poll of `source` at `at`.
pub fn poll_record(
    tenant: &str,
    source: &str,
    at: DateTime<Utc>,
    result: &Result<PollReport, PollError>,
) -> PollRecord {
    match result {
        Ok(report) if report.paused => PollRecord::new(
            tenant,
            source,
            at,
            PollOutcome::Paused,
            0,
            "paused in the registry",
        ),
        Ok(report) => match &report.partial {
            Some(why) => PollRecord::new(
                tenant,
                source,
                at,
                PollOutcome::Partial,
                report.sent as u64,
                why,
            ),
            None => PollRecord::new(
                tenant,
                source,
                at,
                PollOutcome::Complete,
                report.sent as u64,
                "",
            ),
        },
        Err(error) => PollRecord::new(
            tenant,
            source,
            at,
            PollOutcome::Failed,
            0,
            &error.to_string(),
        ),
    }
}

/// Adds a poll's discoveries to the run's metrics (zero too: a source polled
/// and found empty is a point on the graph, not a gap).
pub fn measure(metrics: &mut Metrics, report: &PollReport) {
    metrics.add(
        &report.tenant,
        &report.source,
        Metric::FilesDiscovered,
        report.sent as f64,
    );
}

/// Counts a poll that failed (whatever its kind) for its tenant and source.
pub fn measure_failed(metrics: &mut Metrics, request: &PollSource) {
    metrics.count(&request.tenant, &request.source, Metric::PollsFailed);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tributary::metrics::EmfLine;

    use super::*;

    fn event(json: &str) -> Result<Event, PollerError> {
        Event::parse(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn the_sample_events_are_told_apart() {
        let Ok(Event::Schedule { time }) =
            event(include_str!("../../../events/poller-schedule.json"))
        else {
            panic!("the scheduled event");
        };
        assert_eq!(
            time,
            "2026-11-21T06:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let Ok(Event::Sqs(sqs)) = event(include_str!("../../../events/poller-sqs.json")) else {
            panic!("the SQS event");
        };
        let body = sqs.records[0].body.as_deref().unwrap();
        assert_eq!(PollSource::decode(body).unwrap().source, "acme-ftp");
        let Ok(Event::Manual { source }) =
            event(include_str!("../../../events/poller-manual.json"))
        else {
            panic!("the manual payload");
        };
        assert_eq!(source, "acme-ftp");
    }

    #[test]
    fn other_payloads_are_refused_not_guessed() {
        // An EventBridge event that is not the schedule, a manual payload with
        // a typo, and an empty object.
        for json in [
            r#"{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-21T06:00:00Z"}"#,
            r#"{"source":"acme-ftp","tenat":"acme"}"#,
            "{}",
        ] {
            assert!(
                matches!(event(json), Err(PollerError::UnknownEvent(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn each_poll_is_recorded_with_how_it_ended() {
        let at: DateTime<Utc> = "2026-11-21T06:05:00Z".parse().unwrap();
        let report = |sent, partial: Option<&str>, paused| {
            Ok(PollReport {
                tenant: "acme".into(),
                source: "acme-ftp".into(),
                sent,
                partial: partial.map(str::to_owned),
                paused,
                ..PollReport::default()
            })
        };
        let record = |result| poll_record("acme", "acme-ftp", at, &result);
        let complete = record(report(4, None, false));
        assert_eq!(
            (complete.outcome, complete.sent, complete.detail.as_str()),
            (PollOutcome::Complete, 4, "")
        );
        let partial = record(report(1, Some("the deadline came"), false));
        assert_eq!(
            (partial.outcome, partial.detail.as_str()),
            (PollOutcome::Partial, "the deadline came")
        );
        assert_eq!(record(report(0, None, true)).outcome, PollOutcome::Paused);
        let failed = record(Err(PollError::Secret {
            source_id: "acme-ftp".into(),
            source: tributary::secrets::SecretError::NotFound {
                reference: "secrets_manager:tributary/acme/ftp".into(),
            },
        }));
        assert_eq!(failed.outcome, PollOutcome::Failed);
        assert!(
            failed.detail.starts_with("source acme-ftp: password: "),
            "{}",
            failed.detail
        );
        assert_eq!((failed.tenant.as_str(), failed.at), ("acme", at));
    }

    #[test]
    fn polls_become_files_discovered_per_tenant_and_source() {
        let report = |tenant: &str, source: &str, sent| PollReport {
            tenant: tenant.into(),
            source: source.into(),
            sent,
            listed: 40,
            known: 30,
            ..PollReport::default()
        };
        let mut metrics = Metrics::new("tributary", "poller");
        measure(&mut metrics, &report("acme-retail", "acme-ftp", 3));
        measure(&mut metrics, &report("acme-retail", "acme-ftp", 2));
        measure(&mut metrics, &report("acme-retail", "acme-sftp", 0));
        measure(&mut metrics, &report("globex", "globex-ftp", 7));
        let failed = PollSource {
            tenant: "globex".into(),
            source: "globex-ftp".into(),
            requested_at: "2026-11-21T06:00:00Z".parse().unwrap(),
        };
        measure_failed(&mut metrics, &failed);
        measure_failed(&mut metrics, &failed);

        let at: DateTime<Utc> = "2026-11-21T06:05:00Z".parse().unwrap();
        let lines: Vec<EmfLine> = metrics
            .emf_lines(at)
            .iter()
            .map(|l| EmfLine::read(l).unwrap())
            .collect();
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.tenant.as_str(), l.source.as_str(), l.metrics.clone()))
            .collect();
        let count = |v: f64| ("Count".to_owned(), json!(v));
        assert_eq!(
            got,
            [
                (
                    "acme-retail",
                    "acme-ftp",
                    BTreeMap::from([("FilesDiscovered".to_owned(), count(5.0))])
                ),
                (
                    "acme-retail",
                    "acme-sftp",
                    BTreeMap::from([("FilesDiscovered".to_owned(), count(0.0))])
                ),
                (
                    "globex",
                    "globex-ftp",
                    BTreeMap::from([
                        ("FilesDiscovered".to_owned(), count(7.0)),
                        ("PollsFailed".to_owned(), count(2.0)),
                    ])
                ),
            ]
        );
        for line in &lines {
            assert_eq!(line.function, "poller");
            assert_eq!(line.dimensions, [vec!["tenant", "source"], vec!["tenant"]]);
            assert_eq!(line.timestamp_millis, at.timestamp_millis());
        }
    }

    #[test]
    fn the_deadline_keeps_the_reserve_back() {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap();
        let until = deadline(now_ms + 60_000, StdDuration::from_secs(30));
        let left = until - Instant::now();
        assert!(left <= StdDuration::from_secs(30), "{left:?}");
        assert!(left >= StdDuration::from_secs(28), "{left:?}");
        // A deadline already inside the reserve leaves no time, not a panic.
        let until = deadline(now_ms + 1_000, StdDuration::from_secs(30));
        assert!(until <= Instant::now());
        // `cargo lambda watch` sends a duration in place of the deadline: the
        // template's timeout applies instead of "no time at all".
        let left = deadline(600_000, StdDuration::from_secs(30)) - Instant::now();
        assert!(left > StdDuration::from_secs(260), "{left:?}");
        assert!(left <= StdDuration::from_secs(270), "{left:?}");
    }
}
