//! Checking records against a compiled contract, one at a time, as the engine
//! streams them: the header (or each jsonl record's fields) against the
//! columns, then every value against its column's type and checks, and keys
//! against the values seen before.
//!
//! The checker keeps only figures (rows, invalid rows, counts per column and
//! check), the first row errors, and the uniqueness indexes ([`super::unique`],
//! bounded by their budget). Cell values appear only in [`RowError::value`],
//! which reaches the rejection report and `tributary check`, never a log.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::io::Write;

use base64::Engine as _;

use roaring::RoaringTreemap;
use serde::Serialize;
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::compile::{Column, Contract};
use super::spec::{ExtraColumns, InvalidAction};
use super::types::ColumnType;
use super::unique::{KeyIndex, LateDuplicate, Place, Seen, SpillError};
use super::value::Value;

/// Characters of a value kept in a row error.
pub const MAX_VALUE_CHARS: usize = 64;

/// Row errors kept by default (the report's `row_errors`).
pub const DEFAULT_MAX_ROW_ERRORS: usize = 100;

/// One check of the contract, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Columns,
    Type,
    Nullable,
    Unique,
    PrimaryKey,
    Allowed,
    Min,
    Max,
    Pattern,
    MinLength,
    MaxLength,
}

impl Check {
    /// The name reports and the registry use.
    pub fn name(self) -> &'static str {
        match self {
            Check::Columns => "columns",
            Check::Type => "type",
            Check::Nullable => "nullable",
            Check::Unique => "unique",
            Check::PrimaryKey => "primary_key",
            Check::Allowed => "allowed",
            Check::Min => "min",
            Check::Max => "max",
            Check::Pattern => "pattern",
            Check::MinLength => "min_length",
            Check::MaxLength => "max_length",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a record is in the decoded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordAt {
    /// 1-based physical line where the record starts (the header is line 1).
    pub line: u64,
    /// 1-based number of the data record (the header is not one).
    pub record: u64,
    /// Byte offset of the record's first byte in the decoded stream.
    pub offset: u64,
}

/// One failed check of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    pub record: u64,
    pub offset: u64,
    /// The column (or the file's field) at fault; `None` for the whole record.
    pub column: Option<String>,
    pub check: Check,
    /// The value as written, cut to [`MAX_VALUE_CHARS`] characters (tenant data).
    pub value: Option<String>,
    /// What is wrong, without the value.
    pub message: String,
}

/// How many rows failed one check of one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckCount {
    pub column: Option<String>,
    pub check: Check,
    pub rows: u64,
}

/// What the contract found in a whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContractOutcome {
    /// Rows checked (data records).
    pub rows: u64,
    /// Rows with at least one error.
    pub invalid_rows: u64,
    /// The first row errors, by record.
    pub row_errors: Vec<RowError>,
    /// Whether errors were left out of `row_errors`.
    pub row_errors_truncated: bool,
    /// Failed checks per column and check.
    pub checks: Vec<CheckCount>,
    /// Why the file cannot be read against the contract at all (its header);
    /// the file is rejected.
    pub file_problems: Vec<String>,
    /// Why the checks could not be finished here: the local scratch files
    /// (the uniqueness spill, the invalid records kept aside) failed, a disk
    /// full or gone. Not the file's fault: the file is not judged.
    #[serde(skip)]
    pub scratch_failure: Option<String>,
}

