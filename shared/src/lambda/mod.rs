//! What the Lambda entrypoints (`functions/*`) share at cold start and per
//! invocation: their configuration from the environment ([`env`]), the AWS SDK
//! configuration ([`sdk_config`]), and the registry cached per container
//! ([`registry_cache`]), and SQS events in and partial batch responses out
//! ([`sqs`]). The domain never reads these; functions hand it what
//! they built.

pub mod env;
pub mod registry_cache;
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};

pub use env::{Env, EnvError};
pub use registry_cache::{CurrentRegistry, RegistryCache, RegistryCacheError};

/// The SDK configuration from the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL` for an emulator), with tributary's HTTPS client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::aws::https_client())
        .load()
        .await
}

/// An S3 client; `path_style` for emulators without virtual hosts
/// (`TRIBUTARY_S3_PATH_STYLE=true`).
pub fn s3_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}
