//! One connection pool per source, kept for the life of a Lambda container so
//! that consecutive files of one server reuse a logged-in connection. A pool is
//! replaced when its source's definition or password changed (a registry push,
//! a rotated secret), so a stale login is never reused.

use std::collections::HashMap;
use std::sync::Mutex;

use super::config::{FtpConfig, Password};
use super::error::FtpError;
use super::pool::FtpPool;
use crate::registry::Source;

/// The pools of every source seen so far.
#[derive(Debug, Default)]
pub struct SourcePools {
    pools: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    source: Source,
    password: Password,
    pool: FtpPool,
}

impl SourcePools {
    /// The pool of `source` logging in with `password`, made on first use.
    pub fn pool_for(&self, source: &Source, password: Password) -> Result<FtpPool, FtpError> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = pools.get(&source.id)
            && entry.source == *source
            && entry.password == password
        {
            return Ok(entry.pool.clone());
        }
        let pool = FtpPool::new(FtpConfig::for_source(source, password.clone()))?;
        pools.insert(
            source.id.clone(),
            Entry {
                source: source.clone(),
                password,
                pool: pool.clone(),
            },
        );
        Ok(pool)
    }
}
