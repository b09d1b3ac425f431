//! The streaming engine end to end through its public API: layers undone by
//! name, by rule and by magic bytes; hostile and broken input rejected with a
//! reason; source and sink failures told apart from bad files.

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tributary::engine::data_key::DataKey;
use tributary::engine::layers::tink_stream::{SEGMENT_SIZE_4KB, TinkStreamWriter};
use tributary::engine::layers::whole_file_gcm;
use tributary::engine::spec::{Format, Layer, ValidationSpec};
use tributary::engine::{EngineError, Report, Verdict, validate};
use tributary::failure::FailureKind;
use tributary_testkit::compress::{Level, bzip2, gzip};

fn csv_rows(n: usize) -> Vec<u8> {
    let mut out = b"id,name,amount\n".to_vec();
    for i in 0..n {
        out.extend_from_slice(format!("{i},\"name, {i}\",{}.50\n", i * 3).as_bytes());
    }
    out
}

fn key() -> DataKey {
    DataKey::from_bytes([42; 32])
}

fn csv_spec() -> ValidationSpec {
    ValidationSpec::new(Format::Csv)
}

/// Runs the engine, returning the report and what the sink received.
fn run(data: &[u8], name: &str, spec: &ValidationSpec, key: Option<&DataKey>) -> (Report, Vec<u8>) {
    let mut sink = Vec::new();
    let report = validate(data, name, spec, key, &mut sink).expect("engine error");
    (report, sink)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[test]
fn plain_csv_is_accepted_with_its_figures() {
    let data = csv_rows(100);
    let (report, sink) = run(&data, "in/sales.csv", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.rows, 100);
    assert_eq!(report.records, 101);
    assert_eq!(
        report.header.as_deref(),
        Some(&["id".to_string(), "name".into(), "amount".into()][..])
    );
    assert_eq!(report.received_bytes, data.len() as u64);
    assert_eq!(report.decoded_bytes, data.len() as u64);
    assert_eq!(report.received_sha256, Some(sha256(&data)));
    assert!(report.layers.is_empty());
    assert_eq!(sink, data);
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    let (a, b) = (csv_rows(10), b"10,x,1\n11,y,2\n".to_vec());
    let mut data = gzip(&a, Level::Fast);
    data.extend_from_slice(&gzip(&b, Level::Fast));
    let (report, sink) = run(&data, "sales.csv.gz", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.layers, vec![Layer::Gzip]);
    assert_eq!(report.rows, 12);
    assert_eq!(sink, [a, b].concat());
    assert_eq!(report.received_sha256, Some(sha256(&data)));
}

#[test]
fn multi_stream_bzip2_is_read_to_the_end() {
    let (a, b) = (csv_rows(5), b"5,x,1\n".to_vec());
    let data = [bzip2(&a, Level::Fast), bzip2(&b, Level::Fast)].concat();
    let (report, sink) = run(&data, "sales.csv.bz2", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.layers, vec![Layer::Bzip2]);
    assert_eq!(report.rows, 6);
    assert_eq!(sink, [a, b].concat());
}

#[test]
fn encrypted_gzip_is_decrypted_then_decompressed() {
    let plain = csv_rows(50);
    let data = whole_file_gcm::encrypt(&gzip(&plain, Level::Fast), &key(), b"", [9; 12]).unwrap();
    let (report, sink) = run(&data, "sales.csv.gz.enc", &csv_spec(), Some(&key()));
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.layers, vec![Layer::Aes256Gcm, Layer::Gzip]);
    assert_eq!(report.rows, 50);
    assert_eq!(sink, plain);
}

fn tink_encrypt(data: &[u8], key: &DataKey, aad: &[u8]) -> Vec<u8> {
    let mut writer = TinkStreamWriter::new(Vec::new(), key, aad, SEGMENT_SIZE_4KB).unwrap();
    writer.write_all(data).unwrap();
    writer.finish().unwrap()
}

