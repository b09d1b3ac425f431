//! The registry as a function sees it: the newest stored version, parsed and
//! validated once and kept for a short time per container, so a burst of
//! invocations reads the table once and a pushed registry is seen within the
//! TTL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ports::registry_store::{RegistryStore, RegistryStoreError};
use crate::registry::Registry;

/// A loaded registry with the version the store gave it.
#[derive(Debug)]
pub struct CurrentRegistry {
    pub version: u64,
    pub registry: Registry,
}

/// Why no registry could be had.
#[derive(Debug, thiserror::Error)]
pub enum RegistryCacheError {
    #[error("no registry has been pushed yet: push one with `tributary registry push`")]
    Empty,
    #[error(transparent)]
    Store(#[from] RegistryStoreError),
}

impl RegistryCacheError {
    /// An empty store is misconfigured; the store's errors keep their kind.
    pub fn kind(&self) -> crate::failure::FailureKind {
        match self {
            RegistryCacheError::Empty => crate::failure::FailureKind::Misconfigured,
            RegistryCacheError::Store(e) => e.kind(),
        }
    }
}

/// The current registry, cached for `ttl`.
pub struct RegistryCache<R> {
    store: R,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<CurrentRegistry>)>>,
}

impl<R: RegistryStore> RegistryCache<R> {
    /// The store underneath.
    pub fn store(&self) -> &R {
        &self.store
    }

    /// The store underneath, to build a cache with another TTL.
    pub fn into_store(self) -> R {
        self.store
    }

    /// A cache over `store`.
    pub fn new(store: R, ttl: Duration) -> Self {
        RegistryCache {
            store,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The current registry: the cached one while fresh, else the store's newest.
    pub async fn current(&self) -> Result<Arc<CurrentRegistry>, RegistryCacheError> {
        if let Some((at, current)) = &*self.cached.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(current));
        }
        self.reload().await
    }

    /// The store's newest registry, whatever the cache holds: for a message
    /// naming a source or rule the cached registry does not know (it may have
    /// been pushed since), before calling that message misconfigured.
    pub async fn reload(&self) -> Result<Arc<CurrentRegistry>, RegistryCacheError> {
        let stored = self
            .store
            .current()
            .await?
            .ok_or(RegistryCacheError::Empty)?;
        let current = Arc::new(CurrentRegistry {
            version: stored.version,
            registry: stored.load()?,
        });
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), Arc::clone(&current)));
        Ok(current)
    }
}
