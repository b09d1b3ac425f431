//! What the Lambda entrypoints (`functions/*`) share at cold start and per
//! invocation: their configuration from the environment ([`env`]), the AWS SDK
//! configuration ([`sdk_config`]), the registry cached per container
//! ([`registry_cache`]), SQS events in and partial batch responses out
//! ([`sqs`]), scheduled events ([`schedule`]), and how a run reports (digests,
//! metrics: [`reporting`]). The domain never reads these; functions hand it
//! what they built.

pub mod env;
pub mod registry_cache;
pub mod reporting;
pub mod schedule;
pub mod sqs;

use std::time::Duration as StdDuration;

use aws_config::{BehaviorVersion, SdkConfig};
use chrono::Utc;
use tokio::time::Instant;
use tracing::warn;

use crate::aws::dynamodb::{DynamoLedger, DynamoRegistryStore};
use crate::aws::secrets::AwsSecrets;
use crate::aws::sns::SnsNotifier;
use crate::aws::sqs::SqsWorkQueue;

pub use env::{Env, EnvError};
pub use registry_cache::{CurrentRegistry, RegistryCache, RegistryCacheError};
pub use reporting::Reporting;

/// The SDK configuration from the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL` for an emulator), with tributary's HTTPS client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::aws::https_client())
        .load()
        .await
}

/// An S3 client; `path_style` for emulators without virtual hosts
/// (`TRIBUTARY_S3_PATH_STYLE=true`). Request checksums are pinned on (CRC32 on
/// every upload) whatever the environment says: the object store sends
/// unsigned payloads and relies on them (see `crate::aws::s3`).
pub fn s3_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenSupported)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The S3 endpoint `config` resolves to, as the S3 client resolves it: one set
/// in code, else `AWS_ENDPOINT_URL_S3` (or the profile's S3 `endpoint_url`),
/// else `AWS_ENDPOINT_URL`; `None` for AWS's own endpoints.
pub fn s3_endpoint(config: &SdkConfig) -> Option<String> {
    if config.get_origin("endpoint_url").is_client_config() {
        return config.endpoint_url().map(str::to_owned);
    }
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    config
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// Whether S3 uploads may go without SigV4 hashing their body (see
/// `crate::aws::s3`): when the connection is TLS (AWS's own endpoints, or an
/// `https://` one) or never leaves this host (`http://` to a loopback address
/// or `localhost`, as emulators in tests and benches). Over plain HTTP to
/// another host the CRC32 that guards an unsigned body could be rewritten on
/// the way, so the payload is signed there.
pub fn unsigned_payload_is_safe(endpoint: Option<&str>) -> bool {
    let Some(endpoint) = endpoint else {
        return true;
    };
    let lower = endpoint.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The adapters every function builds from the same variables:
/// `TRIBUTARY_TABLE` (ledger + registry), `TRIBUTARY_TOPIC_ARN`,
/// `TRIBUTARY_SECRET_TTL_SECS`.
pub struct Common {
    pub ledger: DynamoLedger,
    pub registry: RegistryCache<DynamoRegistryStore>,
    pub notifier: SnsNotifier,
    pub secrets: AwsSecrets,
}

impl Common {
    /// Builds them from `env` and `sdk`; the registry is cached for `registry_ttl`.
    pub fn from_env(
        env: &Env,
        sdk: &SdkConfig,
        registry_ttl: std::time::Duration,
    ) -> Result<Self, EnvError> {
        let table = env.required(
            "TRIBUTARY_TABLE",
            "the DynamoDB table of the ledger and registry",
        )?;
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let secret_ttl = env.number("TRIBUTARY_SECRET_TTL_SECS", 300u64, 0..=3600)?;
        Ok(Common {
            ledger: DynamoLedger::new(dynamodb.clone(), table.clone()),
            registry: RegistryCache::new(DynamoRegistryStore::new(dynamodb, table), registry_ttl),
            notifier: SnsNotifier::new(
                aws_sdk_sns::Client::new(sdk),
                env.required("TRIBUTARY_TOPIC_ARN", "the SNS topic for alerts")?,
            ),
            secrets: AwsSecrets::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                aws_sdk_ssm::Client::new(sdk),
            )
            .with_ttl(std::time::Duration::from_secs(secret_ttl)),
        })
    }
}

/// The queue at `$url_var` with its dead-letter queue at `$dlq_var`.
pub fn queue_from_env(
    env: &Env,
    sqs: &aws_sdk_sqs::Client,
    url_var: &str,
    dlq_var: &str,
    what: &str,
) -> Result<SqsWorkQueue, EnvError> {
    Ok(SqsWorkQueue::new(
        sqs.clone(),
        env.required(url_var, what)?,
        env.required(dlq_var, &format!("the dead-letter queue of {what}"))?,
    ))
}

/// The instant to stop work: the invocation's deadline (milliseconds since
/// the epoch, from the Lambda context) less `reserve`. `None` when the deadline
/// is not in the future: no real invocation starts past its deadline, but
/// `cargo lambda watch` sends a duration (`600000`) in its place. The run is
/// caller then falls back on its own bound.
pub fn deadline(deadline_ms: u64, reserve: StdDuration) -> Option<Instant> {
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    if deadline_ms <= now_ms {
        warn!(
            deadline_ms,
            now_ms, "The invocation's deadline is not in the future; it is ignored."
        );
        return None;
    }
    let remaining = StdDuration::from_millis(deadline_ms - now_ms);
    Some(Instant::now() + remaining.saturating_sub(reserve))
}

/// JSON logs (what CloudWatch Logs Insights reads), filtered by `RUST_LOG`
/// (default `info`): every function's first call.
pub fn init_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_current_span(false)
        .init();
}

/// The function its `main` built from the environment, shared by the
/// invocations; or the reason it cannot start, logged once, readably, before
/// the cold start fails with it.
pub fn cold_start<T, E: std::fmt::Display>(
    built: Result<T, E>,
) -> Result<std::sync::Arc<T>, String> {
    built.map(std::sync::Arc::new).map_err(|error| {
        tracing::error!(%error, "Bad configuration; the function cannot start.");
        error.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_payloads_only_over_tls_or_loopback() {
        for safe in [
            None,
            Some("https://s3.eu-west-1.amazonaws.com"),
            Some("HTTPS://minio.internal:9000"),
            Some("http://127.0.0.1:4566"),
            Some("http://127.3.4.5"),
            Some("http://localhost:9000/"),
            Some("http://[::1]:9000"),
            Some("http://user@127.0.0.1:9000/path"),
        ] {
            assert!(unsigned_payload_is_safe(safe), "{safe:?}");
        }
        for unsafe_ in [
            Some("http://10.0.0.5:9000"),
            Some("http://minio.internal"),
            Some("http://localhost.evil.example"),
            Some("http://127.0.0.1.evil.example"),
            Some("http://[::2]:9000"),
            Some("ftp://127.0.0.1"),
            Some(""),
        ] {
            assert!(!unsigned_payload_is_safe(unsafe_), "{unsafe_:?}");
        }
    }

    #[tokio::test]
    async fn the_s3_endpoint_set_in_code_wins() {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .http_client(crate::aws::https_client())
            .endpoint_url("http://127.0.0.1:4566")
            .load()
            .await;
        assert_eq!(
            s3_endpoint(&config).as_deref(),
            Some("http://127.0.0.1:4566")
        );
    }
}
