//! The two ends where the synchronous engine meets async I/O, through bounded
//! channels:
//! - [`pump`] reads the async source and [`ChannelReader`] hands its chunks to
//!   the engine as a `std::io::Read`;
//! - [`PartSink`] is the `std::io::Write` the engine writes decoded bytes to: it
//!   fills one part at a time and hands full parts to the uploader.
//!
//! Memory is bounded by tokens: a part buffer is allocated only after taking
//! one of `in_flight + 1` tokens, and the uploader gives the token back when the
//! part was stored (or failed), so at most `in_flight + 1` parts exist at once.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Bytes read from the source per chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks queued between the source and the engine.
pub const CHUNKS_QUEUED: usize = 4;

/// A chunk of the source: bytes, the end, or the source's error.
pub type Chunk = io::Result<Option<Vec<u8>>>;

/// The engine stopped, or the whole ingestion was dropped, before the source
/// reported its end: never mistake that for a complete file.
#[derive(Debug, thiserror::Error)]
#[error("the source stopped before its end was read")]
pub struct SourceStopped;

/// The uploader stopped (a part failed to upload); its error says why.
#[derive(Debug, thiserror::Error)]
#[error("the upload stopped; parts can no longer be stored")]
pub struct UploadStopped;

/// Reads `source` to its end into `chunks`; stops early when the engine no
/// longer reads (it reached a verdict without the rest, or failed).
pub async fn pump<R: AsyncRead + Unpin>(mut source: R, chunks: mpsc::Sender<Chunk>) {
    loop {
        let mut buf = vec![0; CHUNK_BYTES];
        let read = tokio::select! {
            read = source.read(&mut buf) => read,
            () = chunks.closed() => return,
        };
        let chunk = match read {
            Ok(0) => Ok(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(error) => Err(error),
        };
        let last = !matches!(chunk, Ok(Some(_)));
        if chunks.send(chunk).await.is_err() || last {
            return;
        }
    }
}

/// The engine's view of the source: a blocking `Read` over [`pump`]'s chunks.
/// Call only outside the async runtime (inside `spawn_blocking`).
#[derive(Debug)]
pub struct ChannelReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ChannelReader {
    /// A reader of `chunks`.
    pub fn new(chunks: mpsc::Receiver<Chunk>) -> Self {
        ChannelReader {
            chunks,
            current: Vec::new(),
            at: 0,
            ended: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            match self.chunks.blocking_recv() {
                Some(Ok(Some(chunk))) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Some(Ok(None)) => self.ended = true,
                Some(Err(error)) => return Err(error),
                None => return Err(io::Error::other(SourceStopped)),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A full part on its way to the uploader.
#[derive(Debug)]
pub struct Part {
    /// 1-based part number.
    pub number: u32,
    pub body: Vec<u8>,
}

/// Counts the part buffers alive, and the most there ever were.
#[derive(Debug, Default)]
pub struct PartGauge {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl PartGauge {
    fn take(&self) {
        let live = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(live, Ordering::SeqCst);
    }

    /// A part buffer was released (stored, failed, or dropped).
    pub fn release(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most part buffers alive at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// The tokens that bound the part buffers: the sink takes one per buffer, the
/// uploader returns it when the part is done with.
#[derive(Debug, Clone)]
pub struct Tokens {
    give: std_mpsc::Sender<()>,
    gauge: Arc<PartGauge>,
}

impl Tokens {
    /// `count` tokens, and the receiving end the sink takes them from.
    pub fn new(count: usize) -> (Tokens, std_mpsc::Receiver<()>, Arc<PartGauge>) {
        let (give, take) = std_mpsc::channel();
        for _ in 0..count {
            // The receiver is alive here; a send cannot fail.
            let _ = give.send(());
        }
        let gauge = Arc::new(PartGauge::default());
        (
            Tokens {
                give,
                gauge: Arc::clone(&gauge),
            },
            take,
            gauge,
        )
    }

    /// Gives a part's token back.
    pub fn give_back(&self) {
        self.gauge.release();
        // The sink may be gone already; then nobody needs the token.
        let _ = self.give.send(());
    }
}

/// The engine's sink: buffers decoded bytes into parts of `part_size` and sends
/// each full part to the uploader once a byte beyond it arrives, so the last
/// part (or a file smaller than one part) stays here for [`PartSink::into_tail`].
/// Call only outside the async runtime (inside `spawn_blocking`).
#[derive(Debug)]
pub struct PartSink {
    part_size: usize,
    buf: Option<Vec<u8>>,
    parts: mpsc::Sender<Part>,
    tokens: std_mpsc::Receiver<()>,
    gauge: Arc<PartGauge>,
    sent: u32,
}

/// What the sink still holds once the engine is done.
#[derive(Debug)]
pub struct Tail {
    /// The last part's bytes (the whole file when `parts_sent` is 0).
    pub body: Vec<u8>,
    /// Whether the buffer holds a token (to give back when done with it).
    pub holds_token: bool,
    /// Full parts sent to the uploader.
    pub parts_sent: u32,
}

impl PartSink {
    /// A sink of parts of `part_size` bytes.
    pub fn new(
        part_size: usize,
        parts: mpsc::Sender<Part>,
        tokens: std_mpsc::Receiver<()>,
        gauge: Arc<PartGauge>,
    ) -> Self {
        PartSink {
            part_size,
            buf: None,
            parts,
            tokens,
            gauge,
            sent: 0,
        }
    }

    fn fresh_buffer(&mut self) -> io::Result<Vec<u8>> {
        self.tokens
            .recv()
            .map_err(|_| io::Error::other(UploadStopped))?;
        self.gauge.take();
        Ok(Vec::with_capacity(self.part_size))
    }

    /// The bytes not sent yet, and how many parts were.
    pub fn into_tail(self) -> Tail {
        let holds_token = self.buf.is_some();
        Tail {
            body: self.buf.unwrap_or_default(),
            holds_token,
            parts_sent: self.sent,
        }
    }
}

impl Write for PartSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut buf = match self.buf.take() {
            Some(buf) if buf.len() == self.part_size => {
                self.sent += 1;
                let part = Part {
                    number: self.sent,
                    body: buf,
                };
                if self.parts.blocking_send(part).is_err() {
                    // The uploader dropped the part with its channel.
                    self.gauge.release();
                    return Err(io::Error::other(UploadStopped));
                }
                self.fresh_buffer()?
            }
            Some(buf) => buf,
            None => self.fresh_buffer()?,
        };
        let n = data.len().min(self.part_size - buf.len());
        buf.extend_from_slice(&data[..n]);
        self.buf = Some(buf);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
