//! Schema inference, for onboarding a tenant: reads a sample of one of its files
//! (through the same layers `tributary check` would undo) and proposes the
//! `columns:` of a data contract, to review and paste into the tenant's rule.
//!
//! Each column gets the narrowest type that every sampled non-null value reads
//! as, tried with the checker's own [`ValueParser`]s, so a file that the
//! proposal was inferred from passes the proposed contract, value for value:
//!
//! boolean (unless every value is `0`/`1`: then int) → int → bigint →
//! decimal(P,S) (P and S from the widest digits seen, no exponent) → double →
//! date (ISO, then a few common layouts) → timestamp (the same) → string.
//!
//! A date layout that reads both day-first and month-first (no day above 12
//! in the sample) is proposed day-first with a comment saying so. A column is
//! `nullable: false` when the sample held no null; a column whose values were
//! all distinct and present is suggested as the primary key, in a comment,
//! never enforced. Only the first `rows` records are read, each bounded by
//! `max_record_bytes`: memory stays bounded whatever the file. Nothing here
//! logs or reports a value of the file; notes name columns and counts only.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use super::check::{JsonCell, parse_object};
use super::compile::PARTITION_KEYS;
use super::spec::{ColumnSpec, ContractSpec, ExtraColumns, OnInvalid, default_null_values};
use super::types::{ColumnType, MAX_DECIMAL_PRECISION};
use super::value::{Value, ValueParser, Zone, split_decimal, trim};
use crate::engine::layers::LayerError;
use crate::engine::layers::chain::{self, Decryption, Plan, StageGuard};
use crate::engine::layers::infer::layers_from_name;
use crate::engine::meter::Breach;
use crate::engine::spec::{Format, Layer, Limits, ParseSpec};

/// Rows sampled by default.
pub const DEFAULT_SAMPLE_ROWS: u64 = 10_000;

/// Most columns a proposal may have (a wider file is more likely garbage).
pub const MAX_COLUMNS: usize = 4096;

/// Distinct values remembered in all columns together to find a key (a
/// keyed 64-bit hash or an integer each): past it, no key is suggested, so
/// memory stays bounded whatever `rows` is.
pub const MAX_DISTINCT_VALUES: usize = 2_000_000;

/// Date layouts tried, in order, after the ISO default (`%Y-%m-%d`).
const DATE_LAYOUTS: &[Layout] = &[
    Layout::One("%Y-%m-%d"),
    Layout::DayOrMonth("%d/%m/%Y", "%m/%d/%Y"),
    Layout::DayOrMonth("%d-%m-%Y", "%m-%d-%Y"),
    Layout::One("%Y/%m/%d"),
    Layout::One("%d.%m.%Y"),
];

/// Timestamp layouts tried, in order, after the ISO 8601 / RFC 3339 default.
const TIMESTAMP_LAYOUTS: &[Layout] = &[
    Layout::One("%Y-%m-%d %H:%M:%S"),
    Layout::DayOrMonth("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"),
    Layout::DayOrMonth("%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S"),
    Layout::One("%Y/%m/%d %H:%M:%S"),
    Layout::One("%d.%m.%Y %H:%M:%S"),
];

/// A date or timestamp layout to try.
#[derive(Debug, Clone, Copy)]
enum Layout {
    One(&'static str),
    /// The day-first and the month-first reading of one layout.
    DayOrMonth(&'static str, &'static str),
}

/// What to infer from and how to read it.
#[derive(Debug, Clone)]
pub struct InferOptions {
    /// csv, tsv or jsonl; delimiter, quote and header for csv/tsv.
    pub parse: ParseSpec,
    /// Data records to read at most (the header is not one).
    pub rows: u64,
    /// What reads as null, as the rule will say (default `[""]`).
    pub null_values: Vec<String>,
    /// The zone local timestamps are read in (the tenant's), to refuse local
    /// times it skips. Not part of the proposal.
    pub timezone: String,
    /// `max_record_bytes` bounds each record; the rest guard the layers.
    pub limits: Limits,
}

impl InferOptions {
    /// The defaults for `format`: its delimiter and quote, a header for
    /// csv/tsv, [`DEFAULT_SAMPLE_ROWS`] rows, `null_values: [""]`, UTC.
    pub fn new(format: Format) -> Self {
        InferOptions {
            parse: ParseSpec::new(format),
            rows: DEFAULT_SAMPLE_ROWS,
            null_values: default_null_values(),
            timezone: "UTC".to_owned(),
            limits: Limits::default(),
        }
    }
}

/// Why a file's schema could not be inferred. Never carries a value of the file.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[source] io::Error),
    /// A layer could not be undone (corrupt or truncated archive, a bomb).
    #[error("cannot decode the file: {0}")]
    Decode(String),
    /// The name says the file is encrypted.
    #[error(
        "the file is encrypted ({layer}): schema infer reads unencrypted files only; decrypt a sample first"
    )]
    Encrypted { layer: Layer },
    /// xml has no columns.
    #[error("schema infer reads csv, tsv and jsonl files, not {0}")]
    UnsupportedFormat(Format),
    /// The delimiter and quote cannot split records.
    #[error("cannot read {format} records: {reason}")]
    Misconfigured { format: Format, reason: String },
    /// `timezone` is not an IANA zone.
    #[error("unknown time zone `{0}`")]
    UnknownTimezone(String),
    /// One record is longer than `max_record_bytes`.
    #[error("record {record} is longer than {max} bytes")]
    RecordTooLong { record: u64, max: u64 },
    /// The csv reader failed for another reason.
    #[error("malformed {format} file near record {record}")]
    Malformed { format: Format, record: u64 },
    /// No header and no record: nothing to infer from.
    #[error("the file has no records: there are no columns to infer")]
    NoColumns,
    /// More than [`MAX_COLUMNS`] columns.
    #[error("the file has more than {max} columns")]
    TooManyColumns { max: usize },
}

