//! The ingester Lambda (ARCHITECTURE.md, flow step 2): for each message of an
//! ingest-queue batch, [`tributary::ingest::handle::ingest_message`] leases,
//! streams, validates and lands the file; this crate turns the dispositions
//! into the partial batch response (`ReportBatchItemFailures`), so only
//! transient failures stay on the queue.

pub mod aws;
pub mod config;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{error, info};
use tributary::ftp::SourcePools;
use tributary::ingest::handle::{IngestContext, RegistryView, ingest_message};
use tributary::lambda::RegistryCache;
use tributary::lambda::sqs::{batch_response, received};
use tributary::ports::clock::Clock;
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
        let view = RegistryView {
            registry: &registry.registry,
            version: &version,
        };
        let ctx = IngestContext {
            ledger: &self.ledger,
            store: &self.store,
            queue: &self.queue,
            notifier: &self.notifier,
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
            if disposition.retry() {
                retry.push(message.id.clone());
            }
        }
        batch_response(retry)
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
    use tributary::ports::messages::FileDiscovered;

    use super::*;

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
