//! The engine's throughput on a generated CSV (64 MiB by default; set
//! `TRIBUTARY_BENCH_MIB`) as plain, gzip, bzip2 and gzip inside Tink's streaming
//! AEAD, beside bare flate2 gzip decoding of the same file, so the engine's
//! overhead over decompression alone is visible; and its stages alone (SHA-256
//! by sha2 and by ring, the csv counter against the `csv` crate). Throughput is
//! in bytes of decoded data, but for the hashes, which run on the gzip bytes.
//!
//!     cargo bench -p tributary --bench engine
//!     TRIBUTARY_BENCH_MIB=512 TRIBUTARY_BENCH_CASES=gzip,tink cargo bench -p tributary --bench engine
//!
//! `TRIBUTARY_BENCH_CASES` (default `plain,gzip,bzip2,tink,stages`) picks the
//! cases; `benches/run.sh` runs the ones the performance goals name.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::read::MultiGzDecoder;
use tributary::engine::count::count_rows;
use tributary::engine::data_key::DataKey;
use tributary::engine::layers::tink_stream::{SEGMENT_SIZE_1MB, TinkStreamWriter};
use tributary::engine::spec::{Format, Layer, ValidationSpec};
use tributary::engine::{Verdict, validate};
use tributary_testkit::compress::{Level, bzip2, gzip};

/// A realistic sales extract: numbers, timestamps, quoted text with commas.
fn generate_csv(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 256);
    out.extend_from_slice(b"order_id,sold_at,store,sku,quantity,amount,currency,note\n");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let notes = [
        "",
        "gift",
        "\"returned, refunded\"",
        "promo",
        "\"said \"\"hi\"\"\"",
    ];
    let mut i = 0u64;
    while out.len() < bytes {
        let r = next();
        let line = format!(
            "{},2026-11-{:02}T{:02}:{:02}:{:02}Z,store-{:03},SKU-{:06},{},{}.{:02},EUR,{}\n",
            1_000_000 + i,
            1 + r % 28,
            (r >> 8) % 24,
            (r >> 16) % 60,
            (r >> 24) % 60,
            (r >> 32) % 500,
            (r >> 40) % 1_000_000,
            1 + (r >> 12) % 9,
            (r >> 20) % 10_000,
            (r >> 50) % 100,
            notes[((r >> 56) % notes.len() as u64) as usize],
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

fn tink(data: &[u8], key: &DataKey) -> Vec<u8> {
    let mut writer =
        TinkStreamWriter::new(Vec::new(), key, b"", SEGMENT_SIZE_1MB).expect("tink writer");
    writer.write_all(data).expect("tink");
    writer.finish().expect("tink")
}

fn engine(c: &mut Criterion) {
    let mib: usize = std::env::var("TRIBUTARY_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let cases_wanted = std::env::var("TRIBUTARY_BENCH_CASES")
        .unwrap_or_else(|_| "plain,gzip,bzip2,tink,stages".into());
    let wanted = |case: &str| cases_wanted.split(',').any(|c| c.trim() == case);
    let plain = generate_csv(mib << 20);
    let rows = plain.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    let key = DataKey::from_bytes([11; 32]);
    let gz = gzip(&plain, Level::Default);
    let mut cases: Vec<(&str, Vec<u8>, Vec<Layer>)> = Vec::new();
    if wanted("plain") {
        cases.push(("plain", plain.clone(), vec![]));
    }
    if wanted("gzip") {
        cases.push(("gzip", gz.clone(), vec![Layer::Gzip]));
    }
    if wanted("bzip2") {
        cases.push(("bzip2", bzip2(&plain, Level::Default), vec![Layer::Bzip2]));
    }
    if wanted("tink") {
        cases.push((
            "gzip+aes-256-gcm-hkdf-stream",
            tink(&gz, &key),
            vec![Layer::Aes256GcmHkdfStream, Layer::Gzip],
        ));
    }

    let mut group = c.benchmark_group(format!("csv_{mib}MiB"));
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.warm_up_time(Duration::from_secs(2));

    // Bare decoding at its best: the engine's own 256 KiB reads (io::copy's
    // 8 KiB buffer costs flate2 about a tenth of its speed).
    group.bench_function("baseline/flate2_gzip_decode", |b| {
        let mut buf = vec![0u8; 256 * 1024];
        b.iter(|| {
            let mut decoder = MultiGzDecoder::new(&gz[..]);
            let mut n = 0u64;
            loop {
                let got = decoder.read(&mut buf).expect("decode");
                if got == 0 {
                    break;
                }
                n += got as u64;
            }
            assert_eq!(n, plain.len() as u64);
        })
    });
    for (name, data, layers) in &cases {
        let mut spec = ValidationSpec::new(Format::Csv);
        spec.layers = Some(layers.clone());
        group.bench_function(format!("engine/{name}"), |b| {
            b.iter(|| {
                let report = validate(
                    black_box(&data[..]),
                    "bench.csv",
                    &spec,
                    Some(&key),
                    io::sink(),
                )
                .expect("engine");
                assert_eq!(report.verdict, Verdict::Accepted);
                assert_eq!(report.rows, rows);
            })
        });
    }
    if wanted("stages") {
        // The row counter alone, against the `csv` crate reading the same bytes.
        let spec = ValidationSpec::new(Format::Csv);
        group.bench_function("stage/csv_counter", |b| {
            b.iter(|| {
                let stats =
                    count_rows(black_box(&plain[..]), &spec.parse, &spec.limits).expect("count");
                assert_eq!(stats.rows, rows);
            })
        });
        group.bench_function("stage/csv_crate_byte_records", |b| {
            b.iter(|| {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_reader(black_box(&plain[..]));
                let mut record = csv::ByteRecord::new();
                let mut n = 0u64;
                while reader.read_byte_record(&mut record).expect("csv") {
                    n += 1;
                }
                assert_eq!(n, rows);
            })
        });
    }
    group.finish();

    if wanted("stages") {
        // The hashes run on the received (here gzip) bytes.
        let mut group = c.benchmark_group(format!("sha256_of_gzip_{mib}MiB"));
        group.throughput(Throughput::Bytes(gz.len() as u64));
        group.sample_size(10);
        group.bench_function("sha2", |b| {
            use sha2::Digest;
            b.iter(|| black_box(sha2::Sha256::digest(&gz[..])))
        });
        group.bench_function("ring", |b| {
            b.iter(|| black_box(ring::digest::digest(&ring::digest::SHA256, &gz[..])))
        });
        group.finish();
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
