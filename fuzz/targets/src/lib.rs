//! The fuzz targets' bodies, one function per target of `fuzz/fuzz_targets/`.
//!
//! Each `fuzz/fuzz_targets/<target>.rs` is only
//! `fuzz_target!(|data: &[u8]| tributary_fuzz_targets::<target>(data));`, so the
//! bodies are ordinary code of the root workspace: built, linted and, through
//! `tests/replay.rs`, run on every file of their committed corpus
//! (`fuzz/corpus/<target>/`) by `cargo test --workspace`. A panic is a finding.

use std::io::BufReader;

use chrono::{TimeZone, Utc};
use tributary::catalog::event::{self, S3Event};
use tributary::engine::count::count_rows;
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
    assert_eq!(stats.header, first, "the csv crate reads another header");
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
