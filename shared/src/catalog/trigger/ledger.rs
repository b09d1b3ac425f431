//! Steps 4 and 6a: the file's ledger item before the job starts (rebuilt from
//! the object's lineage: a run id already there is a duplicate event, an item
//! not yet `ingested` is waited for), and the run id written to it after.

use std::time::Duration as StdDuration;

use tokio::time::Instant;
use tracing::{error, info, warn};

use super::target::Target;
use super::{Stop, pause};
use crate::alerts;
use crate::failure::FailureKind;
use crate::ingest::lineage;
use crate::ports::FileVersion;
use crate::ports::clock::Clock;
use crate::ports::ledger::{FileState, Ledger};
use crate::ports::notifier::Notifier;
use crate::ports::object_store::Metadata;

/// Step 4: the ledger item that takes the run id of `job`, rebuilt from the
/// object's lineage `metadata`; `None` starts the job unrecorded (no lineage,
/// or no item for this object). `Err` is a duplicate event or a failure.
pub(super) async fn record_on(
    ledger: &impl Ledger,
    metadata: &Metadata,
    key: &str,
    job: &str,
    backoff: &[StdDuration],
    deadline: Instant,
) -> Result<Option<FileVersion>, Stop> {
    let version = match lineage::file_version(metadata) {
        Ok(version) => version,
        Err(gap) => {
            warn!(key, %gap, "No ledger item can take the run id; the job is started anyway.");
            return Ok(None);
        }
    };
    match ledger_check(ledger, backoff, &version, key, deadline).await {
        Ok(LedgerCheck::Record) => Ok(Some(version)),
        Ok(LedgerCheck::Unrecorded) => Ok(None),
        Ok(LedgerCheck::Duplicate(job_run_id)) => Err(Stop::Duplicate(job_run_id)),
        Err((kind, reason)) => Err(Stop::failed(Some(job), kind, reason)),
    }
}

/// What the ledger says before a job is started.
enum LedgerCheck {
    /// The item is `ingested` for this object, without a run: start, then record.
    Record,
    /// Start, but there is no item for this object to record on.
    Unrecorded,
    /// The item already has this run id.
    Duplicate(String),
}

/// Reads the item of `version`, waiting (per the backoff) for one that is not
/// yet `ingested`. `Err` is the failure (kind, reason) when it stays so or the
/// ledger cannot be read.
async fn ledger_check(
    ledger: &impl Ledger,
    backoff: &[StdDuration],
    version: &FileVersion,
    key: &str,
    deadline: Instant,
) -> Result<LedgerCheck, (FailureKind, String)> {
    let mut attempt = 0;
    loop {
        let reason = match ledger.get(version).await {
            Ok(None) => {
                warn!(key, source = %version.source, path = %version.path, version = %version.version_key(),
                    "The object's lineage names no ledger item; the job is started, the run id is not recorded.");
                return Ok(LedgerCheck::Unrecorded);
            }
            Ok(Some(record)) => {
                if let Some(run_id) = record.job_run_id {
                    return Ok(LedgerCheck::Duplicate(run_id));
                }
                if record.state == FileState::Ingested {
                    if record.s3_key.as_deref() == Some(key) {
                        return Ok(LedgerCheck::Record);
                    }
                    warn!(
                        key,
                        ledger_key = record.s3_key.as_deref().unwrap_or("-"),
                        "The ledger item landed this file at another key (a copy?); the run id is not recorded on it."
                    );
                    return Ok(LedgerCheck::Unrecorded);
                }
                format!(
                    "the ledger item of {}:{} is {}, not yet ingested (the ingester has not recorded the file)",
                    version.source, version.path, record.state
                )
            }
            Err(error) if error.kind() == FailureKind::Transient => error.to_string(),
            Err(error) => return Err((error.kind(), error.to_string())),
        };
        match pause(backoff, attempt, deadline) {
            Some(wait) => {
                info!(key, %reason, attempt, "Waiting for the ledger.");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            None => return Err((FailureKind::Transient, reason)),
        }
    }
}

/// Attempts at writing the run id before giving up with a warning.
const RECORD_TRIES: u32 = 3;

/// Step 6a: writes the run id to the ledger item; a failure is a warning alert
/// (the run started; retrying the message would start another).
pub(super) async fn record_run(
    ledger: &impl Ledger,
    notifier: &impl Notifier,
    clock: &impl Clock,
    target: &Target<'_>,
    version: &FileVersion,
    job: &str,
    run_id: &str,
) -> bool {
    let mut delay = StdDuration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match ledger.set_job_run(version, run_id, clock.now()).await {
            Ok(()) => return true,
            Err(error) if error.kind() == FailureKind::Transient && tries < RECORD_TRIES => {
                warn!(key = target.key, %error, tries, "Recording the run id failed; trying again.");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(error) => {
                error!(key = target.key, %job, %run_id, %error, "The run id could not be recorded.");
                alerts::publish(
                    notifier,
                    alerts::job_run_unrecorded(target.object(), job, run_id, &error.to_string()),
                )
                .await;
                return false;
            }
        }
    }
}