impl ContractOutcome {
    /// Why the contract rejects the file, given `on_invalid`; empty when it
    /// accepts it.
    pub fn reasons(&self, contract: &Contract) -> Vec<String> {
        let mut reasons = self.file_problems.clone();
        if self.invalid_rows == 0 || !reasons.is_empty() {
            return reasons;
        }
        let summary = self
            .checks
            .iter()
            .take(5)
            .map(|c| match &c.column {
                Some(column) => format!("{column}: {} ({})", c.check, c.rows),
                None => format!("{} ({})", c.check, c.rows),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let on_invalid = contract.on_invalid();
        match on_invalid.action {
            InvalidAction::RejectFile => reasons.push(format!(
                "{} of {} rows break the contract: {summary}",
                self.invalid_rows, self.rows
            )),
            InvalidAction::QuarantineRows => {
                if let Some(max) = on_invalid
                    .max_invalid_rows
                    .filter(|&max| self.invalid_rows > max)
                {
                    reasons.push(format!(
                        "{} of {} rows break the contract, more than max_invalid_rows ({max}): {summary}",
                        self.invalid_rows, self.rows
                    ));
                }
                if let Some(ratio) = on_invalid.max_invalid_ratio {
                    let share = self.invalid_rows as f64 / self.rows.max(1) as f64;
                    if share > ratio {
                        reasons.push(format!(
                            "{} of {} rows break the contract ({:.4}), more than max_invalid_ratio ({ratio}): {summary}",
                            self.invalid_rows, self.rows, share
                        ));
                    }
                }
            }
        }
        reasons
    }
}

/// A csv/tsv record split into fields: field `i` is `data[start..ends[i]]`,
/// where `start` is 0 for the first field and `ends[i-1] + gap` for the others
/// (`gap` is 1 when `data` still holds the delimiters, 0 when it does not).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub data: &'a [u8],
    pub ends: &'a [usize],
    pub gap: usize,
}

impl<'a> Fields<'a> {
    /// How many fields the record has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no field at all.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, if the record has it.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before)? + self.gap,
            None => 0,
        };
        self.data.get(start..end)
    }
}

/// How a csv/tsv file's fields map onto the contract's columns.
#[derive(Debug, Clone)]
struct Layout {
    /// For each contract column, its field index.
    field_of: Vec<usize>,
    /// Fields every record must have (the header's, or the contract's without one).
    width: usize,
    /// Without a header and with `extra_columns: ignore`, more fields are fine.
    at_least: bool,
}

/// A value as a record holds it.
#[derive(Clone, Copy)]
enum Cell<'a> {
    /// A csv/tsv field, or a jsonl string's text: compared with `null_values`.
    Raw(&'a [u8]),
    /// A jsonl number or boolean as written.
    JsonLiteral(&'a [u8]),
    /// A jsonl `null` or a missing field.
    Null,
    /// A jsonl object or array.
    Nested,
}

/// The keys of one `unique` column, and the current row's key.
struct UniqueColumn {
    column: usize,
    index: KeyIndex,
    key: Vec<u8>,
    raw: Vec<u8>,
    has_key: bool,
}

/// The primary key's index and the current row's parts of it.
struct PrimaryKey {
    index: KeyIndex,
    parts: Vec<Vec<u8>>,
    complete: Vec<bool>,
    key: Vec<u8>,
}

/// A late duplicate's error, ordered by record for the "first N" heap.
#[derive(PartialEq, Eq)]
struct Late(RowError);

impl Ord for Late {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.record, self.0.check).cmp(&(other.0.record, other.0.check))
    }
}

impl PartialOrd for Late {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Checks one file's records against a contract.
pub struct RowChecker<'c> {
    contract: &'c Contract,
    max_row_errors: usize,
    layout: Option<Layout>,
    /// Contract column index of each name (jsonl fields).
    by_name: HashMap<&'c str, usize>,
    /// For each contract column, its slot in `unique`.
    unique_slot: Vec<Option<usize>>,
    /// For each contract column, its position in the primary key.
    key_slot: Vec<Option<usize>>,
    unique: Vec<UniqueColumn>,
    primary: Option<PrimaryKey>,
    rows: u64,
    /// Invalid data records (compressed bitmap: runs and sparse sets stay small).
    invalid: RoaringTreemap,
    errors: Vec<RowError>,
    errors_left_out: bool,
    late: BinaryHeap<Late>,
    tallies: BTreeMap<(Option<usize>, Check), u64>,
    /// Tallies of jsonl fields the contract does not name.
    extra_tallies: BTreeMap<String, u64>,
    file_problems: Vec<String>,
    /// The current row's errors.
    row: Vec<RowError>,
    seen_field: Vec<bool>,
    /// Where invalid records go, as received with their errors (one JSON line
    /// each), when they are kept aside.
    invalid_records: Option<&'c mut (dyn Write + Send)>,
    /// Writing them failed: the file cannot be judged.
    scratch_failure: Option<SpillError>,
    /// A reused buffer for a value's key (`allowed`).
    scratch: Vec<u8>,
}

