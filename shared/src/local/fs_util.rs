//! Small filesystem helpers the local adapters share: atomic writes, unique ids.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this process and distinct across processes.
pub(crate) fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An id that does not repeat across runs (random, hex).
pub(crate) fn random_id() -> io::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(io::Error::from)?;
    Ok(hex::encode(bytes))
}

/// Writes `bytes` to `path` so that readers see the old content or the new,
/// never a mix: a temporary file in the same directory, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, bytes, None)?;
    let result = fs::rename(&tmp, path);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `bytes` and the modification time `modified`, all or
/// nothing, and never over an existing file: a synced temporary file is
/// hard-linked to `path`, which fails with `AlreadyExists` if `path` exists
/// (the filesystem's own conditional write).
pub(crate) fn write_new(path: &Path, bytes: &[u8], modified: SystemTime) -> io::Result<()> {
    let tmp = write_temp(path, bytes, Some(modified))?;
    let result = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    result
}

/// A synced temporary file beside `path` holding `bytes`.
fn write_temp(path: &Path, bytes: &[u8], modified: Option<SystemTime>) -> io::Result<PathBuf> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", unique_suffix()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        if let Some(modified) = modified {
            file.set_modified(modified)?;
        }
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Appends one line to `path`, creating it (and its directory) if needed.
pub(crate) fn append_line(path: &Path, line: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write call per line, so concurrent appenders do not interleave.
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// The lines of `path`, empty when it does not exist.
pub(crate) fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_creates_with_the_given_time_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/v1.yaml");
        let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_714_554_000);
        write_new(&path, b"first", when).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), when);

        let err = write_new(&path, b"second", SystemTime::now()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let left: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
