//! The async FTP/FTPS client (suppaftp on tokio + rustls): connect and log in,
//! list a directory (MLSD when the server announces it, else LIST), `SIZE`,
//! `MDTM`, `MKD`, `RNFR`/`RNTO`, `DELE`, and `RETR` as a stream
//! ([`super::download::Download`]).
//!
//! Every wait is bounded (`connect_timeout` for connect + TLS + login, then
//! `data_timeout` per reply or per read); every error is an [`FtpError`] with the
//! host, the path and the server's reply. The password is sent in `PASS` and
//! nowhere else: suppaftp's own logging is compiled out (its `no-log` feature),
//! since at trace level it would print the `PASS` command.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use suppaftp::tokio::AsyncRustlsFtpStream;
use suppaftp::types::FileType;
use suppaftp::{FtpResult, Mode, Status};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::config::{FtpConfig, Protocol};
use super::download::Download;
use super::error::{Ctx, FtpError, Op};
use super::raw_listing::{ListingStyle, RawListing};
use super::remote_path;
use super::tls::{CertificateVerdict, TlsSetup};

/// The suppaftp stream type used for every protocol: with rustls compiled in, a
/// plain FTP session is the same type with no TLS context.
pub(crate) type Stream = AsyncRustlsFtpStream;

/// What the server announced in `FEAT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerFeatures {
    /// `MLSD`/`MLST` (RFC 3659).
    pub mlsd: bool,
    /// `EPSV` (RFC 2428).
    pub epsv: bool,
    /// `UTF8` (RFC 2640); `OPTS UTF8 ON` is sent when present.
    pub utf8: bool,
}

/// One logged-in control connection to an FTP/FTPS server.
///
/// Use it for one thing at a time (`&mut self`); a [`Download`] borrows it until
/// the transfer is over. Dropping it sends `QUIT` in the background (best effort);
/// [`FtpClient::quit`] does it in the foreground.
pub struct FtpClient {
    stream: Option<Stream>,
    config: Arc<FtpConfig>,
    features: ServerFeatures,
    home: String,
    pub(crate) healthy: bool,
    /// Operations started and not yet finished. A future dropped mid-command
    /// (a caller's timeout, `select!`) leaves this above zero: the session may
    /// hold an unread reply or sit in another directory, so it is not reused.
    in_flight: u32,
    pub(crate) last_used: Instant,
}

impl std::fmt::Debug for FtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpClient")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("protocol", &self.config.protocol)
            .field("features", &self.features)
            .field("healthy", &self.healthy)
            .finish_non_exhaustive()
    }
}

impl FtpClient {
    /// Connects and logs in to the server of `config`, retrying a 421 reply or a
    /// connection dropped at greeting (bounded exponential backoff, at most
    /// `connect_attempts` tries).
    pub async fn connect(config: &FtpConfig) -> Result<FtpClient, FtpError> {
        let tls = TlsSetup::for_config(config)?.map(Arc::new);
        Self::connect_with(Arc::new(config.clone()), tls).await
    }

