//! Readers that measure and guard the two ends of the layer chain.
//!
//! - [`ReceivedMeter`] sits on the bytes as received: it counts them, hands them
//!   to the worker thread to be hashed (SHA-256), enforces the rule's
//!   `max_bytes`, and marks errors of the source so the engine can tell a dropped
//!   connection (transient) from a corrupt file.
//! - [`LayerMeter`] sits on the output of every decompression layer and stops
//!   decompression bombs there (hard ceiling and expansion ratio), so a bomb
//!   nested inside another layer is caught between the layers.
//! - [`DecodedMeter`] sits on the decoded bytes: it counts them, enforces the
//!   rule's `max_decoded_bytes` and checks UTF-8 when asked. (It needs no bomb
//!   check of its own: its input is a metered layer's output, or a decryption
//!   layer's, which is never larger than what went in.)
//!
//! Errors cross the `Read` chain as `io::Error`s carrying one of the marker types
//! below; [`classify`] turns them back into what they mean.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;

use super::layers::LayerError;
use super::spec::Limits;
use super::worker::Feeder;

/// An error of the source the file is read from (FTP connection, local file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceFailure(#[source] pub io::Error);

/// An error of the sink the decoded bytes go to (the uploader).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkFailure(#[source] pub io::Error);

/// A limit or bound the file broke while streaming; the text is the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Breach(pub String);

impl Breach {
    fn into_io(reason: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, Breach(reason))
    }
}

/// What an `io::Error` that came out of the chain means.
#[derive(Debug)]
pub enum Classified {
    /// The source failed: transient.
    Source(io::Error),
    /// The sink failed: transient.
    Sink(io::Error),
    /// The file is bad: the reason for the rejection.
    Rejected(String),
}

/// Sorts an error from the chain by the marker it carries. An error without a
/// marker came from a decoder itself, so the file is bad.
pub fn classify(error: io::Error) -> Classified {
    let Some(inner) = error.get_ref() else {
        return Classified::Rejected(describe_plain(&error));
    };
    if inner.is::<SourceFailure>() {
        return match error.into_inner().map(|e| e.downcast::<SourceFailure>()) {
            Some(Ok(failure)) => Classified::Source(failure.0),
            _ => Classified::Rejected("source error could not be read".into()),
        };
    }
    if inner.is::<SinkFailure>() {
        return match error.into_inner().map(|e| e.downcast::<SinkFailure>()) {
            Some(Ok(failure)) => Classified::Sink(failure.0),
            _ => Classified::Rejected("sink error could not be read".into()),
        };
    }
    if let Some(layer) = LayerError::find(&error) {
        return Classified::Rejected(layer.to_string());
    }
    if let Some(breach) = inner.downcast_ref::<Breach>() {
        return Classified::Rejected(breach.0.clone());
    }
    Classified::Rejected(describe_plain(&error))
}

fn describe_plain(error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        format!("truncated: {error}")
    } else {
        error.to_string()
    }
}

/// Counts the bytes as received and sends them to the worker to be hashed.
/// Shares its running count with the [`LayerMeter`]s (for the expansion ratio)
/// through a `Rc<Cell<u64>>`.
pub struct ReceivedMeter<R> {
    inner: R,
    hash: Rc<RefCell<Feeder>>,
    count: Rc<Cell<u64>>,
    max_bytes: Option<u64>,
    over_limit: bool,
}

impl<R: Read> ReceivedMeter<R> {
    /// Wraps the source; `max_bytes` is the rule's bound on received bytes, and
    /// `hash` the feeder of the worker that hashes them.
    pub fn new(inner: R, max_bytes: Option<u64>, hash: Rc<RefCell<Feeder>>) -> Self {
        ReceivedMeter {
            inner,
            hash,
            count: Rc::new(Cell::new(0)),
            max_bytes,
            over_limit: false,
        }
    }

    /// A handle on the running count of received bytes.
    pub fn counter(&self) -> Rc<Cell<u64>> {
        Rc::clone(&self.count)
    }

    /// Bytes received so far.
    pub fn total(&self) -> u64 {
        self.count.get()
    }

    /// Whether reading stopped because the file exceeded `max_bytes`.
    pub fn over_limit(&self) -> bool {
        self.over_limit
    }

    /// Reads what is left of the source (for the hash of a rejected file),
    /// returning how many bytes were left.
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }
}

