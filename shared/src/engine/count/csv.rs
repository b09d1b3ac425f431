//! Counting csv/tsv records with a quote-aware, byte-level state machine.
//!
//! It counts exactly the records the `csv` crate reads with
//! `ReaderBuilder::new().has_headers(false).flexible(true).delimiter(d).quote(q)`
//! (`quoting(false)` when there is no quote byte), that is csv-core's semantics
//! (`csv_core::Reader::transition_nfa`):
//! - `\n`, `\r` and `\r\n` end a record; bytes of those at the start of a record
//!   are skipped, so empty lines are not records;
//! - a quote opens a quoted field only as the first byte of a field; inside one,
//!   `""` is an escaped quote and the next lone quote closes it; bytes after a
//!   closing quote continue the field as plain data;
//! - a last record without a line break counts.
//!
//! Why not the `csv` crate itself: it accepts a quoted field left open at the end
//! of the file (it ends the record there), so a truncated file would pass; it
//! buffers a whole record before one can see its length, so a record cannot be
//! bounded without holding it; and it copies every field out. This counter only
//! looks at the bytes that can change its state: outside quotes it jumps with
//! SIMD `memchr3` to the next line break or quote (a delimiter matters only as
//! the byte before a quote, which then opens a field), inside quotes to the next
//! quote, so it runs about one search per record rather than one per field. In
//! the engine it runs on the worker thread, beside the decoder; its speed
//! against the `csv` crate is in `benches/README.md` (`stage/*` of
//! `shared/benches/engine.rs`). The `csv` crate still parses the header, from
//! that record's raw bytes, and the tests check that the two agree on every
//! record.

use std::io::Read;

use memchr::{memchr, memchr2, memchr3};

use super::records::CsvRecords;
use super::{ChunkCounter, CountError, Header, RowStats};
use crate::contract::RowChecker;
use crate::engine::spec::{Format, Limits, ParseSpec};

/// Where the counter stands, named after csv-core's NFA states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records: line breaks here are empty lines and skipped.
    StartRecord,
    /// At the first byte of a field (a quote here opens a quoted field).
    StartField,
    /// Inside an unquoted field (or the tail of a quoted one).
    InField,
    /// Inside a quoted field: only the quote byte matters.
    InQuotedField,
    /// Just after a quote inside a quoted field: `""` escape or end of quoting.
    AfterQuote,
}

/// The csv/tsv counter, fed the file's bytes (BOM removed) chunk by chunk;
/// with a contract, it hands each record to the checker.
pub(crate) struct CsvCounter<'c> {
    format: Format,
    delimiter: u8,
    quote: Option<u8>,
    max_record_bytes: u64,
    state: State,
    /// Records started so far; the current record's 1-based number.
    records: u64,
    /// Bytes of the current record so far, its line break excluded.
    record_len: u64,
    /// The first record's raw bytes while it is being read, when there is a header.
    header_raw: Option<Vec<u8>>,
    /// Whether `header_raw` is still growing.
    capturing_header: bool,
    /// With a contract: the record being read and the checker.
    contract: Option<CsvRecords<'c>>,
}

impl<'c> CsvCounter<'c> {
    /// A counter for `spec`, or why its delimiter and quote cannot work.
    pub(crate) fn new(
        spec: &ParseSpec,
        limits: &Limits,
        checker: Option<RowChecker<'c>>,
    ) -> Result<Self, CountError> {
        let misconfigured = |reason: String| CountError::Misconfigured {
            format: spec.format,
            reason,
        };
        let line_break = |b: u8| b == b'\n' || b == b'\r';
        if line_break(spec.delimiter) {
            return Err(misconfigured(format!(
                "the delimiter {:?} is a line break",
                char::from(spec.delimiter)
            )));
        }
        if let Some(quote) = spec.quote {
            if line_break(quote) {
                return Err(misconfigured(format!(
                    "the quote {:?} is a line break",
                    char::from(quote)
                )));
            }
            if quote == spec.delimiter {
                return Err(misconfigured(format!(
                    "the quote and the delimiter are both {:?}",
                    char::from(quote)
                )));
            }
        }
        Ok(CsvCounter {
            format: spec.format,
            delimiter: spec.delimiter,
            quote: spec.quote,
            max_record_bytes: limits.max_record_bytes,
            state: State::StartRecord,
            records: 0,
            record_len: 0,
            header_raw: spec.header.then(Vec::new),
            capturing_header: spec.header,
            contract: checker
                .map(|checker| CsvRecords::new(checker, spec.delimiter, spec.quote, spec.header)),
        })
    }

