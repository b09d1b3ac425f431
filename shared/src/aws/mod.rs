//! The ports on AWS: S3 ([`s3::S3ObjectStore`]), DynamoDB
//! ([`dynamodb::DynamoLedger`], [`dynamodb::DynamoRegistryStore`]), SQS
//! ([`sqs::SqsWorkQueue`]), SNS ([`sns::SnsNotifier`]), Glue
//! ([`glue::GlueJobTrigger`]) and Secrets Manager / SSM ([`secrets::AwsSecrets`]).
//! Each adapter takes an SDK client built once per container (see
//! [`https_client`]) and the resource it acts on; none reads the environment
//! inside a call. The contract suite in `shared/tests/contract/` runs against
//! these adapters on moto (`shared/tests/contract/aws.rs`).
//!
//! SDK errors are sorted by [`classify`] into the failure taxonomy: throttling,
//! 5xx and network failures are transient; access denied and missing resources
//! are misconfigured.

use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

pub mod dynamodb;
pub mod glue;
pub mod s3;
pub mod secrets;
pub mod sns;
pub mod sqs;

/// The functions' adapters on AWS, one per port.
#[derive(Debug, Clone, Copy)]
pub struct Aws;

impl crate::ports::Backends for Aws {
    type Ledger = dynamodb::DynamoLedger;
    type Registry = dynamodb::DynamoRegistryStore;
    type Queue = sqs::SqsWorkQueue;
    type Store = s3::S3ObjectStore;
    type Notifier = sns::SnsNotifier;
    type Secrets = secrets::AwsSecrets;
    type Jobs = glue::GlueJobTrigger;
    type Clock = crate::ports::SystemClock;
    type Sources = crate::ftp::FtpConnector;
}

/// The HTTP client every SDK client uses: hyper 1 with rustls on ring and the
/// system's root certificates. Pass it to `aws_config::defaults(..).http_client(..)`
/// once at cold start (the SDK's default client would pull aws-lc-rs).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// What an SDK error means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttled, a 5xx, a timeout or a network failure: worth a retry.
    Transient,
    /// Access denied, bad credentials, a missing bucket, queue, topic or table.
    Denied,
    /// The service refused the request for another reason; the code says why.
    Refused,
}

/// Error codes AWS services use for throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "KMSThrottlingException",
];

/// Error codes AWS services use for temporary trouble other than throttling.
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServiceException",
    "OperationTimeoutException",
    "KMSInternalException",
    "TransactionInProgressException",
];

/// Error codes that mean the deployment is wrong (permissions, credentials,
/// resources that do not exist).
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
    "NotFoundException",
    "ResourceNotFoundException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
];

/// Sorts an SDK error: no response (timeout, connection) or a throttling/5xx
/// answer is transient, a permission or missing-resource answer is denied,
/// anything else is a refusal the adapter maps by its code.
pub fn classify<E, R>(err: &SdkError<E, R>) -> ErrorClass
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorClass::Transient,
        SdkError::ConstructionFailure(_) => ErrorClass::Refused,
        _ => {
            let code = err.code().unwrap_or_default();
            let status = err.raw_response().map(HasStatus::status_code).unwrap_or(0);
            if throttled(err) || TRANSIENT_CODES.contains(&code) || status >= 500 {
                ErrorClass::Transient
            } else if DENIED_CODES.contains(&code) || status == 403 {
                ErrorClass::Denied
            } else if code.is_empty() && status == 0 {
                // A response that could not be read at all.
                ErrorClass::Transient
            } else {
                ErrorClass::Refused
            }
        }
    }
}

/// Whether the service throttled the call (a throttling code, or HTTP 429):
/// transient, and a sign to slow down rather than of an outage.
pub fn throttled<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    let status = err.raw_response().map(HasStatus::status_code).unwrap_or(0);
    THROTTLING_CODES.contains(&code(err)) || status == 429
}

/// The HTTP status of a raw response, for [`classify`].
pub trait HasStatus {
    /// The status code, 0 when unknown.
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The error's code and message (`NoSuchBucket: The specified bucket does not
/// exist`), or what went wrong before an answer came, for error reasons. AWS
/// messages name resources, never secret values.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
    }
}

/// The SDK error's code, empty when it has none.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> &str {
    err.code().unwrap_or_default()
}
