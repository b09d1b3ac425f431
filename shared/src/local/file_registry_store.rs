//! The registry store in a directory: one file per version,
//! `registry-v0000000001.yaml` (or `.json`), holding the text exactly as
//! pushed, with the push time as the file's modification time. The newest
//! version is the highest number present.
//!
//! A push creates its version's file with a hard link from a synced temporary
//! file, which the filesystem refuses if the name exists: that is the
//! conditional write. Two pushes of the same version in different syntaxes
//! have different names, so after linking a push checks for the other one and
//! withdraws (as a `Conflict`) if it is there; of two such pushes at most one
//! survives. Pushes in one process are also serialised by a mutex.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::fs_util::write_new;
use crate::ports::registry_store::{RegistryStore, RegistryStoreError, StoredRegistry, check_push};
use crate::registry::{MAX_REGISTRY_BYTES, Syntax};

const PREFIX: &str = "registry-v";

/// Registry versions as files in a directory.
/// Clones share one lock, so they write as one.
#[derive(Debug, Clone)]
pub struct FileRegistryStore {
    dir: PathBuf,
    push: Arc<Mutex<()>>,
}

/// The file name of `version` written in `syntax`.
fn file_name(version: u64, syntax: Syntax) -> String {
    format!("{PREFIX}{version:010}.{}", syntax.extension())
}

/// The version and syntax a file name stands for; `None` for other files.
fn parse_name(name: &str) -> Option<(u64, Syntax)> {
    let (digits, extension) = name.strip_prefix(PREFIX)?.split_once('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, Syntax::from_extension(extension)?))
}

fn unavailable(op: &'static str) -> impl FnOnce(io::Error) -> RegistryStoreError {
    move |e| RegistryStoreError::Unavailable {
        op,
        source: Box::new(e),
    }
}

impl FileRegistryStore {
    /// A store in `dir` (created on the first push).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileRegistryStore {
            dir: dir.into(),
            push: Arc::new(Mutex::new(())),
        }
    }

    /// Every version file present: (version, syntax).
    fn versions(&self) -> Result<Vec<(u64, Syntax)>, RegistryStoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(unavailable("list versions")(e)),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(unavailable("list versions"))?;
            if let Some(found) = entry.file_name().to_str().and_then(parse_name) {
                versions.push(found);
            }
        }
        Ok(versions)
    }

    /// Version `version` as stored; a `Conflict` while two files claim it
    /// (a push in another syntax is withdrawing).
    fn read(&self, version: u64) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        let present: Vec<Syntax> = [Syntax::Yaml, Syntax::Json]
            .into_iter()
            .filter(|syntax| self.dir.join(file_name(version, *syntax)).exists())
            .collect();
        let syntax = match present[..] {
            [] => return Ok(None),
            [syntax] => syntax,
            _ => return Err(RegistryStoreError::Conflict { version }),
        };
        let path = self.dir.join(file_name(version, syntax));
        let corrupt = |reason: String| RegistryStoreError::Corrupt {
            location: path.display().to_string(),
            reason,
        };
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            // Withdrawn between the look and the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable("read version")(e)),
        };
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(unavailable("read version"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            corrupt(format!(
                "not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok(Some(StoredRegistry {
            version,
            syntax,
            text,
            stored_at: DateTime::<Utc>::from(modified),
        }))
    }

    fn push_now(
        &self,
        syntax: Syntax,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, RegistryStoreError> {
        check_push(
            syntax,
            text,
            MAX_REGISTRY_BYTES,
            "the registry's MAX_REGISTRY_BYTES",
        )?;
        let _guard = self.push.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.versions()?.into_iter().map(|(v, _)| v).max();
        let version = current.unwrap_or(0) + 1;
        let path = self.dir.join(file_name(version, syntax));
        match write_new(&path, text.as_bytes(), now.into()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(RegistryStoreError::Conflict { version });
            }
            Err(e) => return Err(unavailable("push")(e)),
        }
        let other = match syntax {
            Syntax::Yaml => Syntax::Json,
            Syntax::Json => Syntax::Yaml,
        };
        if self.dir.join(file_name(version, other)).exists() {
            withdraw(&path)?;
            return Err(RegistryStoreError::Conflict { version });
        }
        Ok(version)
    }
}

/// Removes a version file this push created but lost.
fn withdraw(path: &Path) -> Result<(), RegistryStoreError> {
    fs::remove_file(path).map_err(unavailable("withdraw a conflicting push"))
}

impl RegistryStore for FileRegistryStore {
    async fn current(&self) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        let mut versions: Vec<u64> = self.versions()?.into_iter().map(|(v, _)| v).collect();
        versions.sort_unstable();
        versions.dedup();
        // Newest first; a version withdrawn since the listing is skipped.
        for version in versions.into_iter().rev() {
            if let Some(stored) = self.read(version)? {
                return Ok(Some(stored));
            }
        }
        Ok(None)
    }

    async fn push(
        &self,
        syntax: Syntax,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, RegistryStoreError> {
        self.push_now(syntax, text, now)
    }

    async fn get(&self, version: u64) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        self.read(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_other_files_are_ignored() {
        assert_eq!(file_name(1, Syntax::Yaml), "registry-v0000000001.yaml");
        assert_eq!(file_name(42, Syntax::Json), "registry-v0000000042.json");
        assert_eq!(
            parse_name("registry-v0000000042.json"),
            Some((42, Syntax::Json))
        );
        assert_eq!(
            parse_name("registry-v12345678901.yaml"),
            Some((12_345_678_901, Syntax::Yaml))
        );
        for other in [
            ".tmp-12-3",
            "registry-v.yaml",
            "registry-v00x1.yaml",
            "registry-v0000000001.yml",
            "registry-v0000000001.yaml.bak",
            "registry-v+1.yaml",
            "notes.txt",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