#[test]
fn tink_stream_encrypted_gzip_is_undone_in_the_rule_s_order() {
    let plain = csv_rows(3000);
    let data = tink_encrypt(&gzip(&plain, Level::Fast), &key(), b"acme");
    let mut spec = csv_spec();
    spec.layers = Some(vec![Layer::Aes256GcmHkdfStream, Layer::Gzip]);
    spec.associated_data = b"acme".to_vec();
    let (report, sink) = run(&data, "sales.csv.gz.tink", &spec, Some(&key()));
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.layers, vec![Layer::Aes256GcmHkdfStream, Layer::Gzip]);
    assert_eq!(report.rows, 3000);
    assert_eq!(sink, plain);

    let (report, _) = run(&data, "x", &spec, Some(&DataKey::from_bytes([1; 32])));
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0]
            .starts_with("aes-256-gcm-hkdf-stream: authentication failed in segment 0"),
        "{:?}",
        report.reasons
    );

    let cut = &data[..data.len() - 100];
    let (report, _) = run(cut, "x", &spec, Some(&key()));
    assert_eq!(
        report.verdict,
        Verdict::Rejected,
        "a truncated stream never passes"
    );
}

#[test]
fn layers_from_the_rule_win_over_the_name() {
    let plain = csv_rows(3);
    let mut spec = csv_spec();
    spec.layers = Some(vec![Layer::Bzip2]);
    let (report, _) = run(&bzip2(&plain, Level::Fast), "misnamed.dat", &spec, None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.layers, vec![Layer::Bzip2]);
    assert_eq!(report.rows, 3);
}

#[test]
fn gzip_without_an_extension_is_recognised_by_its_magic() {
    let plain = csv_rows(7);
    let (report, sink) = run(&gzip(&plain, Level::Fast), "sales.csv", &csv_spec(), None);
    assert_eq!(report.layers, vec![Layer::Gzip]);
    assert_eq!(report.rows, 7);
    assert_eq!(sink, plain);
}

#[test]
fn magic_bytes_are_not_sniffed_when_the_rule_lists_layers() {
    let plain = csv_rows(2);
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.layers = Some(vec![]);
    let (report, _) = run(&gzip(&plain, Level::Fast), "sales.csv", &spec, None);
    assert!(report.layers.is_empty());
}

