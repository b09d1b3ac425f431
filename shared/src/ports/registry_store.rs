//! The registry store port: where the data platform team pushes the registry
//! and the functions read it from. A push is validated before anything is
//! stored and becomes the next numbered version; old versions are kept for
//! audit and rollback. The text is kept as the team wrote it (YAML or JSON,
//! comments included), never re-serialised.
//!
//! Adapters: [`crate::local::FileRegistryStore`] (one file per version in a
//! directory) and [`crate::aws::dynamodb::DynamoRegistryStore`] (items in the
//! ledger's table). Both number versions with a conditional write, so two
//! concurrent pushes never get the same version: the loser gets `Conflict`.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::failure::FailureKind;
use crate::registry::{LoadError, Registry, Syntax};

/// A registry as stored: its text as the team wrote it (YAML or JSON) and the
/// version the store gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRegistry {
    pub version: u64,
    pub syntax: Syntax,
    pub text: String,
    pub stored_at: DateTime<Utc>,
}

impl StoredRegistry {
    /// Parses and validates the text.
    pub fn load(&self) -> Result<Registry, RegistryStoreError> {
        parse_valid(self.syntax, &self.text)
    }
}

/// Why a registry store call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryStoreError {
    /// The store could not be reached or throttled us, or a local I/O error.
    #[error("registry store {op}: {source}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The text is not a valid registry; every problem as `path: message`
    /// (`line L, column C: message` when it does not even parse).
    #[error("invalid registry, {} problem(s): {}", problems.len(), problems.join("; "))]
    Invalid { problems: Vec<String> },
    /// Another push took this version first; read the current version and
    /// push again.
    #[error("registry version {version} was taken by a concurrent push")]
    Conflict { version: u64 },
    /// What the store holds cannot be read as a registry version (a damaged
    /// file, an item of another shape, a missing table).
    #[error("registry store: corrupt {location}: {reason}")]
    Corrupt { location: String, reason: String },
    /// The text is larger than this store takes.
    #[error("registry is {bytes} bytes, above the limit of {limit} bytes ({limit_of})")]
    TooLarge {
        bytes: u64,
        limit: u64,
        /// Which limit: the registry's own or the back-end's.
        limit_of: &'static str,
    },
}

impl RegistryStoreError {
    /// Unreachable stores and lost races are retried; a bad or oversized
    /// registry and a damaged store need people.
    pub fn kind(&self) -> FailureKind {
        match self {
            RegistryStoreError::Unavailable { .. } | RegistryStoreError::Conflict { .. } => {
                FailureKind::Transient
            }
            RegistryStoreError::Invalid { .. }
            | RegistryStoreError::Corrupt { .. }
            | RegistryStoreError::TooLarge { .. } => FailureKind::Misconfigured,
        }
    }
}

/// Parses `text` as `syntax` and validates it: the registry, or `Invalid`
/// with every problem.
pub fn parse_valid(syntax: Syntax, text: &str) -> Result<Registry, RegistryStoreError> {
    let parsed = match syntax {
        Syntax::Yaml => Registry::from_yaml_str(text),
        Syntax::Json => Registry::from_json_str(text),
    };
    let registry = parsed.map_err(|e| match e {
        LoadError::TooLarge { limit, .. } => RegistryStoreError::TooLarge {
            bytes: text.len() as u64,
            limit,
            limit_of: "the registry's MAX_REGISTRY_BYTES",
        },
        other => RegistryStoreError::Invalid {
            problems: vec![other.to_string()],
        },
    })?;
    registry
        .validate()
        .map_err(|problems| RegistryStoreError::Invalid {
            problems: problems.iter().map(ToString::to_string).collect(),
        })?;
    Ok(registry)
}

/// What every push checks before it stores anything: the text fits the
/// store's `limit` (described by `limit_of`), parses and validates.
pub fn check_push(
    syntax: Syntax,
    text: &str,
    limit: u64,
    limit_of: &'static str,
) -> Result<Registry, RegistryStoreError> {
    let bytes = text.len() as u64;
    if bytes > limit {
        return Err(RegistryStoreError::TooLarge {
            bytes,
            limit,
            limit_of,
        });
    }
    parse_valid(syntax, text)
}

/// Where registry versions are kept.
pub trait RegistryStore: Send + Sync {
    /// The newest version, `None` when none was ever pushed.
    fn current(
        &self,
    ) -> impl Future<Output = Result<Option<StoredRegistry>, RegistryStoreError>> + Send;

    /// Validates `text` (refused with every problem listed if invalid), stores
    /// it as version current+1 with a conditional write (two concurrent pushes
    /// never get the same version; the loser gets a `Conflict` error), and
    /// returns the new version.
    fn push(
        &self,
        syntax: Syntax,
        text: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, RegistryStoreError>> + Send;

    /// A given version (old versions are kept for audit and rollback).
    fn get(
        &self,
        version: u64,
    ) -> impl Future<Output = Result<Option<StoredRegistry>, RegistryStoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../examples/registry.yaml");

    #[test]
    fn a_valid_registry_passes_and_problems_are_listed_with_their_paths() {
        let registry = check_push(Syntax::Yaml, EXAMPLE, u64::MAX, "test").unwrap();
        assert!(!registry.tenants.is_empty());

        let bad = EXAMPLE.replacen("id: acme-retail", "id: ACME Retail!", 1);
        let Err(RegistryStoreError::Invalid { problems }) =
            check_push(Syntax::Yaml, &bad, u64::MAX, "test")
        else {
            panic!("an invalid id is refused");
        };
        assert!(
            problems.iter().any(|p| p.starts_with("tenants[0].id: ")),
            "{problems:?}"
        );

        let err = check_push(Syntax::Json, "{\"version\": 1,", u64::MAX, "test").unwrap_err();
        assert!(matches!(&err, RegistryStoreError::Invalid { problems } if problems.len() == 1));
        assert_eq!(err.kind(), FailureKind::Misconfigured);
    }

    #[test]
    fn too_large_is_refused_before_parsing_and_says_which_limit() {
        let err = check_push(Syntax::Yaml, "not even: [yaml", 5, "a small store").unwrap_err();
        assert!(
            matches!(
                err,
                RegistryStoreError::TooLarge {
                    bytes: 15,
                    limit: 5,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("a small store"), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
    }
}
