//! The layer's unit tests: round trips at segment boundaries and with any
//! read or write size, Tink's own lengths, and each way a ciphertext is
//! rejected (wrong key, tampering, truncation, reordering, appended data).

use std::io::{self, Read, Write};

use proptest::prelude::*;

use super::format::{HEADER_LEN, NONCE_PREFIX_LEN, SALT_LEN, TAG_LEN, segment_nonce};
use super::{
    MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, SEGMENT_SIZE_1MB, SEGMENT_SIZE_4KB, SegmentSize,
    TinkStreamReader, TinkStreamWriter,
};
use crate::engine::data_key::DataKey;
use crate::engine::layers::LayerError;
use crate::engine::spec::Layer;

const KEY: [u8; 32] = [0x42; 32];
const AAD: &[u8] = b"tenant-a/orders.csv";
const SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];
const PREFIX: [u8; NONCE_PREFIX_LEN] = [0x07; NONCE_PREFIX_LEN];
const K4: usize = SEGMENT_SIZE_4KB as usize;
/// Plaintext bytes in the first / later 4 KiB segments.
const FIRST_4K: usize = K4 - HEADER_LEN - TAG_LEN;
const NEXT_4K: usize = K4 - TAG_LEN;

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn encrypt_with(pt: &[u8], key: [u8; 32], aad: &[u8], size: u32) -> Vec<u8> {
    let mut writer = TinkStreamWriter::with_salt_and_nonce_prefix(
        Vec::new(),
        &DataKey::from_bytes(key),
        aad,
        size,
        SALT,
        PREFIX,
    )
    .unwrap();
    writer.write_all(pt).unwrap();
    writer.finish().unwrap()
}

fn encrypt(pt: &[u8], size: u32) -> Vec<u8> {
    encrypt_with(pt, KEY, AAD, size)
}