#[test]
fn corrupt_gzip_is_rejected_and_still_fully_hashed() {
    let mut data = gzip(&csv_rows(2000), Level::Fast);
    let middle = data.len() / 2;
    for byte in &mut data[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    let (report, _) = run(&data, "sales.csv.gz", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(report.reasons.len(), 1);
    assert!(
        report.reasons[0].starts_with("gzip: corrupt gzip data"),
        "{:?}",
        report.reasons
    );
    assert_eq!(report.received_bytes, data.len() as u64);
    assert_eq!(report.received_sha256, Some(sha256(&data)));
}

#[test]
fn truncated_gzip_is_rejected_as_truncated() {
    let data = gzip(&csv_rows(2000), Level::Fast);
    let cut = &data[..data.len() - 20];
    let (report, _) = run(cut, "sales.csv.gz", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("gzip: truncated gzip data"),
        "{:?}",
        report.reasons
    );
}

#[test]
fn truncated_bzip2_is_rejected() {
    let data = bzip2(&csv_rows(2000), Level::Fast);
    let cut = &data[..data.len() / 2];
    let (report, _) = run(cut, "sales.csv.bz2", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("bzip2: "),
        "{:?}",
        report.reasons
    );
}

#[test]
fn trailing_garbage_after_gzip_is_rejected() {
    let mut data = gzip(&csv_rows(3), Level::Fast);
    data.extend_from_slice(b"this is not gzip");
    let (report, _) = run(&data, "sales.csv.gz", &csv_spec(), None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("gzip: "),
        "{:?}",
        report.reasons
    );
}

#[test]
fn wrong_key_or_tampering_fails_authentication() {
    let data = whole_file_gcm::encrypt(&csv_rows(3), &key(), b"", [1; 12]).unwrap();
    let other = DataKey::from_bytes([7; 32]);
    let (report, sink) = run(&data, "x.csv.enc", &csv_spec(), Some(&other));
    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(
        report.reasons,
        vec![
            "aes-256-gcm: authentication failed (wrong key, wrong associated data or tampered data)"
        ]
    );
    assert!(
        sink.is_empty(),
        "no unauthenticated plaintext may reach the sink"
    );

    let mut tampered = data.clone();
    tampered[20] ^= 1;
    let (report, _) = run(&tampered, "x.csv.enc", &csv_spec(), Some(&key()));
    assert_eq!(report.verdict, Verdict::Rejected);

    let mut spec = csv_spec();
    spec.associated_data = b"tenant=acme".to_vec();
    let (report, _) = run(&data, "x.csv.enc", &spec, Some(&key()));
    assert_eq!(report.verdict, Verdict::Rejected);
}

#[test]
fn whole_file_aead_is_bounded_in_size() {
    let data = whole_file_gcm::encrypt(&csv_rows(1000), &key(), b"", [1; 12]).unwrap();
    let mut spec = csv_spec();
    spec.limits.max_whole_file_aead_bytes = 1024;
    let (report, _) = run(&data, "x.csv.enc", &spec, Some(&key()));
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].contains("larger than the whole-file limit (1024 bytes)"),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_missing_key_is_a_configuration_error() {
    let err = validate(&b"x"[..], "x.csv.enc", &csv_spec(), None, io::sink()).unwrap_err();
    assert!(matches!(
        err,
        EngineError::MissingKey {
            layer: Layer::Aes256Gcm
        }
    ));
    assert_eq!(err.kind(), FailureKind::Misconfigured);
}

/// A gzip file of `n` zero bytes, built without holding them in memory.
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..n / zeros.len() {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

#[test]
fn a_gzip_bomb_is_stopped_by_the_expansion_ratio() {
    let data = gzip_zeros(32 << 20);
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.limits.expansion_check_after_bytes = 1 << 20;
    spec.limits.max_expansion_ratio = 100;
    let (report, sink) = run(&data, "bomb.jsonl.gz", &spec, None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("decompression bomb:")
            && report.reasons[0].contains("expansion ratio limit (100:1;"),
        "{:?}",
        report.reasons
    );
    assert!(
        report.decoded_bytes < 4 << 20,
        "stopped early: {}",
        report.decoded_bytes
    );
    assert!(sink.len() < 4 << 20);
}

#[test]
fn a_bomb_nested_inside_another_layer_is_stopped_between_the_layers() {
    // bzip2 of 300,000 empty bzip2 streams: the outer layer expands ~4 MB from a
    // few KB while the inner one decodes nothing, so only a guard between the
    // layers can see it (the second bzip2 layer is found by its magic bytes).
    let empty_stream = bzip2(b"", Level::Fast);
    let inner: Vec<u8> = empty_stream.repeat(300_000);
    let data = bzip2(&inner, Level::Fast);
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.limits.expansion_check_after_bytes = 1 << 20;
    spec.limits.max_expansion_ratio = 100;
    let (report, sink) = run(&data, "nested.bz2", &spec, None);
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("decompression bomb: ")
            && report.reasons[0].contains("bzip2-decoded bytes"),
        "{:?}",
        report.reasons
    );
    assert!(sink.is_empty());
    assert_eq!(report.layers, vec![Layer::Bzip2, Layer::Bzip2]);
}

#[test]
fn a_rule_with_its_own_decoded_budget_may_be_very_repetitive() {
    let repetitive = b"0\n".repeat(8 << 20);
    let data = gzip(&repetitive, Level::Fast);
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.limits.expansion_check_after_bytes = 1 << 20;
    spec.limits.max_expansion_ratio = 100;
    let (report, _) = run(&data, "zeros.jsonl.gz", &spec, None);
    assert_eq!(
        report.verdict,
        Verdict::Rejected,
        "the ratio stops it by default"
    );
    assert!(report.reasons[0].contains("raise the rule's limits.max_expansion_ratio"));

    spec.bounds.max_decoded_bytes = Some(32 << 20);
    let (report, _) = run(&data, "zeros.jsonl.gz", &spec, None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.rows, 8 << 20);
}

#[test]
fn decoded_size_has_a_hard_ceiling_and_a_rule_bound() {
    let data = gzip(&csv_rows(5000), Level::Fast);
    let mut spec = csv_spec();
    spec.limits.max_decoded_bytes = 10_000;
    let (report, _) = run(&data, "x.csv.gz", &spec, None);
    assert_eq!(
        report.reasons,
        vec!["decompression bomb: more than 10000 gzip-decoded bytes (the hard limit)"]
    );

    let mut spec = csv_spec();
    spec.bounds.max_decoded_bytes = Some(5_000);
    let (report, _) = run(&data, "x.csv.gz", &spec, None);
    assert_eq!(
        report.reasons,
        vec!["decoded size is larger than max_decoded_bytes (5000 bytes)"]
    );
}

#[test]
fn a_file_over_max_bytes_stops_reading_and_has_no_hash() {
    // 64 MiB of rows: reading must stop within one buffer of the limit.
    let source = io::repeat(b'7').take(64 << 20);
    let mut spec = ValidationSpec::new(Format::Jsonl);
    spec.bounds.max_bytes = Some(1000);
    let report = validate(source, "x.jsonl", &spec, None, io::sink()).unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(
        report.reasons,
        vec!["file is larger than max_bytes (1000 bytes)"]
    );
    assert_eq!(report.received_sha256, None);
    assert!(
        report.received_bytes <= 1 << 20,
        "read {}",
        report.received_bytes
    );
}

/// A header of 200,000 names: the report lists the first
/// REPORTED_HEADER_NAMES and counts them all, and a required column far past
/// the listed ones is still found.
#[test]
fn a_wide_header_is_counted_and_only_its_first_names_listed() {
    use tributary::engine::report::REPORTED_HEADER_NAMES;
    const NAMES: usize = 200_000;
    let mut data: Vec<u8> = (0..NAMES)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes();
    data.extend_from_slice(b"\n");
    data.extend_from_slice(vec!["1"; NAMES].join(",").as_bytes());
    data.extend_from_slice(b"\n");
    let mut spec = csv_spec();
    spec.bounds.required_columns = vec!["c199999".into(), "c5".into()];
    let (report, _) = run(&data, "wide.csv", &spec, None);
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.header_columns, Some(NAMES));
    let listed = report.header.unwrap();
    assert_eq!(listed.len(), REPORTED_HEADER_NAMES);
    assert_eq!(listed.last().map(String::as_str), Some("c999"));

    spec.bounds.required_columns = vec!["c200000".into()];
    let (report, _) = run(&data, "wide.csv", &spec, None);
    assert_eq!(
        report.reasons,
        vec!["header lacks required columns: c200000"]
    );
}

#[test]
fn bounds_are_checked_after_a_complete_read() {
    let mut spec = csv_spec();
    spec.bounds.min_rows = Some(10);
    spec.bounds.required_columns = vec!["id".into(), "currency".into()];
    let (report, _) = run(&csv_rows(3), "x.csv", &spec, None);
    assert_eq!(
        report.reasons,
        vec![
            "3 rows, fewer than min_rows (10)",
            "header lacks required columns: currency"
        ]
    );
}

#[test]
fn invalid_utf8_is_reported_with_its_offset_when_required() {
    let mut data = b"id,name\n1,caf\xc3\xa9\n2,".to_vec();
    data.extend_from_slice(b"bad\xff\n");
    let mut spec = csv_spec();
    spec.bounds.require_utf8 = true;
    let (report, _) = run(&data, "x.csv", &spec, None);
    assert_eq!(
        report.reasons,
        vec!["not valid UTF-8: first invalid byte at decoded offset 21"]
    );
    spec.bounds.require_utf8 = false;
    let (report, _) = run(&data, "x.csv", &spec, None);
    assert_eq!(report.verdict, Verdict::Accepted);
}

/// A source that yields `good` bytes, then fails like a dropped connection.
struct DroppingSource {
    data: Vec<u8>,
    pos: usize,
    fail_at: usize,
}

impl Read for DroppingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.fail_at {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset",
            ));
        }
        let n = buf
            .len()
            .min(self.fail_at - self.pos)
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_dropped_connection_is_transient_not_a_bad_file() {
    for (data, name) in [
        (csv_rows(5000), "x.csv"),
        (gzip(&csv_rows(5000), Level::Fast), "x.csv.gz"),
        (bzip2(&csv_rows(5000), Level::Fast), "x.csv.bz2"),
        (
            whole_file_gcm::encrypt(&csv_rows(5000), &key(), b"", [3; 12]).unwrap(),
            "x.csv.enc",
        ),
    ] {
        let fail_at = data.len() / 2;
        let source = DroppingSource {
            data,
            pos: 0,
            fail_at,
        };
        let err = validate(source, name, &csv_spec(), Some(&key()), io::sink()).unwrap_err();
        assert!(
            matches!(&err, EngineError::Source(e) if e.kind() == io::ErrorKind::ConnectionReset),
            "{name}: {err:?}"
        );
        assert_eq!(err.kind(), FailureKind::Transient);
    }
}