/// The proposal for one column, with what the sample held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferredColumn {
    /// The column as the registry would write it.
    pub spec: ColumnSpec,
    /// Nulls seen (a missing jsonl field is one).
    pub nulls: u64,
    /// Non-null values seen.
    pub values: u64,
    /// What the reviewer should know (an ambiguous date, no fitting type…).
    pub notes: Vec<String>,
}

/// A column of the file that cannot be a contract column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedColumn {
    /// Its name, lossily decoded.
    pub name: String,
    pub reason: &'static str,
}

/// What the sample suggests for the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inference {
    pub format: Format,
    /// The layers undone to read the file (from its name and magic bytes).
    pub layers: Vec<Layer>,
    /// Data records sampled.
    pub rows: u64,
    /// Whether the sample stopped at the limit (the file may have more rows).
    pub truncated: bool,
    /// The proposed columns, in file order (jsonl: order of first appearance).
    pub columns: Vec<InferredColumn>,
    /// Columns left out of the proposal (then `extra_columns: ignore`).
    pub skipped: Vec<SkippedColumn>,
    /// The first column unique and never null in the sample (int, bigint or
    /// string): a primary-key suggestion, never enforced.
    pub key_suggestion: Option<String>,
    /// The null values the proposal was made with.
    pub null_values: Vec<String>,
    /// Notes on the whole sample (records the contract would reject…).
    pub notes: Vec<String>,
}

impl Inference {
    /// The proposal as a rule's contract (no primary key: it is only suggested).
    pub fn contract_spec(&self, default_timezone: &str) -> ContractSpec {
        ContractSpec {
            columns: self.columns.iter().map(|c| c.spec.clone()).collect(),
            primary_key: Vec::new(),
            null_values: self.null_values.clone(),
            extra_columns: self.extra_columns(),
            on_invalid: OnInvalid::default(),
            default_timezone: default_timezone.to_owned(),
        }
    }

    /// `ignore` when a column of the file had to be left out, else `reject`.
    pub fn extra_columns(&self) -> ExtraColumns {
        if self.skipped.is_empty() {
            ExtraColumns::Reject
        } else {
            ExtraColumns::Ignore
        }
    }

    /// Every note, the columns' prefixed with their name.
    pub fn all_notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        for column in &self.columns {
            for note in &column.notes {
                notes.push(format!("{}: {note}", yaml_string(&column.spec.name)));
            }
        }
        for skipped in &self.skipped {
            notes.push(format!(
                "{}: left out, {}",
                yaml_string(&skipped.name),
                skipped.reason
            ));
        }
        notes
    }

    /// The proposal as YAML fields of a rule (`columns:` and, when needed,
    /// `null_values:` and `extra_columns:`), at column 0, with comments.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        let more = if self.truncated {
            ", the limit: the file may have more"
        } else {
            ""
        };
        let _ = writeln!(out, "# sampled {} rows{more}", self.rows);
        out.push_str(
            "# every type accepts every sampled value; review before use, rows past the sample may differ\n",
        );
        for note in &self.notes {
            let _ = writeln!(out, "# note: {}", one_line(note));
        }
        out.push_str("columns:\n");
        for column in &self.columns {
            let spec = &column.spec;
            let _ = writeln!(out, "  - name: {}", yaml_string(&spec.name));
            let _ = writeln!(out, "    type: {}", spec.r#type);
            if let Some(format) = &spec.format {
                let _ = writeln!(out, "    format: {}", yaml_quoted(format));
            }
            if spec.allow_non_finite {
                out.push_str("    allow_non_finite: true\n");
            }
            if spec.nullable == Some(false) {
                out.push_str("    nullable: false\n");
            }
            for note in &column.notes {
                let _ = writeln!(out, "    # {}", one_line(note));
            }
        }
        if self.null_values != default_null_values() {
            let list = self
                .null_values
                .iter()
                .map(|v| yaml_quoted(v))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(out, "null_values: [{list}]");
        }
        if !self.skipped.is_empty() {
            for skipped in &self.skipped {
                let _ = writeln!(
                    out,
                    "# left out: {} ({})",
                    yaml_string(&skipped.name),
                    skipped.reason
                );
            }
            out.push_str("extra_columns: ignore\n");
        }
        if let Some(key) = &self.key_suggestion {
            let _ = writeln!(
                out,
                "# primary_key: [{}]   # unique and never null in the sample; uncomment to enforce",
                yaml_string(key)
            );
        }
        out
    }
}

