//! Interop with Tink itself for the `aes-256-gcm-hkdf-stream` layer.
//!
//! - Every ciphertext Tink wrote (listed in a `manifest.json` made by
//!   `scripts/fixtures/tink_fixtures.py generate`) decrypts to the plaintext
//!   length and SHA-256 the manifest records, under its exact segment size and
//!   under `SegmentSize::Auto`. The fixtures come from `$TRIBUTARY_TINK_FIXTURES`
//!   when set (fresh keys made at test time), else from the committed
//!   `tests/fixtures/tink/`.
//! - Our writer's ciphertexts, with the same kind of manifest, go to
//!   `$TRIBUTARY_TINK_RUST_OUT` when set, for `tink_fixtures.py verify` to
//!   decrypt with Tink; either way they are read back here.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tributary::engine::data_key::DataKey;
use tributary::engine::layers::LayerError;
use tributary::engine::layers::tink_stream::{
    SEGMENT_SIZE_1MB, SEGMENT_SIZE_4KB, SegmentSize, TinkStreamReader, TinkStreamWriter,
};

const FORMAT: &str = "tributary-tink-stream-fixtures/1";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    #[serde(default)]
    tink_version: Option<String>,
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    file: String,
    key_b64: String,
    associated_data_b64: String,
    segment_size: u32,
    plaintext_len: u64,
    plaintext_sha256: String,
}

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("TRIBUTARY_TINK_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tink"),
    }
}

fn read_manifest(dir: &Path) -> Manifest {
    let path = dir.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest.format, FORMAT);
    manifest
}

/// Decrypts `ciphertext` as a stream in 8 KiB reads; returns length and SHA-256.
fn decrypt_digest(
    ciphertext: impl Read,
    key: &DataKey,
    aad: &[u8],
    size: SegmentSize,
) -> io::Result<(u64, String)> {
    let mut reader = TinkStreamReader::new(ciphertext, key, aad, size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 8192];
    let mut len = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok((len, hex::encode(hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

#[test]
fn decrypts_every_ciphertext_tink_wrote() {
    let dir = fixtures_dir();
    let manifest = read_manifest(&dir);
    assert!(
        !manifest.entries.is_empty(),
        "no fixtures in {}",
        dir.display()
    );
    for size in [SEGMENT_SIZE_4KB, SEGMENT_SIZE_1MB] {
        assert!(
            manifest.entries.iter().any(|e| e.segment_size == size),
            "no fixture with {size}-byte segments"
        );
    }
    for entry in &manifest.entries {
        let ciphertext = fs::read(dir.join(&entry.file)).unwrap();
        let key = DataKey::from_base64(&entry.key_b64).unwrap();
        let aad = STANDARD.decode(&entry.associated_data_b64).unwrap();
        for size in [SegmentSize::Bytes(entry.segment_size), SegmentSize::Auto] {
            let (len, sha) = decrypt_digest(ciphertext.as_slice(), &key, &aad, size)
                .unwrap_or_else(|e| panic!("{} ({size:?}): {e}", entry.file));
            assert_eq!(len, entry.plaintext_len, "{} ({size:?})", entry.file);
            assert_eq!(sha, entry.plaintext_sha256, "{} ({size:?})", entry.file);
        }
        // The same bytes with one bit flipped are rejected.
        let mut tampered = ciphertext.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 1;
        let error = decrypt_digest(tampered.as_slice(), &key, &aad, SegmentSize::Auto)
            .expect_err(&entry.file);
        assert!(
            LayerError::find(&error).is_some(),
            "{}: {error}",
            entry.file
        );
    }
}

/// Plaintext lengths around the segment boundaries of each template.
fn rust_cases() -> Vec<(String, u32, usize, Vec<u8>)> {
    let aad = b"tenant-b/invoices/2024-06.xml".to_vec();
    let mut cases = Vec::new();
    for (tag, size) in [("4kb", SEGMENT_SIZE_4KB), ("1mb", SEGMENT_SIZE_1MB)] {
        let first = size as usize - 56;
        let next = size as usize - 16;
        for len in [
            0,
            1,
            first - 1,
            first,
            first + 1,
            first + next,
            first + next + 1,
        ] {
            for with_aad in [false, true] {
                if size == SEGMENT_SIZE_1MB && len > first + 1 && !with_aad {
                    continue; // keep the 1 MiB output small
                }
                let name = format!("rust-{tag}-{len}{}", if with_aad { "-aad" } else { "" });
                let aad = if with_aad { aad.clone() } else { Vec::new() };
                cases.push((name, size, len, aad));
            }
        }
    }
    cases
}

#[test]
fn writes_ciphertexts_for_tink_to_check() {
    let scratch = tempfile::tempdir().unwrap();
    let out = match std::env::var_os("TRIBUTARY_TINK_RUST_OUT") {
        Some(dir) => PathBuf::from(dir),
        None => scratch.path().to_path_buf(),
    };
    fs::create_dir_all(&out).unwrap();
    let mut entries = Vec::new();
    for (name, size, len, aad) in rust_cases() {
        let mut key_bytes = [0u8; 32];
        getrandom::fill(&mut key_bytes).unwrap();
        let key = DataKey::from_bytes(key_bytes);
        let mut plaintext = vec![0u8; len];
        getrandom::fill(&mut plaintext).unwrap();

        let mut writer = TinkStreamWriter::new(Vec::new(), &key, &aad, size).unwrap();
        writer.write_all(&plaintext).unwrap();
        let ciphertext = writer.finish().unwrap();
        let sha = hex::encode(Sha256::digest(&plaintext));
        assert_eq!(
            decrypt_digest(ciphertext.as_slice(), &key, &aad, SegmentSize::Auto).unwrap(),
            (len as u64, sha.clone()),
            "{name}"
        );

        let file = format!("{name}.bin");
        fs::write(out.join(&file), &ciphertext).unwrap();
        entries.push(Entry {
            file,
            key_b64: STANDARD.encode(key_bytes),
            associated_data_b64: STANDARD.encode(&aad),
            segment_size: size,
            plaintext_len: len as u64,
            plaintext_sha256: sha,
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        tink_version: None,
        entries,
    };
    let text = serde_json::to_string_pretty(&manifest).unwrap();
    fs::write(out.join("manifest.json"), text + "\n").unwrap();
    assert_eq!(read_manifest(&out).entries.len(), rust_cases().len());
}
