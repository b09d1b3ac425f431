//! The FTP client's typed error: what failed, on which host and path, with the
//! server's reply, and which [`FailureKind`] that is. Never carries the password.
//!
//! # Mapping to the failure taxonomy
//! | failure | kind |
//! |---|---|
//! | connection refused or reset, timeout, any 4xx reply (421, 425, 426, 450, 451, 452) | transient |
//! | garbled reply, short or long transfer, transfer not confirmed by 226/250 | transient |
//! | 550/551 on `RETR`, `SIZE`, `MDTM` (the file vanished between listing and download) | transient |
//! | 530/532 (login failed, not logged in) | misconfigured |
//! | 550 on a configured directory (`LIST`/`MLSD`, `CWD`) and any other 5xx | misconfigured |
//! | certificate rejected (unknown issuer, wrong name, expired), bad CA bundle | misconfigured |
//! | listing beyond the configured bounds | misconfigured |
//!
//! A file that vanished is transient on purpose: it may be a rename in progress on
//! the tenant's side, so it is retried; if it never comes back the message reaches
//! the dead-letter queue with the reason, and nothing is lost silently.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::failure::FailureKind;

/// The FTP operation that failed, named as in logs and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// TCP connect and greeting.
    Connect,
    /// TLS handshake and `AUTH TLS`/`PBSZ`/`PROT`.
    Tls,
    /// `USER`/`PASS`.
    Login,
    /// `FEAT`, `TYPE`, `OPTS` after login.
    Setup,
    /// `MLSD` or `LIST`.
    List,
    /// `SIZE`.
    Size,
    /// `MDTM`.
    Mdtm,
    /// `MKD`.
    Mkdir,
    /// `CWD`/`PWD`.
    Cwd,
    /// `RNFR`/`RNTO`.
    Rename,
    /// `DELE`.
    Delete,
    /// `RETR` and the transfer that follows.
    Retr,
    /// `NOOP` (health check of a pooled connection).
    Noop,
}