fn decrypt_with(ct: &[u8], key: [u8; 32], aad: &[u8], size: SegmentSize) -> io::Result<Vec<u8>> {
    let mut reader = TinkStreamReader::new(ct, &DataKey::from_bytes(key), aad, size);
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

fn decrypt(ct: &[u8], size: SegmentSize) -> io::Result<Vec<u8>> {
    decrypt_with(ct, KEY, AAD, size)
}

/// Reads with a buffer of `chunk` bytes per call.
fn decrypt_in_chunks(ct: &[u8], size: SegmentSize, chunk: usize) -> io::Result<Vec<u8>> {
    let mut reader = TinkStreamReader::new(ct, &DataKey::from_bytes(KEY), AAD, size);
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The rejection reason of a failed decryption (panics on success or on a
/// non-layer error).
fn reason(result: io::Result<Vec<u8>>) -> String {
    let error = result.expect_err("decryption should fail");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let layer_error = LayerError::find(&error).expect("a LayerError");
    assert_eq!(layer_error.layer, Layer::Aes256GcmHkdfStream);
    layer_error.reason.clone()
}

/// The byte range of segment `i` of a 4 KiB-segment ciphertext.
fn segment_4k(ct: &[u8], i: usize) -> std::ops::Range<usize> {
    let start = if i == 0 { HEADER_LEN } else { K4 * i };
    start..(K4 * (i + 1)).min(ct.len())
}

const AUTH_FAILED_MID: &str = "(wrong key, wrong associated data or tampered data)";
const AUTH_FAILED_END: &str = "(wrong key, wrong associated data, tampered data, \
                               or the stream was truncated or has data appended)";

#[test]
fn lengths_match_tink_at_segment_boundaries() {
    // Tink's own sizes (Python tink 1.16.1, 4 KiB template): 0 → 56,
    // 4040 → 4096 (full last segment, no empty one after it), 4041 → 4113.
    for (pt_len, ct_len) in [
        (0, 56),
        (1, 57),
        (FIRST_4K, K4),
        (FIRST_4K + 1, K4 + 17),
        (FIRST_4K + NEXT_4K, 2 * K4),
        (FIRST_4K + NEXT_4K + 1, 2 * K4 + 17),
    ] {
        let ct = encrypt(&plaintext(pt_len), SEGMENT_SIZE_4KB);
        assert_eq!(ct.len(), ct_len, "plaintext of {pt_len} bytes");
        assert_eq!(ct[0], 40);
        assert_eq!(&ct[1..33], &SALT);
        assert_eq!(&ct[33..40], &PREFIX);
    }
}

#[test]
fn segment_nonce_is_prefix_counter_and_last_flag() {
    let nonce = segment_nonce(&[1, 2, 3, 4, 5, 6, 7], 0x0a0b_0c0d, true);
    assert_eq!(
        nonce.as_slice(),
        &[1, 2, 3, 4, 5, 6, 7, 0x0a, 0x0b, 0x0c, 0x0d, 1]
    );
    let nonce = segment_nonce(&[9; 7], 1, false);
    assert_eq!(nonce.as_slice(), &[9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 1, 0]);
}

#[test]
fn round_trips_one_mebibyte_segments_at_boundaries() {
    let first = SEGMENT_SIZE_1MB as usize - HEADER_LEN - TAG_LEN;
    for len in [0, 1, first, first + 1, first + 300_000] {
        let pt = plaintext(len);
        let ct = encrypt(&pt, SEGMENT_SIZE_1MB);
        assert_eq!(
            decrypt(&ct, SegmentSize::Bytes(SEGMENT_SIZE_1MB)).unwrap(),
            pt
        );
        let mut reader = TinkStreamReader::new(
            ct.as_slice(),
            &DataKey::from_bytes(KEY),
            AAD,
            SegmentSize::Auto,
        );
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt, "auto, {len} bytes");
        if len > FIRST_4K {
            assert_eq!(reader.segment_size(), Some(SEGMENT_SIZE_1MB));
        }
    }
}

#[test]
fn auto_settles_on_4k_for_a_multi_segment_4k_stream() {
    let pt = plaintext(3 * K4);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let mut reader = TinkStreamReader::new(
        ct.as_slice(),
        &DataKey::from_bytes(KEY),
        AAD,
        SegmentSize::Auto,
    );
    assert_eq!(reader.segment_size(), None);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_eq!(out, pt);
    assert_eq!(reader.segment_size(), Some(SEGMENT_SIZE_4KB));
}

#[test]
fn one_byte_reads_give_the_same_plaintext() {
    let pt = plaintext(2 * K4 + 123);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
        assert_eq!(decrypt_in_chunks(&ct, size, 1).unwrap(), pt);
    }
}

#[test]
fn one_byte_writes_give_the_same_ciphertext() {
    let pt = plaintext(FIRST_4K + NEXT_4K + 7);
    let mut writer = TinkStreamWriter::with_salt_and_nonce_prefix(
        Vec::new(),
        &DataKey::from_bytes(KEY),
        AAD,
        SEGMENT_SIZE_4KB,
        SALT,
        PREFIX,
    )
    .unwrap();
    for byte in &pt {
        assert_eq!(writer.write(std::slice::from_ref(byte)).unwrap(), 1);
    }
    assert_eq!(writer.finish().unwrap(), encrypt(&pt, SEGMENT_SIZE_4KB));
}

#[test]
fn random_salt_and_nonce_prefix_differ_between_streams() {
    let key = DataKey::from_bytes(KEY);
    let mut a = TinkStreamWriter::new(Vec::new(), &key, AAD, SEGMENT_SIZE_4KB).unwrap();
    let mut b = TinkStreamWriter::new(Vec::new(), &key, AAD, SEGMENT_SIZE_4KB).unwrap();
    a.write_all(b"same").unwrap();
    b.write_all(b"same").unwrap();
    let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
    assert_ne!(a[1..40], b[1..40]);
    assert_eq!(decrypt(&a, SegmentSize::Auto).unwrap(), b"same");
    assert_eq!(decrypt(&b, SegmentSize::Auto).unwrap(), b"same");
}

#[test]
fn wrong_key_is_rejected_without_naming_the_key() {
    let ct = encrypt(&plaintext(100), SEGMENT_SIZE_4KB);
    let error =
        decrypt_with(&ct, [0x43; 32], AAD, SegmentSize::Bytes(SEGMENT_SIZE_4KB)).unwrap_err();
    let text = error.to_string();
    assert_eq!(
        text,
        format!("aes-256-gcm-hkdf-stream: authentication failed in segment 0 {AUTH_FAILED_END}")
    );
    assert!(!text.contains("4242") && !text.contains("QkJC"));
}

#[test]
fn wrong_key_on_a_long_auto_stream_names_both_sizes() {
    let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_4KB);
    assert_eq!(
        reason(decrypt_with(&ct, [0x43; 32], AAD, SegmentSize::Auto)),
        format!(
            "authentication failed in segment 0 under either segment size (4 KiB, 1 MiB) \
             {AUTH_FAILED_END}"
        )
    );
}

