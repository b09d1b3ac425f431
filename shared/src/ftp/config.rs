//! How to reach one FTP/FTPS source: plain data mapped from the registry's source
//! (with the password resolved from its secret reference), plus client limits.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::registry::Protocol;

/// An FTP password. Its `Debug` output is `Password(<redacted>)` and it has no
/// `Display`, so it cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password resolved from the source's secret reference.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for the `PASS` command only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// How the server's certificate is checked on FTPS connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Verify the certificate chain and that it names `host` (default `true`).
    /// Turning it off is logged at `warn` each time a client is built.
    pub verify_certificate: bool,
    /// A PEM file of CA certificates to trust instead of the built-in roots.
    /// Without it the Mozilla root program (the `webpki-roots` crate, compiled in,
    /// identical on Lambda and laptops) is trusted.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            verify_certificate: true,
            ca_bundle: None,
        }
    }
}

/// Bounds on one directory listing, so that a runaway directory cannot exhaust
/// the poller's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingLimits {
    /// Most lines one listing may have (default 1,000,000).
    pub max_lines: usize,
    /// Most bytes one listing may have, line ends included (default 256 MiB).
    pub max_bytes: u64,
}

impl Default for ListingLimits {
    fn default() -> Self {
        ListingLimits {
            max_lines: 1_000_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Everything needed to connect to and log in to one FTP/FTPS source.
#[derive(Debug, Clone)]
pub struct FtpConfig {
    /// Host name or IP address; also the TLS server name that is verified.
    pub host: String,
    /// Control port.
    pub port: u16,
    /// Plain FTP, explicit or implicit FTPS.
    pub protocol: Protocol,
    /// Passive data connections (default). `false` selects active mode (`PORT`),
    /// which needs the server to reach this machine and so rarely works from Lambda.
    pub passive: bool,
    /// Login name.
    pub username: String,
    /// Login password (redacted in `Debug`).
    pub password: Password,
    /// Certificate checks for FTPS.
    pub tls: TlsConfig,
    /// Connect the passive data channel to the control connection's address instead
    /// of the one in the `PASV` reply: `None` (default) or `Some(true)` always do,
    /// `Some(false)` trusts the reply (see [`super::client::nat_rewrite`]). `EPSV`
    /// replies carry no address, so this only matters when a server answers `PASV`.
    pub nat_workaround: Option<bool>,
    /// Limit for the TCP connect, TLS handshake, greeting and login together.
    pub connect_timeout: Duration,
    /// Limit for any single wait afterwards: a command's reply, or the next bytes
    /// on a data connection. Exceeding it is a transient error.
    pub data_timeout: Duration,
    /// Most connections a [`super::FtpPool`] opens to this source at once.
    pub max_connections: usize,
    /// How many times connect + login is tried when the server answers 421
    /// (too many users, shutting down) or the connection drops (default 3).
    pub connect_attempts: u32,
    /// First delay between those attempts; doubled each time (default 500 ms).
    pub retry_delay: Duration,
    /// Bounds on one listing.
    pub listing_limits: ListingLimits,
}

impl FtpConfig {
    /// A configuration with the defaults: passive, certificate verification on,
    /// automatic NAT workaround, 15 s connect and 60 s data timeouts, 2 connections.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        protocol: Protocol,
        username: impl Into<String>,
        password: Password,
    ) -> Self {
        FtpConfig {
            host: host.into(),
            port,
            protocol,
            passive: true,
            username: username.into(),
            password,
            tls: TlsConfig::default(),
            nat_workaround: None,
            connect_timeout: Duration::from_secs(15),
            data_timeout: Duration::from_secs(60),
            max_connections: 2,
            connect_attempts: 3,
            retry_delay: Duration::from_millis(500),
            listing_limits: ListingLimits::default(),
        }
    }
}

impl FtpConfig {
    /// The configuration of a registry source, with its password already fetched.
    pub fn for_source(source: &crate::registry::Source, password: Password) -> Self {
        let mut config = FtpConfig::new(
            source.host.clone(),
            source.port(),
            source.protocol,
            source.username.clone(),
            password,
        );
        config.passive = source.passive;
        config.tls = TlsConfig {
            verify_certificate: source.tls.verify_certificate,
            ca_bundle: source.tls.ca_bundle.as_ref().map(PathBuf::from),
        };
        config.nat_workaround = source.nat_workaround;
        config.connect_timeout = Duration::from_secs(source.connect_timeout_secs.into());
        config.data_timeout = Duration::from_secs(source.data_timeout_secs.into());
        config.max_connections = usize::try_from(source.max_connections).unwrap_or(1).max(1);
        config
    }
}