    fn malformed_header(&self, why: String) -> CountError {
        CountError::Malformed {
            format: self.format,
            record: 1,
            reason: format!("the header record {why}"),
        }
    }

    fn malformed(&self, reason: String) -> CountError {
        CountError::Malformed {
            format: self.format,
            record: self.records,
            reason,
        }
    }

    /// Adds `bytes` to the current record, failing as soon as it is too long.
    fn take(&mut self, bytes: &[u8]) -> Result<(), CountError> {
        self.record_len = self.record_len.saturating_add(bytes.len() as u64);
        if self.record_len > self.max_record_bytes {
            return Err(self.malformed(format!(
                "record {} is longer than {} bytes",
                self.records, self.max_record_bytes
            )));
        }
        if self.capturing_header
            && let Some(raw) = self.header_raw.as_mut()
        {
            raw.extend_from_slice(bytes);
        }
        if let Some(contract) = &mut self.contract {
            contract.take(bytes);
        }
        Ok(())
    }

    /// The current record ended at the line break `stop` (`None` at the end
    /// of the file).
    fn end_record(&mut self, stop: Option<u8>) -> Result<(), CountError> {
        self.state = State::StartRecord;
        self.capturing_header = false;
        if let Some(contract) = &mut self.contract {
            contract.end()?;
            if let Some(stop) = stop {
                contract.line_break(stop);
            }
        }
        Ok(())
    }

    fn opened_quote(&mut self) {
        self.state = State::InQuotedField;
        if let Some(contract) = &mut self.contract {
            contract.opened_quote();
        }
    }

    fn is_line_break(b: u8) -> bool {
        b == b'\n' || b == b'\r'
    }
}

impl ChunkCounter for CsvCounter<'_> {
    fn skip(&mut self, bytes: u64) {
        if let Some(contract) = &mut self.contract {
            contract.skip(bytes);
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), CountError> {
        self.feed_chunk(bytes)?;
        if let Some(contract) = &mut self.contract {
            contract.chunk_done(bytes.len());
        }
        Ok(())
    }

    fn finish(mut self) -> Result<RowStats, CountError> {
        if self.state == State::InQuotedField {
            return Err(self.malformed(format!(
                "unbalanced quote: record {} opens a quoted field that never closes",
                self.records
            )));
        }
        if self.state != State::StartRecord {
            // The last record, without a line break.
            self.end_record(None)?;
        }
        let header = match self.header_raw.as_deref() {
            Some(raw) if self.records > 0 => Some(self.parse_header(raw)?),
            _ => None,
        };
        let rows = if header.is_some() {
            self.records.saturating_sub(1)
        } else {
            self.records
        };
        Ok(RowStats {
            records: self.records,
            rows,
            header,
            contract: self.contract.map(CsvRecords::finish),
        })
    }
}

impl CsvCounter<'_> {
    fn feed_chunk(&mut self, bytes: &[u8]) -> Result<(), CountError> {
        let mut rest = bytes;
        while let Some((&byte, after)) = rest.split_first() {
            match self.state {
                State::StartRecord => {
                    if Self::is_line_break(byte) {
                        if let Some(contract) = &mut self.contract {
                            contract.line_break(byte);
                        }
                        rest = after;
                    } else {
                        // The byte starts a record; StartField looks at it again.
                        self.records += 1;
                        self.record_len = 0;
                        self.state = State::StartField;
                        if let Some(contract) = &mut self.contract {
                            contract.begin(bytes.len() - rest.len());
                        }
                    }
                }
                State::AfterQuote => {
                    if Some(byte) == self.quote {
                        // The second quote of a `""` escape.
                        self.state = State::InQuotedField;
                    } else if byte == self.delimiter {
                        self.state = State::StartField;
                    } else if Self::is_line_break(byte) {
                        self.end_record(Some(byte))?;
                        rest = after;
                        continue;
                    } else {
                        self.state = State::InField;
                    }
                    self.take(&[byte])?;
                    rest = after;
                }
                State::StartField | State::InField => {
                    // Outside quotes only a line break, or a quote that opens a
                    // field, changes the state: jump to the next of either. A
                    // quote opens a field when the byte before it is a delimiter
                    // (or, first in the chunk, when the last one ended with one).
                    let found = match self.quote {
                        Some(quote) => memchr3(quote, b'\n', b'\r', rest),
                        None => memchr2(b'\n', b'\r', rest),
                    };
                    let Some(at) = found else {
                        self.take(rest)?;
                        if let Some(&last) = rest.last() {
                            self.state = if last == self.delimiter {
                                State::StartField
                            } else {
                                State::InField
                            };
                        }
                        rest = &[];
                        continue;
                    };
                    let (span, tail) = rest.split_at_checked(at).unwrap_or((rest, &[]));
                    let Some((&stop, tail)) = tail.split_first() else {
                        // Unreachable: `at` is the index of a byte of `rest`.
                        break;
                    };
                    if Self::is_line_break(stop) {
                        self.take(span)?;
                        self.end_record(Some(stop))?;
                    } else {
                        let opens = match span.last() {
                            Some(&before) => before == self.delimiter,
                            None => self.state == State::StartField,
                        };
                        self.take(span)?;
                        self.take(&[stop])?;
                        if opens {
                            self.opened_quote();
                        } else {
                            self.state = State::InField;
                        }
                    }
                    rest = tail;
                }
                State::InQuotedField => {
                    let Some(quote) = self.quote else {
                        // Unreachable: quoting starts only on a quote byte.
                        self.state = State::InField;
                        continue;
                    };
                    if byte == quote {
                        self.state = State::AfterQuote;
                        self.take(&[byte])?;
                        rest = after;
                    } else {
                        let end = memchr(quote, rest).unwrap_or(rest.len());
                        let (span, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
                        self.take(span)?;
                        rest = tail;
                    }
                }
            }
        }
        Ok(())
    }
}

