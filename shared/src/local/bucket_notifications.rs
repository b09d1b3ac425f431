//! S3's bucket notifications for the local object store: what the template
//! configures on the raw bucket (every `ObjectCreated` under the raw prefix
//! sent to the catalog queue) done in process, so that the demo's catalog
//! trigger is fed exactly as on AWS — an S3 event notification body on a
//! queue, keys form-URL-encoded — and not called by hand.

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::ports::object_store::{
    CompletedPart, Metadata, MultipartUpload, ObjectInfo, ObjectStore, ObjectStoreError,
};
use crate::ports::work_queue::{OutgoingMessage, WorkQueue};

/// An object store that, once an object is created under `prefix`, sends
/// the S3 `ObjectCreated` notification for it to `queue`.
///
/// A notification that cannot be sent fails the write that made the object,
/// so the caller retries it (S3 itself delivers notifications at least once);
/// the object stays, and landing it again is idempotent.
#[derive(Debug, Clone)]
pub struct NotifyingStore<St, Q> {
    store: St,
    queue: Q,
    bucket: String,
    prefix: String,
}

impl<St: ObjectStore, Q: WorkQueue> NotifyingStore<St, Q> {
    /// `store` as bucket `bucket`, notifying `queue` of objects under `prefix`.
    pub fn new(store: St, bucket: impl Into<String>, prefix: impl Into<String>, queue: Q) -> Self {
        NotifyingStore {
            store,
            queue,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &St {
        &self.store
    }

    async fn created(&self, key: &str, event: &str) -> Result<(), ObjectStoreError> {
        if !key.starts_with(&self.prefix) {
            return Ok(());
        }
        let size = self.store.head(key).await?.map(|info| info.size);
        let body = notification(&self.bucket, key, size, event);
        self.queue
            .send_batch(&[OutgoingMessage::new(body)])
            .await
            .map_err(|e| ObjectStoreError::Unavailable {
                key: key.to_owned(),
                op: "notify",
                source: Box::new(e),
            })
    }
}

/// The body S3 sends to a queue for one created object (the fields the
/// catalog trigger reads, and the ones around them that identify it).
pub fn notification(bucket: &str, key: &str, size: Option<u64>, event: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventTime": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "eventName": format!("ObjectCreated:{event}"),
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "tributary-raw-object-created",
                "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded, "size": size},
            }
        }]
    })
    .to_string()
}

impl<St: ObjectStore, Q: WorkQueue> ObjectStore for NotifyingStore<St, Q> {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &Metadata,
    ) -> Result<(), ObjectStoreError> {
        self.store.put(key, body, metadata).await?;
        self.created(key, "Put").await
    }

    async fn start_upload(
        &self,
        key: &str,
        metadata: &Metadata,
    ) -> Result<MultipartUpload, ObjectStoreError> {
        self.store.start_upload(key, metadata).await
    }

    async fn put_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Vec<u8>,
    ) -> Result<CompletedPart, ObjectStoreError> {
        self.store.put_part(upload, number, body).await
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<(), ObjectStoreError> {
        self.store.complete_upload(upload, parts).await?;
        self.created(&upload.key, "CompleteMultipartUpload").await
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<(), ObjectStoreError> {
        self.store.abort_upload(upload).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        self.store.head(key).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        self.store.get(key).await
    }

    async fn incomplete_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<MultipartUpload>, ObjectStoreError> {
        self.store.incomplete_uploads(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::event::{self, S3Event};
    use crate::local::{FsObjectStore, MemoryQueue};
    use crate::ports::clock::{Clock, SystemClock};

    #[tokio::test]
    async fn created_objects_under_the_prefix_are_notified_as_s3_does() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queue = MemoryQueue::new("catalog", 5, clock);
        let store = NotifyingStore::new(
            FsObjectStore::new(dir.path()),
            "lake",
            "raw/",
            queue.clone(),
        );
        let key = "raw/tenant=acme/dataset=sales/ingest_date=2026-12-03/sales 1+1.csv";
        store
            .put(key, b"a,b\n".to_vec(), &Metadata::new())
            .await
            .unwrap();
        store
            .put("quarantine/x.csv", b"x".to_vec(), &Metadata::new())
            .await
            .unwrap();

        let got = queue
            .receive(10, chrono::Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "only the object under raw/ is notified");
        let S3Event::Objects(objects) = event::parse(&got[0].body).unwrap() else {
            panic!("not an object notification: {}", got[0].body);
        };
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, key, "the key survives form-URL-encoding");
        assert_eq!(objects[0].bucket, "lake");
        assert_eq!(objects[0].size, Some(4));
        assert!(objects[0].is_created());
    }
}
