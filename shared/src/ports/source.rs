//! The source port: a tenant's file server as the poller and the ingester use
//! it. A [`SourceSession`] lists a directory, gives a file's exact modification
//! time and size, streams a file from an offset, and applies a rule's
//! post-action once the file landed. A [`SourceConnector`] opens sessions:
//! fresh ones (the poller's, one per poll, closed after it) or pooled ones (the
//! ingester's, reused across the files of one server for the life of a
//! container). FTP/FTPS ([`crate::ftp::FtpConnector`]) is the first
//! implementation; the poller and the ingester know only this port.
//! `Backends::Sources` is one connector type: a second protocol joins as a
//! connector that dispatches on the source's `protocol`, its session, reader
//! and error an enum over both.

use std::future::Future;
use std::ops::DerefMut;

use chrono::{DateTime, Utc};
/// The server's time zone, as [`SourceSession::list`] takes it.
pub use chrono_tz::Tz;
use tokio::io::AsyncRead;

use super::listing::Listing;
use crate::failure::FailureKind;
use crate::registry::{PostAction, Source};
use crate::secrets::SecretValue;

/// What a post-action did to the file on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostActionOutcome {
    /// Nothing was done.
    Left,
    /// The file was deleted.
    Deleted,
    /// The file was moved to `to`.
    Moved {
        /// The file's new path.
        to: String,
    },
}

/// An error of a source session, on the failure taxonomy.
pub trait SourceError: std::error::Error + Send + Sync + 'static {
    /// Transient (retry), misconfigured (fix the registry or the secret) or
    /// rejected.
    fn kind(&self) -> FailureKind;

    /// Whether the server answered the command with a refusal (a reply
    /// code, a status), as opposed to the connection failing or timing out.
    /// Whether the session is still usable afterwards is the session's own
    /// business (an FTP `421` refuses and closes).
    fn is_refusal(&self) -> bool;
}

/// One logged-in session to a source's server. One command at a time
/// (`&mut self`); a reader from [`SourceSession::read`] borrows the session
/// until the transfer is over.
pub trait SourceSession: Send {
    /// What its commands fail with.
    type Error: SourceError;

    /// The bytes of a file being read; see [`SourceSession::read`].
    type Reader<'a>: AsyncRead + Send + Unpin + 'a
    where
        Self: 'a;

    /// Lists `dir` (not recursively). `now` and `tz` read listing times that
    /// carry no year or no zone (the server's time zone is a source setting).
    /// A directory that does not exist or may not be read is a misconfigured
    /// error.
    fn list(
        &mut self,
        dir: &str,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> impl Future<Output = Result<Listing, Self::Error>> + Send;

    /// The file's modification time, exact to the second.
    fn modified(
        &mut self,
        path: &str,
    ) -> impl Future<Output = Result<DateTime<Utc>, Self::Error>> + Send;

    /// The file's size in bytes.
    fn size(&mut self, path: &str) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Streams `path` from byte `offset` (0: the whole file). `size`, when
    /// known, is the whole file's size: the reader's EOF then means the server
    /// confirmed the transfer and exactly `size - offset` bytes came; a short
    /// or long transfer is an `UnexpectedEof` error, never a quiet EOF.
    fn read(
        &mut self,
        path: &str,
        offset: u64,
        size: Option<u64>,
    ) -> impl Future<Output = Result<Self::Reader<'_>, Self::Error>> + Send;

    /// Applies a rule's post-action to the landed file `path`; `now` names an
    /// archive copy whose name is taken.
    fn post_action(
        &mut self,
        path: &str,
        action: &PostAction,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PostActionOutcome, Self::Error>> + Send;

    /// Logs out and closes the session.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// The error of a connector's sessions.
pub type SessionError<C> = <<C as SourceConnector>::Session as SourceSession>::Error;

/// Opens sessions to sources' servers.
pub trait SourceConnector: Send + Sync + 'static {
    /// A session to one server.
    type Session: SourceSession;

    /// A session on loan from a pool; dropping it gives it back (when it is
    /// still healthy).
    type Pooled: DerefMut<Target = Self::Session> + Send;

    /// A new session to `source`'s server, logged in with `secret`: the
    /// source's login secret, resolved from its reference (for FTP, the
    /// password).
    fn connect(
        &self,
        source: &Source,
        secret: &SecretValue,
    ) -> impl Future<Output = Result<Self::Session, SessionError<Self>>> + Send;

    /// A session from `source`'s pool: an idle one that still answers, else a
    /// new one. A pool is replaced when the source's definition or its
    /// secret changed, so a stale login is never reused.
    fn pooled(
        &self,
        source: &Source,
        secret: &SecretValue,
    ) -> impl Future<Output = Result<Self::Pooled, SessionError<Self>>> + Send;
}
