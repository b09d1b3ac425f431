//! The whole engine on arbitrary bytes: the first byte picks the layers and the
//! format, the rest is the file. No input may panic, hang or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::engine::key::DataKey;
use tributary::engine::spec::{Format, Layer, ValidationSpec};
use tributary::engine::{Verdict, validate};

fuzz_target!(|input: &[u8]| {
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
    if let Ok(report) = validate(data, "fuzz.bin", &spec, Some(&key), std::io::sink()) {
        if report.verdict == Verdict::Accepted {
            assert_eq!(report.received_bytes, data.len() as u64);
            assert!(report.received_sha256.is_some());
        }
    }
});
