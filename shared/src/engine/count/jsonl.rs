//! Counting JSON-lines records: one record per line holding at least one byte
//! that is not JSON whitespace (space, tab, `\r`, `\n`).
//!
//! Lines end with `\n` (so `\r\n` works, the `\r` being whitespace); the last
//! line may lack it. With `parse_json`, each record is parsed with serde_json
//! (into [`IgnoredAny`], nothing is kept) and the first invalid one rejects the
//! file. A line is held in memory only to parse it, and never beyond
//! `max_record_bytes`: a longer line is rejected as soon as it crosses the limit.
//! Errors name the physical line (blank lines included), as an editor shows it.
//! With a data contract, each record is also handed to the checker, with its
//! line and decoded offset.

use memchr::memchr;
use serde::de::IgnoredAny;

use super::{ChunkCounter, CountError, RowStats};
use crate::contract::{RecordAt, RowChecker};
use crate::engine::spec::{Format, Limits, ParseSpec};

/// The jsonl counter, fed the file's bytes (BOM removed) chunk by chunk.
pub(crate) struct JsonlCounter<'c> {
    parse_json: bool,
    max_record_bytes: u64,
    /// Lines finished so far; the current line is `lines + 1`.
    lines: u64,
    records: u64,
    /// Bytes of the current line so far, its `\n` excluded.
    line_len: u64,
    /// Whether the current line has a byte other than whitespace.
    has_content: bool,
    /// The current line's bytes, kept only when it must be parsed and spans chunks.
    line: Vec<u8>,
    /// Offset in the current line of the first byte parsed (leading whitespace
    /// in earlier chunks is not kept), to report serde_json's column.
    parsed_from: u64,
    /// With a contract: its checker.
    contract: Option<RowChecker<'c>>,
    /// Decoded offset of the next byte, and of the current line's first one.
    offset: u64,
    line_start: u64,
}

impl<'c> JsonlCounter<'c> {
    /// A counter for `spec` (only `parse_json` matters) and `limits`, checking
    /// each record with `checker` when there is a contract.
    pub(crate) fn new(spec: &ParseSpec, limits: &Limits, checker: Option<RowChecker<'c>>) -> Self {
        JsonlCounter {
            parse_json: spec.parse_json,
            max_record_bytes: limits.max_record_bytes,
            lines: 0,
            records: 0,
            line_len: 0,
            has_content: false,
            line: Vec::new(),
            parsed_from: 0,
            contract: checker,
            offset: 0,
            line_start: 0,
        }
    }

    /// Whether records must be seen whole (parsed or checked).
    fn keeps_records(&self) -> bool {
        self.parse_json || self.contract.is_some()
    }

    fn malformed(&self, reason: String) -> CountError {
        CountError::Malformed {
            format: Format::Jsonl,
            record: self.lines + 1,
            reason,
        }
    }

    /// Adds `span` (no `\n` in it) to the current line. `complete` says the line
    /// ends right after it, so a line that fits in one chunk is parsed in place.
    fn take(&mut self, span: &[u8], complete: bool) -> Result<(), CountError> {
        let before = self.line_len;
        self.line_len = self.line_len.saturating_add(span.len() as u64);
        if self.line_len > self.max_record_bytes {
            return Err(self.malformed(format!(
                "line {} is longer than {} bytes",
                self.lines + 1,
                self.max_record_bytes
            )));
        }
        if !self.has_content {
            self.has_content = span.iter().any(|&b| !is_json_whitespace(b));
        }
        self.offset = self.offset.saturating_add(span.len() as u64);
        if self.keeps_records() && self.has_content {
            if self.line.is_empty() {
                self.parsed_from = before;
            }
            if complete && self.line.is_empty() {
                return self.record(span);
            }
            self.line.extend_from_slice(span);
        }
        Ok(())
    }

    /// A whole record: parsed when `parse_json`, checked with a contract.
    fn record(&mut self, line: &[u8]) -> Result<(), CountError> {
        if self.parse_json {
            self.check_json(line)?;
        }
        if let Some(checker) = &mut self.contract {
            let at = RecordAt {
                line: self.lines + 1,
                record: self.records + 1,
                offset: self.line_start,
            };
            checker
                .json_record(at, line)
                .map_err(|e| CountError::Io(std::io::Error::other(e)))?;
        }
        Ok(())
    }

    /// The current line ended (at a `\n`, counted in `offset`, or the end of
    /// the file).
    fn end_line(&mut self) -> Result<(), CountError> {
        if self.has_content {
            if self.keeps_records() && !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.record(&line)?;
                self.line = line;
                self.line.clear();
            }
            self.records += 1;
        }
        self.lines += 1;
        self.line_len = 0;
        self.has_content = false;
        self.line_start = self.offset;
        Ok(())
    }

    fn check_json(&self, line: &[u8]) -> Result<(), CountError> {
        match serde_json::from_slice::<IgnoredAny>(line) {
            Ok(IgnoredAny) => Ok(()),
            Err(e) => {
                // serde_json says "… at line 1 column N"; the line is ours to name.
                let full = e.to_string();
                let position = format!(" at line {} column {}", e.line(), e.column());
                let what = full.strip_suffix(&position).unwrap_or(&full);
                Err(self.malformed(format!(
                    "line {} is not valid JSON: {what} (column {})",
                    self.lines + 1,
                    self.parsed_from.saturating_add(e.column() as u64)
                )))
            }
        }
    }
}

