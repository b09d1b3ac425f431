//! The catalog-trigger Lambda (docs/architecture.md, flow step 3): the raw bucket's
//! S3 `ObjectCreated` notifications reach it through the catalog queue (SQS,
//! with its own dead-letter queue); for each message of a batch,
//! [`tributary::catalog::trigger::handle_message`] starts the Glue job named
//! after the object and records the run in the ledger; this crate turns the
//! fates into the partial batch response (`ReportBatchItemFailures`),
//! so only transient failures stay on the queue.
//!
//! Why a queue between S3 and the function, not a direct S3 invoke: the queue
//! retries with a visibility timeout as often as its `maxReceiveCount` says
//! and keeps what fails in a dead-letter queue with the reason, where ops can
//! redrive it; a direct (asynchronous) S3 invoke is retried only twice, and
//! batching keeps a burst of landed files to few invocations.

pub mod aws;
pub mod config;

use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tokio::time::Instant;
use tracing::{Instrument, info};
use tributary::catalog::trigger::{CatalogContext, Handled, ObjectOutcome, handle_message};
use tributary::digest::RunNotices;
use tributary::lambda::sqs;
use tributary::metrics::{Metric, Metrics};
use tributary::ports::Backends;
use tributary::ports::clock::Clock;

pub use config::CatalogConfig;

/// The catalog trigger with its adapters, built once per container.
pub struct CatalogTrigger<B: Backends> {
    pub ledger: B::Ledger,
    /// The raw bucket.
    pub store: B::Store,
    /// The catalog queue and its dead-letter queue.
    pub queue: B::Queue,
    pub notifier: B::Notifier,
    pub jobs: B::Jobs,
    pub clock: B::Clock,
    pub config: CatalogConfig,
}

impl<B: Backends> CatalogTrigger<B> {
    /// Handles one batch; in-call retries end before `deadline`.
    pub async fn handle(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let notices = RunNotices::new(&self.notifier, self.config.reporting.digest_after);
        let mut metrics = self.config.reporting.metrics();
        let ctx = CatalogContext::<B, _> {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &notices,
            jobs: &self.jobs,
            clock: &self.clock,
        };
        let mut batch = sqs::PartialBatch::default();
        for message in sqs::messages(&event) {
            let handled = handle_message(&ctx, &self.config.settings, &message, deadline)
                .instrument(sqs::span(&message))
                .await;
            info!(message_id = %message.id, objects = %serde_json::to_string(&handled.objects).unwrap_or_default(), "Objects handled.");
            measure(&mut metrics, &handled);
            batch.settle(&message, &handled.fate);
        }
        notices.flush().await;
        metrics.emit(self.clock.now());
        batch.response()
    }
}

/// Adds a message's job runs to the run's metrics, per tenant and source as
/// the trigger found them (the key's `tenant=` segment or the lineage; the
/// lineage's source id); `-` for what neither names.
pub fn measure(metrics: &mut Metrics, handled: &Handled) {
    for object in &handled.objects {
        let (metric, tenant, source) = match object {
            ObjectOutcome::Started { tenant, source, .. } => (Metric::JobsStarted, tenant, source),
            ObjectOutcome::Failed { tenant, source, .. } => (Metric::JobsFailed, tenant, source),
            _ => continue,
        };
        metrics.count(
            tenant.as_deref().unwrap_or("-"),
            source.as_deref().unwrap_or("-"),
            metric,
        );
    }
}

/// How long an invocation may wait when its deadline is unusable (the
/// template's 120 s timeout).
pub const FALLBACK_TIMEOUT: StdDuration = StdDuration::from_secs(120);

