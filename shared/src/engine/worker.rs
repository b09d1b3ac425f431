//! The engine's second thread: it hashes the bytes as received and counts the
//! decoded ones, while the calling thread reads the source and undoes the layers.
//!
//! Decoding (inflate, bzip2) is the costly stage; hashing and counting together
//! cost about half as much again. Running them beside the decoder, not after it,
//! lets the two cores overlap the stages instead of taking turns (see
//! `benches/README.md` for the figures).
//!
//! ```text
//!  calling thread                                   worker thread
//!  source ─► ReceivedMeter ─(copy)──── Received ──►  SHA-256
//!               │                                     │
//!            layers ─► DecodedMeter ─► sink           │
//!                           └─(copy)── Decoded ──►  row counter (count_rows)
//! ```
//!
//! Both streams travel in order over one bounded channel of pooled buffers, so
//! memory stays at [`QUEUED`] + a few buffers of [`CHUNK`] bytes whatever the
//! file. The counter sees exactly the bytes, and the errors, it would have seen
//! reading the chain itself: a decoder's error, a bomb guard's breach or a sink
//! failure is sent in its place in the stream. When the counter stops early (a
//! malformed file), it raises [`Worker::counting_done`] so the decoder stops too;
//! the worker keeps hashing until the calling thread closes the channel.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};

use ring::digest;

use super::count::{self, CountError, RowStats};
use super::spec::{Limits, ParseSpec};
use crate::contract::RowChecker;

/// Bytes per buffer handed to the worker.
pub const CHUNK: usize = 256 * 1024;

/// Buffers queued between the threads before the sender waits.
pub const QUEUED: usize = 8;

/// What the calling thread sends, in stream order.
enum Message {
    /// Bytes as received, to hash.
    Received(Vec<u8>),
    /// Decoded bytes, to count.
    Decoded(Vec<u8>),
    /// Reading the decoded stream failed here: the counter gets this error.
    DecodedFailed(io::Error),
    /// The decoded stream ended.
    DecodedEnd,
}

/// The calling thread's end: sends received and decoded bytes, recycling the
/// worker's spent buffers.
pub struct Feeder {
    to_worker: SyncSender<Message>,
    spares: Receiver<Vec<u8>>,
    received: Vec<u8>,
    counting_done: Arc<AtomicBool>,
}

/// The worker's end, moved into its thread.
pub struct Worker {
    from_feeder: Receiver<Message>,
    spares: Sender<Vec<u8>>,
    counting_done: Arc<AtomicBool>,
    /// Sends the count's result as soon as it is known, before hashing ends.
    counted: Sender<Counted>,
}

/// The counter's result, and how many decoded bytes it was given.
pub struct Counted {
    pub result: Result<RowStats, CountError>,
    pub decoded_bytes: u64,
}

/// A connected feeder and worker, and the receiver of the count's result.
pub fn channel() -> (Feeder, Worker, Receiver<Counted>) {
    let (to_worker, from_feeder) = sync_channel(QUEUED);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel();
    let (counted_tx, counted_rx) = std::sync::mpsc::channel();
    let counting_done = Arc::new(AtomicBool::new(false));
    let feeder = Feeder {
        to_worker,
        spares: spare_rx,
        received: Vec::new(),
        counting_done: Arc::clone(&counting_done),
    };
    let worker = Worker {
        from_feeder,
        spares: spare_tx,
        counting_done,
        counted: counted_tx,
    };
    (feeder, worker, counted_rx)
}

/// The worker stopped listening (it panicked): the calling thread stops too, and
/// the panic is raised again when the worker is joined.
#[derive(Debug, thiserror::Error)]
#[error("the engine's worker thread stopped")]
pub struct WorkerGone;

impl Feeder {
    /// A buffer of [`CHUNK`] initialised bytes to read into, recycled when one
    /// is spare (only a recycled buffer's missing tail is zeroed).
    pub fn buffer(&self) -> Vec<u8> {
        let mut buffer = self
            .spares
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        buffer.resize(CHUNK, 0);
        buffer
    }

