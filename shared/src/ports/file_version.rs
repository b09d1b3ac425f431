//! The identity of one version of one file on a source: the key the ledger
//! records it under, the poller claims it by, and every message and lineage
//! carries. Listing the same unchanged file twice gives the same version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One version of one file: two listings of an unchanged file give the same
/// version; a changed file, or a corrected file re-uploaded under the same name,
/// gives a new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileVersion {
    pub source: String,
    pub path: String,
    pub size: u64,
    pub mtime: Option<DateTime<Utc>>,
}

impl FileVersion {
    /// A compact key for this version of `path`: `SIZE@MTIME` (Unix seconds, `-`
    /// when unknown).
    pub fn version_key(&self) -> String {
        match self.mtime {
            Some(t) => format!("{}@{}", self.size, t.timestamp()),
            None => format!("{}@-", self.size),
        }
    }
}