/// The format a file's name implies (`sales.tsv.gz` → tsv), its layer
/// extensions set aside; `None` when the name says none of csv, tsv, jsonl.
pub fn format_from_name(name: &str) -> Option<Format> {
    let (_, stem) = layers_from_name(name);
    let (_, ext) = stem.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some(Format::Csv),
        "tsv" => Some(Format::Tsv),
        "jsonl" | "ndjson" => Some(Format::Jsonl),
        _ => None,
    }
}

/// Infers a contract from the start of a file as received: its layers are
/// inferred from `name` and its magic bytes, as `tributary check` does.
pub fn infer_file<'a, R: Read + 'a>(
    source: R,
    name: &str,
    options: &InferOptions,
) -> Result<Inference, InferError> {
    let (named, _) = layers_from_name(name);
    if let Some(&layer) = named.iter().find(|l| l.needs_key()) {
        return Err(InferError::Encrypted { layer });
    }
    let received = Rc::new(Cell::new(0));
    let counted = Counted {
        inner: source,
        count: Rc::clone(&received),
    };
    let guard = StageGuard {
        received,
        limits: options.limits,
        ratio_applies: true,
    };
    let decryption = Decryption {
        key: None,
        associated_data: &[],
    };
    let built = chain::build(
        Box::new(counted),
        Plan::Inferred(named),
        &decryption,
        &guard,
    )
    .map_err(read_error)?;
    let mut inference = infer(built.reader, options)?;
    inference.layers = built.layers;
    Ok(inference)
}

/// Infers a contract from a file's decoded bytes (no layer undone).
pub fn infer<R: Read>(decoded: R, options: &InferOptions) -> Result<Inference, InferError> {
    infer_within(decoded, options, MAX_DISTINCT_VALUES)
}

/// [`infer`], remembering at most `distinct_values` values to find a key.
fn infer_within<R: Read>(
    decoded: R,
    options: &InferOptions,
    distinct_values: usize,
) -> Result<Inference, InferError> {
    let zone = Zone::from_name(&options.timezone)
        .ok_or_else(|| InferError::UnknownTimezone(options.timezone.clone()))?;
    let mut sampler = Sampler {
        template: Candidates::new(zone),
        null_values: options.null_values.iter().map(|v| v.as_bytes()).collect(),
        keys: KeyBudget {
            hasher: RandomState::new(),
            left: distinct_values,
            spent: false,
        },
        columns: Vec::new(),
        by_name: HashMap::new(),
        skipped: Vec::new(),
        rows: 0,
        used_rows: 0,
        misfits: 0,
        not_objects: 0,
        repeated_fields: 0,
        truncated: false,
    };
    match options.parse.format {
        Format::Csv | Format::Tsv => sampler.csv(decoded, options)?,
        Format::Jsonl => sampler.jsonl(decoded, options)?,
        Format::Xml => return Err(InferError::UnsupportedFormat(Format::Xml)),
    }
    Ok(sampler.finish(options))
}

/// The running count of bytes as received, for the layers' expansion guard.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// An error from the layer chain: a layer or a limit says the file is bad,
/// anything else is a read error.
fn read_error(error: io::Error) -> InferError {
    if let Some(layer) = LayerError::find(&error) {
        return InferError::Decode(layer.to_string());
    }
    if let Some(breach) = error.get_ref().and_then(|e| e.downcast_ref::<Breach>()) {
        return InferError::Decode(breach.0.clone());
    }
    InferError::Read(error)
}

/// Marks the error [`RecordBound`] raises, to tell it from the reader's own.
#[derive(Debug, thiserror::Error)]
#[error("a record is longer than the limit")]
struct RecordTooLong;

/// Stops the csv reader when one record grows past `max` bytes: the reader
/// buffers a whole record, so this is what bounds its memory.
struct RecordBound<R> {
    inner: R,
    delivered: u64,
    /// Byte position where the current record starts (set by the caller).
    record_start: Rc<Cell<u64>>,
    max: u64,
}

impl<R: Read> Read for RecordBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The reader may have read up to a buffer past the record's start.
        let in_record = self.delivered.saturating_sub(self.record_start.get());
        if in_record > self.max.saturating_add(CSV_BUFFER as u64) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.delivered = self.delivered.saturating_add(n as u64);
        Ok(n)
    }
}