struct FailingSink;

impl Write for FailingSink {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "upload failed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_sink_is_transient() {
    let err = validate(&csv_rows(10)[..], "x.csv", &csv_spec(), None, FailingSink).unwrap_err();
    assert!(matches!(&err, EngineError::Sink(e) if e.kind() == io::ErrorKind::BrokenPipe));
    assert_eq!(err.kind(), FailureKind::Transient);
}

#[test]
fn the_report_serialises_as_tributary_check_prints_it() {
    let (report, _) = run(&csv_rows(1), "x.csv", &csv_spec(), None);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "accepted");
    assert_eq!(json["rows"], 1);
    assert_eq!(json["received_sha256"], hex::encode(sha256(&csv_rows(1))));
    assert_eq!(json["layers"], serde_json::json!([]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the bytes and however many members, undoing gzip or bzip2 gives
    /// back exactly the bytes that were compressed.
    #[test]
    fn layers_round_trip(
        parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..4),
        use_bzip2 in any::<bool>(),
        encrypt in any::<bool>(),
    ) {
        let plain = parts.concat();
        let mut data: Vec<u8> = parts
            .iter()
            .flat_map(|p| if use_bzip2 { bzip2(p, Level::Fast) } else { gzip(p, Level::Fast) })
            .collect();
        let mut layers = vec![if use_bzip2 { Layer::Bzip2 } else { Layer::Gzip }];
        if encrypt {
            data = whole_file_gcm::encrypt(&data, &key(), b"aad", [5; 12]).unwrap();
            layers.insert(0, Layer::Aes256Gcm);
        }
        let mut spec = ValidationSpec::new(Format::Jsonl);
        spec.layers = Some(layers.clone());
        spec.associated_data = b"aad".to_vec();
        let mut sink = Vec::new();
        let report = validate(&data[..], "f", &spec, Some(&key()), &mut sink).unwrap();
        prop_assert_eq!(report.verdict, Verdict::Accepted);
        prop_assert_eq!(report.layers, layers);
        prop_assert_eq!(&sink, &plain);
        prop_assert_eq!(report.decoded_bytes, plain.len() as u64);
        prop_assert_eq!(report.received_sha256, Some(sha256(&data)));
    }
}
