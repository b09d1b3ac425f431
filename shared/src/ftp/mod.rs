//! The FTP/FTPS source: an async client the poller lists with and the ingester
//! streams files from, a per-source connection pool, and the post-actions applied
//! to a file once it landed.
//!
//! - [`config`]: [`FtpConfig`] (host, protocol, credentials, TLS, timeouts, limits).
//! - [`client`]: [`FtpClient`]: connect + login, `list` (raw MLSD/LIST lines),
//!   `size`, `mdtm`, `mkdir`, `rename`, `delete`, `retr` (from an offset with `REST`).
//! - [`download`]: [`Download`], the `AsyncRead` of a file whose EOF means
//!   "confirmed by the server, size matched".
//! - [`pool`]: [`FtpPool`], at most `max_connections` per source, reused.
//! - [`connector`]: [`FtpConnector`], FTP behind the source port
//!   ([`crate::ports::source`]): fresh or pooled sessions, one pool per source.
//! - [`actions`]: [`PostAction`] leave / delete / move to an archive folder.
//! - [`error`]: [`FtpError`] and its [`crate::failure::FailureKind`].
//! - `embedded` (feature `embedded-ftp`): an embedded libunftp server and a test PKI, for
//!   hermetic tests and the demo.
//!
//! - [`listing`]: the parser that turns [`RawListing`] lines (`LIST`, `MLSD`) into
//!   typed entries.

pub mod actions;
pub mod client;
pub mod config;
pub mod connector;
pub mod download;
#[cfg(feature = "embedded-ftp")]
pub mod embedded;
pub mod error;
pub mod listing;
pub mod pool;
pub mod raw_listing;
pub mod remote_path;
mod tls;

pub use actions::apply_post_action;
pub use client::{FtpClient, ServerFeatures};
pub use config::{FtpConfig, ListingLimits, Password, Protocol, TlsConfig};
pub use connector::FtpConnector;
pub use download::Download;
pub use error::{FtpError, Op};
pub use pool::{FtpPool, PooledClient};
pub use raw_listing::{ListingStyle, RawListing};