/// The csv reader's buffer, also the slack [`RecordBound`] allows past a record.
const CSV_BUFFER: usize = 64 * 1024;

/// One column while the sample is read.
struct Tracker {
    name: String,
    /// Rows where the column was present (jsonl); all rows for csv.
    present: u64,
    nulls: u64,
    values: u64,
    candidates: Candidates,
    /// Every value so far is `0` or `1` (then int, not boolean).
    zero_one_only: bool,
    /// An integer written with a leading zero (`007`): maybe a code.
    leading_zero: bool,
    /// A jsonl object or array: no type accepts it.
    nested: bool,
    /// Distinct values so far as typed integers, while they all are some.
    distinct_ints: Option<HashSet<i64>>,
    /// Keyed hashes of the distinct values as written, while no duplicate.
    distinct_raw: Option<HashSet<u64>>,
}

/// The types a column's values may still be.
#[derive(Clone)]
struct Candidates {
    /// In order of preference; the decimal is tracked by `decimal`.
    list: Vec<Candidate>,
    decimal: Option<DecimalDigits>,
    /// Doubles read by the non-finite candidate that were finite.
    finite_doubles: u64,
}

#[derive(Clone)]
struct Candidate {
    ty: ColumnType,
    format: Option<&'static str>,
    /// The other reading (month-first for day-first) of an ambiguous layout.
    twin: Option<&'static str>,
    allow_non_finite: bool,
    parser: ValueParser,
    fits: bool,
}

/// The widest digits seen, for `decimal(P,S)`.
#[derive(Clone, Copy, Default)]
struct DecimalDigits {
    whole: usize,
    scale: usize,
}

impl Candidates {
    fn new(zone: Zone) -> Candidates {
        let mut list = Vec::new();
        let mut push = |ty, format: Option<&'static str>, twin, allow_non_finite| {
            // The formats above are all valid chrono formats.
            if let Ok(parser) = ValueParser::new(ty, format, zone, allow_non_finite) {
                list.push(Candidate {
                    ty,
                    format,
                    twin,
                    allow_non_finite,
                    parser,
                    fits: true,
                });
            }
        };
        push(ColumnType::Boolean, None, None, false);
        push(ColumnType::Int, None, None, false);
        push(ColumnType::BigInt, None, None, false);
        push(ColumnType::Double, None, None, false);
        push(ColumnType::Double, None, None, true);
        for (ty, layouts) in [
            (ColumnType::Date, DATE_LAYOUTS),
            (ColumnType::Timestamp, TIMESTAMP_LAYOUTS),
        ] {
            push(ty, None, None, false);
            for layout in layouts {
                match *layout {
                    Layout::One(format) => push(ty, Some(format), None, false),
                    Layout::DayOrMonth(day, month) => {
                        push(ty, Some(day), Some(month), false);
                        push(ty, Some(month), Some(day), false);
                    }
                }
            }
        }
        push(ColumnType::String, None, None, false);
        Candidates {
            list,
            decimal: Some(DecimalDigits::default()),
            finite_doubles: 0,
        }
    }

    /// Whether a candidate of `ty` (and `format`) still fits.
    fn fits(&self, ty: ColumnType, format: Option<&str>) -> bool {
        self.list
            .iter()
            .any(|c| c.fits && c.ty == ty && c.format == format)
    }
}

/// A value as a record holds it (as the checker reads its cells).
#[derive(Clone, Copy)]
enum Field<'a> {
    /// csv/tsv field or jsonl string: compared with the null values.
    Raw(&'a [u8]),
    /// A jsonl number or boolean as written: never a string.
    Literal(&'a [u8]),
    Null,
    Nested,
}

/// What remembering distinct values may still cost.
struct KeyBudget {
    /// Keys the hashes of values as written (collisions only hide a key).
    hasher: RandomState,
    left: usize,
    /// Whether it ran out.
    spent: bool,
}

struct Sampler<'n> {
    template: Candidates,
    null_values: Vec<&'n [u8]>,
    keys: KeyBudget,
    columns: Vec<Tracker>,
    /// jsonl: each column's index by name.
    by_name: HashMap<String, usize>,
    skipped: Vec<SkippedColumn>,
    /// Data records read.
    rows: u64,
    /// Records whose values were used (the others break the contract anyway).
    used_rows: u64,
    /// csv records with another number of fields than the header.
    misfits: u64,
    /// jsonl lines that are not JSON objects.
    not_objects: u64,
    /// jsonl records that repeat a field.
    repeated_fields: u64,
    truncated: bool,
}

