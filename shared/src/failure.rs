//! The failure taxonomy: every error tributary reports is one of three kinds, and
//! the kind decides what happens to the file (see ARCHITECTURE.md).
use std::fmt;

use serde::Serialize;

/// What kind of failure an error is, which decides how it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Retried: in-call with backoff, then by the queue; dead-lettered at last.
    Transient,
    /// A bad file: never retried, recorded as rejected with the reason.
    Rejected,
    /// The configuration is wrong: dead-lettered with the reason until ops fix it.
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
