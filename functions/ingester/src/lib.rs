//! The ingester Lambda (docs/architecture.md, flow step 2): for each message of an
//! ingest-queue batch, [`tributary::ingest::handle::ingest_message`] leases,
//! streams, validates and lands the file; this crate reads each body once
//! (the registry check and the handler share it) and turns the fates into
//! the partial batch response (`ReportBatchItemFailures`), so only
//! transient failures stay on the queue. A batch's alerts go out at its end,
//! folded into a digest per tenant when there are many, and its metrics are
//! written as EMF lines.

pub mod aws;
pub mod config;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{Instrument, error, info};
use tributary::digest::RunNotices;
use tributary::failure::FailureKind;
use tributary::ingest::handle::{IngestContext, Ingestion, RegistryView, ingest_message};
use tributary::lambda::RegistryCache;
use tributary::lambda::sqs;
use tributary::metrics::{Metric, Metrics};
use tributary::ports::Backends;
use tributary::ports::clock::Clock;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::work_queue::Fate;

pub use config::IngesterConfig;

/// The ingester with its adapters, built once per container.
pub struct Ingester<B: Backends> {
    pub ledger: B::Ledger,
    pub registry: RegistryCache<B::Registry>,
    pub store: B::Store,
    pub queue: B::Queue,
    pub notifier: B::Notifier,
    pub secrets: B::Secrets,
    pub clock: B::Clock,
    /// The sources' servers; their connection pools live as long as the
    /// container.
    pub sources: B::Sources,
    pub config: IngesterConfig,
}

impl<B: Backends> Ingester<B> {
    /// Handles one batch; `request_id` (the invocation's) names the leases.
    pub async fn handle(&self, event: SqsEvent, request_id: &str) -> SqsBatchResponse {
        // Each body is read once, here: the registry check below and
        // `ingest_message` share what it came to.
        let messages: Vec<_> = sqs::messages(&event)
            .map(|message| {
                let decoded = FileDiscovered::decode(&message.body);
                (message, decoded)
            })
            .collect();
        let mut registry = self.registry.current().await;
        // A message naming a source or rule the cached registry lacks may come
        // from a registry pushed since: read the store once before calling
        // anything misconfigured.
        if let Ok(current) = &registry
            && messages.iter().any(|(_, decoded)| {
                decoded
                    .as_ref()
                    .is_ok_and(|file| names_unknown_rule(&current.registry, file))
            })
        {
            registry = self.registry.reload().await;
        }
        let registry = match registry {
            Ok(registry) => registry,
            Err(error) => {
                // Without a registry no message can be read against its rule:
                // all stay on the queue (and reach the DLQ if this persists).
                error!(%error, kind = %error.kind(), "No registry; the whole batch is retried.");
                return sqs::batch_response(
                    event.records.iter().filter_map(|r| r.message_id.clone()),
                );
            }
        };
        let version = registry.version.to_string();
        let notices = RunNotices::new(&self.notifier, self.config.reporting.digest_after);
        let mut metrics = self.config.reporting.metrics();
        let view = RegistryView {
            registry: &registry.registry,
            version: &version,
        };
        let ctx = IngestContext::<B, _> {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &notices,
            secrets: &self.secrets,
            sources: &self.sources,
            clock: &self.clock,
        };
        let mut batch = sqs::PartialBatch::default();
        for (message, decoded) in messages {
            let owner = format!("{request_id}/{}", message.id);
            let settings = &self.config.settings;
            let handled = ingest_message(&ctx, view, &message, decoded, &owner, settings)
                .instrument(sqs::span(&message))
                .await;
            if let Some(file) = &handled.file {
                measure(&mut metrics, file, &handled.fate, self.clock.now());
            }
            batch.settle(&message, &handled.fate);
        }
        let flushed = notices.flush().await;
        if flushed != Default::default() {
            info!(?flushed, "Alerts published.");
        }
        metrics.emit(self.clock.now());
        batch.response()
    }
}

