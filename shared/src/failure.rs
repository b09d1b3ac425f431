//! The failure taxonomy: every error tributary reports is one of three kinds, and
//! the kind decides what happens to the file (see docs/architecture.md, "Failure taxonomy").

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of failure an error is, which decides how it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Worth retrying as is: a connection reset, a throttled API, a timeout.
    Transient,
    /// The file itself is bad; retrying cannot help. Never retried.
    Rejected,
    /// The configuration is wrong (missing secret or key, unknown rule, absent job):
    /// ops fix it and reprocess.
    Misconfigured,
}

impl FailureKind {
    /// The lowercase name used in logs, ledger items and message attributes.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Rejected => "rejected",
            FailureKind::Misconfigured => "misconfigured",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