/// The instant to stop waiting between attempts: the invocation's deadline
/// (milliseconds since the epoch, from the Lambda context) less `reserve`;
/// when that is not in the future (`cargo lambda watch` sends a duration),
/// [`FALLBACK_TIMEOUT`] less `reserve` from now.
pub fn deadline(deadline_ms: u64, reserve: StdDuration) -> Instant {
    tributary::lambda::deadline(deadline_ms, reserve)
        .unwrap_or_else(|| Instant::now() + FALLBACK_TIMEOUT.saturating_sub(reserve))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use tributary::catalog::event::{S3Event, parse};
    use tributary::metrics::EmfLine;

    use super::*;
    use tributary::lambda::sqs::{batch_response, received};

    #[test]
    fn the_sample_event_reads_as_a_received_s3_notification() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("../../../events/catalog-trigger-sqs.json")).unwrap();
        let message = received(0, &event.records[0]).unwrap();
        assert_eq!(message.receive_count, 1);
        let S3Event::Objects(objects) = parse(&message.body).unwrap() else {
            panic!("not an object notification");
        };
        assert_eq!(objects.len(), 1);
        assert_eq!(
            objects[0].key,
            "raw/tenant=acme-retail/dataset=daily-sales/ingest_date=2026-11-21/sales 2026-11-21.csv"
        );
        assert!(objects[0].is_created());
        let response = serde_json::to_value(batch_response([message.id.clone()])).unwrap();
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": message.id}]})
        );
    }

    #[test]
    fn job_runs_become_metrics_per_tenant_and_source() {
        let key = |tenant: &str, file: &str| {
            format!("raw/tenant={tenant}/dataset=daily-sales/ingest_date=2026-11-21/{file}")
        };
        let known = |tenant: &str, source: &str| (Some(tenant.to_owned()), Some(source.to_owned()));
        let started = |key: String, (tenant, source): (Option<String>, Option<String>)| {
            ObjectOutcome::Started {
                key,
                job: "daily-sales".into(),
                run_id: "jr_1".into(),
                recorded: true,
                tenant,
                source,
            }
        };
        let failed = |key: String, (tenant, source): (Option<String>, Option<String>)| {
            ObjectOutcome::Failed {
                key,
                kind: tributary::failure::FailureKind::Misconfigured,
                reason: "no such job".into(),
                tenant,
                source,
            }
        };
        let handled = Handled {
            objects: vec![
                started(
                    key("acme-retail", "a.csv"),
                    known("acme-retail", "acme-ftp"),
                ),
                started(
                    key("acme-retail", "b.csv"),
                    known("acme-retail", "acme-ftp"),
                ),
                failed(
                    key("acme-retail", "c.csv"),
                    known("acme-retail", "acme-ftp"),
                ),
                // Same tenant, another source: its own line.
                started(
                    key("acme-retail", "d.csv"),
                    known("acme-retail", "acme-sftp"),
                ),
                // No lineage: the key's tenant, no source.
                started(key("globex", "e.csv"), (Some("globex".into()), None)),
                // Neither the key nor the lineage names anything.
                failed("raw/daily-sales/f.csv".into(), (None, None)),
                // Neither started nor failed: not counted.
                ObjectOutcome::Duplicate {
                    key: key("acme-retail", "a.csv"),
                    job_run_id: "jr_0".into(),
                },
                ObjectOutcome::Ignored {
                    key: "landing/x.csv".into(),
                    why: "outside the raw prefix".into(),
                },
                ObjectOutcome::Retry {
                    key: key("globex", "g.csv"),
                    reason: "Glue is busy".into(),
                },
            ],
            fate: tributary::ports::work_queue::Fate::Done(()),
        };
        let mut metrics = Metrics::new("tributary", "catalog-trigger");
        measure(&mut metrics, &handled);

        let lines: Vec<EmfLine> = metrics
            .emf_lines(Utc::now())
            .iter()
            .map(|l| EmfLine::read(l).unwrap())
            .collect();
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.tenant.as_str(), l.source.as_str(), l.metrics.clone()))
            .collect();
        let count = |v: f64| ("Count".to_owned(), serde_json::json!(v));
        assert_eq!(
            got,
            [
                (
                    "-",
                    "-",
                    BTreeMap::from([("JobsFailed".to_owned(), count(1.0))])
                ),
                (
                    "acme-retail",
                    "acme-ftp",
                    BTreeMap::from([
                        ("JobsFailed".to_owned(), count(1.0)),
                        ("JobsStarted".to_owned(), count(2.0)),
                    ])
                ),
                (
                    "acme-retail",
                    "acme-sftp",
                    BTreeMap::from([("JobsStarted".to_owned(), count(1.0))])
                ),
                (
                    "globex",
                    "-",
                    BTreeMap::from([("JobsStarted".to_owned(), count(1.0))])
                ),
            ]
        );
        for line in &lines {
            assert_eq!(line.function, "catalog-trigger");
            assert_eq!(line.dimensions, [vec!["tenant", "source"], vec!["tenant"]]);
        }
    }

    #[test]
    fn the_deadline_keeps_the_reserve_back() {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap();
        let until = deadline(now_ms + 60_000, StdDuration::from_secs(5));
        let left = until - Instant::now();
        assert!(left <= StdDuration::from_secs(55) && left > StdDuration::from_secs(50));
        assert!(deadline(now_ms + 1_000, StdDuration::from_secs(5)) <= Instant::now());
    }
}
