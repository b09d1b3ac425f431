//! A file being downloaded, as a `tokio::io::AsyncRead` with bounded memory and no
//! temporary file.
//!
//! # Contract
//! Read to EOF. The read that returns EOF (0 bytes) does so only after
//! 1. the data connection closed,
//! 2. the server confirmed the transfer on the control connection (226/250), and
//! 3. the number of bytes received equals the expected size, when one was given.
//!
//! Anything else — the connection reset or closed early, a 426/451 reply, no reply
//! within the data timeout, more or fewer bytes than expected — is an `io::Error`
//! whose inner error is an [`FtpError`] (see [`FtpError::find`]), all of them
//! transient. So a short file can never look complete. Bytes read before the error
//! must be discarded by the caller (the ingester aborts its multipart upload).
//!
//! Dropping a download before EOF abandons the transfer; the client is then marked
//! unhealthy and a pool will not reuse it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use suppaftp::FtpResult;
use suppaftp::tokio::{AsyncRustlsStream, TransferStream};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

use super::client::FtpClient;
use super::error::{Ctx, FtpError, Op};

type Finish = Pin<Box<dyn Future<Output = FtpResult<()>> + Send>>;

enum State {
    /// Bytes are flowing on the data connection.
    Reading(TransferStream<AsyncRustlsStream>),
    /// The data connection reached EOF; waiting for the server's 226/250.
    Confirming(Finish),
    /// Confirmed and the size matched: EOF from now on.
    Complete,
    /// Failed; the error was returned once.
    Failed,
}

/// A download in progress; see the module docs for the completion contract.
pub struct Download<'a> {
    client: &'a mut FtpClient,
    state: State,
    path: String,
    expected: Option<u64>,
    received: u64,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("host", &self.client.host())
            .field("path", &self.path)
            .field("expected", &self.expected)
            .field("received", &self.received)
            .field("complete", &self.is_complete())
            .finish()
    }
}

impl<'a> Download<'a> {
    pub(crate) fn new(
        client: &'a mut FtpClient,
        transfer: TransferStream<AsyncRustlsStream>,
        path: &str,
        expected: Option<u64>,
    ) -> Self {
        let timeout = client.data_timeout();
        Download {
            client,
            state: State::Reading(transfer),
            path: path.to_owned(),
            expected,
            received: 0,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The remote path being downloaded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the server confirmed the transfer and the size matched (EOF was read).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete)
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            host: self.client.host(),
            op: Op::Retr,
            path: Some(&self.path),
        }
    }

    fn fail(&mut self, error: FtpError) -> Poll<io::Result<()>> {
        warn!(
            host = %self.client.host(),
            path = %self.path,
            received = self.received,
            error = %error,
            "Download failed."
        );
        self.state = State::Failed;
        self.client.healthy = false;
        Poll::Ready(Err(error.into_io()))
    }

    fn size_mismatch(&self) -> Option<FtpError> {
        match self.expected {
            Some(expected) if expected != self.received => Some(FtpError::SizeMismatch {
                host: self.client.host().to_owned(),
                path: self.path.clone(),
                received: self.received,
                expected,
            }),
            _ => None,
        }
    }

    fn rearm(&mut self) {
        let at = Instant::now() + self.timeout;
        self.deadline.as_mut().reset(at);
    }

    /// `Pending`, unless the data timeout expired meanwhile.
    fn pending_or_timeout(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let error = self.ctx().timeout(self.timeout);
                self.fail(error)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Download<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            match &mut this.state {
                State::Reading(transfer) => {
                    let before = buf.filled().len();
                    match Pin::new(transfer).poll_read(cx, buf) {
                        Poll::Pending => return this.pending_or_timeout(cx),
                        Poll::Ready(Err(error)) => {
                            let error = this.ctx().io(error);
                            return this.fail(error);
                        }
                        Poll::Ready(Ok(())) => {
                            let n = (buf.filled().len() - before) as u64;
                            if n > 0 {
                                this.received += n;
                                if this.expected.is_some_and(|e| this.received > e) {
                                    let error = this.size_mismatch();
                                    if let Some(error) = error {
                                        // A read that fails fills nothing: the
                                        // caller (tokio's `read_to_end` asserts
                                        // it) must not see the excess bytes.
                                        buf.set_filled(before);
                                        return this.fail(error);
                                    }
                                }
                                this.rearm();
                                return Poll::Ready(Ok(()));
                            }
                            // EOF on the data connection: now the server must confirm.
                            let State::Reading(transfer) =
                                std::mem::replace(&mut this.state, State::Failed)
                            else {
                                continue;
                            };
                            this.state = State::Confirming(Box::pin(transfer.finish()));
                            this.rearm();
                        }
                    }
                }
                State::Confirming(finish) => {
                    let outcome = match finish.as_mut().poll(cx) {
                        Poll::Pending => return this.pending_or_timeout(cx),
                        Poll::Ready(outcome) => outcome,
                    };
                    if let Err(error) = outcome {
                        let error = this.ctx().map(error);
                        return this.fail(error);
                    }
                    if let Some(error) = this.size_mismatch() {
                        return this.fail(error);
                    }
                    debug!(
                        host = %this.client.host(),
                        path = %this.path,
                        bytes = this.received,
                        "Download confirmed by the server."
                    );
                    this.state = State::Complete;
                    return Poll::Ready(Ok(()));
                }
                State::Complete => return Poll::Ready(Ok(())),
                State::Failed => {
                    let error = this.ctx().protocol("the download already failed");
                    return Poll::Ready(Err(error.into_io()));
                }
            }
        }
    }
}

impl Drop for Download<'_> {
    fn drop(&mut self) {
        if !self.is_complete() {
            // The transfer was abandoned: its reply is unknown, do not reuse the session.
            self.client.healthy = false;
        }
    }
}
