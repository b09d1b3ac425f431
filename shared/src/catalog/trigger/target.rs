//! Steps 1 and 2: which object events are landed files (the others are
//! ignored), the object's `HEAD`, and the [`Target`] a job is started for:
//! tenant and dataset from the key's `tenant=` / `dataset=` segments, else
//! from the object's lineage.

use tracing::warn;

use super::super::event::ObjectEvent;
use super::super::job_name::segment;
use super::Stop;
use crate::alerts::ObjectRef;
use crate::ingest::lineage::{self, keys};
use crate::ports::object_store::{Metadata, ObjectStore};

/// What the job is started for: the object, its tenant and dataset, and the
/// source it came from (the lineage's; the key does not name it).
pub(super) struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub tenant: Option<String>,
    pub dataset: Option<String>,
    pub source: Option<String>,
}

impl<'a> Target<'a> {
    /// The object `key` in `bucket`, with what its key's segments name.
    pub fn from_key(bucket: &'a str, key: &'a str) -> Self {
        Target {
            bucket,
            key,
            tenant: segment(key, "tenant").map(str::to_owned),
            dataset: segment(key, "dataset").map(str::to_owned),
            source: None,
        }
    }

    /// Fills in from the object's lineage what the key does not name.
    pub fn read_lineage(&mut self, metadata: &Metadata) {
        let from_lineage = |k: &'static str| lineage::value(metadata, k).ok().flatten();
        self.tenant = self.tenant.take().or_else(|| from_lineage(keys::TENANT));
        self.dataset = self.dataset.take().or_else(|| from_lineage(keys::DATASET));
        self.source = from_lineage(keys::SOURCE);
    }

    pub fn object(&self) -> ObjectRef<'_> {
        ObjectRef {
            tenant: self.tenant.as_deref().unwrap_or("-"),
            dataset: self.dataset.as_deref().unwrap_or("-"),
            bucket: self.bucket,
            key: self.key,
        }
    }
}

/// Step 1: `Err(Stop::Ignored)` for what is not a landed file: another event
/// than `ObjectCreated:*`, another bucket than `raw_bucket`, a key outside
/// `raw_prefix`, a folder marker.
pub(super) fn landed_file(
    object: &ObjectEvent,
    raw_bucket: &str,
    raw_prefix: &str,
) -> Result<(), Stop> {
    let key = object.key.as_str();
    if !object.is_created() {
        return Err(Stop::Ignored(format!(
            "{} is not an object creation",
            object.event_name
        )));
    }
    if object.bucket != raw_bucket {
        warn!(bucket = %object.bucket, raw_bucket = %raw_bucket, key, "An event for another bucket; check the bucket's notification configuration.");
        return Err(Stop::Ignored(format!(
            "bucket {} is not the raw bucket {}",
            object.bucket, raw_bucket
        )));
    }
    if !key.starts_with(raw_prefix) {
        return Err(Stop::Ignored(format!(
            "outside the raw prefix {raw_prefix:?}"
        )));
    }
    if key.ends_with('/') {
        return Err(Stop::Ignored("a folder marker, not a file".into()));
    }
    Ok(())
}

/// Step 2: the object's metadata; gone (deleted since the event) is ignored.
pub(super) async fn head(store: &impl ObjectStore, key: &str) -> Result<Metadata, Stop> {
    match store.head(key).await {
        Ok(Some(info)) => Ok(info.metadata),
        Ok(None) => {
            warn!(
                key,
                "The object is gone (deleted since the event); nothing to catalog."
            );
            Err(Stop::Ignored("the object no longer exists".into()))
        }
        Err(error) => Err(Stop::failed(None, error.kind(), error.to_string())),
    }
}