/// Adds what became of `file` to the run's metrics.
pub fn measure(
    metrics: &mut Metrics,
    file: &FileDiscovered,
    fate: &Fate<Ingestion>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let (tenant, source) = (file.tenant.as_str(), file.source.as_str());
    match fate {
        Fate::Done(Ingestion::Ingested {
            rows,
            bytes_in,
            bytes_out,
            ..
        }) => {
            metrics.count(tenant, source, Metric::FilesIngested);
            metrics.add(tenant, source, Metric::BytesReceived, *bytes_in as f64);
            metrics.add(tenant, source, Metric::BytesIngested, *bytes_out as f64);
            metrics.add(tenant, source, Metric::RowsIngested, *rows as f64);
            let latency = (now - file.discovered_at).num_milliseconds().max(0);
            metrics.add(tenant, source, Metric::IngestLatency, latency as f64);
        }
        Fate::DeadLettered {
            kind: FailureKind::Rejected,
            ..
        } => metrics.count(tenant, source, Metric::FilesRejected),
        Fate::DeadLettered { .. } => metrics.count(tenant, source, Metric::FilesFailed),
        Fate::Done(Ingestion::Duplicate { .. }) | Fate::Retry { .. } => {}
    }
}

/// Whether `registry` lacks the source or the rule `file` names.
fn names_unknown_rule(registry: &tributary::registry::Registry, file: &FileDiscovered) -> bool {
    registry
        .find_source(&file.source)
        .is_none_or(|(_, source)| !source.rules.iter().any(|r| r.id == file.rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary::lambda::sqs::{batch_response, received};

    #[test]
    fn fates_become_metrics() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("../../../events/ingester-sqs.json")).unwrap();
        let file = FileDiscovered::decode(&received(0, &event.records[0]).unwrap().body).unwrap();
        let now = file.discovered_at + chrono::Duration::seconds(90);
        let mut metrics = Metrics::new("tributary", "ingester");
        let landed = Fate::Done(Ingestion::Ingested {
            object_key: "raw/x.csv".into(),
            rows: 10,
            bytes_in: 300,
            bytes_out: 900,
        });
        measure(&mut metrics, &file, &landed, now);
        let rejected = Fate::DeadLettered {
            kind: FailureKind::Rejected,
            reason: "rows".into(),
        };
        measure(&mut metrics, &file, &rejected, now);
        let failed = Fate::DeadLettered {
            kind: FailureKind::Misconfigured,
            reason: "secret".into(),
        };
        measure(&mut metrics, &file, &failed, now);
        let retry = Fate::Retry { reason: "x".into() };
        measure(&mut metrics, &file, &retry, now);
        assert_eq!(metrics.total(Metric::FilesIngested), 1.0);
        assert_eq!(metrics.total(Metric::FilesRejected), 1.0);
        assert_eq!(metrics.total(Metric::FilesFailed), 1.0);
        assert_eq!(metrics.total(Metric::BytesIngested), 900.0);
        assert_eq!(metrics.total(Metric::RowsIngested), 10.0);
        assert_eq!(metrics.total(Metric::IngestLatency), 90_000.0);
    }

    #[test]
    fn a_file_names_an_unknown_rule_when_the_registry_lacks_its_source_or_rule() {
        let registry = tributary::registry::Registry::from_yaml_str(include_str!(
            "../../../examples/registry.yaml"
        ))
        .unwrap();
        let event: SqsEvent =
            serde_json::from_str(include_str!("../../../events/ingester-sqs.json")).unwrap();
        let mut file =
            FileDiscovered::decode(&received(0, &event.records[0]).unwrap().body).unwrap();
        assert!(!names_unknown_rule(&registry, &file));
        file.rule = "no-such-rule".into();
        assert!(names_unknown_rule(&registry, &file));
        file.source = "no-such-source".into();
        assert!(names_unknown_rule(&registry, &file));
    }

    #[test]
    fn the_sample_event_reads_as_a_received_file_discovered() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("../../../events/ingester-sqs.json")).unwrap();
        let message = received(0, &event.records[0]).unwrap();
        assert_eq!(message.receive_count, 1);
        let file = FileDiscovered::decode(&message.body).unwrap();
        assert_eq!(file.source, "acme-ftp");
        let response = serde_json::to_value(batch_response([message.id.clone()])).unwrap();
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": message.id}]})
        );
    }
}
