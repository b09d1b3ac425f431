//! The five functions on the local back-ends, and the part Lambda plays on
//! AWS: the event source mappings that receive from a queue, hand the batch
//! to the function as an SQS event, and delete what the partial batch
//! response does not name. The functions are the Lambda crates' own generic
//! handlers, so the demo runs the code that runs on AWS.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::time::Instant;
use tributary::lambda::sqs;
use tributary::lambda::{Env, RegistryCache};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
    NotifyingStore,
};
use tributary::ports::clock::SystemClock;
use tributary::ports::work_queue::WorkQueue;
use tributary::secrets::LocalSecrets;
use tributary::sla::monitor::SlaReport;
use tributary_catalog_trigger::{CatalogConfig, CatalogTrigger};
use tributary_ingester::{Ingester, IngesterConfig};
use tributary_poller::{Poller, PollerConfig};
use tributary_sla_monitor::{SlaMonitor, SlaMonitorConfig};

use crate::local_backends::{BUCKET, LocalBackends, MAX_RECEIVES};

/// How long one function call may take before the demo gives up on it.
const CALL_DEADLINE: StdDuration = StdDuration::from_secs(120);
/// The prefix under which created objects notify the catalog queue.
pub const RAW_PREFIX: &str = "raw/";

type LocalIngestStore = NotifyingStore<FsObjectStore, MemoryQueue>;

/// The functions, each with the adapters the SAM template would give it.
pub struct Functions {
    pub poller: Poller<FileLedger, FileRegistryStore, MemoryQueue, FileNotifier, LocalSecrets>,
    pub ingester: Ingester<
        FileLedger,
        FileRegistryStore,
        LocalIngestStore,
        MemoryQueue,
        FileNotifier,
        LocalSecrets,
        SystemClock,
    >,
    pub catalog: CatalogTrigger<
        FileLedger,
        FsObjectStore,
        MemoryQueue,
        FileNotifier,
        FileJobTrigger,
        SystemClock,
    >,
    pub sla: SlaMonitor<FileLedger, FileRegistryStore, FileNotifier>,
    poll_queue: MemoryQueue,
    ingest_queue: MemoryQueue,
    catalog_queue: MemoryQueue,
}

/// The environment the template sets, as far as the local world has it:
/// the registry is reread at every call, a file counts as unchanged after
/// one second (the demo's two looks are a second apart, not a poll interval).
fn environment() -> Env {
    let vars = [
        ("TRIBUTARY_REGISTRY_TTL_SECS", "0".to_owned()),
        ("TRIBUTARY_MIN_UNCHANGED_SECS", "1".to_owned()),
        ("TRIBUTARY_MAX_RECEIVES", MAX_RECEIVES.to_string()),
        ("TRIBUTARY_BUCKET", BUCKET.to_owned()),
        ("TRIBUTARY_RAW_PREFIX", RAW_PREFIX.to_owned()),
        ("TRIBUTARY_METRICS_NAMESPACE", "tributary-demo".to_owned()),
        ("TRIBUTARY_DIGEST_AFTER", "3".to_owned()),
    ];
    Env::from_map(HashMap::from(vars.map(|(k, v)| (k.to_owned(), v))))
}

impl Functions {
    pub fn new(backends: &LocalBackends) -> anyhow::Result<Functions> {
        let env = environment();
        let metrics = backends.metrics_path();
        let registry = || RegistryCache::new(backends.registry.clone(), StdDuration::ZERO);

        let mut poller_config = PollerConfig::from_env(&env).context("poller configuration")?;
        poller_config.reporting.metrics_file = Some(metrics.clone());
        let mut ingester_config =
            IngesterConfig::from_env(&env).context("ingester configuration")?;
        ingester_config.reporting.metrics_file = Some(metrics.clone());
        let mut catalog_config =
            CatalogConfig::from_env(&env).context("catalog trigger configuration")?;
        catalog_config.reporting.metrics_file = Some(metrics.clone());
        let mut sla_config =
            SlaMonitorConfig::from_env(&env).context("SLA monitor configuration")?;
        sla_config.reporting.metrics_file = Some(metrics);

        Ok(Functions {
            poller: Poller {
                ledger: backends.ledger.clone(),
                registry: registry(),
                poll_queue: backends.poll_queue.clone(),
                ingest_queue: backends.ingest_queue.clone(),
                notifier: backends.notifier.clone(),
                secrets: LocalSecrets,
                config: poller_config,
            },
            ingester: Ingester {
                ledger: backends.ledger.clone(),
                registry: registry(),
                store: NotifyingStore::new(
                    backends.lake.clone(),
                    BUCKET,
                    RAW_PREFIX,
                    backends.catalog_queue.clone(),
                ),
                queue: backends.ingest_queue.clone(),
                notifier: backends.notifier.clone(),
                secrets: LocalSecrets,
                clock: SystemClock,
                pools: Default::default(),
                config: ingester_config,
            },
            catalog: CatalogTrigger {
                ledger: backends.ledger.clone(),
                store: backends.lake.clone(),
                queue: backends.catalog_queue.clone(),
                notifier: backends.notifier.clone(),
                jobs: backends.jobs(),
                clock: SystemClock,
                config: catalog_config,
            },
            sla: SlaMonitor {
                ledger: backends.ledger.clone(),
                registry: registry(),
                notifier: backends.notifier.clone(),
                config: sla_config,
            },
            poll_queue: backends.poll_queue.clone(),
            ingest_queue: backends.ingest_queue.clone(),
            catalog_queue: backends.catalog_queue.clone(),
        })
    }

