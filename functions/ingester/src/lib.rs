//! The ingester Lambda (ARCHITECTURE.md, flow step 2): for each message of an
//! ingest-queue batch, [`tributary::ingest::handle::ingest_message`] leases,
//! streams, validates and lands the file; this crate turns the dispositions
//! into the partial batch response (`ReportBatchItemFailures`), so only
//! transient failures stay on the queue. A batch's alerts go out at its end,
//! folded into a digest per tenant when there are many, and its metrics are
//! written as EMF lines.

pub mod aws;
pub mod config;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{error, info};
use tributary::digest::RunNotices;
use tributary::failure::FailureKind;
use tributary::ftp::SourcePools;
use tributary::ingest::handle::{Disposition, IngestContext, RegistryView, ingest_message};
use tributary::lambda::RegistryCache;
use tributary::lambda::sqs::{batch_response, received};
use tributary::metrics::{Metric, Metrics};
use tributary::ports::clock::Clock;
use tributary::ports::messages::FileDiscovered;
use tributary::ports::registry_store::RegistryStore;
use tributary::ports::{Ledger, Notifier, ObjectStore, WorkQueue};
use tributary::secrets::SecretStore;

pub use config::IngesterConfig;

/// The ingester with its adapters, built once per container; the FTP
/// connection pools live as long as the container.
pub struct Ingester<L, R, St, Q, N, S, C> {
    pub ledger: L,
    pub registry: RegistryCache<R>,
    pub store: St,
    pub queue: Q,
    pub notifier: N,
    pub secrets: S,
    pub clock: C,
    pub pools: SourcePools,
    pub config: IngesterConfig,
}

impl<L, R, St, Q, N, S, C> Ingester<L, R, St, Q, N, S, C>
where
    L: Ledger,
    R: RegistryStore,
    St: ObjectStore,
    Q: WorkQueue,
    N: Notifier,
    S: SecretStore,
    C: Clock,
{
    /// Handles one batch; `request_id` (the invocation's) names the leases.
    pub async fn handle(&self, event: SqsEvent, request_id: &str) -> SqsBatchResponse {
        let mut registry = self.registry.current().await;
        // A message naming a source or rule the cached registry lacks may come
        // from a registry pushed since: read the store once before calling
        // anything misconfigured.
        if let Ok(current) = &registry
            && event
                .records
                .iter()
                .any(|r| names_unknown_rule(&current.registry, r))
        {
            registry = self.registry.reload().await;
        }
        let registry = match registry {
            Ok(registry) => registry,
            Err(error) => {
                // Without a registry no message can be read against its rule:
                // all stay on the queue (and reach the DLQ if this persists).
                error!(%error, kind = %error.kind(), "No registry; the whole batch is retried.");
                return batch_response(event.records.iter().filter_map(|r| r.message_id.clone()));
            }
        };
        let version = registry.version.to_string();
        let notices = RunNotices::new(&self.notifier, self.config.reporting.digest_after);
        let mut metrics = self.config.reporting.metrics();
        let view = RegistryView {
            registry: &registry.registry,
            version: &version,
        };
        let ctx = IngestContext {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &notices,
            secrets: &self.secrets,
            pools: &self.pools,
            clock: &self.clock,
        };
        let mut retry = Vec::new();
        for (index, record) in event.records.iter().enumerate() {
            let message = match received(index, record) {
                Ok(message) => message,
                Err(error) => {
                    error!(%error, "Malformed SQS record; skipped.");
                    continue;
                }
            };
            let owner = format!("{request_id}/{}", message.id);
            let disposition =
                ingest_message(&ctx, view, &message, &owner, &self.config.settings).await;
            info!(message_id = %message.id, disposition = ?disposition, "Message handled.");
            if let Ok(file) = FileDiscovered::decode(&message.body) {
                let now = self.clock.now();
                measure(&mut metrics, &file, &disposition, now);
            }
            if disposition.retry() {
                retry.push(message.id.clone());
            }
        }
        let flushed = notices.flush().await;
        if flushed != Default::default() {
            info!(?flushed, "Alerts published.");
        }
        metrics.emit(self.clock.now());
        batch_response(retry)
    }
}

/// Adds what became of `file` to the run's metrics.
pub fn measure(
    metrics: &mut Metrics,
    file: &FileDiscovered,
    disposition: &Disposition,
    now: chrono::DateTime<chrono::Utc>,
) {
    let (tenant, source) = (file.tenant.as_str(), file.source.as_str());
    match disposition {
        Disposition::Ingested {
            rows,
            bytes_in,
            bytes_out,
            ..
        } => {
            metrics.count(tenant, source, Metric::FilesIngested);
            metrics.add(tenant, source, Metric::BytesReceived, *bytes_in as f64);
            metrics.add(tenant, source, Metric::BytesIngested, *bytes_out as f64);
            metrics.add(tenant, source, Metric::RowsIngested, *rows as f64);
            let latency = (now - file.discovered_at).num_milliseconds().max(0);
            metrics.add(tenant, source, Metric::IngestLatency, latency as f64);
        }
        Disposition::DeadLettered {
            kind: FailureKind::Rejected,
            ..
        } => metrics.count(tenant, source, Metric::FilesRejected),
        Disposition::DeadLettered { .. } => metrics.count(tenant, source, Metric::FilesFailed),
        Disposition::Duplicate { .. } | Disposition::Retry { .. } => {}
    }
}

/// Whether `record` is a readable `FileDiscovered` whose rule `registry` lacks.
fn names_unknown_rule(
    registry: &tributary::registry::Registry,
    record: &aws_lambda_events::sqs::SqsMessage,
) -> bool {
    record
        .body
        .as_deref()
        .and_then(|body| tributary::ports::messages::FileDiscovered::decode(body).ok())
        .is_some_and(|m| {
            registry
                .find_source(&m.source)
                .is_none_or(|(_, source)| !source.rules.iter().any(|r| r.id == m.rule))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_become_metrics() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("../../../events/ingester-sqs.json")).unwrap();
        let file = FileDiscovered::decode(&received(0, &event.records[0]).unwrap().body).unwrap();
        let now = file.discovered_at + chrono::Duration::seconds(90);
        let mut metrics = Metrics::new("tributary", "ingester");
        let landed = Disposition::Ingested {
            object_key: "raw/x.csv".into(),
            rows: 10,
            bytes_in: 300,
            bytes_out: 900,
        };
        measure(&mut metrics, &file, &landed, now);
        let rejected = Disposition::DeadLettered {
            kind: FailureKind::Rejected,
            reason: "rows".into(),
        };
        measure(&mut metrics, &file, &rejected, now);
        let failed = Disposition::DeadLettered {
            kind: FailureKind::Misconfigured,
            reason: "secret".into(),
        };
        measure(&mut metrics, &file, &failed, now);
        let retry = Disposition::Retry { reason: "x".into() };
        measure(&mut metrics, &file, &retry, now);
        assert_eq!(metrics.total(Metric::FilesIngested), 1.0);
        assert_eq!(metrics.total(Metric::FilesRejected), 1.0);
        assert_eq!(metrics.total(Metric::FilesFailed), 1.0);
        assert_eq!(metrics.total(Metric::BytesIngested), 900.0);
        assert_eq!(metrics.total(Metric::RowsIngested), 10.0);
        assert_eq!(metrics.total(Metric::IngestLatency), 90_000.0);
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
