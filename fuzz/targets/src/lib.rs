//! The fuzz targets' bodies, one function per target of `fuzz/fuzz_targets/`.
//!
//! Each `fuzz/fuzz_targets/<target>.rs` is only
//! `fuzz_target!(|data: &[u8]| tributary_fuzz_targets::<target>(data));`, so the
//! bodies are ordinary code of the root workspace: built, linted and, through
//! `tests/replay.rs`, run on every file of their committed corpus
//! (`fuzz/corpus/<target>/`) by `cargo test --workspace`. A panic is a finding.

use std::collections::HashSet;
use std::io::BufReader;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use tributary::catalog::event::{self, S3Event};
use tributary::contract::check::{Check, RowChecker};
use tributary::contract::value::{Value, ValueParser, Zone};
use tributary::contract::{
    ColumnSpec, ColumnType, Contract, ContractSpec, ExtraColumns, OnInvalid, Scalar,
};
use tributary::engine::count::{CountError, count_and_check_rows, count_rows};
use tributary::engine::data_key::DataKey;
use tributary::engine::spec::{Format, Layer, Limits, ParseSpec, ValidationSpec};
use tributary::engine::{Verdict, validate};
use tributary::ftp::listing::{ListingStyle, parse_listing};
use tributary::ports::messages::{FileDiscovered, PollSource};
use tributary::registry::Registry;

/// The whole engine on arbitrary bytes: the first byte picks the layers and the
/// format, the rest is the file. No input may panic, hang or exhaust memory.
pub fn layer_chain(input: &[u8]) {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let layers = match selector & 0b111 {
        0 => None,
        1 => Some(vec![Layer::Gzip]),
        2 => Some(vec![Layer::Bzip2]),
        3 => Some(vec![Layer::Aes256Gcm]),
        4 => Some(vec![Layer::Aes256GcmHkdfStream]),
        5 => Some(vec![Layer::Aes256Gcm, Layer::Gzip]),
        6 => Some(vec![Layer::Gzip, Layer::Bzip2]),
        _ => Some(vec![]),
    };
    let format = match (selector >> 3) & 0b11 {
        0 => Format::Csv,
        1 => Format::Tsv,
        2 => Format::Jsonl,
        _ => Format::Xml,
    };
    let mut spec = ValidationSpec::new(format);
    spec.layers = layers;
    spec.parse.record_element = Some("r".into());
    spec.limits.max_decoded_bytes = 8 << 20;
    spec.limits.expansion_check_after_bytes = 1 << 20;
    spec.limits.max_record_bytes = 64 << 10;
    spec.limits.max_whole_file_aead_bytes = 1 << 20;
    let key = DataKey::from_bytes([7; 32]);
    if let Ok(report) = validate(data, "fuzz.bin", &spec, Some(&key), std::io::sink())
        && report.verdict == Verdict::Accepted
    {
        assert_eq!(report.received_bytes, data.len() as u64);
        assert!(report.received_sha256.is_some());
    }
}

/// The csv row counter on arbitrary bytes, read in small chunks, in four
/// dialects (with and without quoting): no panic, memory bounded by the record
/// limit, and whenever it accepts the bytes it counts the records, and reads
/// the header, the `csv` crate reads from them (its documented semantics; the
/// crate is the oracle, as in the property tests).
pub fn count_csv(data: &[u8]) {
    let mut spec = ParseSpec::new(Format::Csv);
    spec.record_element = Some("r".into());
    spec.parse_json = data.first().is_some_and(|b| b & 1 == 1);
    // The dialect, from the second byte: the default, another delimiter and
    // quote, no quoting at all (tsv-like), another delimiter alone.
    let (delimiter, quote) = match data.get(1).map_or(0, |b| b % 4) {
        0 => (b',', Some(b'"')),
        1 => (b';', Some(b'\'')),
        2 => (b'\t', None),
        _ => (b'|', Some(b'"')),
    };
    spec.delimiter = delimiter;
    spec.quote = quote;
    let limits = Limits {
        max_record_bytes: 4096,
        max_xml_depth: 32,
        ..Limits::default()
    };
    let chunk = 1 + data.first().map_or(0, |&b| usize::from(b) % 64);
    let Ok(stats) = count_rows(BufReader::with_capacity(chunk, data), &spec, &limits) else {
        return;
    };
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter);
    match quote {
        Some(quote) => builder.quote(quote),
        None => builder.quoting(false),
    };
    let mut reader = builder.from_reader(data);
    let mut record = csv::ByteRecord::new();
    let mut records = 0u64;
    let mut first = None;
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        if records == 0 {
            let fields: Vec<String> = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            first = Some(fields);
        }
        records += 1;
    }
    assert_eq!(stats.records, records, "the csv crate reads another count");
    assert_eq!(
        stats.header.map(|h| h.names(usize::MAX)),
        first,
        "the csv crate reads another header"
    );
}