    /// [`FtpClient::connect`] with the TLS trust settings already built (by the pool).
    pub(crate) async fn connect_with(
        config: Arc<FtpConfig>,
        tls: Option<Arc<TlsSetup>>,
    ) -> Result<FtpClient, FtpError> {
        // A line break would end the USER/PASS command early (a secret stored
        // with a trailing newline): a configuration error, not a retry.
        for (what, value) in [
            ("username", config.username.as_str()),
            ("password", config.password.expose()),
        ] {
            if value.contains(['\r', '\n']) {
                return Err(FtpError::Config {
                    host: config.host.clone(),
                    message: format!(
                        "the {what} contains a line break (a secret stored with a trailing newline?)"
                    ),
                });
            }
        }
        let attempts = config.connect_attempts.max(1);
        let mut delay = config.retry_delay;
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = tokio::time::timeout(
                config.connect_timeout,
                connect_once(&config, tls.as_deref()),
            )
            .await;
            let error = match outcome {
                Ok(Ok(client)) => {
                    debug!(
                        host = %config.host,
                        port = config.port,
                        protocol = ?config.protocol,
                        features = ?client.features,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "Connected to FTP server."
                    );
                    return Ok(client);
                }
                Ok(Err(error)) => error,
                Err(_) => FtpError::Timeout {
                    host: config.host.clone(),
                    op: Op::Connect,
                    path: None,
                    after: config.connect_timeout,
                },
            };
            if attempt >= attempts || !worth_retrying(&error) {
                return Err(error);
            }
            warn!(
                host = %config.host,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "FTP connect failed; retrying."
            );
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(Duration::from_secs(10));
            attempt += 1;
        }
    }

    /// What the server announced in `FEAT`.
    pub fn features(&self) -> ServerFeatures {
        self.features
    }

    /// The configuration this client was connected with.
    pub fn config(&self) -> &FtpConfig {
        &self.config
    }

    /// Whether the connection can still be used (no broken connection, timeout or
    /// abandoned transfer so far).
    pub fn is_healthy(&self) -> bool {
        self.healthy && self.in_flight == 0 && self.stream.is_some()
    }

    /// Lists `dir`: `MLSD dir` when the server announces MLSD, else `CWD dir` +
    /// `LIST` (so a missing directory is a 550 rather than an empty listing, and
    /// names are not taken for `ls` options or globs). Bounded by the configured
    /// [`super::ListingLimits`]; complete only once the server confirmed it.
    pub async fn list(&mut self, dir: &str) -> Result<RawListing, FtpError> {
        self.in_flight += 1;
        let listed = self.list_in_flight(dir).await;
        self.in_flight -= 1;
        listed
    }

    async fn list_in_flight(&mut self, dir: &str) -> Result<RawListing, FtpError> {
        let started = Instant::now();
        let style = if self.features.mlsd {
            ListingStyle::Mlsd
        } else {
            ListingStyle::List
        };
        let command = match style {
            ListingStyle::Mlsd => format!("MLSD {dir}"),
            ListingStyle::List => {
                self.cwd(dir, Op::List).await?;
                "LIST".to_owned()
            }
        };
        let lines = self.read_listing(dir, command).await;
        if style == ListingStyle::List && self.healthy {
            let home = self.home.clone();
            let back = self.cwd(&home, Op::Cwd).await;
            if back.is_err() {
                self.healthy = false;
            }
        }
        let lines = lines?;
        info!(
            host = %self.config.host,
            dir,
            style = ?style,
            lines = lines.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Listed FTP directory."
        );
        Ok(RawListing {
            style,
            dir: dir.to_owned(),
            lines,
        })
    }

    /// The size in bytes of `path` (`SIZE`, in binary mode).
    pub async fn size(&mut self, path: &str) -> Result<u64, FtpError> {
        let size = self
            .run(Op::Size, Some(path), async |s| s.size(path).await)
            .await?;
        Ok(size as u64)
    }

    /// The modification time of `path` (`MDTM`, UTC per RFC 3659).
    pub async fn mdtm(&mut self, path: &str) -> Result<DateTime<Utc>, FtpError> {
        let time = self
            .run(Op::Mdtm, Some(path), async |s| s.mdtm(path).await)
            .await?;
        Ok(time.and_utc())
    }

    /// Whether `path` is a file the server can size: `SIZE` answers, or 550.
    pub async fn file_exists(&mut self, path: &str) -> Result<bool, FtpError> {
        match self.size(path).await {
            Ok(_) => Ok(true),
            Err(FtpError::Reply { code: 550, .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Creates the directory `path` (`MKD`).
    pub async fn mkdir(&mut self, path: &str) -> Result<(), FtpError> {
        self.run(Op::Mkdir, Some(path), async |s| s.mkdir(path).await)
            .await
    }

    /// Creates `path` and any missing parents, like `mkdir -p`.
    pub async fn mkdir_all(&mut self, path: &str) -> Result<(), FtpError> {
        for prefix in remote_path::prefixes(path) {
            match self.mkdir(&prefix).await {
                Ok(()) => debug!(host = %self.config.host, dir = %prefix, "Created FTP directory."),
                Err(error @ FtpError::Reply { .. }) => {
                    // Most likely it exists already: check by entering it.
                    if self.cwd(&prefix, Op::Mkdir).await.is_err() {
                        return Err(error);
                    }
                    let home = self.home.clone();
                    self.cwd(&home, Op::Cwd).await?;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Renames (moves) `from` to `to` (`RNFR`/`RNTO`). Servers differ when `to`
    /// exists (vsftpd overwrites it): check first, see [`super::actions`].
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), FtpError> {
        self.run(Op::Rename, Some(from), async |s| s.rename(from, to).await)
            .await
    }

    /// Deletes the file `path` (`DELE`).
    pub async fn delete(&mut self, path: &str) -> Result<(), FtpError> {
        self.run(Op::Delete, Some(path), async |s| s.rm(path).await)
            .await
    }

    /// Checks that the connection still answers (`NOOP`).
    pub async fn noop(&mut self) -> Result<(), FtpError> {
        self.run(Op::Noop, None, async |s| s.noop().await).await
    }

    /// Starts downloading `path` (`RETR`, binary) and returns the bytes as an
    /// `AsyncRead` with bounded memory. See [`Download`] for the completion contract:
    /// read to EOF; the final read returns EOF only after the server confirmed the
    /// transfer and the byte count matched `expected_size` (when known).
    pub async fn retr(
        &mut self,
        path: &str,
        expected_size: Option<u64>,
    ) -> Result<Download<'_>, FtpError> {
        self.retr_from(path, 0, expected_size).await
    }

    /// [`FtpClient::retr`] from byte `offset` (`REST offset` before `RETR`, RFC
    /// 3659 stream-mode restart; nothing is sent for offset 0). `file_size`,
    /// when known, is the whole file's: the download then ends only after
    /// exactly `file_size - offset` bytes. An offset past the known size is a
    /// protocol error, as no transfer could satisfy it.
    pub async fn retr_from(
        &mut self,
        path: &str,
        offset: u64,
        file_size: Option<u64>,
    ) -> Result<Download<'_>, FtpError> {
        let expected_size = match file_size {
            Some(size) if offset > size => {
                return Err(Ctx {
                    host: &self.config.host,
                    op: Op::Retr,
                    path: Some(path),
                }
                .protocol(format!(
                    "cannot resume at byte {offset} of a {size}-byte file"
                )));
            }
            Some(size) => Some(size - offset),
            None => None,
        };
        let restart = usize::try_from(offset).map_err(|_| {
            Ctx {
                host: &self.config.host,
                op: Op::Retr,
                path: Some(path),
            }
            .protocol(format!("offset {offset} does not fit this platform"))
        })?;
        // REST is sent with the transfer command, so a retry sets it again.
        let retr = async |s: &mut Stream| {
            s.resume_transfer(restart).await?;
            s.retr_as_stream(path).await
        };
        let first = self.run(Op::Retr, Some(path), retr).await;
        let transfer = match first {
            Err(error) if self.epsv_refused(&error) => {
                self.fall_back_to_pasv(&error);
                let retr = async |s: &mut Stream| {
                    s.resume_transfer(restart).await?;
                    s.retr_as_stream(path).await
                };
                self.run(Op::Retr, Some(path), retr).await?
            }
            other => other?,
        };
        debug!(host = %self.config.host, path, offset, expected_size, "Download started.");
        Ok(Download::new(self, transfer, path, expected_size))
    }

    /// Logs out (`QUIT`) and closes the connection.
    pub async fn quit(mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.quit()).await;
        }
    }

    /// Moves the connection into a new client, leaving this one closed (its drop
    /// then does nothing): how a pool takes a client back.
    pub(crate) fn detach(&mut self) -> FtpClient {
        FtpClient {
            stream: self.stream.take(),
            config: Arc::clone(&self.config),
            features: self.features,
            home: self.home.clone(),
            healthy: self.healthy,
            in_flight: self.in_flight,
            last_used: self.last_used,
        }
    }

    /// The data timeout, for the download reader.
    pub(crate) fn data_timeout(&self) -> Duration {
        self.config.data_timeout
    }

    /// The host, for the download reader's errors.
    pub(crate) fn host(&self) -> &str {
        &self.config.host
    }

    async fn cwd(&mut self, dir: &str, op: Op) -> Result<(), FtpError> {
        self.run(op, Some(dir), async |s| s.cwd(dir).await).await
    }

    /// Runs one suppaftp command under the data timeout, maps its error and notes
    /// whether the connection is still usable.
    async fn run<T>(
        &mut self,
        op: Op,
        path: Option<&str>,
        command: impl AsyncFnOnce(&mut Stream) -> FtpResult<T>,
    ) -> Result<T, FtpError> {
        let config = Arc::clone(&self.config);
        let ctx = Ctx {
            host: &config.host,
            op,
            path,
        };
        let Some(stream) = self.stream.as_mut() else {
            return Err(ctx.protocol("the connection is closed"));
        };
        self.in_flight += 1;
        let outcome = tokio::time::timeout(config.data_timeout, command(stream)).await;
        self.in_flight -= 1;
        self.last_used = Instant::now();
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(ctx.map(error)),
            Err(_) => Err(ctx.timeout(config.data_timeout)),
        };
        if let Err(error) = &result
            && breaks_session(error)
        {
            self.healthy = false;
        }
        result
    }

    /// Whether `error` is the server refusing EPSV although it announced it
    /// (500/501/502/522, or 425 when the extended data port is unreachable, as
    /// behind some NATs and firewalls): worth one more try with `PASV`.
    fn epsv_refused(&self, error: &FtpError) -> bool {
        self.features.epsv
            && self.config.passive
            && self.healthy
            && matches!(error.reply_code(), Some(425 | 500 | 501 | 502 | 522))
    }

    /// Switches this connection from EPSV to PASV.
    fn fall_back_to_pasv(&mut self, error: &FtpError) {
        warn!(
            host = %self.config.host,
            error = %error,
            "The server refused EPSV although it announced it; using PASV on this connection."
        );
        self.features.epsv = false;
        if let Some(stream) = self.stream.as_mut() {
            stream.set_mode(Mode::Passive);
        }
    }

    /// Sends a listing command and reads its lines within the limits.
    async fn read_listing(&mut self, dir: &str, command: String) -> Result<Vec<String>, FtpError> {
        let expected = [Status::AboutToSend, Status::AlreadyOpen];
        let first = self
            .run(Op::List, Some(dir), async |s| {
                s.custom_data_command(command.clone(), &expected).await
            })
            .await;
        let (_, transfer) = match first {
            Err(error) if self.epsv_refused(&error) => {
                self.fall_back_to_pasv(&error);
                self.run(Op::List, Some(dir), async |s| {
                    s.custom_data_command(command, &expected).await
                })
                .await?
            }
            other => other?,
        };
        let config = Arc::clone(&self.config);
        let ctx = Ctx {
            host: &config.host,
            op: Op::List,
            path: Some(dir),
        };
        let limits = config.listing_limits;
        let too_large = |limit: String| FtpError::ListingTooLarge {
            host: config.host.clone(),
            dir: dir.to_owned(),
            limit,
        };
        let mut reader = BufReader::with_capacity(64 * 1024, transfer);
        let mut lines = Vec::new();
        let mut total: u64 = 0;
        let mut line = Vec::new();
        let read_all = async {
            loop {
                line.clear();
                let allowed = limits.max_bytes.saturating_sub(total).saturating_add(1);
                let mut bounded = (&mut reader).take(allowed);
                let read = bounded.read_until(b'\n', &mut line);
                let n = match tokio::time::timeout(config.data_timeout, read).await {
                    Ok(Ok(n)) => n,
                    Ok(Err(error)) => return Err(ctx.io(error)),
                    Err(_) => return Err(ctx.timeout(config.data_timeout)),
                };
                if n == 0 {
                    return Ok(());
                }
                total += n as u64;
                if total > limits.max_bytes {
                    return Err(too_large(format!("{} bytes", limits.max_bytes)));
                }
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.is_empty() {
                    continue;
                }
                if lines.len() >= limits.max_lines {
                    return Err(too_large(format!("{} lines", limits.max_lines)));
                }
                lines.push(String::from_utf8_lossy(text).into_owned());
            }
        };
        if let Err(error) = read_all.await {
            // The transfer is abandoned mid-way: do not reuse this session.
            self.healthy = false;
            return Err(error);
        }
        match tokio::time::timeout(config.data_timeout, reader.into_inner().finish()).await {
            Ok(Ok(())) => Ok(lines),
            Ok(Err(error)) => {
                let error = ctx.map(error);
                if breaks_session(&error) {
                    self.healthy = false;
                }
                Err(error)
            }
            Err(_) => {
                self.healthy = false;
                Err(ctx.timeout(config.data_timeout))
            }
        }
    }
}

impl Drop for FtpClient {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        // Best effort: QUIT in the background if a runtime is still there.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.quit()).await;
            });
        }
    }
}

