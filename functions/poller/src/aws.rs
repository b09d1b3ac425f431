//! The poller on AWS: its adapters built from the environment and one SDK
//! configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::Aws;
use tributary::ftp::FtpConnector;
use tributary::lambda::{Common, Env, EnvError, queue_from_env};
use tributary::ports::SystemClock;

use crate::{Poller, PollerConfig};

/// The poller with the AWS adapters.
pub type AwsPoller = Poller<Aws>;

/// Builds the poller from `env` (see `docs/deployment.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsPoller, EnvError> {
    let config = PollerConfig::from_env(env)?;
    let common = Common::from_env(env, sdk, config.registry_ttl)?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    Ok(Poller {
        ledger: common.ledger,
        registry: common.registry,
        poll_queue: queue_from_env(
            env,
            &sqs,
            "TRIBUTARY_POLL_QUEUE_URL",
            "TRIBUTARY_POLL_DLQ_URL",
            "the poll queue",
        )?,
        ingest_queue: queue_from_env(
            env,
            &sqs,
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