impl Op {
    /// The lowercase name of the operation.
    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Tls => "tls",
            Op::Login => "login",
            Op::Setup => "setup",
            Op::List => "list",
            Op::Size => "size",
            Op::Mdtm => "mdtm",
            Op::Mkdir => "mkdir",
            Op::Cwd => "cwd",
            Op::Rename => "rename",
            Op::Delete => "delete",
            Op::Retr => "retr",
            Op::Noop => "noop",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `" of `path`"` when there is a path, for error messages.
fn of(path: &Option<String>) -> String {
    match path {
        Some(path) => format!(" of `{path}`"),
        None => String::new(),
    }
}

/// Everything that can go wrong talking to an FTP/FTPS server.
#[derive(Debug, thiserror::Error)]
pub enum FtpError {
    /// The TCP connection could not be opened.
    #[error("{host}:{port}: cannot connect: {source}")]
    Connect {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A wait exceeded the configured connect or data timeout.
    #[error("{host}: {op}{} timed out after {after:?}", of(.path))]
    Timeout {
        /// Server host.
        host: String,
        /// What was being waited for.
        op: Op,
        /// The remote path involved, if any.
        path: Option<String>,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server's certificate was rejected (unknown issuer, wrong name, expired…).
    #[error("{host}: TLS certificate rejected: {reason}")]
    Certificate {
        /// Server host.
        host: String,
        /// Why rustls rejected it.
        reason: String,
    },
    /// The TLS session failed for a reason other than the certificate.
    #[error("{host}: TLS failed during {op}: {message}")]
    Tls {
        /// Server host.
        host: String,
        /// The operation during which it failed.
        op: Op,
        /// What the TLS layer said.
        message: String,
    },
    /// The server answered a command with an error reply.
    #[error("{host}: {op}{} refused: {code} {text}", of(.path))]
    Reply {
        /// Server host.
        host: String,
        /// The refused operation.
        op: Op,
        /// The remote path involved, if any.
        path: Option<String>,
        /// The reply code (e.g. 550).
        code: u32,
        /// The reply text, without the code.
        text: String,
    },
    /// The control or data connection broke (reset, closed early).
    #[error("{host}: connection failed during {op}{}: {source}", of(.path))]
    Io {
        /// Server host.
        host: String,
        /// The operation during which it broke.
        op: Op,
        /// The remote path involved, if any.
        path: Option<String>,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The server's reply could not be understood.
    #[error("{host}: unexpected reply during {op}{}: {message}", of(.path))]
    Protocol {
        /// Server host.
        host: String,
        /// The operation.
        op: Op,
        /// The remote path involved, if any.
        path: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// A listing exceeded the configured number of lines or bytes.
    #[error("{host}: listing of `{dir}` exceeds {limit}")]
    ListingTooLarge {
        /// Server host.
        host: String,
        /// The listed directory.
        dir: String,
        /// Which limit, e.g. "1000000 lines".
        limit: String,
    },
    /// A download ended with more or fewer bytes than the expected size.
    #[error(
        "{host}: download of `{path}` incomplete: {received} bytes received, {expected} expected"
    )]
    SizeMismatch {
        /// Server host.
        host: String,
        /// The downloaded path.
        path: String,
        /// Bytes received so far.
        received: u64,
        /// Bytes expected (from the listing or `SIZE`).
        expected: u64,
    },
    /// The configuration cannot work (unreadable CA bundle, invalid server name…).
    #[error("{host}: invalid FTP configuration: {message}")]
    Config {
        /// Server host.
        host: String,
        /// What is wrong.
        message: String,
    },
}

impl FtpError {
    /// Which kind of failure this is (see the module docs for the table).
    pub fn kind(&self) -> FailureKind {
        match self {
            FtpError::Connect { .. }
            | FtpError::Timeout { .. }
            | FtpError::Tls { .. }
            | FtpError::Io { .. }
            | FtpError::Protocol { .. }
            | FtpError::SizeMismatch { .. } => FailureKind::Transient,
            FtpError::Certificate { .. }
            | FtpError::ListingTooLarge { .. }
            | FtpError::Config { .. } => FailureKind::Misconfigured,
            FtpError::Reply { op, code, .. } => reply_kind(*op, *code),
        }
    }

    /// The server host the error is about.
    pub fn host(&self) -> &str {
        match self {
            FtpError::Connect { host, .. }
            | FtpError::Timeout { host, .. }
            | FtpError::Certificate { host, .. }
            | FtpError::Tls { host, .. }
            | FtpError::Reply { host, .. }
            | FtpError::Io { host, .. }
            | FtpError::Protocol { host, .. }
            | FtpError::ListingTooLarge { host, .. }
            | FtpError::SizeMismatch { host, .. }
            | FtpError::Config { host, .. } => host,
        }
    }

    /// The server's reply code, when the error is a refused command.
    pub fn reply_code(&self) -> Option<u32> {
        match self {
            FtpError::Reply { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Wraps this error in an `io::Error`, for use inside `AsyncRead` impls; the
    /// engine gets it back with [`FtpError::find`].
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            FtpError::SizeMismatch { .. } => io::ErrorKind::UnexpectedEof,
            FtpError::Timeout { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// The FTP error inside an `io::Error` returned by a download, if there is one.
    pub fn find(error: &io::Error) -> Option<&FtpError> {
        error.get_ref().and_then(|e| e.downcast_ref::<FtpError>())
    }
}

/// The kind of a refused command, by operation and reply code.
fn reply_kind(op: Op, code: u32) -> FailureKind {
    match code {
        400..=499 => FailureKind::Transient,
        // Any refusal during a download (a session the server expired, a 552 on
        // the confirmation, a vanished file): the file is not known to be bad.
        500..=599 if op == Op::Retr => FailureKind::Transient,
        530 | 532 => FailureKind::Misconfigured,
        550 | 551 if matches!(op, Op::Size | Op::Mdtm) => FailureKind::Transient,
        500..=599 => FailureKind::Misconfigured,
        // A positive reply where another was expected: the session is confused.
        _ => FailureKind::Transient,
    }
}

/// Context for turning suppaftp's errors into [`FtpError`]s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub host: &'a str,
    pub op: Op,
    pub path: Option<&'a str>,
}

impl Ctx<'_> {
    /// Maps a suppaftp error, keeping the reply code and text.
    pub(crate) fn map(&self, error: suppaftp::FtpError) -> FtpError {
        let host = self.host.to_owned();
        let op = self.op;
        let path = self.path.map(str::to_owned);
        match error {
            suppaftp::FtpError::ConnectionError(source) => FtpError::Io {
                host,
                op,
                path,
                source,
            },
            suppaftp::FtpError::SecureError(message) => FtpError::Tls { host, op, message },
            suppaftp::FtpError::UnexpectedResponse(response) => {
                let (code, text) = reply_parts(&response);
                FtpError::Reply {
                    host,
                    op,
                    path,
                    code,
                    text,
                }
            }
            suppaftp::FtpError::BadResponse => FtpError::Protocol {
                host,
                op,
                path,
                message: "malformed reply".to_owned(),
            },
            suppaftp::FtpError::InvalidAddress(e) => FtpError::Protocol {
                host,
                op,
                path,
                message: format!("invalid passive address: {e}"),
            },
            suppaftp::FtpError::DataConnectionAlreadyOpen => FtpError::Protocol {
                host,
                op,
                path,
                message: "a data connection is already open".to_owned(),
            },
        }
    }

    /// A timeout of this operation.
    pub(crate) fn timeout(&self, after: Duration) -> FtpError {
        FtpError::Timeout {
            host: self.host.to_owned(),
            op: self.op,
            path: self.path.map(str::to_owned),
            after,
        }
    }

    /// An I/O failure during this operation.
    pub(crate) fn io(&self, source: io::Error) -> FtpError {
        FtpError::Io {
            host: self.host.to_owned(),
            op: self.op,
            path: self.path.map(str::to_owned),
            source,
        }
    }

    /// A reply that could not be understood.
    pub(crate) fn protocol(&self, message: impl Into<String>) -> FtpError {
        FtpError::Protocol {
            host: self.host.to_owned(),
            op: self.op,
            path: self.path.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Most characters of a reply text kept in an error.
const MAX_REPLY_TEXT: usize = 512;

/// The code and the text (without the code, lines joined, bounded) of a reply.
fn reply_parts(response: &suppaftp::types::Response) -> (u32, String) {
    let code = response.status.code();
    let body = String::from_utf8_lossy(&response.body);
    let prefix = code.to_string();
    let text = body
        .lines()
        .map(|line| {
            line.strip_prefix(prefix.as_str())
                .map(|rest| rest.trim_start_matches(['-', ' ']))
                .unwrap_or(line)
                .trim()
        })
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let text = match text.char_indices().nth(MAX_REPLY_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    };
    (code, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(op: Op, code: u32) -> FtpError {
        FtpError::Reply {
            host: "h".into(),
            op,
            path: Some("/in/a.csv".into()),
            code,
            text: "x".into(),
        }
    }

    #[test]
    fn reply_codes_map_to_the_taxonomy() {
        for code in [421, 425, 426, 450, 451, 452] {
            assert_eq!(
                reply(Op::Retr, code).kind(),
                FailureKind::Transient,
                "{code}"
            );
            assert_eq!(
                reply(Op::Login, code).kind(),
                FailureKind::Transient,
                "{code}"
            );
        }
        assert_eq!(reply(Op::Login, 530).kind(), FailureKind::Misconfigured);
        assert_eq!(reply(Op::List, 550).kind(), FailureKind::Misconfigured);
        assert_eq!(reply(Op::Cwd, 550).kind(), FailureKind::Misconfigured);
        assert_eq!(reply(Op::Retr, 550).kind(), FailureKind::Transient);
        assert_eq!(reply(Op::Size, 550).kind(), FailureKind::Transient);
        assert_eq!(reply(Op::Rename, 553).kind(), FailureKind::Misconfigured);
        // During a download every refusal is worth a retry (an expired session,
        // a 552 on the confirmation): the file is not known to be bad.
        assert_eq!(reply(Op::Retr, 530).kind(), FailureKind::Transient);
        assert_eq!(reply(Op::Retr, 552).kind(), FailureKind::Transient);
    }

    #[test]
    fn reply_text_drops_the_code_and_is_bounded() {
        let response = suppaftp::types::Response::new(
            suppaftp::Status::FileUnavailable,
            b"550 No such file\r\n".to_vec(),
        );
        assert_eq!(reply_parts(&response), (550, "No such file".to_owned()));
        let long = format!("550 {}\r\n", "y".repeat(2000));
        let response =
            suppaftp::types::Response::new(suppaftp::Status::FileUnavailable, long.into_bytes());
        assert_eq!(reply_parts(&response).1.chars().count(), MAX_REPLY_TEXT + 1);
    }

    #[test]
    fn errors_travel_through_io_errors() {
        let error = FtpError::SizeMismatch {
            host: "h".into(),
            path: "/a".into(),
            received: 1,
            expected: 2,
        }
        .into_io();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let inner = FtpError::find(&error).map(FtpError::kind);
        assert_eq!(inner, Some(FailureKind::Transient));
    }
}
