//! With a data contract, the counters hand each whole record to the
//! [`RowChecker`]: this module keeps the record's bytes (bounded by
//! `max_record_bytes`, which the counter enforces), where it starts (physical
//! line and decoded byte offset), and splits csv/tsv records into fields.
//!
//! Lines: `\n`, `\r\n` and a lone `\r` each end one, inside quoted fields too,
//! so a record's line is the one an editor shows where it starts. Fields: a
//! record without a quoted field is split at its delimiters in place; one with
//! quoted fields goes through `csv_core` (the `csv` crate's parser) with the
//! counter's dialect, so quotes and `""` escapes are undone exactly as the
//! `csv` crate would.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use memchr::{memchr_iter, memchr2_iter};

use super::CountError;
use crate::contract::check::Fields;
use crate::contract::{ContractOutcome, RecordAt, RowChecker};

/// A contract's checker and the record being read, for the csv/tsv counter.
pub(crate) struct CsvRecords<'c> {
    checker: RowChecker<'c>,
    delimiter: u8,
    /// Whether the first record is the header.
    header: bool,
    /// The current record's bytes, its line break excluded.
    raw: Vec<u8>,
    /// Whether the current record has a quoted field (then it needs csv_core).
    quoted: bool,
    lines: Lines,
    /// Where the current record starts.
    start: RecordAt,
    /// Records ended so far, the header included.
    records: u64,
    /// Decoded offset of the chunk being fed.
    chunk_offset: u64,
    splitter: Reader,
    /// Whether csv_core has read a byte (until then it would drop a BOM).
    primed: bool,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl<'c> CsvRecords<'c> {
    pub(crate) fn new(
        checker: RowChecker<'c>,
        delimiter: u8,
        quote: Option<u8>,
        header: bool,
    ) -> Self {
        let mut builder = ReaderBuilder::new();
        builder.delimiter(delimiter);
        match quote {
            Some(quote) => builder.quote(quote),
            None => builder.quoting(false),
        };
        CsvRecords {
            checker,
            delimiter,
            header,
            raw: Vec::new(),
            quoted: false,
            lines: Lines::default(),
            start: RecordAt {
                line: 1,
                record: 0,
                offset: 0,
            },
            records: 0,
            chunk_offset: 0,
            splitter: builder.build(),
            primed: false,
            out: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Bytes before the data (a BOM the driver removed) still count in offsets.
    pub(crate) fn skip(&mut self, bytes: u64) {
        self.chunk_offset = self.chunk_offset.saturating_add(bytes);
    }

    /// The counter finished a chunk of `len` bytes.
    pub(crate) fn chunk_done(&mut self, len: usize) {
        self.chunk_offset = self.chunk_offset.saturating_add(len as u64);
    }

    /// A line break outside any record, or the one that ends a record.
    pub(crate) fn line_break(&mut self, byte: u8) {
        self.lines.feed(&[byte]);
    }

    /// A record starts at `at` bytes into the current chunk.
    pub(crate) fn begin(&mut self, at: usize) {
        self.lines.not_a_line_break();
        self.raw.clear();
        self.quoted = false;
        let data_record = if self.header {
            self.records
        } else {
            self.records + 1
        };
        self.start = RecordAt {
            line: self.lines.current(),
            record: data_record,
            offset: self.chunk_offset.saturating_add(at as u64),
        };
    }

    /// Bytes of the current record.
    pub(crate) fn take(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
    }

    /// The current record opened a quoted field.
    pub(crate) fn opened_quote(&mut self) {
        self.quoted = true;
    }

    /// The current record ended: check it.
    pub(crate) fn end(&mut self) -> Result<(), CountError> {
        self.records += 1;
        if self.quoted {
            // Line breaks inside quoted fields are lines too.
            self.lines.feed(&self.raw);
            self.lines.not_a_line_break();
        }
        let is_header = self.header && self.records == 1;
        if self.checker.file_rejected() {
            return Ok(());
        }
        self.split()?;
        let fields = if self.quoted {
            Fields {
                data: &self.out,
                ends: &self.ends,
                gap: 0,
            }
        } else {
            Fields {
                data: &self.raw,
                ends: &self.ends,
                gap: 1,
            }
        };
        if is_header {
            self.checker.header(fields);
            Ok(())
        } else {
            self.checker
                .csv_record(self.start, &self.raw, fields)
                .map_err(|e| CountError::Io(std::io::Error::other(e)))
        }
    }

    /// Fills `ends` (and `out`, for a quoted record) with the record's fields.
    fn split(&mut self) -> Result<(), CountError> {
        self.ends.clear();
        if !self.quoted {
            self.ends.extend(memchr_iter(self.delimiter, &self.raw));
            self.ends.push(self.raw.len());
            return Ok(());
        }
        // csv_core needs the record's end: a line break, added and removed.
        // Its output is never longer than its input, so nothing can be full.
        self.raw.push(b'\n');
        self.out.resize(self.raw.len(), 0);
        self.ends.resize(self.raw.len() + 1, 0);
        let (mut read, mut written, mut ended) = (0, 0, 0);
        let result = loop {
            let rest = self.raw.get(read..).unwrap_or_default();
            // The first read is one byte: csv_core drops a BOM only from its
            // first read, and the file's own BOM is already gone.
            let input = if self.primed {
                rest
            } else {
                rest.get(..1).unwrap_or_default()
            };
            self.primed = true;
            let (result, nin, nout, nend) = self.splitter.read_record(
                input,
                self.out.get_mut(written..).unwrap_or_default(),
                self.ends.get_mut(ended..).unwrap_or_default(),
            );
            (read, written, ended) = (read + nin, written + nout, ended + nend);
            match result {
                ReadRecordResult::InputEmpty if read < self.raw.len() => {}
                other => break other,
            }
        };
        self.raw.pop();
        self.out.truncate(written);
        self.ends.truncate(ended);
        match result {
            ReadRecordResult::Record => Ok(()),
            other => Err(CountError::Io(std::io::Error::other(format!(
                "the csv field splitter stopped with {other:?} on a whole record"
            )))),
        }
    }

    /// The end of the file: the checker's outcome.
    pub(crate) fn finish(self) -> ContractOutcome {
        self.checker.finish()
    }
}

/// Counts physical lines: `\n`, `\r\n` and a lone `\r` each end one.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    ended: u64,
    last_was_cr: bool,
}

impl Lines {
    /// Counts the line breaks in `bytes`.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for at in memchr2_iter(b'\n', b'\r', bytes) {
            let follows_cr = match at.checked_sub(1) {
                Some(before) => bytes.get(before) == Some(&b'\r'),
                None => self.last_was_cr,
            };
            if !(bytes.get(at) == Some(&b'\n') && follows_cr) {
                self.ended += 1;
            }
        }
        if let Some(&last) = bytes.last() {
            self.last_was_cr = last == b'\r';
        }
    }

    /// A byte that is not a line break came: a `\n` next starts a new line.
    pub(crate) fn not_a_line_break(&mut self) {
        self.last_was_cr = false;
    }

    /// The 1-based line the next byte is on.
    pub(crate) fn current(&self) -> u64 {
        self.ended + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_lf_crlf_and_lone_cr_whatever_the_chunking() {
        let text = b"a\r\nb\nc\rd\r\r\ne\n\n";
        for size in 1..text.len() {
            let mut lines = Lines::default();
            for chunk in text.chunks(size) {
                lines.feed(chunk);
            }
            assert_eq!(lines.current(), 8, "chunks of {size}");
        }
    }
}