/// The jsonl row counter on arbitrary bytes, read in small chunks: no panic, and
/// memory bounded by the record limit.
pub fn count_jsonl(data: &[u8]) {
    count_in_chunks(Format::Jsonl, data);
}

/// The xml row counter on arbitrary bytes, read in small chunks: no panic, and
/// memory bounded by the record limit.
pub fn count_xml(data: &[u8]) {
    count_in_chunks(Format::Xml, data);
}

/// Counts `data` as `format`, read in chunks of 1 to 64 bytes (from the first
/// byte, which also turns JSON parsing on or off); any result is fine.
fn count_in_chunks(format: Format, data: &[u8]) {
    let mut spec = ParseSpec::new(format);
    spec.record_element = Some("r".into());
    spec.parse_json = data.first().is_some_and(|b| b & 1 == 1);
    let limits = Limits {
        max_record_bytes: 4096,
        max_xml_depth: 32,
        ..Limits::default()
    };
    let chunk = 1 + data.first().map_or(0, |&b| usize::from(b) % 64);
    let _ = count_rows(BufReader::with_capacity(chunk, data), &spec, &limits);
}

/// The FTP listing parser (LIST and MLSD) on arbitrary lines a hostile or
/// broken server could send: no panic, every entry's name is a single path
/// segment (no `/`, no `..`, no control characters), and each line is either
/// an entry, ignored or skipped with a reason.
pub fn list_parser(data: &[u8]) {
    let style = if data.first().is_some_and(|b| b & 1 == 1) {
        ListingStyle::Mlsd
    } else {
        ListingStyle::List
    };
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let lines: Vec<&str> = text.split(['\n', '\r']).collect();
    let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap();
    let listing = parse_listing(&lines, style, now, chrono_tz::Europe::Paris);
    assert_eq!(
        listing.entries.len() + listing.ignored + listing.skipped.len(),
        lines.len()
    );
    for entry in &listing.entries {
        assert!(!entry.name.is_empty() && entry.name != "." && entry.name != "..");
        assert!(!entry.name.contains('/'), "{:?}", entry.name);
        assert!(
            !entry.name.chars().any(char::is_control),
            "{:?}",
            entry.name
        );
    }
}

/// The registry loader (YAML and JSON) and its validation on arbitrary text:
/// no panic, no unbounded memory (alias bombs are refused by the YAML
/// parser's budget), and a registry that loads either validates or lists its
/// problems.
pub fn registry_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data.get(1..).unwrap_or_default()) else {
        return;
    };
    let loaded = if data.first().is_some_and(|b| b & 1 == 1) {
        Registry::from_json_str(text)
    } else {
        Registry::from_yaml_str(text)
    };
    if let Ok(registry) = loaded
        && let Err(problems) = registry.validate()
    {
        assert!(!problems.is_empty());
    }
}

/// What arrives on the queues, on arbitrary text: the poll and
/// ingest messages and S3 event notifications (keys form-URL-encoded). No
/// panic; a decoded S3 key is bounded.
pub fn event_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = FileDiscovered::decode(&text);
    let _ = PollSource::decode(&text);
    if let Ok(S3Event::Objects(objects)) = event::parse(&text) {
        for object in objects {
            assert!(
                object.key.len() <= event::MAX_KEY_BYTES * 4,
                "{}",
                object.key.len()
            );
        }
    }
}

