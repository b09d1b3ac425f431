//! The embedded ledger: every item in one JSON file (`ledger.json`) under a
//! directory, held in memory behind a mutex and rewritten atomically after each
//! change (the new state is written before it replaces the old in memory, so a
//! failed write changes nothing). The poller's observations and the SLA
//! monitor's checkpoints and breaches live in the same file: this ledger is
//! also the [`ObservationStore`] and the [`SlaStore`](crate::ports::SlaStore)
//! (`file_ledger/sla.rs`).
//!
//! Chosen over SQLite because the demo holds hundreds of items, not millions,
//! and `rusqlite`'s bundled C build would add a minute to every clean build for
//! no behaviour the contract needs. One process owns a directory at a time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::fs_util::write_atomic;
use crate::poll::observations::ObservationStore;
use crate::poll::select::Observation;
use crate::ports::FileVersion;
use crate::ports::ledger::{
    Claim, FileRecord, FileState, Lease, Ledger, LedgerError, NewFile, Outcome,
};
use crate::ports::poll_log::{PollLog, PollRecord};
use crate::ports::sla_store::Breach;

mod sla;

/// The format this build writes.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Stored {
    format: u32,
    files: Vec<FileRecord>,
    observations: Vec<StoredObservation>,
    /// Absent in files written before the SLA monitor existed.
    #[serde(default)]
    sla_checkpoints: Vec<StoredCheckpoint>,
    #[serde(default)]
    sla_breaches: Vec<Breach>,
    /// Each source's last poll; absent in files written before the poll log.
    #[serde(default)]
    polls: Vec<PollRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCheckpoint {
    rule: String,
    checkpoint: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredObservation {
    source: String,
    path: String,
    observation: Observation,
}

#[derive(Debug, Default, Clone)]
struct State {
    files: HashMap<FileVersion, FileRecord>,
    observations: HashMap<(String, String), Observation>,
    sla_checkpoints: HashMap<String, DateTime<Utc>>,
    /// By rule and deadline.
    sla_breaches: HashMap<(String, DateTime<Utc>), Breach>,
    /// By source.
    polls: HashMap<String, PollRecord>,
}

impl State {
    fn to_stored(&self) -> Stored {
        let mut files: Vec<FileRecord> = self.files.values().cloned().collect();
        files.sort_by(|a, b| {
            (&a.version.source, &a.version.path, a.discovered_at).cmp(&(
                &b.version.source,
                &b.version.path,
                b.discovered_at,
            ))
        });
        let mut observations: Vec<StoredObservation> = self
            .observations
            .iter()
            .map(|((source, path), observation)| StoredObservation {
                source: source.clone(),
                path: path.clone(),
                observation: *observation,
            })
            .collect();
        observations.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
        let mut sla_checkpoints: Vec<StoredCheckpoint> = self
            .sla_checkpoints
            .iter()
            .map(|(rule, checkpoint)| StoredCheckpoint {
                rule: rule.clone(),
                checkpoint: *checkpoint,
            })
            .collect();
        sla_checkpoints.sort_by(|a, b| a.rule.cmp(&b.rule));
        let mut sla_breaches: Vec<Breach> = self.sla_breaches.values().cloned().collect();
        sla_breaches.sort_by(|a, b| (&a.rule, a.deadline).cmp(&(&b.rule, b.deadline)));
        let mut polls: Vec<PollRecord> = self.polls.values().cloned().collect();
        polls.sort_by(|a, b| a.source.cmp(&b.source));
        Stored {
            format: FORMAT,
            files,
            observations,
            sla_checkpoints,
            sla_breaches,
            polls,
        }
    }
}

/// A ledger in a JSON file, or only in memory. Clones are handles to the same
/// ledger (the demo hands one to each function).
#[derive(Debug, Clone)]
pub struct FileLedger {
    path: Option<PathBuf>,
    state: Arc<Mutex<State>>,
}

impl FileLedger {
    /// Opens (or starts) the ledger in `dir/ledger.json`. A file that cannot be
    /// read as a ledger is an error naming it; it is never overwritten.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = dir.as_ref().join("ledger.json");
        let corrupt = |reason: String| LedgerError::Corrupt {
            location: path.display().to_string(),
            reason,
        };
        let stored = match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: Stored =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if stored.format != FORMAT {
                    return Err(corrupt(format!(
                        "format {} (this build reads {FORMAT})",
                        stored.format
                    )));
                }
                stored
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => {
                return Err(LedgerError::Unavailable {
                    op: "open",
                    source: Box::new(e),
                });
            }
        };
        let mut state = State::default();
        for record in stored.files {
            if state
                .files
                .insert(record.version.clone(), record.clone())
                .is_some()
            {
                return Err(corrupt(format!(
                    "two items for {}:{} ({})",
                    record.version.source,
                    record.version.path,
                    record.version.version_key()
                )));
            }
        }
        for o in stored.observations {
            state.observations.insert((o.source, o.path), o.observation);
        }
        for c in stored.sla_checkpoints {
            state.sla_checkpoints.insert(c.rule, c.checkpoint);
        }
        for poll in stored.polls {
            state.polls.insert(poll.source.clone(), poll);
        }
        for breach in stored.sla_breaches {
            let key = (breach.rule.clone(), breach.deadline);
            if state.sla_breaches.insert(key, breach.clone()).is_some() {
                return Err(corrupt(format!(
                    "two breaches of rule {} at {}",
                    breach.rule, breach.deadline
                )));
            }
        }
        Ok(FileLedger {
            path: Some(path),
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// A ledger that lives only as long as this value (tests).
    pub fn in_memory() -> Self {
        FileLedger {
            path: None,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to a copy of the state, persists the copy, then keeps it.
    fn update<T, E: From<LedgerError>>(
        &self,
        op: &'static str,
        change: impl FnOnce(&mut State) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let out = change(&mut next)?;
        if let Some(path) = &self.path {
            let bytes = serde_json::to_vec_pretty(&next.to_stored()).map_err(|e| {
                LedgerError::Unavailable {
                    op,
                    source: Box::new(e),
                }
            })?;
            write_atomic(path, &bytes).map_err(|e| LedgerError::Unavailable {
                op,
                source: Box::new(e),
            })?;
        }
        *guard = next;
        Ok(out)
    }

    fn claim_now(&self, file: NewFile) -> Result<Claim, LedgerError> {
        // An identical item is this caller's own claim, repeated (as the
        // DynamoDB adapter sees an SDK retry): still `Claimed`.
        let answer = |existing: &FileRecord, file: &NewFile| {
            if *existing == FileRecord::discovered(file.clone()) {
                Claim::Claimed
            } else {
                Claim::AlreadyKnown(existing.state)
            }
        };
        if let Some(existing) = self.lock().files.get(&file.version) {
            return Ok(answer(existing, &file));
        }
        self.update("claim", |state| {
            if let Some(existing) = state.files.get(&file.version) {
                return Ok(answer(existing, &file));
            }
            state
                .files
                .insert(file.version.clone(), FileRecord::discovered(file));
            Ok(Claim::Claimed)
        })
    }

    fn take_lease_now(
        &self,
        version: &FileVersion,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease, LedgerError> {
        self.update("take lease", |state| {
            let record = state
                .files
                .get_mut(version)
                .ok_or_else(|| LedgerError::not_found(version))?;
            let answer = record.lease(owner, lease, now);
            if let Lease::Taken(next) = &answer {
                *record = (**next).clone();
            }
            Ok(answer)
        })
    }

    fn finish_now(
        &self,
        version: &FileVersion,
        owner: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.apply("finish", version, |record| {
            record.finished(owner, outcome, now)
        })
    }

    fn reset_now(
        &self,
        version: &FileVersion,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.apply("reset", version, |record| record.reset(now))
    }

    fn release_now(&self, version: &FileVersion) -> Result<(), LedgerError> {
        if !self.lock().files.contains_key(version) {
            return Ok(());
        }
        self.update("release", |state| {
            if let Some(record) = state.files.get(version) {
                record.release()?;
                state.files.remove(version);
            }
            Ok(())
        })
    }

    fn set_job_run_now(&self, version: &FileVersion, run_id: &str) -> Result<(), LedgerError> {
        self.apply("set job run", version, |record| record.with_job_run(run_id))
            .map(|_| ())
    }

    /// Replaces the record of `version` with what `transition` makes of it.
    fn apply(
        &self,
        op: &'static str,
        version: &FileVersion,
        transition: impl FnOnce(&FileRecord) -> Result<FileRecord, LedgerError>,
    ) -> Result<FileRecord, LedgerError> {
        self.update(op, |state| {
            let record = state
                .files
                .get_mut(version)
                .ok_or_else(|| LedgerError::not_found(version))?;
            let next = transition(record)?;
            *record = next.clone();
            Ok(next)
        })
    }

    fn by_state_now(
        &self,
        tenant: &str,
        state: FileState,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<FileRecord> {
        let mut found: Vec<FileRecord> = self
            .lock()
            .files
            .values()
            .filter(|r| r.tenant == tenant && r.state == state)
            .filter(|r| since.is_none_or(|since| r.updated_at >= since))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.version.path.cmp(&b.version.path))
        });
        found.truncate(limit);
        found
    }
}

impl Ledger for FileLedger {
    async fn claim(&self, file: NewFile) -> Result<Claim, LedgerError> {
        self.claim_now(file)
    }

    async fn known(&self, versions: &[FileVersion]) -> Result<HashSet<FileVersion>, LedgerError> {
        let state = self.lock();
        Ok(versions
            .iter()
            .filter(|v| state.files.contains_key(*v))
            .cloned()
            .collect())
    }

    async fn get(&self, version: &FileVersion) -> Result<Option<FileRecord>, LedgerError> {
        Ok(self.lock().files.get(version).cloned())
    }

    async fn take_lease(
        &self,
        version: &FileVersion,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease, LedgerError> {
        self.take_lease_now(version, owner, lease, now)
    }

    async fn finish(
        &self,
        version: &FileVersion,
        owner: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.finish_now(version, owner, outcome, now)
    }

    async fn reset(
        &self,
        version: &FileVersion,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.reset_now(version, now)
    }

    async fn release(&self, version: &FileVersion) -> Result<(), LedgerError> {
        self.release_now(version)
    }

    async fn set_job_run(
        &self,
        version: &FileVersion,
        run_id: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.set_job_run_now(version, run_id)
    }

    async fn by_state(
        &self,
        tenant: &str,
        state: FileState,
        limit: usize,
    ) -> Result<Vec<FileRecord>, LedgerError> {
        Ok(self.by_state_now(tenant, state, None, limit))
    }

    async fn by_state_since(
        &self,
        tenant: &str,
        state: FileState,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, LedgerError> {
        Ok(self.by_state_now(tenant, state, Some(since), limit))
    }
}

impl ObservationStore for FileLedger {
    type Error = LedgerError;

    async fn load(
        &self,
        source: &str,
        paths: &[String],
    ) -> Result<HashMap<String, Observation>, LedgerError> {
        let state = self.lock();
        Ok(paths
            .iter()
            .filter_map(|path| {
                state
                    .observations
                    .get(&(source.to_owned(), path.clone()))
                    .map(|o| (path.clone(), *o))
            })
            .collect())
    }

    async fn save(
        &self,
        source: &str,
        observations: &[(String, Observation)],
    ) -> Result<(), LedgerError> {
        self.update("save observations", |state| {
            for (path, observation) in observations {
                state
                    .observations
                    .insert((source.to_owned(), path.clone()), *observation);
            }
            Ok(())
        })
    }
}

impl PollLog for FileLedger {
    async fn record_poll(&self, record: &PollRecord) -> Result<(), LedgerError> {
        self.update("record poll", |state| {
            state.polls.insert(record.source.clone(), record.clone());
            Ok::<_, LedgerError>(())
        })
    }

    async fn last_polls(&self, sources: &[String]) -> Result<Vec<PollRecord>, LedgerError> {
        let state = self.lock();
        let distinct: HashSet<&String> = sources.iter().collect();
        Ok(distinct
            .into_iter()
            .filter_map(|source| state.polls.get(source).cloned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureKind;

    fn new_file(path: &str) -> NewFile {
        NewFile {
            version: FileVersion {
                source: "s".into(),
                path: path.into(),
                size: 10,
                mtime: None,
            },
            tenant: "acme".into(),
            rule: "r".into(),
            discovered_at: "2024-05-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn the_ledger_and_observations_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::open(dir.path()).unwrap();
        assert_eq!(ledger.claim(new_file("/a")).await.unwrap(), Claim::Claimed);
        let seen = Observation {
            size: Some(10),
            mtime: None,
            seen_at: "2024-05-01T00:00:00Z".parse().unwrap(),
        };
        ledger.save("s", &[("/a".into(), seen)]).await.unwrap();
        drop(ledger);

        let reopened = FileLedger::open(dir.path()).unwrap();
        let record = reopened
            .get(&new_file("/a").version)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.state, FileState::Discovered);
        let loaded = reopened
            .load("s", &["/a".into(), "/b".into()])
            .await
            .unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded["/a"], seen);
    }

    #[test]
    fn a_corrupt_ledger_file_is_an_error_naming_it_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        std::fs::write(&path, b"{\"format\":1,\"files\":[{\"oops\"").unwrap();
        let err = FileLedger::open(dir.path()).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("ledger.json"), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"{\"format\":1,\"files\":[{\"oops\"".to_vec()
        );
    }

    #[test]
    fn a_ledger_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ledger.json"),
            br#"{"format":7,"files":[],"observations":[]}"#,
        )
        .unwrap();
        let err = FileLedger::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("format 7"), "{err}");
    }
}
