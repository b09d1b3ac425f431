//! Interop with tools no one here wrote: files made by gzip, pigz, bzip2 and
//! Python `cryptography` (AESGCM), described by the manifest that
//! `scripts/fixtures/interop_fixtures.py` writes. The test script regenerates them
//! with fresh keys and points `TRIBUTARY_INTEROP_DIR` at them; without it, the
//! committed set under `tests/fixtures/interop/` is used.

use std::path::PathBuf;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tributary::engine::data_key::DataKey;
use tributary::engine::spec::{Format, Layer, ValidationSpec};
use tributary::engine::{Verdict, validate};

#[derive(Debug, Deserialize)]
struct Entry {
    file: String,
    layers: Vec<Layer>,
    format: Format,
    rows: u64,
    key: Option<String>,
    associated_data: String,
    received_sha256: String,
    decoded_sha256: String,
    decoded_bytes: u64,
}

fn fixture_dir() -> PathBuf {
    match std::env::var_os("TRIBUTARY_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop"),
    }
}

#[test]
fn files_made_by_other_tools_are_accepted_with_the_right_figures() {
    let dir = fixture_dir();
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("no manifest in {}: {e}", dir.display()));
    let entries: Vec<Entry> = serde_json::from_str(&manifest).unwrap();
    assert!(
        entries.len() >= 9,
        "expected every tool's fixture, got {}",
        entries.len()
    );
    for entry in entries {
        let data = std::fs::read(dir.join(&entry.file)).unwrap();
        let key = entry
            .key
            .as_deref()
            .map(|k| DataKey::from_base64(k).unwrap());
        let mut spec = ValidationSpec::new(entry.format);
        spec.associated_data = entry.associated_data.into_bytes();
        let mut sink = Sha256Sink::default();
        // Layers are inferred from the name, as for a rule that lists none.
        let report = validate(&data[..], &entry.file, &spec, key.as_ref(), &mut sink)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.file));
        assert_eq!(
            report.verdict,
            Verdict::Accepted,
            "{}: {:?}",
            entry.file,
            report.reasons
        );
        assert_eq!(report.layers, entry.layers, "{}", entry.file);
        assert_eq!(report.rows, entry.rows, "{}", entry.file);
        assert_eq!(report.decoded_bytes, entry.decoded_bytes, "{}", entry.file);
        assert_eq!(
            report.sha256_hex().as_deref(),
            Some(entry.received_sha256.as_str())
        );
        assert_eq!(
            hex::encode(sink.0.finalize()),
            entry.decoded_sha256,
            "{}",
            entry.file
        );
    }
}

#[derive(Default)]
struct Sha256Sink(Sha256);

impl std::io::Write for Sha256Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