#[test]
fn wrong_associated_data_is_rejected() {
    let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_4KB);
    assert_eq!(
        reason(decrypt_with(
            &ct,
            KEY,
            b"tenant-b/orders.csv",
            SegmentSize::Bytes(4096)
        )),
        format!("authentication failed in segment 0 {AUTH_FAILED_MID}")
    );
    assert!(decrypt_with(&ct, KEY, b"", SegmentSize::Bytes(4096)).is_err());
}

#[test]
fn wrong_segment_size_is_rejected() {
    let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_1MB);
    assert_eq!(
        reason(decrypt(&ct, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
        format!("authentication failed in segment 0 {AUTH_FAILED_MID}")
    );
}

#[test]
fn a_flipped_bit_anywhere_is_rejected_and_names_its_segment() {
    let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let size = SegmentSize::Bytes(SEGMENT_SIZE_4KB);
    let cases = [
        // (byte to flip, expected reason)
        (
            5,
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
        ), // salt
        (
            35,
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
        ), // nonce prefix
        (
            HEADER_LEN + 10,
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
        ),
        (
            K4 - 1,
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
        ), // tag
        (
            2 * K4 + 100,
            format!("authentication failed in segment 2 {AUTH_FAILED_MID}"),
        ),
        (
            2 * K4 - 3,
            format!("authentication failed in segment 1 {AUTH_FAILED_MID}"),
        ), // tag
        (
            ct.len() - 1,
            format!("authentication failed in segment 3 {AUTH_FAILED_END}"),
        ), // tag
    ];
    for (at, expected) in cases {
        let mut bad = ct.clone();
        bad[at] ^= 0x10;
        assert_eq!(reason(decrypt(&bad, size)), expected, "bit flipped at {at}");
    }
}

#[test]
fn verified_segments_are_released_and_the_failure_repeats() {
    let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
    let mut ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    ct[2 * K4 + 100] ^= 1;
    let mut reader = TinkStreamReader::new(
        ct.as_slice(),
        &DataKey::from_bytes(KEY),
        AAD,
        SegmentSize::Bytes(SEGMENT_SIZE_4KB),
    );
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).unwrap_err();
    // Segments 0 and 1 verified; nothing of segment 2 came out.
    assert_eq!(out, pt[..FIRST_4K + NEXT_4K]);
    let expected = format!("authentication failed in segment 2 {AUTH_FAILED_MID}");
    assert_eq!(LayerError::find(&error).unwrap().reason, expected);
    let again = reader.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(LayerError::find(&again).unwrap().reason, expected);
}

#[test]
fn header_with_a_wrong_length_byte_is_rejected() {
    let mut ct = encrypt(&plaintext(10), SEGMENT_SIZE_4KB);
    ct[0] = 17;
    assert_eq!(
        reason(decrypt(&ct, SegmentSize::Auto)),
        "header: length byte 17, expected 40"
    );
    // Checked before waiting for the rest of the header.
    assert_eq!(
        reason(decrypt(&[41, 0, 0], SegmentSize::Auto)),
        "header: length byte 41, expected 40"
    );
}