impl Sampler<'_> {
    fn tracker(&self, name: String) -> Tracker {
        Tracker {
            name,
            present: 0,
            nulls: 0,
            values: 0,
            candidates: self.template.clone(),
            zero_one_only: true,
            leading_zero: false,
            nested: false,
            distinct_ints: Some(HashSet::new()),
            distinct_raw: Some(HashSet::new()),
        }
    }

    fn csv<R: Read>(&mut self, decoded: R, options: &InferOptions) -> Result<(), InferError> {
        let spec = &options.parse;
        let misconfigured = |reason: String| InferError::Misconfigured {
            format: spec.format,
            reason,
        };
        let line_break = |b: u8| b == b'\n' || b == b'\r';
        if line_break(spec.delimiter) {
            return Err(misconfigured("the delimiter is a line break".into()));
        }
        if let Some(quote) = spec.quote {
            if line_break(quote) {
                return Err(misconfigured("the quote is a line break".into()));
            }
            if quote == spec.delimiter {
                return Err(misconfigured(
                    "the quote and the delimiter are the same".into(),
                ));
            }
        }
        let record_start = Rc::new(Cell::new(0));
        let bounded = RecordBound {
            inner: decoded,
            delivered: 0,
            record_start: Rc::clone(&record_start),
            max: options.limits.max_record_bytes,
        };
        // The engine's csv semantics are exactly this reader's (count/csv.rs).
        let mut builder = csv::ReaderBuilder::new();
        builder
            .has_headers(false)
            .flexible(true)
            .delimiter(spec.delimiter)
            .buffer_capacity(CSV_BUFFER);
        match spec.quote {
            Some(quote) => builder.quote(quote),
            None => builder.quoting(false),
        };
        let mut reader = builder.from_reader(bounded);
        let mut record = csv::ByteRecord::new();
        let mut records: u64 = 0;
        // Field index → column index (None: a left-out column).
        let mut slots: Vec<Option<usize>> = Vec::new();
        let mut width = None;
        loop {
            if width.is_some() && self.rows >= options.rows {
                self.truncated = true;
                break;
            }
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(e, spec.format, records + 1, &options.limits))?;
            if !more {
                break;
            }
            records += 1;
            record_start.set(reader.position().byte());
            let Some(expected) = width else {
                width = Some(record.len());
                slots = self.columns_of(&record, spec.header)?;
                if spec.header {
                    continue;
                }
                self.csv_row(&record, &slots, record.len());
                continue;
            };
            self.csv_row(&record, &slots, expected);
        }
        if width.is_none() {
            return Err(InferError::NoColumns);
        }
        Ok(())
    }

    /// The columns from the first record: its names with a header, else
    /// `column_1`…; returns each field's column.
    fn columns_of(
        &mut self,
        first: &csv::ByteRecord,
        header: bool,
    ) -> Result<Vec<Option<usize>>, InferError> {
        if first.len() > MAX_COLUMNS {
            return Err(InferError::TooManyColumns { max: MAX_COLUMNS });
        }
        let mut times: HashMap<&[u8], usize> = HashMap::new();
        for field in first {
            *times.entry(field).or_default() += 1;
        }
        let mut slots = Vec::with_capacity(first.len());
        for (i, field) in first.iter().enumerate() {
            let name = if header {
                match std::str::from_utf8(field) {
                    Ok(name) => name.to_owned(),
                    Err(_) => {
                        self.skip(String::from_utf8_lossy(field).into_owned(), "not UTF-8");
                        slots.push(None);
                        continue;
                    }
                }
            } else {
                format!("column_{}", i + 1)
            };
            let repeated = header && times.get(field).is_some_and(|&n| n > 1);
            if let Some(reason) = unusable_name(&name, repeated) {
                if !self.skipped.iter().any(|s| s.name == name) {
                    self.skip(name, reason);
                }
                slots.push(None);
                continue;
            }
            slots.push(Some(self.columns.len()));
            let tracker = self.tracker(name);
            self.columns.push(tracker);
        }
        if self.columns.is_empty() {
            return Err(InferError::NoColumns);
        }
        Ok(slots)
    }

    fn skip(&mut self, name: String, reason: &'static str) {
        self.skipped.push(SkippedColumn { name, reason });
    }

    fn csv_row(&mut self, record: &csv::ByteRecord, slots: &[Option<usize>], width: usize) {
        self.rows += 1;
        if record.len() != width {
            self.misfits += 1;
            return;
        }
        self.used_rows += 1;
        for (field, slot) in record.iter().zip(slots) {
            if let Some(column) = slot.and_then(|c| self.columns.get_mut(c)) {
                column.present += 1;
                observe(column, Field::Raw(field), &self.null_values, &mut self.keys);
            }
        }
    }

    fn jsonl<R: Read>(&mut self, decoded: R, options: &InferOptions) -> Result<(), InferError> {
        let max = options.limits.max_record_bytes;
        let mut reader = BufReader::with_capacity(CSV_BUFFER, decoded);
        let mut line = Vec::new();
        let mut lines: u64 = 0;
        loop {
            if self.rows >= options.rows {
                self.truncated = true;
                break;
            }
            line.clear();
            let read = (&mut reader)
                .take(max.saturating_add(2))
                .read_until(b'\n', &mut line)
                .map_err(read_error)?;
            if read == 0 {
                break;
            }
            lines += 1;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.len() as u64 > max {
                return Err(InferError::RecordTooLong { record: lines, max });
            }
            let mut text = line.as_slice();
            if lines == 1 {
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            if text.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
                continue;
            }
            self.json_row(text)?;
        }
        if self.columns.is_empty() && self.skipped.is_empty() {
            return Err(InferError::NoColumns);
        }
        Ok(())
    }

    fn json_row(&mut self, line: &[u8]) -> Result<(), InferError> {
        self.rows += 1;
        let Ok(fields) = parse_object(line) else {
            self.not_objects += 1;
            return Ok(());
        };
        let names: HashSet<&str> = fields.iter().map(|(name, _)| name.as_ref()).collect();
        if names.len() != fields.len() {
            self.repeated_fields += 1;
            return Ok(());
        }
        self.used_rows += 1;
        for (name, cell) in &fields {
            let index = match self.by_name.get(name.as_ref()) {
                Some(&index) => index,
                None => {
                    if self.skipped.iter().any(|s| s.name == name.as_ref()) {
                        continue;
                    }
                    if let Some(reason) = unusable_name(name, false) {
                        self.skip(name.clone().into_owned(), reason);
                        continue;
                    }
                    if self.columns.len() >= MAX_COLUMNS {
                        return Err(InferError::TooManyColumns { max: MAX_COLUMNS });
                    }
                    let mut tracker = self.tracker(name.clone().into_owned());
                    // Absent from every record before: null there.
                    tracker.nulls = self.used_rows - 1;
                    tracker.present = self.used_rows - 1;
                    if tracker.nulls > 0 {
                        tracker.distinct_raw = None;
                        tracker.distinct_ints = None;
                    }
                    self.by_name
                        .insert(name.clone().into_owned(), self.columns.len());
                    self.columns.push(tracker);
                    self.columns.len() - 1
                }
            };
            let cell = match cell {
                JsonCell::Null => Field::Null,
                JsonCell::Text(text) => Field::Raw(text.as_bytes()),
                JsonCell::Literal(text) => Field::Literal(text.as_bytes()),
                JsonCell::Nested => Field::Nested,
            };
            if let Some(column) = self.columns.get_mut(index) {
                column.present += 1;
                observe(column, cell, &self.null_values, &mut self.keys);
            }
        }
        // A field the record lacks is null in it.
        for column in &mut self.columns {
            if column.present < self.used_rows {
                column.present = self.used_rows;
                column.nulls += 1;
                column.distinct_raw = None;
                column.distinct_ints = None;
            }
        }
        Ok(())
    }

    fn finish(self, options: &InferOptions) -> Inference {
        let mut notes = Vec::new();
        let skipped_rows = self.rows - self.used_rows;
        if self.misfits > 0 {
            notes.push(format!(
                "{} sampled rows have another number of fields than the {}; the contract rejects them (check `columns`)",
                self.misfits,
                if options.parse.header {
                    "header"
                } else {
                    "first row"
                }
            ));
        }
        if self.not_objects > 0 {
            notes.push(format!(
                "{} sampled lines are not JSON objects; the contract rejects them",
                self.not_objects
            ));
        }
        if self.repeated_fields > 0 {
            notes.push(format!(
                "{} sampled records repeat a field; the contract rejects them",
                self.repeated_fields
            ));
        }
        if self.keys.spent {
            notes.push(format!(
                "the sample holds more than {MAX_DISTINCT_VALUES} values to compare: no primary key is suggested"
            ));
        }
        if skipped_rows > 0 {
            notes.push(format!(
                "types were inferred from the other {} rows",
                self.used_rows
            ));
        }
        let mut key_suggestion = None;
        let mut columns = Vec::with_capacity(self.columns.len());
        for tracker in self.columns {
            let (column, key) = conclude(tracker);
            if key && key_suggestion.is_none() && !self.keys.spent {
                key_suggestion = Some(column.spec.name.clone());
            }
            columns.push(column);
        }
        Inference {
            format: options.parse.format,
            layers: Vec::new(),
            rows: self.rows,
            truncated: self.truncated,
            columns,
            skipped: self.skipped,
            key_suggestion,
            null_values: options.null_values.clone(),
            notes,
        }
    }
}