    /// Queues received bytes for hashing; sends them a full buffer at a time.
    pub fn received(&mut self, mut data: &[u8]) -> Result<(), WorkerGone> {
        while !data.is_empty() {
            if self.received.capacity() == 0 {
                self.received = self.buffer();
                self.received.clear();
            }
            let room = CHUNK.saturating_sub(self.received.len());
            let (now, later) = data.split_at(room.min(data.len()));
            self.received.extend_from_slice(now);
            data = later;
            if self.received.len() >= CHUNK {
                self.flush_received()?;
            }
        }
        Ok(())
    }

    /// Sends what is queued for hashing now (at the end of the file).
    pub fn flush_received(&mut self) -> Result<(), WorkerGone> {
        if self.received.is_empty() {
            return Ok(());
        }
        let full = std::mem::take(&mut self.received);
        self.send(Message::Received(full))
    }

    /// Sends decoded bytes to the counter (received bytes still being batched
    /// follow later: the two streams are independent).
    pub fn decoded(&mut self, chunk: Vec<u8>) -> Result<(), WorkerGone> {
        self.send(Message::Decoded(chunk))
    }

    /// The counter gets `error` where the next decoded bytes would be.
    pub fn decoded_failed(&mut self, error: io::Error) -> Result<(), WorkerGone> {
        self.send(Message::DecodedFailed(error))
    }

    /// The decoded stream ended.
    pub fn decoded_end(&mut self) -> Result<(), WorkerGone> {
        self.send(Message::DecodedEnd)
    }

    /// Whether the counter has finished, so decoding further is wasted work.
    pub fn counting_done(&self) -> bool {
        self.counting_done.load(Ordering::Acquire)
    }

    fn send(&self, message: Message) -> Result<(), WorkerGone> {
        self.to_worker.send(message).map_err(|_| WorkerGone)
    }
}

impl Worker {
    /// Counts the decoded stream and hashes the received one until the feeder is
    /// dropped; returns the SHA-256 of every received byte. The count's result
    /// goes out on its own channel as soon as it is known.
    /// With `checker`, every record is also checked against its data contract.
    pub fn run(
        self,
        parse: &ParseSpec,
        limits: &Limits,
        checker: Option<RowChecker<'_>>,
    ) -> [u8; 32] {
        let Worker {
            from_feeder,
            spares,
            counting_done,
            counted,
        } = self;
        let mut feed = Feed {
            messages: from_feeder,
            spares,
            hash: digest::Context::new(&digest::SHA256),
            current: Vec::new(),
            at: 0,
            ended: false,
            delivered: 0,
        };
        let result = count::count_and_check_rows(&mut feed, parse, limits, checker);
        counting_done.store(true, Ordering::Release);
        // The calling thread may have stopped waiting (it failed): nothing to do.
        let _ = counted.send(Counted {
            result,
            decoded_bytes: feed.delivered,
        });
        feed.hash_the_rest()
    }
}

/// The counter's reader: the decoded stream, out of the channel; hashes the
/// received chunks it meets on the way.
struct Feed {
    messages: Receiver<Message>,
    spares: Sender<Vec<u8>>,
    hash: digest::Context,
    current: Vec<u8>,
    at: usize,
    ended: bool,
    delivered: u64,
}

impl Feed {
    fn recycle(&self, buffer: Vec<u8>) {
        // The feeder may be gone already: the buffer is simply freed.
        let _ = self.spares.send(buffer);
    }