/// Every column type (and a few formats and zones) a contract value can have,
/// picked by [`contract_value`]'s first byte.
fn value_parser(selector: u8, options: u8) -> ValueParser {
    let zone = match options % 5 {
        0 => Some(Zone::Utc),
        1 => Zone::from_name("Europe/Paris"),
        2 => Zone::from_name("America/New_York"),
        // Half-hour daylight-saving changes, and a 45-minute offset.
        3 => Zone::from_name("Australia/Lord_Howe"),
        _ => Zone::from_name("Asia/Kathmandu"),
    }
    .unwrap_or(Zone::Utc);
    let allow_non_finite = options & 0x80 != 0;
    let (ty, format) = match selector % 16 {
        0 => (ColumnType::String, None),
        1 => (ColumnType::Int, None),
        2 => (ColumnType::BigInt, None),
        3 => (ColumnType::Double, None),
        4 => (ColumnType::Boolean, None),
        5 => (ColumnType::Date, None),
        6 => (ColumnType::Date, Some("%d/%m/%Y")),
        7 => (ColumnType::Date, Some("%Y%j")),
        8 => (ColumnType::Timestamp, None),
        9 => (ColumnType::Timestamp, Some("%d/%m/%Y %H:%M")),
        10 => (ColumnType::Timestamp, Some("%Y-%m-%d %H:%M:%S%.f%z")),
        11 => (ColumnType::Timestamp, Some("%s")),
        // decimal(P,S) with 1 ≤ P ≤ 38 and 0 ≤ S ≤ P, from the second byte.
        _ => {
            let precision = 1 + options % 38;
            let scale = (options / 38) % (precision + 1);
            (ColumnType::Decimal { precision, scale }, None)
        }
    };
    ValueParser::new(ty, format, zone, allow_non_finite).expect("a valid format")
}

