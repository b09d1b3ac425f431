//! The object store port (S3, or a directory locally): small objects in one put,
//! large ones streamed as a multipart upload that is completed only once the
//! engine accepted the file and aborted otherwise, so nothing invalid is ever
//! visible. Objects carry their lineage as string metadata.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::failure::FailureKind;

/// Lineage metadata on an object (`source-host`, `sha256`, `rows`, …). Keys are
/// lowercase ASCII, as S3 returns them.
pub type Metadata = BTreeMap<String, String>;

/// The smallest part S3 accepts, except for the last part of an upload.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;
/// The largest part this port accepts (S3 allows 5 GiB; the uploader buffers a
/// part in memory, so it stays far below).
pub const MAX_PART_BYTES: usize = 64 * 1024 * 1024;
/// Part numbers run from 1 to this.
pub const MAX_PARTS: u32 = 10_000;

/// An upload in progress: what `put_part`, `complete_upload` and `abort_upload`
/// act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub key: String,
    pub upload_id: String,
}

/// A part that was stored, as `complete_upload` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based, consecutive, in the order the bytes were produced.
    pub number: u32,
    /// The store's tag for the part's bytes.
    pub etag: String,
}

/// What `head` says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub metadata: Metadata,
    pub last_modified: DateTime<Utc>,
}

/// Why an object store call failed. Every variant names the key it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    /// The store could not be reached or refused for now (503, SlowDown, I/O).
    #[error("object store {op} {key}: {source}")]
    Unavailable {
        op: &'static str,
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The upload is gone (aborted, or expired by a lifecycle rule).
    #[error("object store: no upload {upload_id} for {key}")]
    NoSuchUpload { key: String, upload_id: String },
    /// The caller broke the multipart rules (part size, numbering, order).
    #[error("object store: upload of {key}: {reason}")]
    InvalidPart { key: String, reason: String },
    /// The key is not acceptable to the store (empty, `..`, control characters).
    #[error("object store: invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    /// Access denied, missing bucket: the deployment is wrong.
    #[error("object store {op} {key}: {reason}")]
    Denied {
        op: &'static str,
        key: String,
        reason: String,
    },
    /// The store holds something unreadable for this key (a corrupt sidecar).
    #[error("object store: {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

impl ObjectStoreError {
    /// Unreachable stores and vanished uploads are worth a retry (the retry
    /// starts a new upload); the rest needs a fix.
    pub fn kind(&self) -> FailureKind {
        match self {
            ObjectStoreError::Unavailable { .. } | ObjectStoreError::NoSuchUpload { .. } => {
                FailureKind::Transient
            }
            ObjectStoreError::InvalidPart { .. }
            | ObjectStoreError::InvalidKey { .. }
            | ObjectStoreError::Denied { .. }
            | ObjectStoreError::Corrupt { .. } => FailureKind::Misconfigured,
        }
    }
}

/// Where landed files are stored. Keys are chosen by the caller (deterministic,
/// so a retried file lands on the same key).
pub trait ObjectStore: Send + Sync {
    /// Stores a small object in one call, replacing any object at `key`.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &Metadata,
    ) -> impl Future<Output = Result<(), ObjectStoreError>> + Send;

    /// Starts a multipart upload to `key`; `metadata` is set on the object when
    /// the upload completes. Nothing is visible at `key` until then.
    fn start_upload(
        &self,
        key: &str,
        metadata: &Metadata,
    ) -> impl Future<Output = Result<MultipartUpload, ObjectStoreError>> + Send;

    /// Stores part `number` (1-based). Every part but the last must hold at least
    /// [`MIN_PART_BYTES`] (checked at completion, as S3 does); none may exceed
    /// [`MAX_PART_BYTES`].
    fn put_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<CompletedPart, ObjectStoreError>> + Send;

    /// Makes the object visible: the parts' bytes in order, with the metadata
    /// given at the start.
    fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> impl Future<Output = Result<(), ObjectStoreError>> + Send;

    /// Discards the upload and its parts; nothing becomes visible. Aborting an
    /// upload that is already gone succeeds.
    fn abort_upload(
        &self,
        upload: &MultipartUpload,
    ) -> impl Future<Output = Result<(), ObjectStoreError>> + Send;

    /// The object's size and metadata, `None` when there is no object at `key`.
    fn head(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectInfo>, ObjectStoreError>> + Send;

    /// The object's bytes (for verification and small objects), `None` when absent.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ObjectStoreError>> + Send;

    /// Uploads started and neither completed nor aborted, under `prefix`.
    fn incomplete_uploads(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<MultipartUpload>, ObjectStoreError>> + Send;
}

/// Checks a part number and size against the port's rules (the size floor is
/// checked at completion, when the last part is known).
pub fn check_part(
    upload: &MultipartUpload,
    number: u32,
    len: usize,
) -> Result<(), ObjectStoreError> {
    if number == 0 || number > MAX_PARTS {
        return Err(ObjectStoreError::InvalidPart {
            key: upload.key.clone(),
            reason: format!("part number {number} is outside 1..={MAX_PARTS}"),
        });
    }
    if len > MAX_PART_BYTES {
        return Err(ObjectStoreError::InvalidPart {
            key: upload.key.clone(),
            reason: format!("part {number} holds {len} bytes, more than {MAX_PART_BYTES}"),
        });
    }
    Ok(())
}
