//! The five functions on the local back-ends, and the part Lambda plays on
//! AWS: the event source mappings that receive from a queue, hand the batch
//! to the function as an SQS event, and delete what the partial batch
//! response does not name. The functions are the Lambda crates' own generic
//! handlers, so the demo runs the code that runs on AWS.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::aws::glue::GlueJobTrigger;
use tributary::aws::s3::S3ObjectStore;
use tributary::aws::secrets::AwsSecrets;
use tributary::aws::sns::SnsNotifier;
use tributary::aws::sqs::SqsWorkQueue;
use tributary::lambda::sqs;
use tributary::lambda::{Env, EnvError, RegistryCache};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
    NotifyingStore,
};
use tributary::ports::Backends;
use tributary::ports::clock::SystemClock;
use tributary::ports::work_queue::WorkQueue;
use tributary::ports::{
    CrawlerError, CrawlerStart, JobError, JobRun, JobTrigger, Notification, Notifier, NotifyError,
};
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

/// The functions, each with the adapters the SAM template would give it: the
/// poller, the ingester, the catalog trigger and the SLA monitor over one set
/// of back-ends `B`.
pub struct Functions<B: Backends> {
    pub poller: Poller<B>,
    pub ingester: Ingester<B>,
    pub catalog: CatalogTrigger<B>,
    pub sla: SlaMonitor<B>,
    /// The catalog queue (the ingester's store notifies it; the catalog
    /// trigger's own queue handle is for dead-lettering).
    pub catalog_queue: B::Queue,
}

/// The local back-ends, with alerts and job runs noted in the demo's journal.
/// The raw bucket notifies the catalog queue of each created object, as S3
/// does (the catalog trigger only reads it).
pub struct Local;

impl Backends for Local {
    type Ledger = FileLedger;
    type Registry = FileRegistryStore;
    type Queue = MemoryQueue;
    type Store = NotifyingStore<FsObjectStore, MemoryQueue>;
    type Notifier = Recording<FileNotifier>;
    type Secrets = LocalSecrets;
    type Jobs = Recording<FileJobTrigger>;
    type Clock = SystemClock;
    type Sources = tributary::ftp::FtpConnector;
}

/// The AWS back-ends, with alerts and job runs noted in the demo's journal.
pub struct OnAws;

impl Backends for OnAws {
    type Ledger = DynamoLedger;
    type Registry = DynamoRegistryStore;
    type Queue = SqsWorkQueue;
    type Store = S3ObjectStore;
    type Notifier = Recording<SnsNotifier>;
    type Secrets = AwsSecrets;
    type Jobs = Recording<GlueJobTrigger>;
    type Clock = SystemClock;
    type Sources = tributary::ftp::FtpConnector;
}

/// The functions on the local back-ends.
pub type LocalFunctions = Functions<Local>;

/// The functions on AWS, built from the environment exactly as each Lambda
/// builds itself (`TRIBUTARY_*`, `AWS_ENDPOINT_URL`, the credential chain).
pub type AwsFunctions = Functions<OnAws>;

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

impl LocalFunctions {
    pub fn local(
        backends: &LocalBackends,
        journal: &SharedJournal,
    ) -> anyhow::Result<LocalFunctions> {
        let env = environment();
        let metrics = backends.metrics_path();
        let registry = || RegistryCache::new(backends.registry.clone(), StdDuration::ZERO);
        let notifier = || Recording::new(backends.notifier.clone(), journal);
        let lake = NotifyingStore::new(
            backends.lake.clone(),
            BUCKET,
            RAW_PREFIX,
            backends.catalog_queue.clone(),
        );

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
                notifier: notifier(),
                secrets: LocalSecrets,
                sources: Default::default(),
                clock: SystemClock,
                config: poller_config,
            },
            ingester: Ingester {
                ledger: backends.ledger.clone(),
                registry: registry(),
                store: lake.clone(),
                queue: backends.ingest_queue.clone(),
                notifier: notifier(),
                secrets: LocalSecrets,
                clock: SystemClock,
                sources: Default::default(),
                config: ingester_config,
            },
            catalog: CatalogTrigger {
                ledger: backends.ledger.clone(),
                store: lake,
                queue: backends.catalog_queue.clone(),
                notifier: notifier(),
                jobs: Recording::new(backends.jobs(), journal),
                clock: SystemClock,
                config: catalog_config,
            },
            sla: SlaMonitor {
                ledger: backends.ledger.clone(),
                registry: registry(),
                notifier: notifier(),
                clock: SystemClock,
                config: sla_config,
            },
            catalog_queue: backends.catalog_queue.clone(),
        })
    }
}

