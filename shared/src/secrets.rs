//! Secrets by reference: the port through which FTP passwords and data keys are
//! fetched, and the local adapter (environment variables and files) the CLI and
//! the demo use. The AWS adapter (Secrets Manager, SSM) implements the same trait.
//! A secret's value never appears in `Debug` output or in an error.

use std::fmt;
use std::future::Future;

use crate::failure::FailureKind;
use crate::registry::SecretRef;

/// A secret's value. `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value, trimming the line end a file or a console adds.
    pub fn new(value: impl Into<String>) -> Self {
        let mut value = value.into();
        let trimmed = value.trim_end_matches(['\r', '\n']).len();
        value.truncate(trimmed);
        SecretValue(value)
    }

    /// The value, for the one place that needs it (login, cipher).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Why a secret could not be fetched. Names the reference, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {reference}: environment variable {var} is not set")]
    MissingEnv { reference: String, var: String },
    #[error("secret {reference}: cannot read {path}: {source}")]
    File {
        reference: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "secret {reference} is in AWS, which this back-end cannot reach; locally, reference it as {{env: VAR}} or {{file: PATH}}"
    )]
    NotLocal { reference: String },
    #[error("an inline secret is never used: store it in Secrets Manager or SSM and reference it")]
    Inline,
    /// The secret or parameter the reference names does not exist.
    #[error("secret {reference} does not exist")]
    NotFound { reference: String },
    /// The store refused: no permission, a key that cannot decrypt it, a value
    /// that is not text.
    #[error("secret {reference}: {message}")]
    Refused { reference: String, message: String },
    /// The store could not be reached (throttling, network): worth a retry.
    #[error("secret {reference}: {message}")]
    Unavailable { reference: String, message: String },
}

impl SecretError {
    /// A missing or unreadable secret is a configuration problem; an unreachable
    /// store is transient.
    pub fn kind(&self) -> FailureKind {
        match self {
            SecretError::Unavailable { .. } => FailureKind::Transient,
            _ => FailureKind::Misconfigured,
        }
    }
}

/// Where secrets are fetched from.
pub trait SecretStore {
    /// The value `reference` points at.
    fn resolve(
        &self,
        reference: &SecretRef,
    ) -> impl Future<Output = Result<SecretValue, SecretError>> + Send;
}

/// Secrets from environment variables and files (`{env: VAR}`, `{file: PATH}`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSecrets;

impl LocalSecrets {
    /// The value `reference` points at, without a runtime.
    pub fn resolve_now(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        match reference {
            SecretRef::Env(var) => {
                std::env::var(var)
                    .map(SecretValue::new)
                    .map_err(|_| SecretError::MissingEnv {
                        reference: reference.to_string(),
                        var: var.clone(),
                    })
            }
            SecretRef::File(path) => {
                std::fs::read_to_string(path)
                    .map(SecretValue::new)
                    .map_err(|source| SecretError::File {
                        reference: reference.to_string(),
                        path: path.clone(),
                        source,
                    })
            }
            SecretRef::SecretsManager(_) | SecretRef::Ssm(_) => Err(SecretError::NotLocal {
                reference: reference.to_string(),
            }),
            SecretRef::Inline => Err(SecretError::Inline),
        }
    }
}

impl SecretStore for LocalSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        self.resolve_now(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_environment_variables_resolve_without_their_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let reference = SecretRef::File(path.to_string_lossy().into_owned());
        let value = LocalSecrets.resolve_now(&reference).unwrap();
        assert_eq!(value.expose(), "s3cret");
        assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
    }

    #[test]
    fn missing_and_remote_secrets_are_misconfigured_and_name_no_value() {
        let missing = SecretRef::Env("TRIBUTARY_TEST_SURELY_UNSET_VAR".into());
        let err = LocalSecrets.resolve_now(&missing).unwrap_err();
        assert_eq!(err.kind(), FailureKind::Misconfigured);
        assert!(
            err.to_string()
                .contains("TRIBUTARY_TEST_SURELY_UNSET_VAR is not set")
        );

        let remote = SecretRef::SecretsManager("tributary/acme/ftp".into());
        let err = LocalSecrets.resolve_now(&remote).unwrap_err();
        assert!(err.to_string().contains("tributary/acme/ftp"), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);

        assert!(matches!(
            LocalSecrets.resolve_now(&SecretRef::Inline),
            Err(SecretError::Inline)
        ));
    }
}