/// Whether a failed connect or login is worth another try: the server said 421
/// (too many users, shutting down), or it dropped the connection at greeting.
fn worth_retrying(error: &FtpError) -> bool {
    match error {
        FtpError::Reply { code, .. } => *code == 421,
        FtpError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// Whether an error leaves the control connection in an unknown state.
fn breaks_session(error: &FtpError) -> bool {
    match error {
        // A refusal leaves the session as it was, except "closing" (421).
        FtpError::Reply { code, .. } => *code == 421,
        FtpError::Certificate { .. } | FtpError::Config { .. } => false,
        // Broken connections, timeouts, garbled replies, abandoned transfers.
        _ => true,
    }
}

/// One attempt at connect + TLS + login + session setup.
async fn connect_once(
    config: &Arc<FtpConfig>,
    tls: Option<&TlsSetup>,
) -> Result<FtpClient, FtpError> {
    let host = config.host.as_str();
    let ctx = |op| Ctx {
        host,
        op,
        path: None,
    };
    let connect_error = |source| FtpError::Connect {
        host: host.to_owned(),
        port: config.port,
        source,
    };
    let open = async || -> Result<(TcpStream, SocketAddr), FtpError> {
        let tcp = TcpStream::connect((host, config.port))
            .await
            .map_err(connect_error)?;
        let peer = tcp.peer_addr().map_err(connect_error)?;
        let _ = tcp.set_nodelay(true);
        Ok((tcp, peer))
    };

    let (mut stream, peer) = match (config.protocol, tls) {
        (Protocol::Ftp, _) => {
            let (tcp, peer) = open().await?;
            let stream = Stream::connect_with_stream(tcp)
                .await
                .map_err(|e| ctx(Op::Connect).map(e))?;
            (stream, peer)
        }
        (Protocol::Ftps, Some(tls)) => {
            let (tcp, peer) = open().await?;
            let plain = Stream::connect_with_stream(tcp)
                .await
                .map_err(|e| ctx(Op::Connect).map(e))?;
            let (connector, verdict) = tls_connector(config, tls)?;
            let secure = plain
                .into_secure(connector, host)
                .await
                .map_err(|e| tls_error(config, &verdict, ctx(Op::Tls).map(e)))?;
            (secure, peer)
        }
        (Protocol::FtpsImplicit, Some(tls)) => {
            // suppaftp opens the socket itself for implicit TLS.
            let peer = tokio::net::lookup_host((host, config.port))
                .await
                .map_err(connect_error)?
                .next()
                .ok_or_else(|| {
                    connect_error(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the host name resolves to no address",
                    ))
                })?;
            let (connector, verdict) = tls_connector(config, tls)?;
            let mut stream = Stream::connect_secure_implicit(peer, connector, host)
                .await
                .map_err(|e| match e {
                    suppaftp::FtpError::ConnectionError(source) => connect_error(source),
                    other => tls_error(config, &verdict, ctx(Op::Tls).map(other)),
                })?;
            // suppaftp leaves the data channel protection to us in implicit mode.
            for command in ["PBSZ 0", "PROT P"] {
                stream
                    .custom_command(command, &[Status::CommandOk])
                    .await
                    .map_err(|e| ctx(Op::Tls).map(e))?;
            }
            (stream, peer)
        }
        (_, None) => {
            return Err(FtpError::Config {
                host: host.to_owned(),
                message: "FTPS without TLS settings".to_owned(),
            });
        }
    };

    let password = config.password.expose();
    stream
        .login(config.username.as_str(), password)
        .await
        .map_err(|e| redact(ctx(Op::Login).map(e), password))?;

    let features = match stream.feat().await {
        Ok(features) => {
            let has = |name: &str| features.keys().any(|k| k.eq_ignore_ascii_case(name));
            ServerFeatures {
                mlsd: has("MLSD") || has("MLST"),
                epsv: has("EPSV"),
                utf8: has("UTF8"),
            }
        }
        // FEAT is optional (RFC 2389): assume the least.
        Err(suppaftp::FtpError::UnexpectedResponse(_)) => ServerFeatures::default(),
        Err(error) => return Err(ctx(Op::Setup).map(error)),
    };
    if features.utf8 {
        // Some servers only send UTF-8 names once asked; refusing is fine.
        let _ = stream.opts("UTF8", Some("ON")).await;
    }
    stream
        .transfer_type(FileType::Binary)
        .await
        .map_err(|e| ctx(Op::Setup).map(e))?;
    let home = stream.pwd().await.unwrap_or_else(|_| "/".to_owned());

    stream.set_passive_nat_workaround(false);
    let mut stream = if config.passive {
        stream.set_mode(if features.epsv {
            Mode::ExtendedPassive
        } else {
            Mode::Passive
        });
        let nat = config.nat_workaround;
        let timeout = config.connect_timeout;
        let control_ip = peer.ip();
        stream.passive_stream_builder(move |announced| {
            Box::pin(async move {
                let target = nat_rewrite(nat, announced, control_ip);
                if target != announced {
                    debug!(%announced, %target, "Passive address rewritten (NAT workaround).");
                }
                match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
                    Ok(result) => result.map_err(suppaftp::FtpError::ConnectionError),
                    Err(_) => Err(suppaftp::FtpError::ConnectionError(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("data connection to {target} timed out"),
                    ))),
                }
            })
        })
    } else {
        stream.active_mode(config.data_timeout)
    };
    stream.set_passive_nat_workaround(false);

    Ok(FtpClient {
        stream: Some(stream),
        config: Arc::clone(config),
        features,
        home,
        healthy: true,
        in_flight: 0,
        last_used: Instant::now(),
    })
}