    /// Hashes every received chunk still to come; decoded ones are dropped.
    fn hash_the_rest(mut self) -> [u8; 32] {
        while let Ok(message) = self.messages.recv() {
            match message {
                Message::Received(bytes) => {
                    self.hash.update(&bytes);
                    self.recycle(bytes);
                }
                Message::Decoded(bytes) => self.recycle(bytes),
                Message::DecodedFailed(_) | Message::DecodedEnd => {}
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(self.hash.finish().as_ref());
        out
    }
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Feed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at >= self.current.len() && !self.ended {
            let Ok(message) = self.messages.recv() else {
                // The calling thread stopped without ending the stream: never
                // mistake that for the end of the file.
                return Err(io::Error::other(
                    "the decoder stopped before the end of the file",
                ));
            };
            match message {
                Message::Received(bytes) => {
                    self.hash.update(&bytes);
                    self.recycle(bytes);
                }
                Message::Decoded(bytes) => {
                    let spent = std::mem::replace(&mut self.current, bytes);
                    if spent.capacity() > 0 {
                        self.recycle(spent);
                    }
                    self.at = 0;
                    self.delivered = self.delivered.saturating_add(self.current.len() as u64);
                }
                Message::DecodedFailed(error) => return Err(error),
                Message::DecodedEnd => self.ended = true,
            }
        }
        Ok(self.current.get(self.at..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.at = self.at.saturating_add(amount).min(self.current.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::spec::{Format, ValidationSpec};

    fn sha256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
        out
    }

    /// Received and decoded chunks interleaved in any sizes: the hash is the
    /// received bytes' and the count the decoded bytes'.
    #[test]
    fn hashes_received_and_counts_decoded_whatever_the_chunking() {
        let spec = ValidationSpec::new(Format::Csv);
        let received: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let decoded = b"a,b\n1,2\n3,4\n".repeat(50_000);
        let (mut feeder, worker, counted) = channel();
        let (hash, count) = std::thread::scope(|s| {
            let worker = s.spawn(|| worker.run(&spec.parse, &spec.limits, None));
            let (mut r, mut d) = (received.chunks(77_777), decoded.chunks(33_333));
            loop {
                let (a, b) = (r.next(), d.next());
                if a.is_none() && b.is_none() {
                    break;
                }
                if let Some(a) = a {
                    feeder.received(a).unwrap();
                }
                if let Some(b) = b {
                    let mut chunk = feeder.buffer();
                    chunk.clear();
                    chunk.extend_from_slice(b);
                    feeder.decoded(chunk).unwrap();
                }
            }
            feeder.decoded_end().unwrap();
            let count = counted.recv().unwrap();
            feeder.flush_received().unwrap();
            drop(feeder);
            (worker.join().unwrap(), count)
        });
        assert_eq!(hash, sha256(&received));
        let stats = count.result.unwrap();
        assert_eq!((stats.records, stats.rows), (150_000, 149_999));
        assert_eq!(count.decoded_bytes, decoded.len() as u64);
    }

    /// An error sent in the stream reaches the counter in its place; a feeder
    /// dropped without an end is an error, never a short file.
    #[test]
    fn errors_and_a_vanished_feeder_are_never_an_end() {
        let spec = ValidationSpec::new(Format::Csv);
        let (mut feeder, worker, counted) = channel();
        std::thread::scope(|s| {
            s.spawn(|| worker.run(&spec.parse, &spec.limits, None));
            let mut chunk = feeder.buffer();
            chunk.clear();
            chunk.extend_from_slice(b"a,b\n1,2\n");
            feeder.decoded(chunk).unwrap();
            feeder.decoded_failed(io::Error::other("boom")).unwrap();
            let count = counted.recv().unwrap();
            assert!(matches!(count.result, Err(CountError::Io(e)) if e.to_string() == "boom"));
            assert!(feeder.counting_done());
            // The worker hashes until the feeder is gone.
            drop(feeder);
        });

        let (feeder, worker, counted) = channel();
        std::thread::scope(|s| {
            s.spawn(|| worker.run(&spec.parse, &spec.limits, None));
            drop(feeder);
            let count = counted.recv().unwrap();
            assert!(matches!(count.result, Err(CountError::Io(_))));
        });
    }
}
