//! The engine's throughput on a generated CSV (64 MiB by default; set
//! `TRIBUTARY_BENCH_MIB`) as plain, gzip, bzip2 and gzip inside Tink's streaming
//! AEAD, beside bare flate2 gzip decoding of the same file, so the engine's
//! overhead over decompression alone is visible. Throughput is in bytes of
//! decoded data.
//!
//!     cargo bench -p tributary-shared --bench engine

use std::hint::black_box;
use std::io::{self, Write};
use std::time::Duration;

use bzip2::write::BzEncoder;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use tributary::engine::key::DataKey;
use tributary::engine::layers::tink_stream::{SEGMENT_SIZE_1MB, TinkStreamWriter};
use tributary::engine::spec::{Format, Layer, ValidationSpec};
use tributary::engine::{Verdict, validate};

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

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut enc = BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(data).expect("bzip2");
    enc.finish().expect("bzip2")
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
    let plain = generate_csv(mib << 20);
    let rows = plain.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    let key = DataKey::from_bytes([11; 32]);
    let gz = gzip(&plain);
    let cases: Vec<(&str, Vec<u8>, Vec<Layer>)> = vec![
        ("plain", plain.clone(), vec![]),
        ("gzip", gz.clone(), vec![Layer::Gzip]),
        ("bzip2", bzip2(&plain), vec![Layer::Bzip2]),
        (
            "gzip+aes-256-gcm-hkdf-stream",
            tink(&gz, &key),
            vec![Layer::Aes256GcmHkdfStream, Layer::Gzip],
        ),
    ];

    let mut group = c.benchmark_group(format!("csv_{mib}MiB"));
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.warm_up_time(Duration::from_secs(2));

    group.bench_function("baseline/flate2_gzip_decode", |b| {
        b.iter(|| {
            let n = io::copy(&mut MultiGzDecoder::new(&gz[..]), &mut io::sink()).expect("decode");
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
    // The hashing alone, to see its share of the engine's time.
    group.bench_function("baseline/sha256_of_gzip_bytes", |b| {
        use sha2::Digest;
        b.iter(|| black_box(sha2::Sha256::digest(&gz[..])))
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