#[test]
fn a_stream_cut_in_or_right_after_the_header_is_truncated() {
    let ct = encrypt(&plaintext(10), SEGMENT_SIZE_4KB);
    assert_eq!(
        reason(decrypt(&[], SegmentSize::Auto)),
        "truncated: the stream is empty, expected a 40-byte header"
    );
    assert_eq!(
        reason(decrypt(&ct[..12], SegmentSize::Auto)),
        "truncated: the stream ended inside the header (12 of 40 bytes)"
    );
    assert_eq!(
        reason(decrypt(&ct[..HEADER_LEN], SegmentSize::Auto)),
        "truncated: the stream ended before its last segment"
    );
    assert_eq!(
        reason(decrypt(&ct[..HEADER_LEN + 5], SegmentSize::Auto)),
        "truncated: segment 0 has 5 bytes, fewer than its 16-byte tag"
    );
}

#[test]
fn a_stream_cut_at_a_segment_boundary_is_truncated() {
    let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    for (cut, segment) in [(K4, 0), (2 * K4, 1), (3 * K4, 2)] {
        for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
            assert_eq!(
                reason(decrypt(&ct[..cut], size)),
                format!(
                    "truncated: the stream ended before its last segment \
                     (segment {segment} is complete but not marked last)"
                ),
                "cut at {cut}, {size:?}"
            );
        }
    }
}

#[test]
fn a_stream_cut_inside_a_segment_fails_authentication_there() {
    let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let size = SegmentSize::Bytes(SEGMENT_SIZE_4KB);
    assert_eq!(
        reason(decrypt(&ct[..K4 + 1000], size)),
        format!("authentication failed in segment 1 {AUTH_FAILED_END}")
    );
    assert_eq!(
        reason(decrypt(&ct[..ct.len() - 1], size)),
        format!("authentication failed in segment 3 {AUTH_FAILED_END}")
    );
    assert_eq!(
        reason(decrypt(&ct[..3 * K4 + 3], size)),
        "truncated: segment 3 has 3 bytes, fewer than its 16-byte tag"
    );
}