impl AwsFunctions {
    /// Each function from the process environment, as on Lambda, but with
    /// the registry reread at every call and files taken once seen unchanged
    /// for a second (the demo looks twice, a second apart), and metrics
    /// appended to `metrics` (EMF reaches CloudWatch only from a Lambda's
    /// standard output; here that is the summary's).
    pub async fn aws(journal: &SharedJournal, metrics: &Path) -> anyhow::Result<AwsFunctions> {
        let env = Env::process();
        let sdk = crate::target::aws_sdk().await?;
        let hint = |e: EnvError| {
            anyhow::anyhow!(
                "{e}. demo --aws reads the variables the SAM template gives the functions (see docs/deployment.md)"
            )
        };
        let poller = tributary_poller::aws::from_env(&env, &sdk).map_err(hint)?;
        let ingester = tributary_ingester::aws::from_env(&env, &sdk).map_err(hint)?;
        let catalog = tributary_catalog_trigger::aws::from_env(&env, &sdk).map_err(hint)?;
        let sla = tributary_sla_monitor::aws::from_env(&env, &sdk).map_err(hint)?;
        let fresh = |r: RegistryCache<DynamoRegistryStore>| {
            RegistryCache::new(r.into_store(), StdDuration::ZERO)
        };
        let mut poller_config = poller.config;
        poller_config.min_unchanged = chrono::Duration::seconds(1);
        poller_config.reporting.metrics_file = Some(metrics.to_path_buf());
        let mut ingester_config = ingester.config;
        ingester_config.reporting.metrics_file = Some(metrics.to_path_buf());
        let mut catalog_config = catalog.config;
        catalog_config.reporting.metrics_file = Some(metrics.to_path_buf());
        let mut sla_config = sla.config;
        sla_config.reporting.metrics_file = Some(metrics.to_path_buf());
        Ok(Functions {
            poller: Poller {
                ledger: poller.ledger,
                registry: fresh(poller.registry),
                poll_queue: poller.poll_queue,
                ingest_queue: poller.ingest_queue,
                notifier: Recording::new(poller.notifier, journal),
                secrets: poller.secrets,
                sources: poller.sources,
                clock: poller.clock,
                config: poller_config,
            },
            ingester: Ingester {
                ledger: ingester.ledger,
                registry: fresh(ingester.registry),
                store: ingester.store,
                queue: ingester.queue,
                notifier: Recording::new(ingester.notifier, journal),
                secrets: ingester.secrets,
                clock: ingester.clock,
                sources: ingester.sources,
                config: ingester_config,
            },
            catalog_queue: catalog.queue.clone(),
            catalog: CatalogTrigger {
                ledger: catalog.ledger,
                store: catalog.store,
                queue: catalog.queue,
                notifier: Recording::new(catalog.notifier, journal),
                jobs: Recording::new(catalog.jobs, journal),
                clock: catalog.clock,
                config: catalog_config,
            },
            sla: SlaMonitor {
                ledger: sla.ledger,
                registry: fresh(sla.registry),
                notifier: Recording::new(sla.notifier, journal),
                clock: sla.clock,
                config: sla_config,
            },
        })
    }
}

