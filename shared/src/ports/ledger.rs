//! The ledger port: one item per file version with its state machine
//! `discovered → ingesting → ingested | rejected | failed`, written only by
//! conditional transitions so that overlapping pollers and at-least-once
//! deliveries never ingest a file twice. Losing a race (another poller claimed
//! the file, another ingester holds the lease) is an outcome, not an error.
//!
//! Transitions:
//! - [`Ledger::claim`]: absent → `discovered`.
//! - [`Ledger::take_lease`]: `discovered`, `failed`, or `ingesting` whose lease
//!   expired (a crashed ingester) → `ingesting`, attempts + 1.
//! - [`Ledger::finish`]: `ingesting` under the caller's lease → `ingested`,
//!   `rejected` or `failed`. `failed` means "this attempt failed" and may be
//!   leased again (SQS redelivery); `rejected` and `ingested` are final.
//! - [`Ledger::reset`]: `rejected` or `failed` → `discovered` (redrive).
//! - [`Ledger::release`]: `discovered` and never leased → absent: the poller
//!   claimed the file but could not send its `FileDiscovered` message, so it
//!   gives the claim back and the next poll claims the file again.
//! - [`Ledger::set_job_run`]: records the catalog job run of an `ingested` file.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::failure::FailureKind;
use crate::ports::FileVersion;

/// Where a file version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    Discovered,
    Ingesting,
    Ingested,
    Rejected,
    Failed,
}

impl FileState {
    /// The lowercase name stored in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            FileState::Discovered => "discovered",
            FileState::Ingesting => "ingesting",
            FileState::Ingested => "ingested",
            FileState::Rejected => "rejected",
            FileState::Failed => "failed",
        }
    }
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the last attempt failed, or why the file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub kind: FailureKind,
    pub reason: String,
}

impl FileError {
    /// A failure of `kind` for `reason`.
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        FileError {
            kind,
            reason: reason.into(),
        }
    }
}

/// A file version the poller found and claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub version: FileVersion,
    pub tenant: String,
    pub rule: String,
    pub discovered_at: DateTime<Utc>,
}

/// One ledger item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub version: FileVersion,
    pub tenant: String,
    pub rule: String,
    pub state: FileState,
    /// Leases taken so far.
    pub attempts: u32,
    /// Who holds (or last held) the lease: an ingester's invocation id.
    pub lease_owner: Option<String>,
    /// When the current lease runs out.
    pub lease_until: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the bytes as received.
    pub sha256: Option<String>,
    pub bytes_in: Option<u64>,
    pub bytes_out: Option<u64>,
    pub rows: Option<u64>,
    pub s3_key: Option<String>,
    /// Rows its data contract found invalid (a landed file under
    /// `quarantine_rows`, or a rejected one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_rows: Option<u64>,
    /// Where its quarantine report is (a rejected file, or a landed one with
    /// invalid rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    pub job_run_id: Option<String>,
    pub error: Option<FileError>,
    pub discovered_at: DateTime<Utc>,
    /// When the item last changed state; "newest first" orders by this.
    pub updated_at: DateTime<Utc>,
}

impl FileRecord {
    /// A freshly claimed item.
    pub fn discovered(new: NewFile) -> Self {
        FileRecord {
            version: new.version,
            tenant: new.tenant,
            rule: new.rule,
            state: FileState::Discovered,
            attempts: 0,
            lease_owner: None,
            lease_until: None,
            sha256: None,
            bytes_in: None,
            bytes_out: None,
            rows: None,
            s3_key: None,
            invalid_rows: None,
            report_key: None,
            job_run_id: None,
            error: None,
            discovered_at: new.discovered_at,
            updated_at: new.discovered_at,
        }
    }
}

/// The outcome of [`Ledger::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller created the item: send the file to the ingester.
    Claimed,
    /// The version was already known (another poll claimed it): do nothing.
    AlreadyKnown(FileState),
}

/// The outcome of [`Ledger::claim_all`]: one [`Claim`] per file, in order, for
/// the files it got to, and the error that stopped it before the rest.
#[derive(Debug)]
pub struct Claims {
    pub claims: Vec<Claim>,
    pub stopped: Option<LedgerError>,
}

