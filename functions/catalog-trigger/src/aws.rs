//! The catalog trigger on AWS: its adapters built from the environment and
//! one SDK configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::Aws;
use tributary::aws::dynamodb::DynamoLedger;
use tributary::aws::glue::GlueJobTrigger;
use tributary::aws::s3::S3ObjectStore;
use tributary::aws::sns::SnsNotifier;
use tributary::lambda::{Env, EnvError, queue_from_env, s3_client};
use tributary::ports::SystemClock;

use crate::{CatalogConfig, CatalogTrigger};

/// The catalog trigger with the AWS adapters.
pub type AwsCatalogTrigger = CatalogTrigger<Aws>;

/// Builds the catalog trigger from `env` (see
/// `docs/functions/catalog-trigger.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsCatalogTrigger, EnvError> {
    let config = CatalogConfig::from_env(env)?;
    let table = env.required("TRIBUTARY_TABLE", "the DynamoDB table of the ledger")?;
    Ok(CatalogTrigger {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), table),
        store: S3ObjectStore::new(
            s3_client(sdk, env.flag("TRIBUTARY_S3_PATH_STYLE", false)?),
            config.settings.bucket.clone(),
        ),
        queue: queue_from_env(
            env,
            &aws_sdk_sqs::Client::new(sdk),
            "TRIBUTARY_CATALOG_QUEUE_URL",
            "TRIBUTARY_CATALOG_DLQ_URL",
            "the catalog queue",
        )?,
        notifier: SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            env.required("TRIBUTARY_TOPIC_ARN", "the SNS topic for alerts")?,
        ),
        jobs: GlueJobTrigger::new(aws_sdk_glue::Client::new(sdk)),
        clock: SystemClock,
        config,
    })
}
