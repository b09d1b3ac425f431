//! The object store on a directory. Layout under the root:
//! - `objects/<key>`: a landed object's bytes;
//! - `metadata/<key>.json`: its metadata sidecar;
//! - `uploads/<upload id>/`: an upload in progress (`upload.json` with its key
//!   and metadata, `part-NNNNN` files with `.etag` companions). Completing
//!   concatenates the parts into a temporary file and renames it into place, so
//!   an object appears whole or not at all; aborting deletes the directory.
//!   Whatever is left in `uploads/` is an incomplete upload.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fs_util::{random_id, unique_suffix, write_atomic};
use crate::ports::object_store::{
    CompletedPart, MIN_PART_BYTES, Metadata, MultipartUpload, ObjectInfo, ObjectStore,
    ObjectStoreError, check_part,
};

/// An object store rooted at a directory.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct UploadManifest {
    key: String,
    metadata: Metadata,
}

fn unavailable(op: &'static str, key: &str) -> impl FnOnce(io::Error) -> ObjectStoreError {
    let key = key.to_owned();
    move |source| ObjectStoreError::Unavailable {
        op,
        key,
        source: Box::new(source),
    }
}

/// Refuses keys that would not map to one path inside the root.
fn check_key(key: &str) -> Result<(), ObjectStoreError> {
    let reason = if key.is_empty() {
        Some("empty")
    } else if key.starts_with('/') {
        Some("starts with '/'")
    } else if key.chars().any(|c| c.is_control() || c == '\\') {
        Some("holds a control character or a backslash")
    } else if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        Some("has an empty, '.' or '..' segment")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ObjectStoreError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}

impl FsObjectStore {
    /// A store under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsObjectStore { root: root.into() }
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    fn metadata_path(&self, key: &str) -> PathBuf {
        self.root.join("metadata").join(format!("{key}.json"))
    }

    fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.root.join("uploads").join(upload_id)
    }

    fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(unique_suffix())
    }

    /// Writes the sidecar, then renames `staged` into place.
    fn publish(
        &self,
        key: &str,
        staged: &Path,
        metadata: &Metadata,
    ) -> Result<(), ObjectStoreError> {
        let sidecar = serde_json::to_vec(metadata).map_err(|e| ObjectStoreError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.metadata_path(key), &sidecar).map_err(unavailable("put", key))?;
        let target = self.object_path(key);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(unavailable("put", key))?;
        }
        fs::rename(staged, &target).map_err(unavailable("put", key))
    }

    /// The upload's directory, or `NoSuchUpload`.
    fn existing_upload(&self, upload: &MultipartUpload) -> Result<PathBuf, ObjectStoreError> {
        let dir = self.upload_dir(&upload.upload_id);
        let valid_id =
            !upload.upload_id.is_empty() && upload.upload_id.chars().all(|c| c.is_ascii_hexdigit());
        if valid_id && dir.join("upload.json").is_file() {
            Ok(dir)
        } else {
            Err(ObjectStoreError::NoSuchUpload {
                key: upload.key.clone(),
                upload_id: upload.upload_id.clone(),
            })
        }
    }

    fn read_manifest(&self, dir: &Path, key: &str) -> Result<UploadManifest, ObjectStoreError> {
        let bytes = fs::read(dir.join("upload.json")).map_err(unavailable("read upload", key))?;
        serde_json::from_slice(&bytes).map_err(|e| ObjectStoreError::Corrupt {
            key: key.to_owned(),
            reason: format!("{}: {e}", dir.join("upload.json").display()),
        })
    }

    fn put_now(&self, key: &str, body: &[u8], metadata: &Metadata) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        let staged = self.tmp_path();
        write_atomic(&staged, body).map_err(unavailable("put", key))?;
        self.publish(key, &staged, metadata)
    }

    fn start_now(
        &self,
        key: &str,
        metadata: &Metadata,
    ) -> Result<MultipartUpload, ObjectStoreError> {
        check_key(key)?;
        let upload_id = random_id().map_err(unavailable("start upload", key))?;
        let manifest = serde_json::to_vec(&UploadManifest {
            key: key.to_owned(),
            metadata: metadata.clone(),
        })
        .map_err(|e| ObjectStoreError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.upload_dir(&upload_id).join("upload.json"), &manifest)
            .map_err(unavailable("start upload", key))?;
        Ok(MultipartUpload {
            key: key.to_owned(),
            upload_id,
        })
    }

    fn put_part_now(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: &[u8],
    ) -> Result<CompletedPart, ObjectStoreError> {
        check_part(upload, number, body.len())?;
        let dir = self.existing_upload(upload)?;
        let etag = hex::encode(Sha256::digest(body));
        let part = dir.join(format!("part-{number:05}"));
        write_atomic(&part, body).map_err(unavailable("put part", &upload.key))?;
        write_atomic(&part.with_extension("etag"), etag.as_bytes())
            .map_err(unavailable("put part", &upload.key))?;
        Ok(CompletedPart { number, etag })
    }

    fn complete_now(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<(), ObjectStoreError> {
        let dir = self.existing_upload(upload)?;
        let manifest = self.read_manifest(&dir, &upload.key)?;
        let invalid = |reason: String| ObjectStoreError::InvalidPart {
            key: upload.key.clone(),
            reason,
        };
        if parts.is_empty() {
            return Err(invalid("an upload needs at least one part".into()));
        }
        if parts.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(invalid("parts must be listed in ascending order".into()));
        }
        let staged = self.tmp_path();
        if let Some(tmp_dir) = staged.parent() {
            fs::create_dir_all(tmp_dir).map_err(unavailable("complete", &upload.key))?;
        }
        let result = (|| {
            let mut out =
                fs::File::create(&staged).map_err(unavailable("complete", &upload.key))?;
            for (i, part) in parts.iter().enumerate() {
                let path = dir.join(format!("part-{:05}", part.number));
                let stored_etag = fs::read_to_string(path.with_extension("etag"))
                    .map_err(|_| invalid(format!("part {} was never uploaded", part.number)))?;
                if stored_etag != part.etag {
                    return Err(invalid(format!("part {} has another etag", part.number)));
                }
                let bytes = fs::read(&path).map_err(unavailable("complete", &upload.key))?;
                if i + 1 < parts.len() && bytes.len() < MIN_PART_BYTES {
                    return Err(invalid(format!(
                        "part {} holds {} bytes; every part but the last needs {MIN_PART_BYTES}",
                        part.number,
                        bytes.len()
                    )));
                }
                out.write_all(&bytes)
                    .map_err(unavailable("complete", &upload.key))?;
            }
            out.sync_all()
                .map_err(unavailable("complete", &upload.key))?;
            self.publish(&manifest.key, &staged, &manifest.metadata)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&staged);
            return result;
        }
        fs::remove_dir_all(&dir).map_err(unavailable("complete", &upload.key))
    }

    fn abort_now(&self, upload: &MultipartUpload) -> Result<(), ObjectStoreError> {
        match self.existing_upload(upload) {
            Ok(dir) => fs::remove_dir_all(dir).map_err(unavailable("abort", &upload.key)),
            Err(ObjectStoreError::NoSuchUpload { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn head_now(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        check_key(key)?;
        let stat = match fs::metadata(self.object_path(key)) {
            Ok(stat) if stat.is_file() => stat,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable("head", key)(e)),
        };
        let metadata = match fs::read(self.metadata_path(key)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ObjectStoreError::Corrupt {
                key: key.to_owned(),
                reason: format!("metadata sidecar: {e}"),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Metadata::new(),
            Err(e) => return Err(unavailable("head", key)(e)),
        };
        let last_modified: DateTime<Utc> = stat
            .modified()
            .map(DateTime::<Utc>::from)
            .map_err(unavailable("head", key))?;
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            size: stat.len(),
            metadata,
            last_modified,
        }))
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        check_key(key)?;
        match fs::read(self.object_path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable("get", key)(e)),
        }
    }

    fn incomplete_now(&self, prefix: &str) -> Result<Vec<MultipartUpload>, ObjectStoreError> {
        let uploads = self.root.join("uploads");
        let entries = match fs::read_dir(&uploads) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(unavailable("list uploads", prefix)(e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(unavailable("list uploads", prefix))?;
            let dir = entry.path();
            if !dir.join("upload.json").is_file() {
                continue; // a directory torn before its manifest landed holds nothing
            }
            let upload_id = entry.file_name().to_string_lossy().into_owned();
            let manifest = self.read_manifest(&dir, &upload_id)?;
            if manifest.key.starts_with(prefix) {
                found.push(MultipartUpload {
                    key: manifest.key,
                    upload_id,
                });
            }
        }
        found.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(found)
    }
}

