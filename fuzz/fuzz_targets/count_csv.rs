//! The csv row counter on arbitrary bytes, read in small chunks: no panic, and
//! memory bounded by the record limit.
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
    let _ = count_rows(BufReader::with_capacity(chunk, data), &spec, &limits);
});
