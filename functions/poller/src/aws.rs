//! The poller on AWS: its adapters built from the environment and one SDK
//! configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::aws::secrets::AwsSecrets;
use tributary::aws::sns::SnsNotifier;
use tributary::aws::sqs::SqsWorkQueue;
use tributary::lambda::{Env, EnvError, RegistryCache};

use crate::{Poller, PollerConfig};

/// The poller with the AWS adapters.
pub type AwsPoller =
    Poller<DynamoLedger, DynamoRegistryStore, SqsWorkQueue, SnsNotifier, AwsSecrets>;

/// Builds the poller from `env` (see `docs/deployment.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsPoller, EnvError> {
    let config = PollerConfig::from_env(env)?;
    let table = env.required(
        "TRIBUTARY_TABLE",
        "the DynamoDB table of the ledger and registry",
    )?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = |url: &str, dlq: &str, what: &str| -> Result<SqsWorkQueue, EnvError> {
        Ok(SqsWorkQueue::new(
            sqs.clone(),
            env.required(url, what)?,
            env.required(dlq, "its dead-letter queue")?,
        ))
    };
    let secret_ttl = env.number("TRIBUTARY_SECRET_TTL_SECS", 300u64, 0..=3600)?;
    Ok(Poller {
        ledger: DynamoLedger::new(dynamodb.clone(), table.clone()),
        registry: RegistryCache::new(
            DynamoRegistryStore::new(dynamodb, table),
            config.registry_ttl,
        ),
        poll_queue: queue(
            "TRIBUTARY_POLL_QUEUE_URL",
            "TRIBUTARY_POLL_DLQ_URL",
            "the poll queue",
        )?,
        ingest_queue: queue(
            "TRIBUTARY_INGEST_QUEUE_URL",
            "TRIBUTARY_INGEST_DLQ_URL",
            "the ingest queue",
        )?,
        notifier: SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            env.required("TRIBUTARY_TOPIC_ARN", "the SNS topic for alerts")?,
        ),
        secrets: AwsSecrets::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            aws_sdk_ssm::Client::new(sdk),
        )
        .with_ttl(std::time::Duration::from_secs(secret_ttl)),
        config,
    })
}
