//! The object store on S3: small objects in one `PutObject`, large ones as a
//! multipart upload that is completed only once the engine accepted the file
//! (and aborted otherwise), lineage as user metadata (`x-amz-meta-*`), and
//! `ListMultipartUploads` for uploads left open by a crashed ingester.
//!
//! Bodies go with an unsigned payload (`UNSIGNED-PAYLOAD`) when the store is
//! told the connection is safe for it ([`S3ObjectStore::with_unsigned_payload`],
//! which the functions set from [`crate::lambda::unsigned_payload_is_safe`]:
//! HTTPS, as every AWS endpoint, or loopback). SigV4 would otherwise SHA-256
//! every uploaded byte a second time (the engine has hashed them once already),
//! and S3 would hash them again to check. The body stays protected: the SDK
//! sends a CRC32 of it in a signed `x-amz-checksum-crc32` header with every
//! `PutObject` and `UploadPart` (`RequestChecksumCalculation::WhenSupported`,
//! pinned in [`crate::lambda::s3_client`]), which S3 checks, and TLS
//! authenticates every byte. Over plain HTTP to another host a CRC32 can be
//! forged on the way, so there the payload is signed as before.

use std::collections::HashMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as S3Part};
use chrono::{DateTime, Utc};

use super::{ErrorClass, HasStatus, classify, code, describe};
use crate::ports::object_store::{
    CompletedPart, Metadata, MultipartUpload, ObjectInfo, ObjectStore, ObjectStoreError, check_part,
};

/// S3 error codes that mean the caller broke the multipart rules.
const INVALID_PART_CODES: &[&str] = &[
    "EntityTooSmall",
    "EntityTooLarge",
    "InvalidPart",
    "InvalidPartOrder",
    "MalformedXML",
];

/// An object store on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    /// Whether uploads skip SigV4's hash of the body (see the module docs).
    unsigned_payload: bool,
}

impl S3ObjectStore {
    /// A store on `bucket`, through `client` (built once per container); it
    /// signs upload payloads until told the connection makes that needless.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ObjectStore {
            client,
            bucket: bucket.into(),
            unsigned_payload: false,
        }
    }

    /// Sends upload bodies unsigned when `safe` (the connection is TLS or
    /// stays on this host: [`crate::lambda::unsigned_payload_is_safe`]).
    pub fn with_unsigned_payload(mut self, safe: bool) -> Self {
        self.unsigned_payload = safe;
        self
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Maps an SDK error of operation `op` on `key` onto the port's errors.
    fn error<E>(
        &self,
        op: &'static str,
        key: &str,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> ObjectStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = code(&err);
        if INVALID_PART_CODES.contains(&code) {
            return ObjectStoreError::InvalidPart {
                key: key.to_owned(),
                reason: describe(&err),
            };
        }
        if code == "KeyTooLongError" {
            return ObjectStoreError::InvalidKey {
                key: key.to_owned(),
                reason: describe(&err),
            };
        }
        match classify(&err) {
            ErrorClass::Transient => ObjectStoreError::Unavailable {
                op,
                key: key.to_owned(),
                source: Box::new(err),
            },
            ErrorClass::Denied | ErrorClass::Refused => ObjectStoreError::Denied {
                op,
                key: key.to_owned(),
                reason: format!("bucket {}: {}", self.bucket, describe(&err)),
            },
        }
    }

    /// Maps an error of a call on `upload`. `NoSuchUpload` is the upload gone;
    /// after a 5xx, `ListParts` tells a vanished upload from an outage (some
    /// S3-compatible stores, moto among them, answer 500 for an unknown upload).
    async fn upload_error<E>(
        &self,
        op: &'static str,
        upload: &MultipartUpload,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> ObjectStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if code(&err) == "NoSuchUpload" {
            return Self::no_such_upload(upload);
        }
        let server_error = err.raw_response().is_some_and(|r| r.status_code() >= 500);
        if server_error && self.upload_is_gone(upload).await {
            return Self::no_such_upload(upload);
        }
        self.error(op, &upload.key, err)
    }

    /// Whether S3 says the upload does not exist (any other answer: no).
    async fn upload_is_gone(&self, upload: &MultipartUpload) -> bool {
        match self
            .client
            .list_parts()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .max_parts(1)
            .send()
            .await
        {
            Ok(_) => false,
            Err(e) => code(&e) == "NoSuchUpload",
        }
    }

    fn no_such_upload(upload: &MultipartUpload) -> ObjectStoreError {
        ObjectStoreError::NoSuchUpload {
            key: upload.key.clone(),
            upload_id: upload.upload_id.clone(),
        }
    }
}