/// `value` × 10^-`scale` in plain decimal notation (`-12.30` for -1230, 2).
fn render_decimal(value: i128, scale: u8) -> String {
    let digits = value.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let sign = if value < 0 { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// A contract column's typed parser on arbitrary bytes: the first byte picks
/// the type (and format), the second the zone, `allow_non_finite` and a
/// decimal's precision and scale; the rest is the value as written. No panic,
/// and what it accepts is exactly that value:
/// - `string`: exactly the UTF-8 values, unchanged;
/// - `int`/`bigint`: exactly what std's integer parser reads from the trimmed
///   text (a differential oracle), and the value re-rendered reads back;
/// - `double`: exactly std's float parse of the trimmed text, finite unless
///   `allow_non_finite`, and `{:?}` reads back to the same bits;
/// - `decimal(P,S)`: fewer than P digits in all, and re-rendered with S
///   decimals it reads back to the same value;
/// - `date` and `timestamp`: a real day or instant, which re-rendered in ISO
///   8601 (UTC) reads back to the same value with the default parser.
pub fn contract_value(input: &[u8]) {
    let [selector, options, raw @ ..] = input else {
        return;
    };
    let parser = value_parser(*selector, *options);
    let parsed = parser.parse(raw);
    let text = std::str::from_utf8(raw).ok();
    let trimmed = text.map(|t| t.trim_matches([' ', '\t']));
    let utc = |ty| ValueParser::new(ty, None, Zone::Utc, false).expect("no format");
    match (parser.column_type(), parsed) {
        (ColumnType::String, parsed) => {
            assert_eq!(parsed.ok(), text.map(Value::String));
        }
        (ColumnType::Int, parsed) => {
            let oracle = trimmed.and_then(|t| t.parse::<i32>().ok());
            assert_eq!(parsed.ok(), oracle.map(Value::Int), "{raw:?}");
            if let Ok(Value::Int(v)) = parsed {
                assert_eq!(parser.parse(v.to_string().as_bytes()), Ok(Value::Int(v)));
            }
        }
        (ColumnType::BigInt, parsed) => {
            let oracle = trimmed.and_then(|t| t.parse::<i64>().ok());
            assert_eq!(parsed.ok(), oracle.map(Value::BigInt), "{raw:?}");
            if let Ok(Value::BigInt(v)) = parsed {
                assert_eq!(parser.parse(v.to_string().as_bytes()), Ok(Value::BigInt(v)));
            }
        }
        (ColumnType::Double, parsed) => {
            if let Ok(Value::Double(v)) = parsed {
                let oracle: f64 = trimmed.and_then(|t| t.parse().ok()).expect("std reads it");
                assert_eq!(v.to_bits(), oracle.to_bits(), "{raw:?}");
                assert!(v.is_finite() || *options & 0x80 != 0, "{raw:?}: {v}");
                if v.is_finite() {
                    let rendered = format!("{v:?}");
                    let again = parser.parse(rendered.as_bytes());
                    assert!(
                        matches!(again, Ok(Value::Double(a)) if a.to_bits() == v.to_bits()),
                        "{raw:?} read as {v:?}, which reads as {again:?}"
                    );
                }
            } else if let Some(v) = trimmed.and_then(|t| t.parse::<f64>().ok()) {
                // std reads it: only an overflow or a non-finite literal that
                // the column does not allow is refused.
                assert!(!v.is_finite(), "{raw:?} refused: {parsed:?}");
            }
        }
        (ColumnType::Decimal { precision, scale }, Ok(Value::Decimal(v))) => {
            assert!(
                v.unsigned_abs() < 10u128.pow(u32::from(precision)),
                "{raw:?}: {v} has more than {precision} digits"
            );
            let rendered = render_decimal(v, scale);
            assert_eq!(
                parser.parse(rendered.as_bytes()),
                Ok(Value::Decimal(v)),
                "{raw:?} read as {rendered}"
            );
        }
        (ColumnType::Boolean, Ok(Value::Boolean(_))) => {}
        (ColumnType::Date, Ok(Value::Date(days))) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
            let date = epoch
                .checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
                .expect("a date chrono can hold");
            if (0..=9999).contains(&chrono::Datelike::year(&date)) {
                let iso = date.format("%Y-%m-%d").to_string();
                assert_eq!(
                    utc(ColumnType::Date).parse(iso.as_bytes()),
                    Ok(Value::Date(days))
                );
            }
        }
        (ColumnType::Timestamp, Ok(Value::Timestamp(micros))) => {
            let at = chrono::DateTime::from_timestamp_micros(micros).expect("an instant");
            if (0..=9999).contains(&chrono::Datelike::year(&at)) {
                let iso = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                assert_eq!(
                    utc(ColumnType::Timestamp).parse(iso.as_bytes()),
                    Ok(Value::Timestamp(micros)),
                    "{raw:?} read as {iso}"
                );
            }
        }
        (ty, Ok(value)) => panic!("a {ty} column read {value:?}"),
        (_, Err(_)) => {}
    }
}

/// The contract [`contract_rows`] checks files against: every type, checks of
/// every kind, two `unique` columns and a composite primary key.
fn fuzz_contract(extra_columns: ExtraColumns) -> ContractSpec {
    let column = |name: &str, ty: &str| ColumnSpec::new(name, ty);
    let scalar = |text: &str| Scalar(text.to_owned());
    let mut s = column("s", "string");
    s.unique = true;
    s.pattern = Some("[a-z0-9]*".into());
    s.max_length = Some(8);
    let mut i = column("i", "int");
    i.min = Some(scalar("-100"));
    i.max = Some(scalar("100"));
    let mut b = column("b", "bigint");
    b.unique = true;
    b.nullable = Some(false);
    let mut d = column("d", "decimal(10,2)");
    d.min = Some(scalar("0"));
    let mut x = column("x", "double");
    x.allow_non_finite = true;
    x.max = Some(scalar("1e6"));
    let mut da = column("da", "date");
    da.min = Some(scalar("2000-01-01"));
    let mut ts = column("ts", "timestamp");
    ts.timezone = Some("Europe/Paris".into());
    let mut tf = column("tf", "timestamp");
    tf.format = Some("%d/%m/%Y %H:%M".into());
    let mut e = column("e", "string");
    e.allowed = Some(vec![scalar("a"), scalar("b")]);
    e.min_length = Some(1);
    ContractSpec {
        columns: vec![s, i, b, d, x, column("bo", "boolean"), da, ts, tf, e],
        primary_key: vec!["i".into(), "da".into()],
        null_values: vec![String::new(), "NULL".into()],
        extra_columns,
        on_invalid: OnInvalid::default(),
        default_timezone: "UTC".into(),
    }
}

/// The data contract's checker on arbitrary csv (or jsonl) bytes, through the
/// engine's counter as the pipeline runs it, with a tiny uniqueness budget so
/// keys spill to disk. The first byte picks the format, the header mode
/// (none: columns by position; the contract's header prepended; or the bytes'
/// own first record), `extra_columns` and the chunk size; the second the
/// uniqueness budget and the row errors kept. No panic, and:
/// - the count is the plain counter's (same records, rows, verdict);
/// - `invalid_rows ≤ rows`, at most `max_row_errors` row errors, in record
///   order, each on a data record (line ≥ 2 with a header, record ≤ rows) or
///   the header (line 1, record 0, a `columns` error);
/// - rows whose field count is wrong are exactly those the `csv` crate reads
///   with another count than the header's (or, without a header, than the
///   contract's, or fewer with `extra_columns: ignore`);
/// - the duplicates of each `unique` column and of the primary key are exactly
///   those an in-memory set finds, whatever spilled.
pub fn contract_rows(input: &[u8]) {
    let [selector, options, data @ ..] = input else {
        return;
    };
    let jsonl = selector & 0b11 == 0b11;
    let header_mode = selector & 0b11; // 0 none, 1 prepended, 2 the bytes' own
    let extra_columns = if selector & 0b100 != 0 {
        ExtraColumns::Ignore
    } else {
        ExtraColumns::Reject
    };
    let chunk = 1 + usize::from(selector >> 3);
    let key_memory = match options & 0b11 {
        0 => 1,
        1 => 200,
        2 => 2_000,
        _ => 1 << 20,
    };
    let max_row_errors = usize::from(options >> 2) % 12;
    // Compiled once per variant (its patterns and zones cost more than a
    // small input's check).
    static COMPILED: OnceLock<[(ContractSpec, Contract); 2]> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        [ExtraColumns::Reject, ExtraColumns::Ignore].map(|extra| {
            let written = fuzz_contract(extra);
            let Ok(contract) = Contract::compile(&written) else {
                panic!("the fuzz contract compiles");
            };
            (written, contract)
        })
    });
    let (written, contract) = &compiled[usize::from(extra_columns == ExtraColumns::Ignore)];
    let mut file = Vec::new();
    if header_mode == 1 {
        let names: Vec<&str> = contract.column_names().collect();
        file.extend_from_slice(names.join(",").as_bytes());
        file.push(b'\n');
    }
    file.extend_from_slice(data);
    let mut spec = ParseSpec::new(if jsonl { Format::Jsonl } else { Format::Csv });
    spec.header = !jsonl && header_mode != 0;
    let limits = Limits {
        max_record_bytes: 4096,
        unique_memory_bytes: key_memory as u64,
        ..Limits::default()
    };
    let plain = count_rows(
        BufReader::with_capacity(chunk, file.as_slice()),
        &spec,
        &limits,
    );
    let checker = RowChecker::new(contract, max_row_errors, key_memory);
    let checked = count_and_check_rows(
        BufReader::with_capacity(chunk, file.as_slice()),
        &spec,
        &limits,
        Some(checker),
    );
    let (plain, stats) = match (plain, checked) {
        (Ok(plain), Ok(stats)) => (plain, stats),
        (
            Err(CountError::Malformed { reason: a, .. }),
            Err(CountError::Malformed { reason: b, .. }),
        ) => {
            assert_eq!(a, b, "the contract changed why the file is malformed");
            return;
        }
        (plain, checked) => panic!("without a contract {plain:?}, with one {checked:?}"),
    };
    assert_eq!((plain.records, plain.rows), (stats.records, stats.rows));
    let outcome = stats.contract.expect("an outcome with a contract");
    let header_rejected = outcome
        .row_errors
        .iter()
        .any(|e| e.line == 1 && e.record == 0)
        || outcome
            .file_problems
            .iter()
            .any(|p| p.starts_with("header:"));
    if !header_rejected {
        assert_eq!(outcome.rows, stats.rows, "the checker saw every row");
        assert!(
            outcome.file_problems.is_empty(),
            "{:?}",
            outcome.file_problems
        );
    }
    assert!(outcome.invalid_rows <= outcome.rows);
    assert!(outcome.row_errors.len() <= max_row_errors);
    let first_line = if spec.header { 2 } else { 1 };
    for error in &outcome.row_errors {
        if error.line == 1 && error.record == 0 && spec.header {
            assert_eq!(error.check, Check::Columns, "{error:?}");
            assert!(header_rejected);
        } else {
            assert!(error.line >= first_line, "{error:?}");
            assert!(error.line >= error.record + first_line - 1, "{error:?}");
            assert!((1..=outcome.rows).contains(&error.record), "{error:?}");
            assert!(error.offset < file.len() as u64, "{error:?}");
        }
    }
    assert!(
        outcome
            .row_errors
            .windows(2)
            .all(|w| w[0].record <= w[1].record),
        "row errors by record"
    );
    if header_rejected || jsonl || header_mode == 2 {
        return;
    }
    // The oracle: the records the csv crate reads, checked the simple way.
    let tally = |column: Option<&str>, check: Check| {
        outcome
            .checks
            .iter()
            .filter(|c| c.column.as_deref() == column && c.check == check)
            .map(|c| c.rows)
            .sum::<u64>()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file.as_slice());
    let width = written.columns.len();
    let parsers: Vec<ValueParser> = written
        .columns
        .iter()
        .map(|c| {
            let ty = ColumnType::parse(&c.r#type).expect("a type");
            let zone = Zone::from_name(c.timezone.as_deref().unwrap_or("UTC")).expect("a zone");
            ValueParser::new(ty, c.format.as_deref(), zone, c.allow_non_finite).expect("a format")
        })
        .collect();
    let key = |record: &csv::ByteRecord, column: usize| -> Option<Vec<u8>> {
        let raw = record.get(column)?;
        if written.null_values.iter().any(|n| n.as_bytes() == raw) {
            return None;
        }
        let value = parsers.get(column)?.parse(raw).ok()?;
        let mut key = Vec::new();
        value.write_key(&mut key);
        Some(key)
    };
    let mut record = csv::ByteRecord::new();
    let mut skip_header = spec.header;
    let (mut wrong_width, mut rows) = (0u64, 0u64);
    let mut seen: Vec<HashSet<Vec<u8>>> = vec![HashSet::new(); 3];
    let mut duplicates = [0u64; 3];
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        if std::mem::take(&mut skip_header) {
            continue;
        }
        rows += 1;
        // A header fixes the width; without one, `extra_columns: ignore`
        // lets rows have more fields than the contract's columns.
        let fits = if !spec.header && extra_columns == ExtraColumns::Ignore {
            record.len() >= width
        } else {
            record.len() == width
        };
        if !fits {
            wrong_width += 1;
            continue;
        }
        // s (column 0), b (2), and the primary key (i, da: 1 and 6).
        let pk = match (key(&record, 1), key(&record, 6)) {
            (Some(i), Some(da)) => {
                let mut pk = Vec::new();
                for part in [i, da] {
                    pk.extend_from_slice(&(part.len() as u64).to_le_bytes());
                    pk.extend_from_slice(&part);
                }
                Some(pk)
            }
            _ => None,
        };
        for (slot, key) in [key(&record, 0), key(&record, 2), pk]
            .into_iter()
            .enumerate()
        {
            if let (Some(key), Some(seen), Some(count)) =
                (key, seen.get_mut(slot), duplicates.get_mut(slot))
                && !seen.insert(key)
            {
                *count += 1;
            }
        }
    }
    assert_eq!(rows, outcome.rows, "the csv crate reads another row count");
    assert_eq!(
        tally(None, Check::Columns),
        wrong_width,
        "rows of the wrong width"
    );
    let found = [
        tally(Some("s"), Check::Unique),
        tally(Some("b"), Check::Unique),
        tally(None, Check::PrimaryKey),
    ];
    assert_eq!(found, duplicates, "duplicates (s, b, primary key)");
}