impl<'c> RowChecker<'c> {
    /// A checker for `contract`, keeping the first `max_row_errors` row
    /// errors, its uniqueness indexes within about `key_memory` bytes in all.
    pub fn new(contract: &'c Contract, max_row_errors: usize, key_memory: usize) -> Self {
        let indexes = contract.columns.iter().filter(|c| c.unique).count()
            + usize::from(!contract.primary_key.is_empty());
        let budget = key_memory / indexes.max(1);
        let mut unique_slot = vec![None; contract.columns.len()];
        let mut unique = Vec::new();
        for (i, column) in contract.columns.iter().enumerate() {
            if column.unique
                && let Some(slot) = unique_slot.get_mut(i)
            {
                *slot = Some(unique.len());
                unique.push(UniqueColumn {
                    column: i,
                    index: KeyIndex::new(budget),
                    key: Vec::new(),
                    raw: Vec::new(),
                    has_key: false,
                });
            }
        }
        let mut key_slot = vec![None; contract.columns.len()];
        for (position, &column) in contract.primary_key.iter().enumerate() {
            if let Some(slot) = key_slot.get_mut(column) {
                *slot = Some(position);
            }
        }
        let parts = contract.primary_key.len();
        let primary = (parts > 0).then(|| PrimaryKey {
            index: KeyIndex::new(budget),
            parts: vec![Vec::new(); parts],
            complete: vec![false; parts],
            key: Vec::new(),
        });
        RowChecker {
            contract,
            max_row_errors,
            layout: None,
            by_name: contract
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.as_str(), i))
                .collect(),
            unique_slot,
            key_slot,
            unique,
            primary,
            rows: 0,
            invalid: RoaringTreemap::new(),
            errors: Vec::new(),
            errors_left_out: false,
            late: BinaryHeap::new(),
            tallies: BTreeMap::new(),
            extra_tallies: BTreeMap::new(),
            file_problems: Vec::new(),
            row: Vec::new(),
            seen_field: vec![false; contract.columns.len()],
            invalid_records: None,
            scratch_failure: None,
            scratch: Vec::new(),
        }
    }

    /// Writes every invalid record to `out` as one JSON line: its line,
    /// record, offset and errors, and its bytes as received (`text` when they
    /// are UTF-8, else `base64`). A duplicate found only after the key index
    /// spilled comes at the end, with that error alone (its other errors, if
    /// any, are on its first line).
    pub fn keep_invalid_records(mut self, out: &'c mut (dyn Write + Send)) -> Self {
        self.invalid_records = Some(out);
        self
    }

    /// Whether the file can no longer be accepted whatever follows (its header
    /// does not match the contract): the caller may stop feeding records.
    pub fn file_rejected(&self) -> bool {
        !self.file_problems.is_empty()
    }

    /// A csv/tsv header: finds each contract column in it. A problem rejects
    /// the file (a row error on line 1, check `columns`).
    pub fn header(&mut self, names: Fields<'_>) {
        // Memory and time stay proportional to the contract, not to the
        // header: a header of millions of names (within `max_record_bytes`)
        // is scanned, never indexed, and only the problems kept are written.
        let contract = self.contract;
        let column_of: HashMap<&[u8], usize> = contract
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), i))
            .collect();
        // Each contract column's first field, and how many fields it names.
        let mut found: Vec<(Option<usize>, u64)> = vec![(None, 0); contract.columns.len()];
        for i in 0..names.len() {
            let name = names.get(i).unwrap_or_default();
            if let Some((field, seen)) = column_of.get(name).and_then(|&c| found.get_mut(c)) {
                field.get_or_insert(i);
                *seen += 1;
            }
        }
        let mut field_of = Vec::with_capacity(contract.columns.len());
        for (column, &(field, seen)) in contract.columns.iter().zip(&found) {
            if seen > 1 {
                self.header_problem(
                    column.name.as_bytes(),
                    "appears more than once in the header",
                );
            }
            match field {
                Some(field) => field_of.push(field),
                None => self.header_problem(column.name.as_bytes(), "is missing from the header"),
            }
        }
        if contract.extra_columns == ExtraColumns::Reject {
            for i in 0..names.len() {
                let name = names.get(i).unwrap_or_default();
                if !column_of.contains_key(name) {
                    self.header_problem(
                        name,
                        "is in the header but not in the contract (extra_columns: reject)",
                    );
                }
            }
        }
        self.layout = Some(Layout {
            field_of,
            width: names.len(),
            at_least: false,
        });
    }

    /// One problem of the header (line 1, check `columns`): counted always,
    /// written only while the file's problems and the row errors have room.
    fn header_problem(&mut self, column: &[u8], message: &str) {
        *self.tallies.entry((None, Check::Columns)).or_default() += 1;
        if self.file_problems.len() < self.max_row_errors.max(10) {
            self.file_problems
                .push(format!("header: column `{}` {message}", cut(column)));
        }
        if self.errors.len() < self.max_row_errors {
            self.errors.push(RowError {
                line: 1,
                record: 0,
                offset: 0,
                column: Some(cut(column)),
                check: Check::Columns,
                value: None,
                message: message.to_owned(),
            });
        } else {
            self.errors_left_out = true;
        }
    }

    /// Checks one csv/tsv data record. Without a [`header`](Self::header)
    /// first, columns are matched by position.
    pub fn csv_record(
        &mut self,
        at: RecordAt,
        raw: &[u8],
        fields: Fields<'_>,
    ) -> Result<(), SpillError> {
        if self.file_rejected() {
            return Ok(());
        }
        let layout = match self.layout.take() {
            Some(layout) => layout,
            None => Layout {
                field_of: (0..self.contract.columns.len()).collect(),
                width: self.contract.columns.len(),
                at_least: self.contract.extra_columns == ExtraColumns::Ignore,
            },
        };
        self.begin_row();
        let fits = if layout.at_least {
            fields.len() >= layout.width
        } else {
            fields.len() == layout.width
        };
        if fits {
            for (column, &field) in layout.field_of.iter().enumerate() {
                self.cell(at, column, Cell::Raw(fields.get(field).unwrap_or_default()));
            }
        } else {
            let expected = if layout.at_least { "at least " } else { "" };
            self.error(
                at,
                None,
                Check::Columns,
                None,
                format!(
                    "has {} fields, expected {expected}{}",
                    fields.len(),
                    layout.width
                ),
            );
        }
        self.layout = Some(layout);
        self.end_row(at, raw)
    }

    /// Checks one jsonl record (the line's bytes).
    pub fn json_record(&mut self, at: RecordAt, line: &[u8]) -> Result<(), SpillError> {
        if self.file_rejected() {
            return Ok(());
        }
        self.begin_row();
        let fields = match parse_object(line) {
            Ok(fields) => fields,
            Err(message) => {
                self.error(at, None, Check::Columns, None, message);
                return self.end_row(at, line);
            }
        };
        self.seen_field.iter_mut().for_each(|seen| *seen = false);
        let mut cells: Vec<Cell<'_>> = vec![Cell::Null; self.contract.columns.len()];
        for (name, cell) in &fields {
            match self.by_name.get(name.as_ref()).copied() {
                Some(column) => {
                    let again = self
                        .seen_field
                        .get_mut(column)
                        .map(|seen| std::mem::replace(seen, true))
                        .unwrap_or(false);
                    if again {
                        self.error(
                            at,
                            Some(column),
                            Check::Columns,
                            None,
                            "the field appears more than once in the record".to_owned(),
                        );
                    }
                    if let Some(slot) = cells.get_mut(column) {
                        *slot = match cell {
                            JsonCell::Null => Cell::Null,
                            JsonCell::Text(text) => Cell::Raw(text.as_bytes()),
                            JsonCell::Literal(text) => Cell::JsonLiteral(text.as_bytes()),
                            JsonCell::Nested => Cell::Nested,
                        };
                    }
                }
                None if self.contract.extra_columns == ExtraColumns::Reject => {
                    *self.extra_tallies.entry(cut(name.as_bytes())).or_default() += 1;
                    self.row.push(RowError {
                        line: at.line,
                        record: at.record,
                        offset: at.offset,
                        column: Some(cut(name.as_bytes())),
                        check: Check::Columns,
                        value: None,
                        message: "the field is not in the contract (extra_columns: reject)"
                            .to_owned(),
                    });
                }
                None => {}
            }
        }
        for (column, cell) in cells.into_iter().enumerate() {
            self.cell(at, column, cell);
        }
        self.end_row(at, line)
    }

    /// The outcome, once every record was checked: resolves the duplicates
    /// that went to disk.
    pub fn finish(mut self) -> ContractOutcome {
        let unique = std::mem::take(&mut self.unique);
        let primary = self.primary.take();
        let mut failure = None;
        for (column, index) in unique
            .into_iter()
            .map(|u| (Some(u.column), u.index))
            .chain(primary.map(|p| (None, p.index)))
        {
            let check = if column.is_some() {
                Check::Unique
            } else {
                Check::PrimaryKey
            };
            let result = index.finish(|late| self.late_duplicate(column, check, late));
            if let Err(e) = result {
                failure = Some(e);
            }
        }
        let mut scratch_failure = failure.or(self.scratch_failure.take());
        if let Some(out) = self.invalid_records.as_deref_mut()
            && let Err(e) = out.flush()
        {
            scratch_failure.get_or_insert(SpillError::Disk(e));
        }
        let mut errors = std::mem::take(&mut self.errors);
        if !self.late.is_empty() {
            errors.extend(self.late.drain().map(|Late(e)| e));
            errors.sort_by_key(|e| (e.record, e.line));
            if errors.len() > self.max_row_errors {
                errors.truncate(self.max_row_errors);
                self.errors_left_out = true;
            }
        }
        let mut checks: Vec<CheckCount> = self
            .tallies
            .iter()
            .map(|(&(column, check), &rows)| CheckCount {
                column: column
                    .and_then(|c| self.contract.columns.get(c))
                    .map(|c| c.name.clone()),
                check,
                rows,
            })
            .collect();
        checks.extend(self.extra_tallies.iter().map(|(name, &rows)| CheckCount {
            column: Some(name.clone()),
            check: Check::Columns,
            rows,
        }));
        checks.sort_by_key(|c| std::cmp::Reverse(c.rows));
        ContractOutcome {
            rows: self.rows,
            invalid_rows: self.invalid.len(),
            row_errors: errors,
            row_errors_truncated: self.errors_left_out,
            checks,
            file_problems: self.file_problems,
            scratch_failure: scratch_failure.map(|e| e.to_string()),
        }
    }

    fn begin_row(&mut self) {
        self.rows += 1;
        self.row.clear();
        for unique in &mut self.unique {
            unique.has_key = false;
        }
        if let Some(primary) = &mut self.primary {
            primary.complete.iter_mut().for_each(|c| *c = false);
        }
    }

    /// Inserts the row's keys, then counts the row and keeps its errors.
    fn end_row(&mut self, at: RecordAt, raw: &[u8]) -> Result<(), SpillError> {
        let place = Place {
            record: at.record,
            line: at.line,
            offset: at.offset,
        };
        // A key that may go to disk keeps the record's bytes with it when
        // invalid records are kept aside.
        let payload = if self.invalid_records.is_some() {
            raw
        } else {
            &[]
        };
        for slot in 0..self.unique.len() {
            let Some(unique) = self.unique.get_mut(slot) else {
                continue;
            };
            if !unique.has_key {
                continue;
            }
            // The value as errors show it, bounded before it is cut to
            // MAX_VALUE_CHARS (no character takes more than 4 bytes; one
            // byte more keeps the mark that it was cut).
            let shown = unique
                .raw
                .get(..MAX_VALUE_CHARS * 4 + 1)
                .unwrap_or(&unique.raw);
            if let Seen::Duplicate { first_line } =
                unique.index.insert(&unique.key, place, shown, payload)?
            {
                let (column, raw) = (unique.column, cut(&unique.raw));
                self.error(
                    at,
                    Some(column),
                    Check::Unique,
                    Some(raw),
                    format!("duplicate of line {first_line}"),
                );
            }
        }
        if let Some(primary) = &mut self.primary
            && primary.complete.iter().all(|&c| c)
        {
            primary.key.clear();
            for part in &primary.parts {
                // Length-prefixed, so ("ab","c") and ("a","bc") differ.
                primary
                    .key
                    .extend_from_slice(&(part.len() as u64).to_le_bytes());
                primary.key.extend_from_slice(part);
            }
            if let Seen::Duplicate { first_line } =
                primary.index.insert(&primary.key, place, &[], payload)?
            {
                let columns = self.primary_key_names();
                self.error(
                    at,
                    None,
                    Check::PrimaryKey,
                    None,
                    format!("duplicate key ({columns}) of line {first_line}"),
                );
            }
        }
        if self.row.is_empty() {
            return Ok(());
        }
        self.invalid.insert(at.record);
        let mut row = std::mem::take(&mut self.row);
        if let Some(out) = self.invalid_records.as_deref_mut() {
            write_invalid_record(out, at, &row, raw)?;
        }
        for error in row.drain(..) {
            self.keep(error);
        }
        self.row = row;
        Ok(())
    }

    fn primary_key_names(&self) -> String {
        self.contract
            .primary_key
            .iter()
            .filter_map(|&c| self.contract.columns.get(c))
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn late_duplicate(&mut self, column: Option<usize>, check: Check, late: LateDuplicate) {
        self.invalid.insert(late.place.record);
        *self.tallies.entry((column, check)).or_default() += 1;
        let message = match column {
            Some(_) => format!("duplicate of line {}", late.first_line),
            None => format!(
                "duplicate key ({}) of line {}",
                self.primary_key_names(),
                late.first_line
            ),
        };
        let error = RowError {
            line: late.place.line,
            record: late.place.record,
            offset: late.place.offset,
            column: column
                .and_then(|c| self.contract.columns.get(c))
                .map(|c| c.name.clone()),
            check,
            // A primary key's value spans columns: its error names them.
            value: column.map(|_| cut(&late.value)),
            message,
        };
        if let Some(out) = self.invalid_records.as_deref_mut()
            && self.scratch_failure.is_none()
        {
            let at = RecordAt {
                line: late.place.line,
                record: late.place.record,
                offset: late.place.offset,
            };
            let written =
                write_invalid_record(out, at, std::slice::from_ref(&error), &late.payload);
            if let Err(e) = written {
                self.scratch_failure = Some(e);
            }
        }
        if self.late.len() < self.max_row_errors {
            self.late.push(Late(error));
            return;
        }
        // The heap is full: this error or the latest one it holds is left out.
        self.errors_left_out = true;
        if let Some(worst) = self.late.peek()
            && Late(error.clone()) < *worst
        {
            self.late.pop();
            self.late.push(Late(error));
        }
    }

    /// Keeps `error` among the first row errors, or notes that one was left out.
    fn keep(&mut self, error: RowError) {
        if self.errors.len() < self.max_row_errors {
            self.errors.push(error);
        } else {
            self.errors_left_out = true;
        }
    }

    /// Records one failed check of the current row.
    fn error(
        &mut self,
        at: RecordAt,
        column: Option<usize>,
        check: Check,
        value: Option<String>,
        message: String,
    ) {
        *self.tallies.entry((column, check)).or_default() += 1;
        self.row.push(RowError {
            line: at.line,
            record: at.record,
            offset: at.offset,
            column: column
                .and_then(|c| self.contract.columns.get(c))
                .map(|c| c.name.clone()),
            check,
            value,
            message,
        });
    }

    /// Checks one value of the current row.
    fn cell(&mut self, at: RecordAt, column: usize, cell: Cell<'_>) {
        let contract = self.contract;
        let Some(spec) = contract.columns.get(column) else {
            return;
        };
        let raw = match cell {
            Cell::Null => None,
            Cell::Raw(raw) => {
                (!contract.null_values.iter().any(|n| n.as_slice() == raw)).then_some(raw)
            }
            Cell::JsonLiteral(raw) => Some(raw),
            Cell::Nested => {
                let message = format!("an object or array, not a {}", spec.column_type());
                self.error(at, Some(column), Check::Type, None, message);
                return;
            }
        };
        let key_slot = self.key_slot.get(column).copied().flatten();
        let Some(raw) = raw else {
            if !spec.nullable {
                let message = if key_slot.is_some() {
                    "null in a primary-key column"
                } else {
                    "null in a column that is not nullable"
                };
                self.error(at, Some(column), Check::Nullable, None, message.to_owned());
            }
            return;
        };
        if matches!(cell, Cell::JsonLiteral(_)) && spec.column_type() == ColumnType::String {
            let message = "a JSON number or boolean, not a string".to_owned();
            self.error(at, Some(column), Check::Type, Some(cut(raw)), message);
            return;
        }
        let value = match spec.parser.parse(raw) {
            Ok(value) => value,
            Err(e) => {
                let message = e.describe(spec.column_type());
                self.error(at, Some(column), Check::Type, Some(cut(raw)), message);
                return;
            }
        };
        // A value that parsed takes part in uniqueness even when it broke
        // another check: its later copies are still duplicates of it.
        self.value_checks(at, column, spec, raw, value);
        if let Some(unique) = self
            .unique_slot
            .get(column)
            .copied()
            .flatten()
            .and_then(|slot| self.unique.get_mut(slot))
        {
            unique.key.clear();
            value.write_key(&mut unique.key);
            unique.raw.clear();
            unique.raw.extend_from_slice(raw);
            unique.has_key = true;
        }
        if let (Some(slot), Some(primary)) = (key_slot, self.primary.as_mut())
            && let (Some(part), Some(complete)) =
                (primary.parts.get_mut(slot), primary.complete.get_mut(slot))
        {
            part.clear();
            value.write_key(part);
            *complete = true;
        }
    }

    /// `min`, `max`, `allowed`, `pattern` and lengths.
    fn value_checks(
        &mut self,
        at: RecordAt,
        column: usize,
        spec: &Column,
        raw: &[u8],
        value: Value<'_>,
    ) {
        // A NaN (allowed by `allow_non_finite`) is within no bounds.
        if let Some(min) = &spec.min
            && !matches!(
                value.partial_cmp_same_type(min),
                Some(Ordering::Greater | Ordering::Equal)
            )
        {
            self.error(
                at,
                Some(column),
                Check::Min,
                Some(cut(raw)),
                "below the column's min".to_owned(),
            );
        }
        if let Some(max) = &spec.max
            && !matches!(
                value.partial_cmp_same_type(max),
                Some(Ordering::Less | Ordering::Equal)
            )
        {
            self.error(
                at,
                Some(column),
                Check::Max,
                Some(cut(raw)),
                "above the column's max".to_owned(),
            );
        }
        if let Some(allowed) = &spec.allowed {
            let mut key = std::mem::take(&mut self.scratch);
            key.clear();
            value.write_key(&mut key);
            let found = allowed.contains(&key);
            self.scratch = key;
            if !found {
                let message = "not one of the allowed values".to_owned();
                self.error(at, Some(column), Check::Allowed, Some(cut(raw)), message);
            }
        }
        if let Some(pattern) = &spec.pattern
            && !pattern.is_match(raw)
        {
            let message = "does not match the column's pattern".to_owned();
            self.error(at, Some(column), Check::Pattern, Some(cut(raw)), message);
        }
        if (spec.min_length.is_some() || spec.max_length.is_some())
            && let Value::String(text) = value
        {
            let length = text.chars().count() as u64;
            if let Some(min) = spec.min_length.filter(|&min| length < min) {
                let message = format!("{length} characters, fewer than min_length ({min})");
                self.error(at, Some(column), Check::MinLength, Some(cut(raw)), message);
            }
            if let Some(max) = spec.max_length.filter(|&max| length > max) {
                let message = format!("{length} characters, more than max_length ({max})");
                self.error(at, Some(column), Check::MaxLength, Some(cut(raw)), message);
            }
        }
    }
}

