//! What the engine says about a file: the verdict, its reasons and the figures
//! the ledger, the S3 lineage metadata and `tributary check` report.

use serde::{Serialize, Serializer};

use super::spec::Layer;

/// Whether a file may land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    Rejected,
}

/// The outcome of one pass over a file. Returned only once every byte was read
/// and every layer authenticated, so `Accepted` is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// Why the file was rejected (empty when accepted).
    pub reasons: Vec<String>,
    /// The layers undone, in order.
    pub layers: Vec<Layer>,
    /// Bytes as received.
    pub received_bytes: u64,
    /// SHA-256 of the bytes as received; `None` when reading stopped early
    /// because the file was larger than its `max_bytes`.
    #[serde(serialize_with = "as_hex")]
    pub received_sha256: Option<[u8; 32]>,
    /// Bytes after every layer was undone (so far, for an early rejection).
    pub decoded_bytes: u64,
    /// Records read, the header included.
    pub records: u64,
    /// Data rows (records without the header).
    pub rows: u64,
    /// The header's columns, for csv/tsv with a header.
    pub header: Option<Vec<String>>,
}

impl Report {
    /// Whether the file may land.
    pub fn accepted(&self) -> bool {
        self.verdict == Verdict::Accepted
    }

    /// The SHA-256 as lowercase hex, if complete.
    pub fn sha256_hex(&self) -> Option<String> {
        self.received_sha256.map(hex::encode)
    }
}

fn as_hex<S: Serializer>(value: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(bytes) => s.serialize_str(&hex::encode(bytes)),
        None => s.serialize_none(),
    }
}
