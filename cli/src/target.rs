//! Where an ops command acts: the AWS stack (the standard credential chain,
//! `AWS_ENDPOINT_URL` for moto or another endpoint, and the same
//! `TRIBUTARY_*` variables the SAM template gives the functions), or the
//! local back-ends a `demo` left in a directory (`--local DIR`).

use std::path::PathBuf;

use anyhow::Context;
use aws_credential_types::provider::ProvideCredentials;
use clap::Args;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::aws::sqs::SqsWorkQueue;
use tributary::lambda::{Env, queue_from_env, sdk_config};

use crate::local_backends::LocalBackends;

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Act on the local back-ends in DIR (what `tributary demo` wrote)
    /// instead of AWS.
    #[arg(long, value_name = "DIR", global = true)]
    pub local: Option<PathBuf>,
}

/// The AWS resources the ops commands use, named as the functions name them.
pub struct AwsTarget {
    pub ledger: DynamoLedger,
    pub registry: DynamoRegistryStore,
    pub ingest_queue: SqsWorkQueue,
    pub sqs: aws_sdk_sqs::Client,
    pub ingest_dlq_url: String,
}

pub enum Target {
    Local(Box<LocalBackends>),
    Aws(Box<AwsTarget>),
}

impl TargetArgs {
    /// Opens the target; `needs_queue`: the command reads the ingest queues.
    pub async fn open(&self, needs_queue: bool) -> anyhow::Result<Target> {
        if let Some(dir) = &self.local {
            return Ok(Target::Local(Box::new(LocalBackends::open_existing(dir)?)));
        }
        let env = Env::process();
        let table = env
            .required("TRIBUTARY_TABLE", "the DynamoDB table of the ledger")
            .map_err(aws_hint)?;
        let sdk = aws_sdk().await?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (ingest_queue, ingest_dlq_url) = if needs_queue {
            let queue = queue_from_env(
                &env,
                &sqs,
                "TRIBUTARY_INGEST_QUEUE_URL",
                "TRIBUTARY_INGEST_DLQ_URL",
                "the ingest queue",
            )
            .map_err(aws_hint)?
            .with_wait(1);
            let dlq = env
                .required("TRIBUTARY_INGEST_DLQ_URL", "the ingest dead-letter queue")
                .map_err(aws_hint)?;
            (queue, dlq)
        } else {
            (
                SqsWorkQueue::new(sqs.clone(), String::new(), String::new()),
                String::new(),
            )
        };
        Ok(Target::Aws(Box::new(AwsTarget {
            ledger: DynamoLedger::new(dynamodb.clone(), table.clone()),
            registry: DynamoRegistryStore::new(dynamodb, table),
            ingest_queue,
            sqs,
            ingest_dlq_url,
        })))
    }
}

/// The SDK configuration from the standard chain, refused up front (with
/// what to do) when it has no region or yields no credentials, rather than
/// at the first call with the SDK's own words.
pub async fn aws_sdk() -> anyhow::Result<aws_config::SdkConfig> {
    const HOW: &str = "configure them (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_REGION), or use --local DIR";
    let sdk = sdk_config().await;
    if sdk.region().is_none() {
        anyhow::bail!("no AWS region found: {HOW}");
    }
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow::anyhow!("no AWS credentials found: {HOW}"))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| anyhow::anyhow!("no AWS credentials found ({e}): {HOW}"))?;
    Ok(sdk)
}

/// A missing variable, with where its value comes from.
fn aws_hint(error: tributary::lambda::EnvError) -> anyhow::Error {
    anyhow::anyhow!(
        "{error}. Set it from the stack's outputs (`aws cloudformation describe-stacks --stack-name tributary`), or use --local DIR for a demo's back-ends"
    )
}

impl AwsTarget {
    /// Messages in the ingest DLQ (SQS's approximate count).
    pub async fn dlq_depth(&self) -> anyhow::Result<u64> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.ingest_dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .context("cannot read the ingest DLQ's depth")?;
        Ok(out
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }
}
