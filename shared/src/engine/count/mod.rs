//! Row counters: one streaming pass over a file's decoded bytes that counts its
//! records and rejects the file when it is malformed, with memory bounded by
//! [`Limits`] whatever the input.
//!
//! [`count_rows`] is the only entry point; it dispatches on the spec's format:
//! - [`csv`]: csv and tsv, a quote-aware byte-level state machine with csv-core's
//!   semantics (see that module for why it is not the `csv` crate itself);
//! - [`jsonl`]: one record per non-blank line, optionally parsed as JSON;
//! - [`xml`]: one record per element with the configured name, via quick-xml.
//!
//! The csv and jsonl counters are fed by one driver that skips a UTF-8 BOM at the
//! very start, so every counter sees the same bytes whatever the chunking.
//!
//! With a data contract ([`count_and_check_rows`]), the csv and jsonl counters
//! also hand each record to a [`RowChecker`] ([`records`] keeps the record, its
//! line and offset); the count and the checks are one pass.

mod bom;
pub mod csv;
pub mod jsonl;
#[cfg(test)]
mod proptests;
pub(crate) mod records;
#[cfg(test)]
mod testing;
pub mod xml;

use std::io::{self, BufRead};

use super::spec::{Format, Limits, ParseSpec};
use crate::contract::{ContractOutcome, RowChecker};

/// A csv/tsv header's names, kept in the one buffer the `csv` crate split
/// them into: a header of millions of names (within `max_record_bytes`)
/// costs its bytes and a word per name, not a `String` each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header(::csv::ByteRecord);

impl Header {
    /// How many names the header has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether one of the names is `name` (a name that is not UTF-8 reads
    /// with U+FFFD in place of its bad bytes, as the report shows it).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|field| {
            field == name.as_bytes()
                || (std::str::from_utf8(field).is_err() && String::from_utf8_lossy(field) == name)
        })
    }

    /// The first `limit` names, as a report shows them.
    pub fn names(&self, limit: usize) -> Vec<String> {
        self.0
            .iter()
            .take(limit)
            .map(|field| String::from_utf8_lossy(field).into_owned())
            .collect()
    }
}

impl<T: AsRef<[u8]>> From<Vec<T>> for Header {
    fn from(names: Vec<T>) -> Self {
        Header(::csv::ByteRecord::from(names))
    }
}

/// What a counter found in a file it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowStats {
    /// Every record read, the header included.
    pub records: u64,
    /// Data rows: `records` minus the header when there is one.
    pub rows: u64,
    /// The header's fields (csv/tsv with `header` set and at least one record).
    pub header: Option<Header>,
    /// What the data contract found, when there is one.
    pub contract: Option<ContractOutcome>,
}

/// Why a file could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The reader failed. This is the reader's own error, unchanged, so that the
    /// engine can downcast it (a layer error travels this way).
    #[error(transparent)]
    Io(io::Error),
    /// The file is not valid for its format: it is rejected, never retried.
    #[error("malformed {format} file: {reason}")]
    Malformed {
        format: Format,
        /// Where the problem was found, 1-based: the record for csv/tsv (header
        /// included) and xml (the record element being read, or the next one),
        /// the physical line for jsonl.
        record: u64,
        /// What is wrong and where (record, line or byte), for the ledger and
        /// the alert.
        reason: String,
    },
    /// The parse spec cannot be used (no xml record element, a csv delimiter that
    /// is a line break…): a configuration problem, not a bad file.
    #[error("cannot count {format} records: {reason}")]
    Misconfigured { format: Format, reason: String },
}

/// Counts the records of a file's decoded bytes and checks that they are well
/// formed for `spec.format`, reading `reader` to its end.
///
/// Memory stays bounded by `limits` (`max_record_bytes`, `max_xml_depth`) plus
/// the reader's own buffer, whatever the input. The count stops at the first
/// problem found; `io::ErrorKind::Interrupted` is retried, every other reader
/// error is returned as [`CountError::Io`] unchanged.
pub fn count_rows<R: BufRead>(
    reader: R,
    spec: &ParseSpec,
    limits: &Limits,
) -> Result<RowStats, CountError> {
    count_and_check_rows(reader, spec, limits, None)
}

/// [`count_rows`], and with `checker` every record checked against its data
/// contract in the same pass ([`RowStats::contract`]). An xml file cannot
/// carry a contract (the registry refuses one): `checker` is not used there.
pub fn count_and_check_rows<R: BufRead>(
    reader: R,
    spec: &ParseSpec,
    limits: &Limits,
    checker: Option<RowChecker<'_>>,
) -> Result<RowStats, CountError> {
    match spec.format {
        Format::Csv | Format::Tsv => {
            let counter = csv::CsvCounter::new(spec, limits, checker)?;
            drive(reader, counter)
        }
        Format::Jsonl => drive(reader, jsonl::JsonlCounter::new(spec, limits, checker)),
        Format::Xml => xml::count(reader, spec, limits),
    }
}

/// A counter fed the decoded bytes chunk by chunk, in order, BOM removed.
trait ChunkCounter {
    /// The driver removed `bytes` before the data (a BOM): offsets count them.
    fn skip(&mut self, bytes: u64);
    /// Takes the next bytes of the file; any chunking gives the same result.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), CountError>;
    /// The end of the file was reached.
    fn finish(self) -> Result<RowStats, CountError>;
}

/// Reads `reader` to its end through `counter`, skipping a leading UTF-8 BOM.
fn drive<R: BufRead, C: ChunkCounter>(
    mut reader: R,
    mut counter: C,
) -> Result<RowStats, CountError> {
    let mut bom = bom::BomSkipper::default();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CountError::Io(e)),
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        let had_bom = bom.skipped_bom();
        let (held_back, rest) = bom.skip(chunk);
        if bom.skipped_bom() && !had_bom {
            counter.skip(bom::UTF8_BOM.len() as u64);
        }
        counter.feed(held_back)?;
        counter.feed(rest)?;
        reader.consume(len);
    }
    counter.feed(bom.finish())?;
    counter.finish()
}
