//! FTP/FTPS behind the source port: [`FtpConnector`] opens sessions (a fresh
//! [`FtpClient`] per poll, or one from the source's [`FtpPool`]), and
//! [`FtpClient`] is the [`SourceSession`]. One pool per source is kept for the
//! life of a Lambda container, so consecutive files of one server reuse a
//! logged-in connection. A pool is replaced when its source's definition or
//! password changed (a registry push, a rotated secret), so a stale login is
//! never reused.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::actions::apply_post_action;
use super::client::FtpClient;
use super::config::{FtpConfig, Password};
use super::download::Download;
use super::error::FtpError;
use super::listing::parse_listing;
use super::pool::{FtpPool, PooledClient};
use crate::failure::FailureKind;
use crate::ports::listing::Listing;
use crate::ports::source::{PostActionOutcome, SourceConnector, SourceError, SourceSession};
use crate::registry::{PostAction, Source};
use crate::secrets::SecretValue;

/// Opens FTP/FTPS sessions; holds the pools of every source seen so far.
#[derive(Debug, Default)]
pub struct FtpConnector {
    pools: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    source: Source,
    password: Password,
    pool: FtpPool,
}

impl FtpConnector {
    /// The pool of `source` logging in with `password`, made on first use.
    fn pool_for(&self, source: &Source, password: Password) -> Result<FtpPool, FtpError> {
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

impl SourceConnector for FtpConnector {
    type Session = FtpClient;
    type Pooled = PooledClient;

    async fn connect(
        &self,
        source: &Source,
        password: &SecretValue,
    ) -> Result<FtpClient, FtpError> {
        let config = FtpConfig::for_source(source, Password::new(password.expose()));
        FtpClient::connect(&config).await
    }

    async fn pooled(
        &self,
        source: &Source,
        password: &SecretValue,
    ) -> Result<PooledClient, FtpError> {
        let pool = self.pool_for(source, Password::new(password.expose()))?;
        pool.get().await
    }
}

impl SourceError for FtpError {
    fn kind(&self) -> FailureKind {
        FtpError::kind(self)
    }

    fn is_refusal(&self) -> bool {
        self.reply_code().is_some()
    }
}

impl SourceSession for FtpClient {
    type Error = FtpError;
    type Reader<'a> = Download<'a>;

    async fn list(&mut self, dir: &str, now: DateTime<Utc>, tz: Tz) -> Result<Listing, FtpError> {
        let raw = FtpClient::list(self, dir).await?;
        Ok(parse_listing(&raw.lines, raw.style, now, tz))
    }

    async fn modified(&mut self, path: &str) -> Result<DateTime<Utc>, FtpError> {
        self.mdtm(path).await
    }

    async fn size(&mut self, path: &str) -> Result<u64, FtpError> {
        FtpClient::size(self, path).await
    }

    async fn read(
        &mut self,
        path: &str,
        offset: u64,
        size: Option<u64>,
    ) -> Result<Download<'_>, FtpError> {
        self.retr_from(path, offset, size).await
    }

    async fn post_action(
        &mut self,
        path: &str,
        action: &PostAction,
        now: DateTime<Utc>,
    ) -> Result<PostActionOutcome, FtpError> {
        apply_post_action(self, path, action, now).await
    }

    async fn close(self) {
        self.quit().await;
    }
}
