//! A small connection pool per source: at most `max_connections` logged-in
//! clients at once, idle ones reused (checked with `NOOP` when they sat idle).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::debug;

use super::client::FtpClient;
use super::config::FtpConfig;
use super::error::FtpError;
use super::tls::TlsSetup;

/// Idle clients older than this are checked with `NOOP` before reuse.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(15);

/// Connections to one source. Cheap to clone; clones share the connections.
#[derive(Clone, Debug)]
pub struct FtpPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<FtpConfig>,
    tls: Option<Arc<TlsSetup>>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<FtpClient>>,
}

impl FtpPool {
    /// A pool for `config`. Reads the CA bundle and checks the TLS settings now,
    /// so a bad configuration fails here (misconfigured), not on first use.
    pub fn new(config: FtpConfig) -> Result<FtpPool, FtpError> {
        let tls = TlsSetup::for_config(&config)?.map(Arc::new);
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        Ok(FtpPool {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                tls,
                permits,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A logged-in client: an idle one if there is one that still answers, else a
    /// new connection. Waits while `max_connections` clients are out.
    pub async fn get(&self) -> Result<PooledClient, FtpError> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| FtpError::Config {
                host: self.inner.config.host.clone(),
                message: "the connection pool is closed".to_owned(),
            })?;
        while let Some(mut client) = self.pop_idle() {
            if client.last_used.elapsed() < CHECK_AFTER_IDLE || client.noop().await.is_ok() {
                debug!(host = %self.inner.config.host, "Reusing a pooled FTP connection.");
                return Ok(PooledClient {
                    client,
                    pool: self.clone(),
                    _permit: permit,
                });
            }
        }
        let client =
            FtpClient::connect_with(Arc::clone(&self.inner.config), self.inner.tls.clone()).await?;
        Ok(PooledClient {
            client,
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// How many idle connections the pool holds.
    pub fn idle_count(&self) -> usize {
        self.inner.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }

    /// Logs out of every idle connection.
    pub async fn close(&self) {
        let idle = match self.inner.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for client in idle {
            client.quit().await;
        }
    }

    fn pop_idle(&self) -> Option<FtpClient> {
        self.inner.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn put_back(&self, client: FtpClient) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push(client);
        }
    }
}

/// A client on loan from an [`FtpPool`]; back to the pool on drop if healthy,
/// else closed (`QUIT` in the background).
#[derive(Debug)]
pub struct PooledClient {
    client: FtpClient,
    pool: FtpPool,
    _permit: OwnedSemaphorePermit,
}

impl Deref for PooledClient {
    type Target = FtpClient;

    fn deref(&self) -> &FtpClient {
        &self.client
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut FtpClient {
        &mut self.client
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        if self.client.is_healthy() {
            self.pool.put_back(self.client.detach());
        }
    }
}