/// Refuses keys the raw layer must never hold (S3 itself takes nearly anything).
fn check_key(key: &str) -> Result<(), ObjectStoreError> {
    let reason = if key.is_empty() {
        Some("empty")
    } else if key.len() > 1024 {
        Some("longer than 1024 bytes")
    } else if key.starts_with('/') {
        Some("starts with '/'")
    } else if key.chars().any(char::is_control) {
        Some("holds a control character")
    } else if key.split('/').any(|s| s == "." || s == "..") {
        Some("has a '.' or '..' segment")
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

fn to_s3_metadata(metadata: &Metadata) -> HashMap<String, String> {
    metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn from_s3_metadata(metadata: Option<&HashMap<String, String>>) -> Metadata {
    metadata
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

fn to_chrono(time: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn is_not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(code(err), "NoSuchKey" | "NotFound")
        || (err.raw_response().map(HasStatus::status_code) == Some(404)
            && code(err) != "NoSuchBucket")
}

impl ObjectStore for S3ObjectStore {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &Metadata,
    ) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_metadata(Some(to_s3_metadata(metadata)));
        let sent = if self.unsigned_payload {
            request.customize().disable_payload_signing().send().await
        } else {
            request.send().await
        };
        sent.map_err(|e| self.error("put", key, e))?;
        Ok(())
    }

    async fn start_upload(
        &self,
        key: &str,
        metadata: &Metadata,
    ) -> Result<MultipartUpload, ObjectStoreError> {
        check_key(key)?;
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_metadata(Some(to_s3_metadata(metadata)))
            .send()
            .await
            .map_err(|e| self.error("start upload", key, e))?;
        let upload_id = out.upload_id().filter(|id| !id.is_empty()).ok_or_else(|| {
            ObjectStoreError::Unavailable {
                op: "start upload",
                key: key.to_owned(),
                source: "CreateMultipartUpload answered without an upload id".into(),
            }
        })?;
        Ok(MultipartUpload {
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
        })
    }

    async fn put_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Vec<u8>,
    ) -> Result<CompletedPart, ObjectStoreError> {
        check_part(upload, number, body.len())?;
        let part_number = i32::try_from(number).map_err(|_| ObjectStoreError::InvalidPart {
            key: upload.key.clone(),
            reason: format!("part number {number} is out of range"),
        })?;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body));
        let out = if self.unsigned_payload {
            request.customize().disable_payload_signing().send().await
        } else {
            request.send().await
        };
        let out = match out {
            Ok(out) => out,
            Err(e) => return Err(self.upload_error("put part", upload, e).await),
        };
        let etag = out.e_tag().ok_or_else(|| ObjectStoreError::Unavailable {
            op: "put part",
            key: upload.key.clone(),
            source: "UploadPart answered without an ETag".into(),
        })?;
        Ok(CompletedPart {
            number,
            etag: etag.to_owned(),
        })
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<(), ObjectStoreError> {
        if parts.is_empty() {
            return Err(ObjectStoreError::InvalidPart {
                key: upload.key.clone(),
                reason: "an upload needs at least one part".into(),
            });
        }
        let mut s3_parts = Vec::with_capacity(parts.len());
        for part in parts {
            let number = i32::try_from(part.number).map_err(|_| ObjectStoreError::InvalidPart {
                key: upload.key.clone(),
                reason: format!("part number {} is out of range", part.number),
            })?;
            s3_parts.push(
                S3Part::builder()
                    .part_number(number)
                    .e_tag(&part.etag)
                    .build(),
            );
        }
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(s3_parts))
                    .build(),
            )
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => Err(self.upload_error("complete upload", upload, e).await),
        }
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<(), ObjectStoreError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already aborted, completed or expired: nothing is left to discard.
            Err(e) if code(&e) == "NoSuchUpload" => Ok(()),
            Err(e) => Err(self.error("abort upload", &upload.key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let out = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error("head", key, e)),
        };
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            size: out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            metadata: from_s3_metadata(out.metadata()),
            last_modified: to_chrono(out.last_modified()),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error("get", key, e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| ObjectStoreError::Unavailable {
                op: "get",
                key: key.to_owned(),
                source: Box::new(e),
            })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn incomplete_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<MultipartUpload>, ObjectStoreError> {
        let mut uploads = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut upload_id_marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send()
                .await
                .map_err(|e| self.error("list uploads", prefix, e))?;
            uploads.extend(out.uploads().iter().filter_map(|u| {
                Some(MultipartUpload {
                    key: u.key()?.to_owned(),
                    upload_id: u.upload_id()?.to_owned(),
                })
            }));
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            upload_id_marker = out.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() && upload_id_marker.is_none() {
                break;
            }
        }
        Ok(uploads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_the_raw_layer_must_not_hold_are_refused() {
        for key in ["", "/abs", "a/../b", "a/./b", "a\nb"] {
            assert!(
                matches!(check_key(key), Err(ObjectStoreError::InvalidKey { .. })),
                "{key:?}"
            );
        }
        assert!(check_key("raw/tenant=acme/dataset=orders/x.csv").is_ok());
    }

    #[test]
    fn metadata_keys_come_back_lowercase() {
        let s3: HashMap<String, String> = [("Source-Host".to_owned(), "h".to_owned())].into();
        let metadata = from_s3_metadata(Some(&s3));
        assert_eq!(metadata.get("source-host").map(String::as_str), Some("h"));
        assert!(from_s3_metadata(None).is_empty());
    }
}