fn tls_connector(
    config: &FtpConfig,
    tls: &TlsSetup,
) -> Result<(suppaftp::tokio::AsyncRustlsConnector, CertificateVerdict), FtpError> {
    tls.connector().map_err(|e| FtpError::Config {
        host: config.host.clone(),
        message: format!("cannot configure TLS: {e}"),
    })
}

/// A TLS failure becomes a certificate rejection when the verifier recorded one.
fn tls_error(config: &FtpConfig, verdict: &CertificateVerdict, error: FtpError) -> FtpError {
    match verdict.rejection() {
        Some(reason) => FtpError::Certificate {
            host: config.host.clone(),
            reason,
        },
        None => error,
    }
}

/// Removes the password from a login error's reply text, in case a server echoes it.
fn redact(error: FtpError, password: &str) -> FtpError {
    match error {
        FtpError::Reply {
            host,
            op,
            path,
            code,
            text,
        } if !password.is_empty() && text.contains(password) => FtpError::Reply {
            host,
            op,
            path,
            code,
            text: text.replace(password, "<redacted>"),
        },
        other => other,
    }
}

/// Where to open a passive data connection.
///
/// `None` (automatic, the default) and `Some(true)`: the control connection's
/// address whenever the announced one differs. Servers behind NAT announce a
/// private address, and a hostile server could otherwise aim the data
/// connection at any host (an internal service, a link-local metadata
/// endpoint); curl ignores the `PASV` address by default for the same reason.
/// `Some(false)`: trust the announced address (a multi-homed server whose data
/// port is only reachable on another address), set explicitly per source.
pub fn nat_rewrite(setting: Option<bool>, announced: SocketAddr, control_ip: IpAddr) -> SocketAddr {
    let rewrite = setting.unwrap_or(true) && announced.ip() != control_ip;
    if rewrite {
        SocketAddr::new(control_ip, announced.port())
    } else {
        announced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn passive_addresses_other_than_the_control_host_are_not_followed() {
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let private: IpAddr = "10.0.0.5".parse().unwrap();
        // Behind NAT: the server announces its private address.
        assert_eq!(
            nat_rewrite(None, addr("192.168.1.10:50000"), public),
            addr("203.0.113.7:50000")
        );
        assert_eq!(
            nat_rewrite(None, addr("0.0.0.0:50000"), private),
            addr("10.0.0.5:50000")
        );
        // A hostile server steering the client to a metadata endpoint or elsewhere.
        assert_eq!(
            nat_rewrite(None, addr("169.254.169.254:80"), private),
            addr("10.0.0.5:80")
        );
        assert_eq!(
            nat_rewrite(None, addr("198.51.100.1:50000"), public),
            addr("203.0.113.7:50000")
        );
        // The same host: nothing to rewrite.
        assert_eq!(
            nat_rewrite(None, addr("203.0.113.7:50000"), public),
            addr("203.0.113.7:50000")
        );
        // Explicitly trusted (multi-homed server), or explicitly forced.
        assert_eq!(
            nat_rewrite(Some(false), addr("192.168.1.10:50000"), public),
            addr("192.168.1.10:50000")
        );
        assert_eq!(
            nat_rewrite(Some(true), addr("10.0.0.6:50000"), private),
            addr("10.0.0.5:50000")
        );
    }

    #[test]
    fn login_errors_never_echo_the_password() {
        let error = FtpError::Reply {
            host: "h".into(),
            op: Op::Login,
            path: None,
            code: 530,
            text: "bad password hunter2".into(),
        };
        let shown = redact(error, "hunter2").to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