impl ObjectStore for FsObjectStore {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &Metadata,
    ) -> Result<(), ObjectStoreError> {
        self.put_now(key, &body, metadata)
    }

    async fn start_upload(
        &self,
        key: &str,
        metadata: &Metadata,
    ) -> Result<MultipartUpload, ObjectStoreError> {
        self.start_now(key, metadata)
    }

    async fn put_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Vec<u8>,
    ) -> Result<CompletedPart, ObjectStoreError> {
        self.put_part_now(upload, number, &body)
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<(), ObjectStoreError> {
        self.complete_now(upload, parts)
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<(), ObjectStoreError> {
        self.abort_now(upload)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        self.head_now(key)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        self.get_now(key)
    }

    async fn incomplete_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<MultipartUpload>, ObjectStoreError> {
        self.incomplete_now(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_escape_the_root_are_refused() {
        for key in ["", "/abs", "a/../b", "a//b", "a/./b", "x\u{7}y", "a\\b"] {
            let err = check_key(key).unwrap_err();
            assert!(
                matches!(err, ObjectStoreError::InvalidKey { .. }),
                "{key:?}"
            );
        }
        check_key("raw/tenant=acme/dataset=orders/x.csv").unwrap();
    }

    #[test]
    fn a_corrupt_metadata_sidecar_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        store.put_now("k/x", b"abc", &Metadata::new()).unwrap();
        fs::write(store.metadata_path("k/x"), b"{not json").unwrap();
        let err = store.head_now("k/x").unwrap_err();
        assert!(matches!(err, ObjectStoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("k/x"), "{err}");
    }

    #[test]
    fn forged_upload_ids_are_no_such_upload() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        let forged = MultipartUpload {
            key: "k".into(),
            upload_id: "../../etc".into(),
        };
        let err = store.put_part_now(&forged, 1, b"x").unwrap_err();
        assert!(matches!(err, ObjectStoreError::NoSuchUpload { .. }));
    }
}