impl ChunkCounter for JsonlCounter<'_> {
    fn skip(&mut self, bytes: u64) {
        self.offset = self.offset.saturating_add(bytes);
        self.line_start = self.offset;
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), CountError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match memchr(b'\n', rest) {
                Some(end) => {
                    let (span, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
                    self.take(span, true)?;
                    // The `\n` itself.
                    self.offset = self.offset.saturating_add(1);
                    self.end_line()?;
                    rest = tail.get(1..).unwrap_or_default();
                }
                None => {
                    self.take(rest, false)?;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<RowStats, CountError> {
        if self.line_len > 0 {
            self.end_line()?;
        }
        Ok(RowStats {
            records: self.records,
            rows: self.records,
            header: None,
            contract: self.contract.map(RowChecker::finish),
        })
    }
}

/// JSON's insignificant whitespace (RFC 8259 §2).
fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        assert_interrupted_reads_are_retried, assert_reader_error_passes_through, count,
        count_chunked, count_endless, max_record, outcome,
    };
    use super::super::{CountError, count_rows};
    use crate::engine::spec::{Format, Limits, ParseSpec};

    fn jsonl(parse_json: bool) -> ParseSpec {
        ParseSpec {
            parse_json,
            ..ParseSpec::new(Format::Jsonl)
        }
    }

    /// Counts `input` in one chunk, checking every small chunking agrees.
    fn rows(input: &str, spec: &ParseSpec) -> u64 {
        let whole = count(input.as_bytes(), spec).unwrap();
        assert_eq!(whole.header, None);
        assert_eq!(whole.records, whole.rows);
        for capacity in 1..8 {
            assert_eq!(
                count_chunked(input.as_bytes(), capacity, spec, &Limits::default()),
                Ok(whole.clone())
            );
        }
        whole.rows
    }

    fn rejection(input: &[u8], spec: &ParseSpec, limits: &Limits) -> (u64, String) {
        match count_rows(input, spec, limits) {
            Err(CountError::Malformed {
                format: Format::Jsonl,
                record,
                reason,
            }) => (record, reason),
            other => panic!("expected a rejection of {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn blank_and_whitespace_lines_are_not_records() {
        let input = "{\"a\":1}\n\n   \n\t\r\n{\"a\":2}\r\n \n";
        assert_eq!(rows(input, &jsonl(false)), 2);
        assert_eq!(rows(input, &jsonl(true)), 2);
        assert_eq!(rows("", &jsonl(true)), 0);
        assert_eq!(rows("\n \n\r\n", &jsonl(true)), 0);
    }

    #[test]
    fn the_last_line_needs_no_line_break_and_a_bom_is_ignored() {
        assert_eq!(rows("{}\n[]", &jsonl(true)), 2);
        assert_eq!(rows("\u{feff}{\"k\":\"v\"}\n1", &jsonl(true)), 2);
        assert_eq!(rows("\u{feff}", &jsonl(true)), 0);
    }

    #[test]
    fn invalid_json_is_counted_unless_parsing_is_asked_for() {
        let input = b"{\"ok\":true}\n\n{\"broken\":\n";
        assert_eq!(count(input, &jsonl(false)).unwrap().rows, 2);
        let (line, reason) = rejection(input, &jsonl(true), &Limits::default());
        assert_eq!(line, 3);
        assert!(
            reason.starts_with("line 3 is not valid JSON: EOF while parsing a value"),
            "{reason}"
        );
    }

    #[test]
    fn the_json_error_names_the_line_and_its_column() {
        let (line, reason) = rejection(b"1\n2\n  {\"a\" 1}\n", &jsonl(true), &Limits::default());
        assert_eq!(line, 3);
        assert_eq!(reason, "line 3 is not valid JSON: expected `:` (column 8)");
        // Two values on one line are not one record.
        let (line, _) = rejection(b"{}{}\n", &jsonl(true), &Limits::default());
        assert_eq!(line, 1);
        // The same error whatever the chunking.
        let input = b"\n\n    {\"a\" 1}\n";
        let whole = outcome(count(input, &jsonl(true)));
        for capacity in 1..8 {
            assert_eq!(
                count_chunked(input, capacity, &jsonl(true), &Limits::default()),
                whole
            );
        }
        assert!(whole.unwrap_err().contains("(column 10)"));
    }

    #[test]
    fn a_line_longer_than_the_limit_is_rejected_and_one_at_the_limit_accepted() {
        let limits = max_record(8);
        assert_eq!(
            count_rows(&b"[1,2,3,4]\n\"123456\"\n"[..], &jsonl(true), &limits)
                .map(|s| s.rows)
                .ok(),
            None
        );
        let ok = count_rows(&b"[1,2,34]\n\"123456\"\n"[..], &jsonl(true), &limits).unwrap();
        assert_eq!(ok.rows, 2);
        let (line, reason) = rejection(b"1\n\n123456789\n", &jsonl(false), &limits);
        assert_eq!(
            (line, reason.as_str()),
            (3, "line 3 is longer than 8 bytes")
        );
    }

    #[test]
    fn an_endless_line_is_rejected_without_holding_it() {
        let limits = max_record(1024 * 1024);
        for parse_json in [false, true] {
            let (result, read) =
                count_endless(b"{}\n[", b' ', 1 << 40, &jsonl(parse_json), &limits);
            assert!(
                matches!(result, Err(CountError::Malformed { record: 2, .. })),
                "{result:?}"
            );
            assert!(read <= 1024 * 1024 + 8 * 1024, "read {read} bytes");
        }
    }

    #[test]
    fn the_readers_error_comes_back_unchanged_and_interruptions_are_retried() {
        assert_reader_error_passes_through(b"{}\n{\"a\":", &jsonl(true));
        assert_interrupted_reads_are_retried(b"{}\n\n{\"a\":[1,2]}\n", &jsonl(true));
    }
}
