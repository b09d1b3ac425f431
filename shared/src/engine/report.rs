//! What the engine says about a file: the verdict, its reasons and the figures
//! the ledger, the S3 lineage metadata and `tributary check` report.

use serde::{Serialize, Serializer};

use super::spec::Layer;
use crate::contract::ContractOutcome;
use crate::contract::check::{CheckCount, RowError};

/// At most this many header names are listed in a report: a header of
/// millions of names (within `max_record_bytes`) is counted, not copied.
pub const REPORTED_HEADER_NAMES: usize = 1_000;

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
    /// The header's names, for csv/tsv with a header: the first
    /// [`REPORTED_HEADER_NAMES`] of them.
    pub header: Option<Vec<String>>,
    /// How many names the header has (more than `header` lists when it was
    /// cut).
    pub header_columns: Option<usize>,
    /// Rows that break the data contract (at least one row error); 0 without one.
    pub invalid_rows: u64,
    /// The first row errors, by record (tenant data: the values are shown).
    pub row_errors: Vec<RowError>,
    /// Whether more row errors were found than `row_errors` holds.
    pub row_errors_truncated: bool,
    /// Failed checks per column and check, most frequent first.
    pub checks: Vec<CheckCount>,
}

impl Report {
    /// Whether the file may land.
    pub fn accepted(&self) -> bool {
        self.verdict == Verdict::Accepted
    }

    /// Fills the contract's figures from what the checker found.
    pub(crate) fn with_contract(mut self, outcome: Option<ContractOutcome>) -> Self {
        if let Some(outcome) = outcome {
            self.invalid_rows = outcome.invalid_rows;
            self.row_errors = outcome.row_errors;
            self.row_errors_truncated = outcome.row_errors_truncated;
            self.checks = outcome.checks;
        }
        self
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
