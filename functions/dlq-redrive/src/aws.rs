//! The dlq-redrive function on AWS: its adapters built from the environment
//! and one SDK configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::dynamodb::DynamoLedger;
use tributary::aws::sqs::SqsWorkQueue;
use tributary::lambda::{Env, EnvError, queue_from_env};

use crate::{RedriveConfig, Redriver};

/// How long a receive from the DLQ waits for messages (long polling: every
/// SQS server is asked, so an empty answer means the DLQ has no visible
/// message, and the run ends).
const RECEIVE_WAIT_SECS: u8 = 1;

/// The function with the AWS adapters.
pub type AwsRedriver = Redriver<DynamoLedger, SqsWorkQueue>;

/// Builds the function from `env` (see `docs/functions/dlq-redrive.md`) and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsRedriver, EnvError> {
    let config = RedriveConfig::from_env(env)?;
    let table = env.required("TRIBUTARY_TABLE", "the DynamoDB table of the ledger")?;
    let queue = queue_from_env(
        env,
        &aws_sdk_sqs::Client::new(sdk),
        "TRIBUTARY_INGEST_QUEUE_URL",
        "TRIBUTARY_INGEST_DLQ_URL",
        "the ingest queue",
    )?
    .with_wait(RECEIVE_WAIT_SECS);
    Ok(Redriver {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), table),
        queue,
        config,
    })
}
