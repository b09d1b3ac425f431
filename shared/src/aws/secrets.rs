//! Secrets by reference on AWS: Secrets Manager (`SecretString`, or a UTF-8
//! `SecretBinary`) and SSM Parameter Store (`SecureString`, decrypted). Values
//! are cached per container for a short TTL, so a poll run that logs in to
//! a hundred sources of one tenant fetches the password once, and a rotated
//! secret is picked up within the TTL. Environment and file references resolve
//! locally, as in [`LocalSecrets`]. No value ever reaches a log or an error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use super::{ErrorClass, classify, code, describe};
use crate::registry::SecretRef;
use crate::secrets::{LocalSecrets, SecretError, SecretStore, SecretValue};

/// How long a fetched value is reused by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Secrets Manager and SSM, with a per-container cache.
#[derive(Debug)]
pub struct AwsSecrets {
    secrets_manager: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
    ttl: Duration,
    cache: Mutex<HashMap<SecretRef, (Instant, SecretValue)>>,
}

impl AwsSecrets {
    /// Secrets through these clients (built once per container), cached for
    /// [`DEFAULT_TTL`].
    pub fn new(secrets_manager: aws_sdk_secretsmanager::Client, ssm: aws_sdk_ssm::Client) -> Self {
        AwsSecrets {
            secrets_manager,
            ssm,
            ttl: DEFAULT_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Caches values for `ttl` instead (zero: fetch every time).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn cached(&self, reference: &SecretRef) -> Option<SecretValue> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (fetched, value) = cache.get(reference)?;
        (fetched.elapsed() < self.ttl).then(|| value.clone())
    }

    fn remember(&self, reference: &SecretRef, value: &SecretValue) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (fetched, _)| fetched.elapsed() < self.ttl);
        cache.insert(reference.clone(), (Instant::now(), value.clone()));
    }

    async fn fetch_secrets_manager(
        &self,
        reference: &SecretRef,
        id: &str,
    ) -> Result<SecretValue, SecretError> {
        let out = self
            .secrets_manager
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| error(reference, e))?;
        if let Some(text) = out.secret_string() {
            return Ok(SecretValue::new(text));
        }
        let bytes = out.secret_binary().ok_or_else(|| SecretError::Refused {
            reference: reference.to_string(),
            message: "the secret holds no value".into(),
        })?;
        let text =
            String::from_utf8(bytes.as_ref().to_vec()).map_err(|_| SecretError::Refused {
                reference: reference.to_string(),
                message: "the secret's binary value is not UTF-8 text".into(),
            })?;
        Ok(SecretValue::new(text))
    }

    async fn fetch_ssm(
        &self,
        reference: &SecretRef,
        name: &str,
    ) -> Result<SecretValue, SecretError> {
        let out = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| error(reference, e))?;
        out.parameter()
            .and_then(|p| p.value())
            .map(SecretValue::new)
            .ok_or_else(|| SecretError::Refused {
                reference: reference.to_string(),
                message: "the parameter holds no value".into(),
            })
    }
}

/// Maps an SDK error onto the secret errors; AWS messages name the secret,
/// never its value.
fn error<E>(
    reference: &SecretRef,
    err: SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
) -> SecretError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let reference = reference.to_string();
    if matches!(
        code(&err),
        "ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound"
    ) {
        return SecretError::NotFound { reference };
    }
    match classify(&err) {
        ErrorClass::Transient => SecretError::Unavailable {
            reference,
            message: describe(&err),
        },
        ErrorClass::Denied | ErrorClass::Refused => SecretError::Refused {
            reference,
            message: describe(&err),
        },
    }
}

impl SecretStore for AwsSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        if let Some(value) = self.cached(reference) {
            return Ok(value);
        }
        let value = match reference {
            SecretRef::SecretsManager(id) => self.fetch_secrets_manager(reference, id).await?,
            SecretRef::Ssm(name) => self.fetch_ssm(reference, name).await?,
            SecretRef::Env(_) | SecretRef::File(_) | SecretRef::Inline => {
                return LocalSecrets.resolve_now(reference);
            }
        };
        self.remember(reference, &value);
        Ok(value)
    }
}