impl<R: Read> Read for ReceivedMeter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over_limit {
            // Sticky: a reader that retries after the error must not see an end.
            return Err(self.breach());
        }
        let n = loop {
            match self.inner.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), SourceFailure(e))),
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        let total = self.count.get().saturating_add(n as u64);
        self.count.set(total);
        // The worker only goes away by panicking, which the engine raises again
        // when it joins it; until then, stop reading.
        self.hash
            .borrow_mut()
            .received(data)
            .map_err(io::Error::other)?;
        if self.max_bytes.is_some_and(|max| total > max) {
            self.over_limit = true;
            return Err(self.breach());
        }
        Ok(n)
    }
}

impl<R> ReceivedMeter<R> {
    /// The reason a file over `max_bytes` is rejected.
    pub fn breach_reason(&self) -> String {
        format!(
            "file is larger than max_bytes ({} bytes)",
            self.max_bytes.unwrap_or_default()
        )
    }

    fn breach(&self) -> io::Error {
        Breach::into_io(self.breach_reason())
    }
}

/// Checks on the decoded bytes that stop hostile or oversized input early.
#[derive(Debug, Clone, Copy)]
pub struct DecodedGuard {
    pub limits: Limits,
    /// The rule's own `max_decoded_bytes`, if any.
    pub max_decoded_bytes: Option<u64>,
    /// Whether the decoded bytes must be valid UTF-8.
    pub require_utf8: bool,
}

impl DecodedGuard {
    /// The expansion ratio is a guess at a bomb for files of unknown size; a rule
    /// that sets its own `max_decoded_bytes` has given an exact budget instead.
    pub fn ratio_applies(&self) -> bool {
        self.max_decoded_bytes.is_none()
    }
}

/// Stops a decompression bomb at any stage: `count` bytes came out of `stage`
/// (a layer, or the end of the chain) from `received` bytes as received.
fn check_expansion(
    count: u64,
    received: u64,
    limits: &Limits,
    ratio_applies: bool,
    stage: &str,
) -> io::Result<()> {
    if count > limits.max_decoded_bytes {
        return Err(Breach::into_io(format!(
            "decompression bomb: more than {} {stage} bytes (the hard limit)",
            limits.max_decoded_bytes
        )));
    }
    let received = received.max(1);
    if ratio_applies
        && count > limits.expansion_check_after_bytes
        && count / received > limits.max_expansion_ratio
    {
        return Err(Breach::into_io(format!(
            "decompression bomb: {count} {stage} bytes from {received} received bytes exceeds the expansion ratio limit ({}:1; if the data really is this repetitive, raise the rule's limits.max_expansion_ratio or set max_decoded_bytes)",
            limits.max_expansion_ratio
        )));
    }
    Ok(())
}

/// Guards the output of one decompression layer, so that nested layers (bzip2
/// inside bzip2) cannot expand without bound before the final meter sees a byte.
pub struct LayerMeter<R> {
    inner: R,
    stage: String,
    count: u64,
    received: Rc<Cell<u64>>,
    limits: Limits,
    ratio_applies: bool,
}

impl<R: Read> LayerMeter<R> {
    pub fn new(
        inner: R,
        layer: crate::engine::spec::Layer,
        received: Rc<Cell<u64>>,
        limits: Limits,
        ratio_applies: bool,
    ) -> Self {
        LayerMeter {
            inner,
            stage: format!("{layer}-decoded"),
            count: 0,
            received,
            limits,
            ratio_applies,
        }
    }
}

impl<R: Read> Read for LayerMeter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count = self.count.saturating_add(n as u64);
        check_expansion(
            self.count,
            self.received.get(),
            &self.limits,
            self.ratio_applies,
            &self.stage,
        )?;
        Ok(n)
    }
}

/// Counts decoded bytes and enforces [`DecodedGuard`].
pub struct DecodedMeter<R> {
    inner: R,
    guard: DecodedGuard,
    count: u64,
    utf8: Utf8Check,
}

impl<R: Read> DecodedMeter<R> {
    /// Wraps the end of the layer chain.
    pub fn new(inner: R, guard: DecodedGuard) -> Self {
        DecodedMeter {
            inner,
            guard,
            count: 0,
            utf8: Utf8Check::default(),
        }
    }

    /// Decoded bytes so far.
    pub fn total(&self) -> u64 {
        self.count
    }