impl CsvCounter<'_> {
    /// Splits the first record's raw bytes into fields with the `csv` crate.
    ///
    /// csv-core drops a UTF-8 BOM from the first bytes it is given; the file's
    /// own BOM is already gone, so a second one belongs to the first field, as it
    /// does when the `csv` crate reads the whole file. Handing csv-core a single
    /// byte first stops it from looking for one.
    fn parse_header(&self, raw: &[u8]) -> Result<Header, CountError> {
        let (first, others) = raw.split_at_checked(1).unwrap_or((raw, &[]));
        let mut builder = ::csv::ReaderBuilder::new();
        builder
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter);
        match self.quote {
            Some(quote) => builder.quote(quote),
            None => builder.quoting(false),
        };
        let mut reader = builder.from_reader(first.chain(others));
        let mut record = ::csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => Ok(Header(record)),
            Ok(false) => Err(self.malformed_header("it is empty".to_owned())),
            Err(e) => Err(self.malformed_header(format!("it cannot be parsed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        assert_interrupted_reads_are_retried, assert_reader_error_passes_through, count,
        count_chunked, count_endless, csv_crate_records, max_record, spec,
    };
    use super::super::{CountError, Header, RowStats, count_rows};
    use crate::engine::spec::{Format, Limits, ParseSpec};

    /// Counts `input` without a header and checks the `csv` crate agrees, in one
    /// chunk and byte by byte; returns the record count.
    fn records(input: &str, spec: &ParseSpec) -> u64 {
        let spec = ParseSpec {
            header: false,
            ..spec.clone()
        };
        let stats = count(input.as_bytes(), &spec).unwrap();
        let expected = csv_crate_records(input.as_bytes(), &spec).len() as u64;
        assert_eq!(
            stats.records, expected,
            "the csv crate disagrees on {input:?}"
        );
        assert_eq!(stats.rows, expected);
        assert_eq!(
            count_chunked(input.as_bytes(), 1, &spec, &Limits::default()),
            Ok(stats.clone())
        );
        stats.records
    }

    fn csv() -> ParseSpec {
        spec(Format::Csv, false)
    }

    fn header_of(input: &str, spec: &ParseSpec) -> RowStats {
        let spec = ParseSpec {
            header: true,
            ..spec.clone()
        };
        let stats = count(input.as_bytes(), &spec).unwrap();
        let expected = csv_crate_records(input.as_bytes(), &spec)
            .into_iter()
            .next();
        assert_eq!(
            names(stats.header.clone()),
            expected,
            "the csv crate disagrees on {input:?}"
        );
        stats
    }

    fn names(header: Option<Header>) -> Option<Vec<String>> {
        header.map(|h| h.names(usize::MAX))
    }

    fn strings(fields: &[&str]) -> Option<Vec<String>> {
        Some(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn quoted_fields_hold_line_breaks_and_delimiters() {
        assert_eq!(records("a,\"b\nc,d\",e\nf\n", &csv()), 2);
        assert_eq!(records("\"x\r\ny\"\r\n\"\r\"\n", &csv()), 2);
        let stats = header_of("id,\"note, long\nwith a break\"\n1,2\n", &csv());
        assert_eq!(
            names(stats.header.clone()),
            strings(&["id", "note, long\nwith a break"])
        );
        assert_eq!(stats.rows, 1);
    }

    #[test]
    fn doubled_quotes_are_escapes_and_do_not_close_the_field() {
        assert_eq!(records("\"a\"\"b\",c\n\"x\"\"\"\n\"\"\"\"\n", &csv()), 3);
        assert_eq!(records("\"a\"\"\nb\"\n", &csv()), 1);
        assert_eq!(
            names(header_of("\"say \"\"hi\"\"\",x\n", &csv()).header),
            strings(&["say \"hi\"", "x"])
        );
    }

    #[test]
    fn a_quote_opens_quoting_only_at_the_start_of_a_field() {
        assert_eq!(records("a\"b,c\nd\"\n", &csv()), 2);
        assert_eq!(
            names(header_of("a\"b,c\n", &csv()).header),
            strings(&["a\"b", "c"])
        );
        // After the closing quote, other bytes continue the field as data.
        assert_eq!(
            names(header_of("\"a\"b,c\n", &csv()).header),
            strings(&["ab", "c"])
        );
        assert_eq!(records("\"a\"b\"\nc\n", &csv()), 2);
    }

    #[test]
    fn crlf_lf_and_lone_cr_each_end_a_record() {
        assert_eq!(records("a\r\nb\r\nc", &csv()), 3);
        assert_eq!(records("a\rb\rc\r", &csv()), 3);
        assert_eq!(records("a\n\rb\r\r\nc\n", &csv()), 3);
        assert_eq!(
            names(header_of("x,y\r\n1,2\r\n", &csv()).header),
            strings(&["x", "y"])
        );
    }

    #[test]
    fn empty_lines_are_not_records() {
        assert_eq!(records("\n\na\n\r\n\nb\n\n\r\r", &csv()), 2);
        assert_eq!(records("\n\r\n\n", &csv()), 0);
        // A line of spaces or a lone delimiter is a record, as in the csv crate.
        assert_eq!(records(" \n,\n", &csv()), 2);
        let stats = header_of("\n\nh1,h2\n\nv1,v2\n", &csv());
        assert_eq!(names(stats.header.clone()), strings(&["h1", "h2"]));
        assert_eq!((stats.records, stats.rows), (2, 1));
    }

    #[test]
    fn a_last_record_without_line_break_counts() {
        assert_eq!(records("a\nb", &csv()), 2);
        assert_eq!(records("a\n\"b\nc\"", &csv()), 2);
        assert_eq!(records("x", &csv()), 1);
    }

    #[test]
    fn a_utf8_bom_is_ignored_whatever_the_chunking() {
        let input = "\u{feff}\"name\",age\n1,2\n";
        let stats = header_of(input, &csv());
        assert_eq!(names(stats.header.clone()), strings(&["name", "age"]));
        assert_eq!(stats.rows, 1);
        for capacity in 1..=4 {
            assert_eq!(
                count_chunked(
                    input.as_bytes(),
                    capacity,
                    &spec(Format::Csv, true),
                    &Limits::default()
                ),
                Ok(stats.clone())
            );
        }
        // Only one BOM is the file's; a second belongs to the first field.
        assert_eq!(
            names(header_of("\u{feff}\u{feff}\"a\",b\n", &csv()).header),
            strings(&["\u{feff}\"a\"", "b"])
        );
        assert_eq!(records("\u{feff}", &csv()), 0);
    }

    #[test]
    fn an_empty_file_has_no_rows_and_no_header() {
        for input in ["", "\n\r\n", "\u{feff}"] {
            let stats = count(input.as_bytes(), &spec(Format::Csv, true)).unwrap();
            assert_eq!(stats, RowStats::default(), "{input:?}");
        }
    }

    #[test]
    fn a_header_only_file_has_zero_rows() {
        let stats = count(b"a,b,c\n", &spec(Format::Csv, true)).unwrap();
        assert_eq!(stats.records, 1);
        assert_eq!(stats.rows, 0);
        assert_eq!(names(stats.header.clone()), strings(&["a", "b", "c"]));
        let no_break = count(b"a,b", &spec(Format::Csv, true)).unwrap();
        assert_eq!(
            (no_break.rows, names(no_break.header)),
            (0, strings(&["a", "b"]))
        );
    }

    #[test]
    fn the_header_is_lossy_utf8() {
        let stats = count(b"caf\xE9,ok\n1,2\n", &spec(Format::Csv, true)).unwrap();
        assert_eq!(names(stats.header.clone()), strings(&["caf\u{fffd}", "ok"]));
    }

    #[test]
    fn tsv_splits_on_tabs_and_quotes_like_csv() {
        let tsv = spec(Format::Tsv, true);
        let stats = header_of("a\tb,c\n\"x\ty\"\tz\n1\t\"2\n3\"\n", &tsv);
        assert_eq!(names(stats.header.clone()), strings(&["a", "b,c"]));
        assert_eq!(stats.rows, 2);
    }

    #[test]
    fn custom_delimiter_and_quote() {
        let custom = ParseSpec {
            delimiter: b';',
            quote: Some(b'\''),
            ..csv()
        };
        assert_eq!(
            names(header_of("'a;b';\"c\n'x''y\nz';w\n", &custom).header),
            strings(&["a;b", "\"c"])
        );
        assert_eq!(records("'a;b';\"c\n'x''y\nz';w\n", &custom), 2);
    }

    #[test]
    fn without_a_quote_byte_quotes_are_data() {
        let unquoted = ParseSpec {
            quote: None,
            ..csv()
        };
        assert_eq!(records("\"a\nb\"\n\"", &unquoted), 3);
        assert_eq!(
            names(header_of("\"a,b\"\n", &unquoted).header),
            strings(&["\"a", "b\""])
        );
    }

    #[test]
    fn an_unterminated_quoted_field_is_rejected_with_its_record() {
        let input = b"a,b\n1,2\n3,\"unclosed\n4,5\n";
        match count(input, &csv()) {
            Err(CountError::Malformed {
                format: Format::Csv,
                record: 3,
                reason,
            }) => assert_eq!(
                reason,
                "unbalanced quote: record 3 opens a quoted field that never closes"
            ),
            other => panic!("expected an unbalanced quote, got {other:?}"),
        }
        // The csv crate would have accepted it: that is why this counter exists.
        assert_eq!(csv_crate_records(input, &csv()).len(), 3);
        assert!(count(b"\"", &csv()).is_err());
        assert!(count(b"\"a\"\"", &csv()).is_err());
        assert!(count(b"\"a\"\"\"", &csv()).is_ok());
    }

    #[test]
    fn a_record_longer_than_the_limit_is_rejected_and_one_at_the_limit_accepted() {
        let limits = max_record(10);
        let ok = count_rows(&b"0123456789\r\n\"12345678\"\n"[..], &csv(), &limits).unwrap();
        assert_eq!(ok.records, 2);
        for input in [&b"short\n0123456789a\n"[..], b"short\n\"0123\n456789\"\n"] {
            match count_rows(input, &csv(), &limits) {
                Err(CountError::Malformed {
                    record: 2, reason, ..
                }) => {
                    assert_eq!(reason, "record 2 is longer than 10 bytes");
                }
                other => panic!("expected an overlong record, got {other:?}"),
            }
        }
        // The header is bounded by the same limit.
        assert!(count_rows(&b"01234567890\n1\n"[..], &spec(Format::Csv, true), &limits).is_err());
    }

    #[test]
    fn an_endless_record_is_rejected_without_reading_or_holding_it() {
        let limits = max_record(1024 * 1024);
        for (prefix, byte) in [(&b"h\n"[..], b'x'), (b"h\n\"", b'y')] {
            let (result, read) =
                count_endless(prefix, byte, 1 << 40, &spec(Format::Csv, true), &limits);
            assert!(
                matches!(result, Err(CountError::Malformed { record: 2, .. })),
                "{result:?}"
            );
            assert!(read <= 1024 * 1024 + 8 * 1024, "read {read} bytes");
        }
    }

    #[test]
    fn line_breaks_as_delimiter_or_quote_are_misconfigured() {
        for (delimiter, quote) in [(b'\n', Some(b'"')), (b',', Some(b'\r')), (b',', Some(b','))] {
            let bad = ParseSpec {
                delimiter,
                quote,
                ..csv()
            };
            assert!(
                matches!(
                    count(b"a\n", &bad),
                    Err(CountError::Misconfigured {
                        format: Format::Csv,
                        ..
                    })
                ),
                "{delimiter} {quote:?}"
            );
        }
    }

    #[test]
    fn the_readers_error_comes_back_unchanged() {
        assert_reader_error_passes_through(b"a,b\n1,\"2\n", &spec(Format::Csv, true));
        assert_reader_error_passes_through(b"", &spec(Format::Tsv, false));
    }

    #[test]
    fn interrupted_reads_are_retried() {
        assert_interrupted_reads_are_retried(b"a,b\n1,\"2\n3\"\n", &spec(Format::Csv, true));
    }
}