/// The most files one [`Ledger::claim_all`] call should be given: DynamoDB's
/// limit on the writes of one transaction.
pub const MAX_CLAIMS: usize = 100;

/// The outcome of [`Ledger::take_lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// This caller holds the lease until `record.lease_until`.
    Taken(Box<FileRecord>),
    /// Another ingester holds an unexpired lease: leave the message for later.
    Held {
        owner: Option<String>,
        until: Option<DateTime<Utc>>,
    },
    /// The file is already `ingested` or `rejected`: a duplicate delivery.
    Finished(FileState),
}

/// How an attempt ended, with what the ledger keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ingested {
        sha256: String,
        bytes_in: u64,
        bytes_out: u64,
        rows: u64,
        s3_key: String,
        /// Rows its contract found invalid (kept aside with `quarantine_rows`).
        invalid_rows: u64,
        /// Its quarantine report, when it has invalid rows.
        report_key: Option<String>,
    },
    Rejected {
        /// `None` when reading stopped early (file above `max_bytes`).
        sha256: Option<String>,
        bytes_in: u64,
        reason: String,
        /// Its quarantine report.
        report_key: Option<String>,
    },
    Failed(FileError),
}

impl Outcome {
    /// The state this outcome leads to.
    pub fn state(&self) -> FileState {
        match self {
            Outcome::Ingested { .. } => FileState::Ingested,
            Outcome::Rejected { .. } => FileState::Rejected,
            Outcome::Failed(_) => FileState::Failed,
        }
    }
}

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The table could not be reached or throttled us, or a local I/O error.
    #[error("ledger {op}: {source}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No item for this version: the message names a file no poller claimed.
    #[error("ledger: no item for {source_id}:{path} ({version_key})")]
    NotFound {
        source_id: String,
        path: String,
        version_key: String,
    },
    /// The item is not in a state this transition starts from, or the caller's
    /// lease was lost to another ingester. The caller's message is retried and
    /// its next `take_lease` sees the truth.
    #[error("ledger: {source_id}:{path} cannot go from {from} to {}{detail}", target(*to))]
    Conflict {
        source_id: String,
        path: String,
        from: FileState,
        /// The state the transition leads to; `None` for a release (the item
        /// deleted).
        to: Option<FileState>,
        detail: String,
    },
    /// The stored ledger cannot be read (a corrupt file, an item of another shape).
    #[error("ledger: corrupt store {location}: {reason}")]
    Corrupt { location: String, reason: String },
}

/// The end of a refused transition, for messages.
fn target(to: Option<FileState>) -> &'static str {
    to.map_or("released (deleted)", FileState::name)
}

impl LedgerError {
    /// Unreachable and conflicting writes are retried; unknown items and a
    /// corrupt store need ops.
    pub fn kind(&self) -> FailureKind {
        match self {
            LedgerError::Unavailable { .. } | LedgerError::Conflict { .. } => {
                FailureKind::Transient
            }
            LedgerError::NotFound { .. } | LedgerError::Corrupt { .. } => {
                FailureKind::Misconfigured
            }
        }
    }

    /// A `NotFound` for `version`.
    pub fn not_found(version: &FileVersion) -> Self {
        LedgerError::NotFound {
            source_id: version.source.clone(),
            path: version.path.clone(),
            version_key: version.version_key(),
        }
    }

    /// A `Conflict` for `version`.
    pub fn conflict(
        version: &FileVersion,
        from: FileState,
        to: FileState,
        detail: impl Into<String>,
    ) -> Self {
        LedgerError::Conflict {
            source_id: version.source.clone(),
            path: version.path.clone(),
            from,
            to: Some(to),
            detail: detail.into(),
        }
    }
}

