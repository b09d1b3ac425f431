//! Tests of the listing parser as the poller uses it: real server lines, year
//! inference and time zones, hostile input, and properties.

mod hostile;
mod paths;
mod properties;
mod real_servers;
mod year_inference;

use chrono::{DateTime, Utc};

use super::{EntryKind, ListEntry, Precision};

/// Parses an RFC 3339 instant.
fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Asserts everything the poller uses about an entry.
#[track_caller]
fn assert_entry(
    entry: &ListEntry,
    name: &str,
    kind: EntryKind,
    size: Option<u64>,
    mtime: Option<&str>,
    precision: Precision,
) {
    assert_eq!(entry.name, name, "name of {:?}", entry.raw);
    assert_eq!(entry.kind, kind, "kind of {:?}", entry.raw);
    assert_eq!(entry.size, size, "size of {:?}", entry.raw);
    assert_eq!(entry.mtime, mtime.map(utc), "mtime of {:?}", entry.raw);
    if entry.mtime.is_some() {
        assert_eq!(
            entry.mtime_precision, precision,
            "precision of {:?}",
            entry.raw
        );
    }
}

/// A symlink kind with the given target.
fn link(target: &str) -> EntryKind {
    EntryKind::Symlink {
        target: target.to_owned(),
    }
}