/// One invalid record as the quarantine keeps it.
#[derive(Serialize)]
struct InvalidRecord<'a> {
    line: u64,
    record: u64,
    offset: u64,
    errors: Vec<InvalidBecause<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

#[derive(Serialize)]
struct InvalidBecause<'a> {
    column: Option<&'a str>,
    check: Check,
    message: &'a str,
}

fn write_invalid_record(
    out: &mut (dyn Write + Send),
    at: RecordAt,
    errors: &[RowError],
    raw: &[u8],
) -> Result<(), SpillError> {
    let text = std::str::from_utf8(raw).ok();
    let record = InvalidRecord {
        line: at.line,
        record: at.record,
        offset: at.offset,
        errors: errors
            .iter()
            .map(|e| InvalidBecause {
                column: e.column.as_deref(),
                check: e.check,
                message: &e.message,
            })
            .collect(),
        text,
        base64: text
            .is_none()
            .then(|| base64::engine::general_purpose::STANDARD.encode(raw)),
    };
    serde_json::to_writer(&mut *out, &record).map_err(|e| SpillError::Disk(e.into()))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A value for a report: lossy UTF-8, at most [`MAX_VALUE_CHARS`] characters.
fn cut(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.into_owned(),
    }
}

/// A jsonl value, kept as written where the column's parser should read it
/// (schema inference reads records the same way, see [`super::infer`]).
pub(crate) enum JsonCell<'a> {
    Null,
    /// A JSON string, unescaped.
    Text(Cow<'a, str>),
    /// A number or a boolean as written.
    Literal(&'a str),
    Nested,
}

/// The top-level fields of a jsonl record, in order, repeats included (a JSON
/// map would silently keep the last one).
pub(crate) fn parse_object(line: &[u8]) -> Result<Vec<(Cow<'_, str>, JsonCell<'_>)>, String> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(Cow<'de, str>, JsonCell<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::new();
            while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                let raw: &'de RawValue = map.next_value()?;
                let text = raw.get();
                let cell = match text.as_bytes().first() {
                    Some(b'"') => JsonCell::Text(
                        serde_json::from_str::<Cow<'de, str>>(text)
                            .map_err(serde::de::Error::custom)?,
                    ),
                    Some(b'{' | b'[') => JsonCell::Nested,
                    _ if text == "null" => JsonCell::Null,
                    _ => JsonCell::Literal(text),
                };
                fields.push((name, cell));
            }
            Ok(fields)
        }
    }
    let text = std::str::from_utf8(line).map_err(|_| "the record is not valid UTF-8".to_owned())?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = (&mut deserializer)
        .deserialize_map(Fields)
        .map_err(|e| format!("not a JSON object: {}", e.classify_message()))?;
    deserializer
        .end()
        .map_err(|_| "trailing characters after the JSON object".to_owned())?;
    Ok(fields)
}

/// What serde_json says, without its position (the row error has the line).
trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        let full = self.to_string();
        let position = format!(" at line {} column {}", self.line(), self.column());
        full.strip_suffix(&position).unwrap_or(&full).to_owned()
    }
}

#[cfg(test)]
mod tests;