/// Why a name cannot be a contract column, if it cannot (the same reasons the
/// contract's compiler refuses one).
fn unusable_name(name: &str, repeated: bool) -> Option<&'static str> {
    if name.is_empty() {
        Some("an empty name")
    } else if repeated {
        Some("the name appears more than once")
    } else if PARTITION_KEYS.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        Some("the name is a partition key of the data lake's layout")
    } else {
        None
    }
}

fn csv_error(error: csv::Error, format: Format, record: u64, limits: &Limits) -> InferError {
    match error.into_kind() {
        csv::ErrorKind::Io(e) => {
            if e.get_ref().is_some_and(|inner| inner.is::<RecordTooLong>()) {
                InferError::RecordTooLong {
                    record,
                    max: limits.max_record_bytes,
                }
            } else {
                read_error(e)
            }
        }
        _ => InferError::Malformed { format, record },
    }
}

/// The digits of a plain decimal (`[+-]?digits[.digits]`, no exponent):
/// significant digits before the point, digits after it as written.
fn decimal_digits(text: &[u8]) -> Option<DecimalDigits> {
    let (_, whole, fraction) = split_decimal(text)?;
    let significant = whole.iter().skip_while(|&&b| b == b'0').count();
    Some(DecimalDigits {
        whole: significant,
        scale: fraction.len(),
    })
}

