//! Counting JSON-lines records: one record per line holding at least one byte
//! that is not JSON whitespace (space, tab, `\r`, `\n`).
//!
//! Lines end with `\n` (so `\r\n` works, the `\r` being whitespace); the last
//! line may lack it. With `parse_json`, each record is parsed with serde_json
//! (into [`IgnoredAny`], nothing is kept) and the first invalid one rejects the
//! file. A line is held in memory only to parse it, and never beyond
//! `max_record_bytes`: a longer line is rejected as soon as it crosses the limit.
//! Errors name the physical line (blank lines included), as an editor shows it.

use memchr::memchr;
use serde::de::IgnoredAny;

use super::{ChunkCounter, CountError, RowStats};
use crate::engine::spec::{Format, Limits, ParseSpec};

/// The jsonl counter, fed the file's bytes (BOM removed) chunk by chunk.
#[derive(Debug)]
pub(crate) struct JsonlCounter {
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
}

impl JsonlCounter {
    /// A counter for `spec` (only `parse_json` matters) and `limits`.
    pub(crate) fn new(spec: &ParseSpec, limits: &Limits) -> Self {
        JsonlCounter {
            parse_json: spec.parse_json,
            max_record_bytes: limits.max_record_bytes,
            lines: 0,
            records: 0,
            line_len: 0,
            has_content: false,
            line: Vec::new(),
            parsed_from: 0,
        }
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
        if self.parse_json && self.has_content {
            if self.line.is_empty() {
                self.parsed_from = before;
            }
            if complete && self.line.is_empty() {
                return self.check_json(span);
            }
            self.line.extend_from_slice(span);
        }
        Ok(())
    }

    /// The current line ended (at a `\n` or the end of the file).
    fn end_line(&mut self) -> Result<(), CountError> {
        if self.has_content {
            self.records += 1;
            if self.parse_json && !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.check_json(&line)?;
                self.line = line;
                self.line.clear();
            }
        }
        self.lines += 1;
        self.line_len = 0;
        self.has_content = false;
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

impl ChunkCounter for JsonlCounter {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), CountError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match memchr(b'\n', rest) {
                Some(end) => {
                    let (span, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
                    self.take(span, true)?;
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
        })
    }
}

/// JSON's insignificant whitespace (RFC 8259 §2).
fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