    /// The EventBridge schedule fires: the poller fans out one `PollSource`
    /// per due source; returns the ids of the sources sent.
    pub async fn fan_out(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let report = self
            .poller
            .handle(scheduled_event(now, "tributary-fan-out"), deadline())
            .await
            .context("the poller's fan-out failed")?;
        Ok(report["sent"]
            .as_array()
            .map(|sent| {
                sent.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Lambda delivers the poll queue to the poller until it is empty;
    /// returns how many messages were handled and how many failed.
    pub async fn drain_poll_queue(&self) -> anyhow::Result<Drained> {
        drain(&self.poll_queue, "poll", |event| async move {
            let response = self
                .poller
                .handle(serde_json::to_value(&event)?, deadline())
                .await
                .context("the poller failed")?;
            Ok(serde_json::from_value(response)?)
        })
        .await
    }

    /// The ingest queue to the ingester until it is empty.
    pub async fn drain_ingest_queue(&self, request: &str) -> anyhow::Result<Drained> {
        drain(&self.ingest_queue, "ingest", |event| async move {
            Ok(self.ingester.handle(event, request).await)
        })
        .await
    }

    /// The catalog queue (S3 notifications) to the catalog trigger.
    pub async fn drain_catalog_queue(&self) -> anyhow::Result<Drained> {
        drain(&self.catalog_queue, "catalog", |event| async move {
            Ok(self.catalog.handle(event, deadline()).await)
        })
        .await
    }

    /// The SLA monitor's schedule fires at `now`.
    pub async fn sla_monitor(&self, now: DateTime<Utc>, run_id: &str) -> anyhow::Result<SlaReport> {
        self.sla
            .handle(scheduled_event(now, "tributary-sla"), run_id)
            .await
            .context("the SLA monitor failed")
    }
}

/// What one queue's drain did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub handled: usize,
    /// Left on the queue for a retry (visible again after its timeout).
    pub retried: usize,
}

/// Receives batches of up to 10 from `queue`, hands each to `handler` as the
/// SQS event Lambda would build, and deletes every message the response
/// does not name, until nothing visible is left.
async fn drain<F, Fut>(queue: &MemoryQueue, name: &str, handler: F) -> anyhow::Result<Drained>
where
    F: Fn(aws_lambda_events::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<aws_lambda_events::sqs::SqsBatchResponse>>,
{
    let arn = format!("arn:aws:sqs:local:000000000000:tributary-{name}");
    // The template's visibility timeouts are long; a retried message stays
    // hidden past the demo's run, as on SQS.
    let visibility = chrono::Duration::seconds(960);
    let mut drained = Drained::default();
    loop {
        let messages = queue
            .receive(10, visibility)
            .await
            .with_context(|| format!("cannot receive from the {name} queue"))?;
        if messages.is_empty() {
            return Ok(drained);
        }
        let event = sqs::event(&arn, &messages)?;
        let response = handler(event).await?;
        let failed = sqs::failed_ids(&response);
        for message in &messages {
            if failed.contains(&message.id) {
                drained.retried += 1;
                continue;
            }
            drained.handled += 1;
            // A message the function dead-lettered is gone already.
            let _ = queue.delete(&message.receipt).await;
        }
    }
}

fn deadline() -> Instant {
    Instant::now() + CALL_DEADLINE
}

/// An EventBridge `Scheduled Event` fired at `time` by the rule `rule`.
pub fn scheduled_event(time: DateTime<Utc>, rule: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("demo-{}", time.timestamp_millis()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": "local",
        "resources": [format!("arn:aws:events:local:000000000000:rule/{rule}")],
        "detail": {}
    })
}