/// The state machine itself, written once: every adapter reads a record, asks
/// these what the transition gives, and persists the answer under its own
/// concurrency control (a mutex, a conditional write).
impl FileRecord {
    /// Taking the lease: `Taken` holds the record to write; `Held` and
    /// `Finished` are answers that write nothing.
    pub fn lease(&self, owner: &str, lease: Duration, now: DateTime<Utc>) -> Lease {
        match self.state {
            FileState::Ingested | FileState::Rejected => return Lease::Finished(self.state),
            // Our own unexpired lease: a retried call whose first answer was
            // lost (an SDK retry after a timeout). The same lease, not a new one.
            FileState::Ingesting
                if self.lease_owner.as_deref() == Some(owner)
                    && self.lease_until.is_some_and(|until| until > now) =>
            {
                return Lease::Taken(Box::new(self.clone()));
            }
            FileState::Ingesting if self.lease_until.is_some_and(|until| until > now) => {
                return Lease::Held {
                    owner: self.lease_owner.clone(),
                    until: self.lease_until,
                };
            }
            FileState::Discovered | FileState::Failed | FileState::Ingesting => {}
        }
        let mut next = self.clone();
        next.state = FileState::Ingesting;
        next.attempts += 1;
        next.lease_owner = Some(owner.to_owned());
        next.lease_until = Some(now + lease);
        next.updated_at = now;
        Lease::Taken(Box::new(next))
    }

    /// The record once `owner`'s attempt ended with `outcome`; refused unless the
    /// file is `ingesting` under `owner`'s lease.
    pub fn finished(
        &self,
        owner: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        let to = outcome.state();
        // Already recorded by this owner: a retried call whose first answer
        // was lost. Idempotent, so the caller goes on to its post-action.
        if self.state == to
            && self.lease_until.is_none()
            && self.lease_owner.as_deref() == Some(owner)
        {
            return Ok(self.clone());
        }
        if self.state != FileState::Ingesting {
            return Err(LedgerError::conflict(&self.version, self.state, to, ""));
        }
        if self.lease_owner.as_deref() != Some(owner) {
            return Err(LedgerError::conflict(
                &self.version,
                self.state,
                to,
                format!(": the lease belongs to another ingester, not {owner}"),
            ));
        }
        let mut next = self.clone();
        next.state = to;
        next.lease_until = None;
        next.updated_at = now;
        match outcome {
            Outcome::Ingested {
                sha256,
                bytes_in,
                bytes_out,
                rows,
                s3_key,
                invalid_rows,
                report_key,
            } => {
                next.sha256 = Some(sha256);
                next.bytes_in = Some(bytes_in);
                next.bytes_out = Some(bytes_out);
                next.rows = Some(rows);
                next.s3_key = Some(s3_key);
                next.invalid_rows = (invalid_rows > 0).then_some(invalid_rows);
                next.report_key = report_key;
                next.error = None;
            }
            Outcome::Rejected {
                sha256,
                bytes_in,
                reason,
                report_key,
            } => {
                next.sha256 = sha256;
                next.bytes_in = Some(bytes_in);
                next.report_key = report_key;
                next.error = Some(FileError {
                    kind: FailureKind::Rejected,
                    reason,
                });
            }
            Outcome::Failed(error) => next.error = Some(error),
        }
        Ok(next)
    }

    /// The record sent back to `discovered` (redrive); only rejected or failed
    /// files are reset.
    pub fn reset(&self, now: DateTime<Utc>) -> Result<FileRecord, LedgerError> {
        if !matches!(self.state, FileState::Rejected | FileState::Failed) {
            return Err(LedgerError::conflict(
                &self.version,
                self.state,
                FileState::Discovered,
                ": only rejected or failed files are reset",
            ));
        }
        let mut next = self.clone();
        next.state = FileState::Discovered;
        next.lease_owner = None;
        next.lease_until = None;
        next.updated_at = now;
        Ok(next)
    }

    /// Whether the item may be released (deleted): only a claim no ingester
    /// ever leased (`discovered`, no attempts) is, since anything else has a
    /// history the ledger must keep; a reset file is `discovered` with attempts.
    pub fn release(&self) -> Result<(), LedgerError> {
        if self.state == FileState::Discovered && self.attempts == 0 {
            return Ok(());
        }
        Err(LedgerError::Conflict {
            source_id: self.version.source.clone(),
            path: self.version.path.clone(),
            from: self.state,
            to: None,
            detail: format!(
                ": only a discovered item never leased is released; this one has {} attempt(s)",
                self.attempts
            ),
        })
    }

