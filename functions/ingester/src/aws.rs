//! The ingester on AWS: its adapters built from the environment and one SDK
//! configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::aws::s3::S3ObjectStore;
use tributary::aws::secrets::AwsSecrets;
use tributary::aws::sns::SnsNotifier;
use tributary::aws::sqs::SqsWorkQueue;
use tributary::ftp::SourcePools;
use tributary::lambda::{Env, EnvError, RegistryCache, s3_client};
use tributary::ports::SystemClock;

use crate::{Ingester, IngesterConfig};

/// The ingester with the AWS adapters.
pub type AwsIngester = Ingester<
    DynamoLedger,
    DynamoRegistryStore,
    S3ObjectStore,
    SqsWorkQueue,
    SnsNotifier,
    AwsSecrets,
    SystemClock,
>;

/// Builds the ingester from `env` (see `docs/deployment.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsIngester, EnvError> {
    let config = IngesterConfig::from_env(env)?;
    let table = env.required(
        "TRIBUTARY_TABLE",
        "the DynamoDB table of the ledger and registry",
    )?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let secret_ttl = env.number("TRIBUTARY_SECRET_TTL_SECS", 300u64, 0..=3600)?;
    Ok(Ingester {
        ledger: DynamoLedger::new(dynamodb.clone(), table.clone()),
        registry: RegistryCache::new(
            DynamoRegistryStore::new(dynamodb, table),
            config.registry_ttl,
        ),
        store: S3ObjectStore::new(
            s3_client(sdk, env.flag("TRIBUTARY_S3_PATH_STYLE", false)?),
            env.required("TRIBUTARY_BUCKET", "the raw bucket")?,
        ),
        queue: SqsWorkQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            env.required("TRIBUTARY_INGEST_QUEUE_URL", "the ingest queue")?,
            env.required("TRIBUTARY_INGEST_DLQ_URL", "its dead-letter queue")?,
        ),
        notifier: SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            env.required("TRIBUTARY_TOPIC_ARN", "the SNS topic for alerts")?,
        ),
        secrets: AwsSecrets::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            aws_sdk_ssm::Client::new(sdk),
        )
        .with_ttl(std::time::Duration::from_secs(secret_ttl)),
        clock: SystemClock,
        pools: SourcePools::default(),
        config,
    })
}