    /// Where the first invalid UTF-8 byte was, if UTF-8 was required and broken.
    pub fn utf8_error(&self) -> Option<u64> {
        if !self.guard.require_utf8 {
            return None;
        }
        self.utf8.first_error.or_else(|| {
            // A sequence cut off by the end of the file is invalid too.
            (self.utf8.carry_len > 0).then(|| self.total() - self.utf8.carry_len as u64)
        })
    }

    fn check(&self) -> io::Result<()> {
        let count = self.total();
        if let Some(max) = self.guard.max_decoded_bytes
            && count > max
        {
            return Err(Breach::into_io(format!(
                "decoded size is larger than max_decoded_bytes ({max} bytes)"
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodedMeter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = buf.get(..n).unwrap_or_default();
        if self.guard.require_utf8 {
            self.utf8.feed(data, self.total());
        }
        self.count = self.count.saturating_add(n as u64);
        self.check()?;
        Ok(n)
    }
}

/// Incremental UTF-8 validation across chunk boundaries; remembers the offset of
/// the first invalid byte instead of failing, so the other checks still run.
#[derive(Debug, Default)]
struct Utf8Check {
    carry: [u8; 4],
    carry_len: usize,
    first_error: Option<u64>,
}

impl Utf8Check {
    /// Checks `data`, whose first byte is at absolute offset `offset`.
    fn feed(&mut self, data: &[u8], offset: u64) {
        if self.first_error.is_some() {
            return;
        }
        let (mut data, mut offset) = (data, offset);
        // First complete a sequence split by the previous chunk, a byte at a time.
        while self.carry_len > 0 {
            let Some((&byte, rest)) = data.split_first() else {
                return;
            };
            let sequence_start = offset - self.carry_len as u64;
            if let Some(slot) = self.carry.get_mut(self.carry_len) {
                *slot = byte;
            }
            self.carry_len += 1;
            (data, offset) = (rest, offset + 1);
            match std::str::from_utf8(self.carry.get(..self.carry_len).unwrap_or_default()) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_some() || self.carry_len >= self.carry.len() => {
                    self.first_error = Some(sequence_start);
                    return;
                }
                Err(_) => {}
            }
        }
        if let Err(e) = std::str::from_utf8(data) {
            match e.error_len() {
                Some(_) => self.first_error = Some(offset + e.valid_up_to() as u64),
                None => {
                    // An incomplete sequence at the end (at most 3 bytes): keep it.
                    let tail = data.get(e.valid_up_to()..).unwrap_or_default();
                    if let Some(slot) = self.carry.get_mut(..tail.len()) {
                        slot.copy_from_slice(tail);
                        self.carry_len = tail.len();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn first_error_in_chunks(data: &[u8], cuts: &[usize]) -> Option<u64> {
        let mut check = Utf8Check::default();
        let mut offset = 0usize;
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        bounds.push(data.len());
        bounds.sort_unstable();
        for end in bounds {
            check.feed(&data[offset..end], offset as u64);
            offset = end;
        }
        check
            .first_error
            .or_else(|| (check.carry_len > 0).then(|| (data.len() - check.carry_len) as u64))
    }

    proptest! {
        /// However a byte string is cut into chunks, the incremental check finds
        /// the same first invalid byte as `std::str::from_utf8` on the whole.
        #[test]
        fn utf8_check_agrees_with_std_across_chunks(
            text in "\\PC{0,40}",
            noise in prop::collection::vec(any::<u8>(), 0..4),
            at in any::<usize>(),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut data = text.into_bytes();
            let at = at % (data.len() + 1);
            data.splice(at..at, noise);
            let expected = std::str::from_utf8(&data).err().map(|e| e.valid_up_to() as u64);
            prop_assert_eq!(first_error_in_chunks(&data, &cuts), expected);
        }
    }

    #[test]
    fn source_and_sink_errors_are_told_apart_from_bad_data() {
        let source = io::Error::new(
            io::ErrorKind::TimedOut,
            SourceFailure(io::Error::other("t")),
        );
        assert!(matches!(classify(source), Classified::Source(_)));
        let sink = io::Error::other(SinkFailure(io::Error::other("s")));
        assert!(matches!(classify(sink), Classified::Sink(_)));
        let layer = LayerError::into_io(crate::engine::spec::Layer::Gzip, "corrupt");
        assert!(matches!(classify(layer), Classified::Rejected(r) if r == "gzip: corrupt"));
        let plain = io::Error::new(io::ErrorKind::UnexpectedEof, "early eof");
        assert!(matches!(classify(plain), Classified::Rejected(r) if r == "truncated: early eof"));
    }
}