impl<B: Backends> Functions<B> {
    /// One pass of the flow: schedule → poll (two looks, a second apart, so
    /// that files are seen unchanged) → ingest → catalog → SLA. Returns how
    /// many messages the ingester handled.
    pub async fn pass(&self, pass: u32) -> anyhow::Result<usize> {
        for look in 0..2 {
            if look > 0 {
                tokio::time::sleep(StdDuration::from_millis(1_100)).await;
            }
            self.fan_out(Utc::now()).await?;
            self.drain_poll_queue().await?;
        }
        let ingested = self
            .drain_ingest_queue(&format!("demo-pass-{pass}"))
            .await?;
        self.drain_catalog_queue().await?;
        self.sla_monitor(Utc::now(), &format!("demo-sla-{pass}"))
            .await?;
        Ok(ingested.handled + ingested.retried)
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

    /// Lambda delivers the poll queue to the poller until it is empty.
    pub async fn drain_poll_queue(&self) -> anyhow::Result<Drained> {
        drain(&self.poller.poll_queue, "poll", |event| async move {
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
        drain(&self.ingester.queue, "ingest", |event| async move {
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

/// What the functions published and started in a run, noted as they did
/// it (the summary's alerts and Glue runs, on either back-end set).
#[derive(Debug, Default)]
pub struct Journal {
    pub alerts: Vec<String>,
    pub jobs: Vec<JobRunStarted>,
}

/// One Glue job run a function started.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobRunStarted {
    pub job: String,
    pub run_id: String,
    pub key: String,
}

pub type SharedJournal = Arc<Mutex<Journal>>;

fn note(journal: &SharedJournal, f: impl FnOnce(&mut Journal)) {
    f(&mut journal.lock().unwrap_or_else(|p| p.into_inner()));
}

/// A port adapter that notes what went through it in the journal.
#[derive(Debug, Clone)]
pub struct Recording<T> {
    inner: T,
    journal: SharedJournal,
}

impl<T> Recording<T> {
    fn new(inner: T, journal: &SharedJournal) -> Self {
        Recording {
            inner,
            journal: journal.clone(),
        }
    }
}

impl<N: Notifier> Notifier for Recording<N> {
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        let id = self.inner.publish(notification).await?;
        note(&self.journal, |j| {
            j.alerts.push(notification.subject.clone())
        });
        Ok(id)
    }
}

impl<J: JobTrigger> JobTrigger for Recording<J> {
    async fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<JobRun, JobError> {
        let run = self.inner.start(job, arguments).await?;
        note(&self.journal, |j| {
            j.jobs.push(JobRunStarted {
                job: run.job.clone(),
                run_id: run.run_id.clone(),
                key: arguments.get("--key").cloned().unwrap_or_default(),
            })
        });
        Ok(run)
    }

    async fn start_crawler(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
        self.inner.start_crawler(crawler).await
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
async fn drain<Q, F, Fut>(queue: &Q, name: &str, handler: F) -> anyhow::Result<Drained>
where
    Q: WorkQueue,
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
        "detail-type": tributary::lambda::schedule::DETAIL_TYPE,
        "source": "aws.events",
        "account": "000000000000",
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": "local",
        "resources": [format!("arn:aws:events:local:000000000000:rule/{rule}")],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tributary::ports::OutgoingMessage;
    use tributary::ports::registry_store::RegistryStore;
    use tributary::ports::work_queue::attr;
    use tributary::registry::Syntax;

    use super::super::drop_folder::DropFolder;
    use super::*;

    /// Bodies no function can read: empty, not JSON, the wrong shape, a
    /// future message version, control bytes, JSON nested past any parser's
    /// patience, a long string.
    fn hostile_bodies() -> Vec<String> {
        vec![
            String::new(),
            "not json".into(),
            "[]".into(),
            r#"{"v":1}"#.into(),
            r#"{"v":99,"tenant":"acme-retail","source":"acme-ftp"}"#.into(),
            "\u{0}\u{1}\u{7f}".into(),
            format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
            format!("{{\"v\":1,\"path\":\"{}\"}}", "x".repeat(200_000)),
        ]
    }

    /// Every queue's garbage ends in its dead-letter queue at once — not
    /// retried until SQS gives up — with `error_kind`/`error_reason`, and ops
    /// hear of it; nothing panics; payloads of the wrong shape are refused.
    #[tokio::test(flavor = "multi_thread")]
    async fn garbage_on_every_queue_is_dead_lettered_at_once_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let backends = LocalBackends::open(dir.path()).unwrap();
        let registry = DropFolder {
            dir: dir.path().to_path_buf(),
        }
        .registry(1);
        backends
            .registry
            .push(Syntax::Yaml, &registry, Utc::now())
            .await
            .unwrap();
        let journal = SharedJournal::default();
        let functions = LocalFunctions::local(&backends, &journal).unwrap();
        let bodies = hostile_bodies();
        for queue in [
            &backends.poll_queue,
            &backends.ingest_queue,
            &backends.catalog_queue,
        ] {
            for body in &bodies {
                queue
                    .send_batch(&[OutgoingMessage::new(body.clone())])
                    .await
                    .unwrap();
            }
        }

        let polled = functions.drain_poll_queue().await.unwrap();
        let ingested = functions.drain_ingest_queue("garbage").await.unwrap();
        let catalogued = functions.drain_catalog_queue().await.unwrap();
        for (name, drained, queue) in [
            ("poll", polled, &backends.poll_queue),
            ("ingest", ingested, &backends.ingest_queue),
            ("catalog", catalogued, &backends.catalog_queue),
        ] {
            assert_eq!(drained.retried, 0, "{name}: garbage is not retried");
            assert_eq!(queue.depths(), (0, bodies.len()), "{name}");
            let dead = queue
                .receive_dead_letters(10, chrono::Duration::seconds(30))
                .await
                .unwrap();
            assert_eq!(dead.len(), bodies.len(), "{name}");
            for letter in &dead {
                assert_eq!(
                    letter.attributes.get(attr::ERROR_KIND).map(String::as_str),
                    Some("misconfigured"),
                    "{name}: {letter:?}"
                );
                let reason = letter.attributes.get(attr::ERROR_REASON).unwrap();
                assert!(
                    !reason.is_empty() && reason.len() < 2_000,
                    "{name}: {reason}"
                );
            }
        }
        let journal = std::mem::take(&mut *journal.lock().unwrap());
        assert!(
            journal.alerts.len() >= 3,
            "ops hear of each queue's poison: {:?}",
            journal.alerts
        );

        // Payloads of the wrong shape: a clear error, no panic.
        for payload in [
            json!(null),
            json!("x"),
            json!({"detail-type": "Scheduled Event"}),
            json!({"source": 7}),
            json!({"Records": "x"}),
        ] {
            let error = functions
                .poller
                .handle(payload.clone(), deadline())
                .await
                .unwrap_err();
            assert!(!error.to_string().is_empty(), "{payload}");
        }
        for payload in [json!(null), json!({"time": "yesterday"}), json!([1])] {
            assert!(
                functions.sla.handle(payload.clone(), "x").await.is_err(),
                "{payload}"
            );
        }
    }
}
