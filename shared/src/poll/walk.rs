//! Lists a source's configured directories (and, when the source says so, their
//! sub-directories down to `max_depth`) and turns the listings into files.
//! Bounded: at most [`WalkLimits::max_dirs`] directories and
//! [`WalkLimits::max_files`] files per walk; symbolic links are never followed,
//! so there are no cycles.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::warn;

use super::select::ListedFile;
use crate::failure::FailureKind;
use crate::ports::listing::{EntryKind, Precision, join_path};
use crate::ports::source::{SourceError, SourceSession};
use crate::registry::Source;

/// Bounds on one walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    pub max_dirs: usize,
    pub max_files: usize,
    /// Stop listing once this instant passed (a Lambda's remaining time); the
    /// walk is then `truncated` and `out_of_time`.
    pub deadline: Option<tokio::time::Instant>,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_dirs: 10_000,
            max_files: 1_000_000,
            deadline: None,
        }
    }
}

/// A listing line or directory that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub dir: String,
    pub reason: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<ListedFile>,
    /// Lines and sub-directories passed over (each was logged as a warning).
    pub passed: Vec<Passed>,
    /// Directories listed, failed listings included.
    pub dirs_listed: usize,
    /// Whether a limit stopped the walk before it was complete. The walk is
    /// breadth-first in listing order, so the same files stay beyond the limit
    /// until the tree shrinks.
    pub truncated: bool,
    /// Whether the deadline stopped the walk (then `truncated` too).
    pub out_of_time: bool,
}

/// Lists `source`'s directories in `session`. A configured directory that
/// cannot be listed is an error (a missing one is misconfigured); a
/// sub-directory that vanished or is forbidden is passed over with a warning.
pub async fn walk<S: SourceSession>(
    session: &mut S,
    source: &Source,
    now: DateTime<Utc>,
    limits: WalkLimits,
) -> Result<Walked, S::Error> {
    let tz: Tz = source.timezone.parse().unwrap_or(Tz::UTC);
    let max_depth = if source.recursive {
        source.max_depth
    } else {
        0
    };
    let mut queue: VecDeque<(String, u32)> =
        source.directories.iter().map(|d| (d.clone(), 0)).collect();
    let mut walked = Walked::default();
    while let Some((dir, depth)) = queue.pop_front() {
        if limits
            .deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
        {
            walked.truncated = true;
            walked.out_of_time = true;
            warn!(source = %source.id, dir = %dir, listed = walked.dirs_listed, "Out of time: directories not listed yet wait for the next poll.");
            break;
        }
        if walked.dirs_listed >= limits.max_dirs {
            walked.truncated = true;
            warn!(source = %source.id, dir = %dir, limit = limits.max_dirs, "Directory limit reached: directories past it are not seen until the tree shrinks; split the source or narrow its directories.");
            break;
        }
        // Counted before listing: a failed listing costs a command too.
        walked.dirs_listed += 1;
        let listing = match session.list(&dir, now, tz).await {
            Ok(listing) => listing,
            Err(error) if depth > 0 && error.kind() == FailureKind::Misconfigured => {
                warn!(source = %source.id, dir = %dir, error = %error, "Sub-directory passed over.");
                walked.passed.push(Passed {
                    dir,
                    reason: error.to_string(),
                });
                continue;
            }
            Err(error) => return Err(error),
        };
        for skipped in listing.skipped {
            warn!(source = %source.id, dir = %dir, line = skipped.line_no, reason = %skipped.reason, prefix = %skipped.line_prefix, "Listing line passed over.");
            walked.passed.push(Passed {
                dir: dir.clone(),
                reason: format!(
                    "line {}: {} ({})",
                    skipped.line_no, skipped.reason, skipped.line_prefix
                ),
            });
        }
        for entry in &listing.entries {
            match entry.kind {
                EntryKind::Dir if depth < max_depth => {
                    queue.push_back((join_path(&dir, &entry.name), depth + 1));
                }
                _ => {
                    if let Some(file) = ListedFile::from_entry(&dir, entry) {
                        if walked.files.len() >= limits.max_files {
                            walked.truncated = true;
                            warn!(source = %source.id, limit = limits.max_files, "File limit reached: files past it are not seen until the directory shrinks; split the source or narrow its directories.");
                            return Ok(walked);
                        }
                        walked.files.push(file);
                    }
                }
            }
        }
    }
    Ok(walked)
}

/// Fills in what a listing lacks, for files whose precision matters (those
/// that match a rule): the exact modification time (FTP `MDTM`, UTC to the
/// second) and the size when missing (`SIZE`). At most `limit` files are refined per
/// call, so a poll stays bounded; the poller must refine the same files the same
/// way on every poll, or a file's identity would change between polls. A file
/// that vanished meanwhile keeps its listed values.
pub async fn refine<S: SourceSession>(
    session: &mut S,
    files: &mut [ListedFile],
    limit: usize,
) -> Result<usize, S::Error> {
    let mut refined = 0;
    for file in files
        .iter_mut()
        .filter(|f| f.precision != Precision::Second || f.size.is_none())
        .take(limit)
    {
        match session.modified(&file.path).await {
            Ok(mtime) => {
                file.mtime = Some(mtime);
                file.precision = Precision::Second;
            }
            Err(error) if error.kind() == FailureKind::Transient && error.is_refusal() => {
                warn!(path = %file.path, error = %error, "The exact time was refused; keeping the listed time.");
                continue;
            }
            Err(error) => return Err(error),
        }
        if file.size.is_none() {
            file.size = Some(session.size(&file.path).await?);
        }
        refined += 1;
    }
    Ok(refined)
}