#[test]
fn a_dropped_last_segment_is_truncated() {
    let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let without_last = &ct[..segment_4k(&ct, 3).start];
    assert_eq!(
        reason(decrypt(without_last, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
        "truncated: the stream ended before its last segment \
         (segment 2 is complete but not marked last)"
    );
}

#[test]
fn reordered_segments_are_rejected() {
    let pt = plaintext(FIRST_4K + 3 * NEXT_4K + 500);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let mut swapped = ct[..K4].to_vec();
    swapped.extend_from_slice(&ct[segment_4k(&ct, 2)]);
    swapped.extend_from_slice(&ct[segment_4k(&ct, 1)]);
    swapped.extend_from_slice(&ct[3 * K4..]);
    assert_eq!(swapped.len(), ct.len());
    assert_eq!(
        reason(decrypt(&swapped, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
        format!("authentication failed in segment 1 {AUTH_FAILED_MID}")
    );
    // The last segment moved forward: it verifies only as segment 3.
    let mut last_first = ct[..K4].to_vec();
    last_first.extend_from_slice(&ct[segment_4k(&ct, 4)]);
    assert_eq!(
        reason(decrypt(&last_first, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
        format!("authentication failed in segment 1 {AUTH_FAILED_END}")
    );
}

#[test]
fn data_after_a_full_last_segment_is_rejected() {
    let pt = plaintext(FIRST_4K + NEXT_4K);
    let mut ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    assert_eq!(ct.len(), 2 * K4);
    ct.extend_from_slice(b"garbage");
    for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
        assert_eq!(
            reason(decrypt(&ct, size)),
            "data after the last segment (segment 1 is marked last)"
        );
    }
    // A single full segment: Auto must not go on to try 1 MiB.
    let mut single = encrypt(&plaintext(FIRST_4K), SEGMENT_SIZE_4KB);
    single.push(0);
    assert_eq!(
        reason(decrypt(&single, SegmentSize::Auto)),
        "data after the last segment (segment 0 is marked last)"
    );
}

#[test]
fn data_after_a_short_last_segment_fails_its_authentication() {
    let mut ct = encrypt(&plaintext(FIRST_4K + 100), SEGMENT_SIZE_4KB);
    ct.extend_from_slice(b"garbage");
    assert_eq!(
        reason(decrypt(&ct, SegmentSize::Auto)),
        format!("authentication failed in segment 1 {AUTH_FAILED_END}")
    );
}

/// A reader that fails once with its own error, then serves `data`.
struct Flaky<'a> {
    data: &'a [u8],
    failed: bool,
    kind: io::ErrorKind,
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.failed && self.data.len() > 100 {
            self.failed = true;
            return Err(io::Error::new(self.kind, "source went away"));
        }
        // Short reads, to exercise refilling.
        let n = buf.len().min(self.data.len()).min(777);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn inner_errors_pass_through_unchanged_and_reading_resumes() {
    let pt = plaintext(FIRST_4K + NEXT_4K + 10);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let source = Flaky {
        data: &ct[200..],
        failed: false,
        kind: io::ErrorKind::ConnectionReset,
    };
    let mut reader = TinkStreamReader::new(
        ct[..200].chain(source),
        &DataKey::from_bytes(KEY),
        AAD,
        SegmentSize::Auto,
    );
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(error.to_string(), "source went away");
    assert!(LayerError::find(&error).is_none());
    assert!(out.is_empty());
    reader.read_to_end(&mut out).unwrap();
    assert_eq!(out, pt);
}

#[test]
fn interrupted_reads_are_retried() {
    let pt = plaintext(FIRST_4K + NEXT_4K + 10);
    let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
    let source = Flaky {
        data: &ct,
        failed: false,
        kind: io::ErrorKind::Interrupted,
    };
    let mut reader = TinkStreamReader::new(
        source,
        &DataKey::from_bytes(KEY),
        AAD,
        SegmentSize::Bytes(SEGMENT_SIZE_4KB),
    );
    let mut out = vec![0u8; pt.len() + 10];
    let mut filled = 0;
    loop {
        match reader.read(&mut out[filled..]).unwrap() {
            0 => break,
            n => filled += n,
        }
    }
    assert_eq!(out[..filled], pt);
}

#[test]
fn segment_sizes_out_of_range_are_configuration_errors() {
    let ct = encrypt(b"x", SEGMENT_SIZE_4KB);
    let error = decrypt(&ct, SegmentSize::Bytes(56)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(LayerError::find(&error).is_none());
    assert_eq!(
        error.to_string(),
        "aes-256-gcm-hkdf-stream: segment size 56 is outside 57..=8388608 bytes"
    );
    let key = DataKey::from_bytes(KEY);
    let error = TinkStreamWriter::new(Vec::new(), &key, AAD, MAX_SEGMENT_SIZE + 1)
        .err()
        .unwrap();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_any_length_and_read_size(
        len in 0usize..5 * K4,
        chunk in 1usize..9000,
        auto in any::<bool>(),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let pt = plaintext(len);
        let ct = encrypt_with(&pt, KEY, &aad, SEGMENT_SIZE_4KB);
        let size = if auto { SegmentSize::Auto } else { SegmentSize::Bytes(SEGMENT_SIZE_4KB) };
        let mut reader = TinkStreamReader::new(ct.as_slice(), &DataKey::from_bytes(KEY), &aad, size);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 { break; }
            out.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(out, pt);
    }

    #[test]
    fn round_trips_small_custom_segment_sizes(
        size in MIN_SEGMENT_SIZE..300,
        len in 0usize..2000,
        chunk in 1usize..100,
    ) {
        let pt = plaintext(len);
        let ct = encrypt(&pt, size);
        prop_assert_eq!(decrypt_in_chunks(&ct, SegmentSize::Bytes(size), chunk).unwrap(), pt);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_are_rejected(
        bytes in proptest::collection::vec(any::<u8>(), 0..6000),
        keep_header in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if keep_header && !bytes.is_empty() {
            bytes[0] = HEADER_LEN as u8;
        }
        let error = decrypt(&bytes, SegmentSize::Auto).unwrap_err();
        prop_assert!(LayerError::find(&error).is_some());
    }
}
