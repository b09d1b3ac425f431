//! The ingester on AWS: its adapters built from the environment and one SDK
//! configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::Aws;
use tributary::aws::s3::S3ObjectStore;
use tributary::ftp::FtpConnector;
use tributary::lambda::{
    Common, Env, EnvError, queue_from_env, s3_client, s3_endpoint, unsigned_payload_is_safe,
};
use tributary::ports::SystemClock;

use crate::{Ingester, IngesterConfig};

/// The ingester with the AWS adapters.
pub type AwsIngester = Ingester<Aws>;

/// Builds the ingester from `env` (see `docs/deployment.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsIngester, EnvError> {
    let config = IngesterConfig::from_env(env)?;
    let common = Common::from_env(env, sdk, config.registry_ttl)?;
    Ok(Ingester {
        ledger: common.ledger,
        registry: common.registry,
        store: S3ObjectStore::new(
            s3_client(sdk, env.flag("TRIBUTARY_S3_PATH_STYLE", false)?),
            env.required("TRIBUTARY_BUCKET", "the raw bucket")?,
        )
        .with_unsigned_payload(unsigned_payload_is_safe(s3_endpoint(sdk).as_deref())),
        queue: queue_from_env(
            env,
            &aws_sdk_sqs::Client::new(sdk),
            "TRIBUTARY_INGEST_QUEUE_URL",
            "TRIBUTARY_INGEST_DLQ_URL",
            "the ingest queue",
        )?,
        notifier: common.notifier,
        secrets: common.secrets,
        clock: SystemClock,
        sources: FtpConnector::default(),
        config,
    })
}