    /// The record with its catalog job run; only ingested files have one.
    pub fn with_job_run(&self, run_id: &str) -> Result<FileRecord, LedgerError> {
        if self.state != FileState::Ingested {
            return Err(LedgerError::conflict(
                &self.version,
                self.state,
                FileState::Ingested,
                ": a job run is recorded only for ingested files",
            ));
        }
        let mut next = self.clone();
        next.job_run_id = Some(run_id.to_owned());
        Ok(next)
    }
}

/// The ledger of file versions. `now` is passed in (not read inside) so that
/// lease expiry is decided against the caller's clock and tests need no sleep.
pub trait Ledger: Send + Sync {
    /// Creates the item in `discovered` unless the version is already known.
    ///
    /// The same claim repeated (every field equal, `discovered_at` to the
    /// nanosecond) is the caller's own call retried after a lost answer, and is
    /// `Claimed` again; two pollers' claims differ at least in that instant.
    fn claim(&self, file: NewFile) -> impl Future<Output = Result<Claim, LedgerError>> + Send;

    /// Claims each of `files` exactly as [`Ledger::claim`] would, in as few
    /// calls as the back-end allows (the poller claims thousands of new files
    /// per poll). The outcome holds the claims of the files it got to, in
    /// order; files after an error were not claimed by this call, or their
    /// claim's fate is unknown (as with a lost answer to `claim`: the
    /// poller's re-announcement of stale claims covers both).
    ///
    /// The default claims one file at a time.
    fn claim_all(&self, files: Vec<NewFile>) -> impl Future<Output = Claims> + Send {
        async move {
            let mut claims = Vec::with_capacity(files.len());
            for file in files {
                match self.claim(file).await {
                    Ok(claim) => claims.push(claim),
                    Err(error) => {
                        return Claims {
                            claims,
                            stopped: Some(error),
                        };
                    }
                }
            }
            Claims {
                claims,
                stopped: None,
            }
        }
    }

    /// Which of `versions` the ledger already knows (the poller's dedupe; one
    /// batched read, chunked by the adapter as its back-end requires).
    fn known(
        &self,
        versions: &[FileVersion],
    ) -> impl Future<Output = Result<HashSet<FileVersion>, LedgerError>> + Send;

    /// The item of `version`, if any.
    fn get(
        &self,
        version: &FileVersion,
    ) -> impl Future<Output = Result<Option<FileRecord>, LedgerError>> + Send;

    /// Takes the ingest lease for `owner` until `now + lease`.
    fn take_lease(
        &self,
        version: &FileVersion,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Lease, LedgerError>> + Send;

    /// Records the outcome of `owner`'s attempt; refused with `Conflict` unless
    /// the item is `ingesting` under `owner`'s lease.
    fn finish(
        &self,
        version: &FileVersion,
        owner: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<FileRecord, LedgerError>> + Send;

    /// Puts a `rejected` or `failed` item back to `discovered` (redrive).
    fn reset(
        &self,
        version: &FileVersion,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<FileRecord, LedgerError>> + Send;

    /// Deletes the item of `version` if it is still `discovered` and was never
    /// leased: the poller's undo of a claim whose `FileDiscovered` message could
    /// not be sent, so that the next poll claims the file again. Releasing an
    /// absent item succeeds (idempotent); any other item is refused with
    /// `Conflict` and left as it is.
    fn release(
        &self,
        version: &FileVersion,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Records the catalog job run started for an `ingested` item.
    fn set_job_run(
        &self,
        version: &FileVersion,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Up to `limit` items of `tenant` in `state`, most recently changed first.
    fn by_state(
        &self,
        tenant: &str,
        state: FileState,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<FileRecord>, LedgerError>> + Send;

    /// Up to `limit` items of `tenant` in `state` whose last change
    /// (`updated_at`) is at or after `since`, most recently changed first
    /// (the SLA monitor's evidence of arrivals: an ingested file's
    /// `updated_at` is when it landed, never before its `discovered_at`).
    fn by_state_since(
        &self,
        tenant: &str,
        state: FileState,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<FileRecord>, LedgerError>> + Send;
}