/// The digits of `raw` when it reads as a decimal at its own narrowest type
/// (`decimal(whole + scale, scale)`), with the checker's parser: any wider
/// type (more digits on either side) reads it too.
fn narrowest_decimal(raw: &[u8], trimmed: &[u8]) -> Option<DecimalDigits> {
    let digits = decimal_digits(trimmed)?;
    let precision = u8::try_from((digits.whole + digits.scale).max(1))
        .ok()
        .filter(|&p| p <= MAX_DECIMAL_PRECISION)?;
    let scale = u8::try_from(digits.scale).ok()?;
    let parser = ValueParser::new(
        ColumnType::Decimal { precision, scale },
        None,
        Zone::Utc,
        false,
    )
    .ok()?;
    parser.parse(raw).ok().map(|_| digits)
}

/// Reads one cell of `column` with every candidate that still fits.
fn observe(column: &mut Tracker, cell: Field<'_>, null_values: &[&[u8]], keys: &mut KeyBudget) {
    let (raw, literal) = match cell {
        Field::Null => (None, false),
        Field::Raw(raw) => ((!null_values.contains(&raw)).then_some(raw), false),
        Field::Literal(raw) => (Some(raw), true),
        Field::Nested => {
            column.nested = true;
            column.values += 1;
            column.distinct_raw = None;
            column.distinct_ints = None;
            return;
        }
    };
    let Some(raw) = raw else {
        column.nulls += 1;
        column.distinct_raw = None;
        column.distinct_ints = None;
        return;
    };
    column.values += 1;
    let trimmed = trim(raw);
    if trimmed != b"0" && trimmed != b"1" {
        column.zero_one_only = false;
    }
    let candidates = &mut column.candidates;
    let mut integer = None;
    for candidate in candidates.list.iter_mut().filter(|c| c.fits) {
        if literal && candidate.ty == ColumnType::String {
            // The checker refuses a JSON number or boolean in a string column.
            candidate.fits = false;
            continue;
        }
        match candidate.parser.parse(raw) {
            Ok(Value::Date(_) | Value::Timestamp(_))
                if candidate.format.is_some() && before_year_1000(&candidate.parser, raw) =>
            {
                // `%Y` reads `24` as the year 24: a two-digit year, not this layout.
                candidate.fits = false;
            }
            Ok(Value::BigInt(v)) => integer = Some(v),
            Ok(Value::Double(v)) if candidate.allow_non_finite && v.is_finite() => {
                candidates.finite_doubles += 1;
            }
            Ok(_) => {}
            Err(_) => candidate.fits = false,
        }
    }
    if let Some(widest) = &mut candidates.decimal {
        match narrowest_decimal(raw, trimmed) {
            Some(digits) => {
                widest.whole = widest.whole.max(digits.whole);
                widest.scale = widest.scale.max(digits.scale);
                if widest.whole + widest.scale > usize::from(MAX_DECIMAL_PRECISION) {
                    candidates.decimal = None;
                }
            }
            None => candidates.decimal = None,
        }
    }
    if !literal {
        let digits = match trimmed.split_first() {
            Some((b'-' | b'+', rest)) => rest,
            _ => trimmed,
        };
        if digits.len() > 1 && digits.first() == Some(&b'0') && integer.is_some() {
            column.leading_zero = true;
        }
    }
    remember(column, raw, integer, keys);
}

/// Remembers a value to tell whether the column's values are all distinct,
/// as typed integers while they all are, and as written.
fn remember(column: &mut Tracker, raw: &[u8], integer: Option<i64>, keys: &mut KeyBudget) {
    if column.distinct_ints.is_none() && column.distinct_raw.is_none() {
        return;
    }
    if keys.left < 2 {
        keys.spent = true;
        column.distinct_ints = None;
        column.distinct_raw = None;
        return;
    }
    match (integer, &mut column.distinct_ints) {
        (Some(v), Some(seen)) => {
            if seen.insert(v) {
                keys.left -= 1;
            } else {
                column.distinct_ints = None;
            }
        }
        _ => column.distinct_ints = None,
    }
    if let Some(seen) = &mut column.distinct_raw {
        if seen.insert(keys.hasher.hash_one(raw)) {
            keys.left -= 1;
        } else {
            column.distinct_raw = None;
        }
    }
}

