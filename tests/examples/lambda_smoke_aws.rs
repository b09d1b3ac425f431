//! The AWS side of `scripts/lambda_smoke.sh`, on the moto server it started:
//! creates the resources the functions' environment names and pushes a
//! registry, through the same adapters the functions use
//! ([`DynamoLedger::create_table`], [`DynamoRegistryStore`]), so the table's key
//! schema and the registry's item layout are written down in one place only.
//!
//! ```sh
//! # AWS_ENDPOINT_URL, AWS_REGION and static credentials in the environment
//! lambda_smoke_aws resources        # prints the functions' TRIBUTARY_* variables, KEY=VALUE
//! lambda_smoke_aws push FILE.yaml   # pushes FILE to $TRIBUTARY_TABLE; prints the version
//! ```

use std::error::Error;

use chrono::Utc;
use tributary::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use tributary::lambda::{s3_client, sdk_config};
use tributary::ports::registry_store::RegistryStore;
use tributary::registry::Syntax;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Resource names: the moto server is fresh each run, so fixed names do.
const TABLE: &str = "tributary-ledger";
const BUCKET: &str = "tributary-raw";
const TOPIC: &str = "tributary-alerts";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["resources"] => resources().await,
        ["push", file] => push(file).await,
        _ => Err("usage: lambda_smoke_aws resources | push REGISTRY.{yaml,json}".into()),
    };
    if let Err(error) = result {
        // The whole chain: SDK errors say little at the top.
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        eprintln!("lambda_smoke_aws: {message}");
        std::process::exit(1);
    }
}

/// Creates the table, bucket, queues with their dead-letter queues and topic;
/// prints the variables naming them.
async fn resources() -> Result<()> {
    let sdk = sdk_config().await;
    DynamoLedger::create_table(&aws_sdk_dynamodb::Client::new(&sdk), TABLE).await?;
    s3_client(&sdk, true)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut queues = Vec::new();
    for (variable, name) in [
        ("TRIBUTARY_POLL_QUEUE_URL", "tributary-poll"),
        ("TRIBUTARY_POLL_DLQ_URL", "tributary-poll-dlq"),
        ("TRIBUTARY_INGEST_QUEUE_URL", "tributary-ingest"),
        ("TRIBUTARY_INGEST_DLQ_URL", "tributary-ingest-dlq"),
        ("TRIBUTARY_CATALOG_QUEUE_URL", "tributary-catalog"),
        ("TRIBUTARY_CATALOG_DLQ_URL", "tributary-catalog-dlq"),
    ] {
        let url = sqs.create_queue().queue_name(name).send().await?.queue_url;
        queues.push((variable, url.ok_or("CreateQueue returned no URL")?));
    }
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name(TOPIC)
        .send()
        .await?
        .topic_arn
        .ok_or("CreateTopic returned no ARN")?;

    println!("TRIBUTARY_TABLE={TABLE}");
    println!("TRIBUTARY_BUCKET={BUCKET}");
    println!("TRIBUTARY_TOPIC_ARN={topic}");
    for (variable, url) in queues {
        println!("{variable}={url}");
    }
    Ok(())
}

/// Pushes the registry in `file` as the next version.
async fn push(file: &str) -> Result<()> {
    let table = std::env::var("TRIBUTARY_TABLE").map_err(|_| "TRIBUTARY_TABLE is not set")?;
    let syntax = file
        .rsplit_once('.')
        .and_then(|(_, extension)| Syntax::from_extension(extension))
        .ok_or_else(|| format!("{file}: the name must end in .yaml or .json"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let sdk = sdk_config().await;
    let store = DynamoRegistryStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let version = store.push(syntax, &text, Utc::now()).await?;
    println!("{version}");
    Ok(())
}
