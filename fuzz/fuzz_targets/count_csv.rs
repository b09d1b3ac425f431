//! The csv row counter on arbitrary bytes, read in small chunks: no panic,
//! memory bounded by the record limit, and whenever it accepts the bytes it
//! counts the records the `csv` crate reads from them (its documented
//! semantics; the crate is the oracle, as in the property tests).
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use tributary::engine::count::count_rows;
use tributary::engine::spec::{Format, Limits, ParseSpec};

fuzz_target!(|data: &[u8]| {
    let mut spec = ParseSpec::new(Format::Csv);
    spec.record_element = Some("r".into());
    spec.parse_json = data.first().is_some_and(|b| b & 1 == 1);
    let limits = Limits {
        max_record_bytes: 4096,
        max_xml_depth: 32,
        ..Limits::default()
    };
    let chunk = 1 + data.first().map_or(0, |&b| usize::from(b) % 64);
    let Ok(stats) = count_rows(BufReader::with_capacity(chunk, data), &spec, &limits) else {
        return;
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut record = csv::ByteRecord::new();
    let mut records = 0u64;
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        records += 1;
    }
    assert_eq!(stats.records, records, "the csv crate reads another count");
});