/// Whether a date or timestamp `raw` reads as falls before the year 1000.
fn before_year_1000(parser: &ValueParser, raw: &[u8]) -> bool {
    const YEAR_1000_DAYS: i32 = -354_285;
    const YEAR_1000_MICROS: i64 = -30_610_224_000_000_000;
    match parser.parse(raw) {
        Ok(Value::Date(days)) => days < YEAR_1000_DAYS,
        // A day of margin for the zone's offset.
        Ok(Value::Timestamp(micros)) => micros < YEAR_1000_MICROS + 86_400_000_000,
        _ => false,
    }
}

/// The proposal for one column, and whether it may be the key.
fn conclude(tracker: Tracker) -> (InferredColumn, bool) {
    let mut notes = Vec::new();
    let mut spec = ColumnSpec::new(tracker.name, "string");
    let candidates = &tracker.candidates;
    let mut fits_all = false;
    if tracker.values == 0 {
        notes.push("no value in the sample: the type is a guess".to_owned());
    } else if tracker.nested {
        notes.push(
            "WARNING: some values are JSON objects or arrays, which no type accepts; the contract rejects those rows"
                .to_owned(),
        );
    } else {
        match choose(candidates, tracker.zero_one_only) {
            Some(chosen) => {
                fits_all = true;
                spec.r#type = chosen.ty.to_string();
                spec.format = chosen.format.map(str::to_owned);
                spec.allow_non_finite = chosen.allow_non_finite;
                if let Some(twin) = chosen.twin
                    && candidates.fits(chosen.ty, Some(twin))
                {
                    notes.push(format!(
                        "ambiguous: every sampled value also reads as \"{twin}\" (no day above 12); check which one the tenant means"
                    ));
                }
                if tracker.leading_zero
                    && matches!(chosen.ty, ColumnType::Int | ColumnType::BigInt)
                {
                    notes.push(
                        "some values have leading zeros (codes?): a string keeps them".to_owned(),
                    );
                }
            }
            None => notes.push(
                "WARNING: no type accepts every sampled value (JSON numbers or booleans mixed with text, or bytes that are not UTF-8); the contract rejects some rows"
                    .to_owned(),
            ),
        }
    }
    if tracker.nulls == 0 && tracker.values > 0 {
        spec.nullable = Some(false);
    }
    let ty = ColumnType::parse(&spec.r#type).unwrap_or(ColumnType::String);
    let distinct = match ty {
        ColumnType::Int | ColumnType::BigInt => tracker.distinct_ints.is_some(),
        ColumnType::String => tracker.distinct_raw.is_some(),
        _ => false,
    };
    let key = distinct && fits_all && tracker.nulls == 0 && tracker.values >= 2;
    (
        InferredColumn {
            spec,
            nulls: tracker.nulls,
            values: tracker.values,
            notes,
        },
        key,
    )
}

/// What the chosen type is: a candidate, or the decimal.
struct Chosen {
    ty: ColumnType,
    format: Option<&'static str>,
    twin: Option<&'static str>,
    allow_non_finite: bool,
}

/// The narrowest type that fits: candidates in order, the decimal just
/// before the doubles.
fn choose(candidates: &Candidates, zero_one_only: bool) -> Option<Chosen> {
    let of = |c: &Candidate| Chosen {
        ty: c.ty,
        format: c.format,
        twin: c.twin,
        allow_non_finite: c.allow_non_finite,
    };
    for candidate in candidates.list.iter().filter(|c| c.fits) {
        match candidate.ty {
            ColumnType::Boolean if zero_one_only => continue,
            ColumnType::Double => {
                if let Some(digits) = candidates.decimal {
                    // Both at most 38 here.
                    let precision = u8::try_from((digits.whole + digits.scale).max(1))
                        .unwrap_or(MAX_DECIMAL_PRECISION);
                    let scale = u8::try_from(digits.scale).unwrap_or(MAX_DECIMAL_PRECISION);
                    return Some(Chosen {
                        ty: ColumnType::Decimal { precision, scale },
                        format: None,
                        twin: None,
                        allow_non_finite: false,
                    });
                }
                if candidate.allow_non_finite && candidates.finite_doubles == 0 {
                    // Only NaN and infinities: not a number column.
                    continue;
                }
                return Some(of(candidate));
            }
            _ => return Some(of(candidate)),
        }
    }
    None
}

/// A string for YAML: plain when it cannot be read as anything else, else
/// double-quoted.
pub fn yaml_string(text: &str) -> String {
    const WORDS: [&str; 12] = [
        "true", "false", "yes", "no", "y", "n", "on", "off", "null", "nan", "inf", "infinity",
    ];
    let mut chars = text.chars();
    let plain = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(text));
    if plain {
        text.to_owned()
    } else {
        yaml_quoted(text)
    }
}

/// `text` in YAML double quotes, every character that could break the line
/// or the stream escaped.
pub fn yaml_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A note on one comment line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
