//! Helpers shared by the counters' tests: the `csv` crate as the reference, and
//! readers that fail or split their bytes on purpose.

use std::io::{self, BufReader, Read};

use super::{CountError, RowStats, count_rows};
use crate::engine::spec::{Format, Limits, ParseSpec};

/// A spec for `format` with its defaults and `header` as given.
pub(crate) fn spec(format: Format, header: bool) -> ParseSpec {
    ParseSpec {
        header,
        ..ParseSpec::new(format)
    }
}

/// Limits with default values and this longest record.
pub(crate) fn max_record(bytes: u64) -> Limits {
    Limits {
        max_record_bytes: bytes,
        ..Limits::default()
    }
}

/// Counts `input` with default limits, read in one chunk.
pub(crate) fn count(input: &[u8], spec: &ParseSpec) -> Result<RowStats, CountError> {
    count_rows(input, spec, &Limits::default())
}

/// The records (as lossy strings) the `csv` crate reads from `input` with the
/// configuration the csv counter claims to match.
pub(crate) fn csv_crate_records(input: &[u8], spec: &ParseSpec) -> Vec<Vec<String>> {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .delimiter(spec.delimiter);
    match spec.quote {
        Some(q) => builder.quote(q),
        None => builder.quoting(false),
    };
    builder
        .from_reader(input)
        .byte_records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        })
        .collect()
}

/// An outcome that can be compared: stats, or the error's message.
pub(crate) fn outcome(result: Result<RowStats, CountError>) -> Result<RowStats, String> {
    result.map_err(|e| e.to_string())
}

/// Counts `input` read through a buffer of `capacity` bytes.
pub(crate) fn count_chunked(
    input: &[u8],
    capacity: usize,
    spec: &ParseSpec,
    limits: &Limits,
) -> Result<RowStats, String> {
    outcome(count_rows(
        BufReader::with_capacity(capacity, input),
        spec,
        limits,
    ))
}

/// The error a [`FailingReader`] fails with, to be found again by downcasting.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the source went away after {0} bytes")]
pub(crate) struct SourceGone(pub usize);

/// Yields `data` a few bytes at a time, with an `Interrupted` error before
/// every read (to be retried), then fails with [`SourceGone`] (kind
/// `ConnectionReset`) or ends cleanly.
pub(crate) struct FailingReader {
    data: Vec<u8>,
    at: usize,
    interrupt_next: bool,
    fail_at_end: bool,
}

impl FailingReader {
    /// Yields `data`, then fails.
    pub(crate) fn new(data: &[u8]) -> BufReader<FailingReader> {
        Self::build(data, true)
    }

    /// Yields `data`, interrupted before every read, then ends.
    pub(crate) fn interrupting(data: &[u8]) -> BufReader<FailingReader> {
        Self::build(data, false)
    }

    fn build(data: &[u8], fail_at_end: bool) -> BufReader<FailingReader> {
        BufReader::with_capacity(
            4,
            FailingReader {
                data: data.to_vec(),
                at: 0,
                interrupt_next: true,
                fail_at_end,
            },
        )
    }
}

impl Read for FailingReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if std::mem::replace(&mut self.interrupt_next, false) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupt_next = true;
        let rest = &self.data[self.at..];
        if rest.is_empty() && self.fail_at_end {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                SourceGone(self.data.len()),
            ));
        }
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// Asserts that counting `input` then hitting a reader error gives that error
/// back unchanged, after retrying the `Interrupted` ones.
pub(crate) fn assert_reader_error_passes_through(input: &[u8], spec: &ParseSpec) {
    match count_rows(FailingReader::new(input), spec, &Limits::default()) {
        Err(CountError::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<SourceGone>());
            assert_eq!(inner, Some(&SourceGone(input.len())), "{e:?}");
        }
        other => panic!("expected the reader's error, got {other:?}"),
    }
}

/// Asserts that a reader interrupted before every read gives the same result
/// as reading `input` at once.
pub(crate) fn assert_interrupted_reads_are_retried(input: &[u8], spec: &ParseSpec) {
    let interrupted = outcome(count_rows(
        FailingReader::interrupting(input),
        spec,
        &Limits::default(),
    ));
    assert_eq!(interrupted, outcome(count(input, spec)));
    assert!(interrupted.is_ok(), "{interrupted:?}");
}

/// A reader of `len` bytes of `byte` that records how many bytes were read from
/// it, to show a counter gave up early.
pub(crate) struct Endless {
    byte: u8,
    left: u64,
    pub(crate) read: u64,
}

impl Endless {
    pub(crate) fn new(byte: u8, len: u64) -> Self {
        Endless {
            byte,
            left: len,
            read: 0,
        }
    }
}

impl Read for Endless {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize;
        out[..n].fill(self.byte);
        self.left -= n as u64;
        self.read += n as u64;
        Ok(n)
    }
}

/// Counts `prefix` followed by `len` bytes of `byte`; returns the result and the
/// number of bytes read from the endless part.
pub(crate) fn count_endless(
    prefix: &[u8],
    byte: u8,
    len: u64,
    spec: &ParseSpec,
    limits: &Limits,
) -> (Result<RowStats, CountError>, u64) {
    let mut endless = Endless::new(byte, len);
    let result = {
        let reader = BufReader::with_capacity(8 * 1024, prefix.chain(&mut endless));
        count_rows(reader, spec, limits)
    };
    (result, endless.read)
}
