//! The csv row counter on arbitrary bytes, read in small chunks, in four
//! dialects (with and without quoting): no panic, memory bounded by the record
//! limit, and whenever it accepts the bytes it counts the records, and reads
//! the header, the `csv` crate reads from them (its documented semantics; the
//! crate is the oracle, as in the property tests).
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use tributary::engine::count::count_rows;
use tributary::engine::spec::{Format, Limits, ParseSpec};

fuzz_target!(|data: &[u8]| {
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
});
