//! Where a validated file lands and how its bytes get there: the ingester's
//! half of the flow between the FTP download and the ledger.
//!
//! - [`object_key`]: the object key, from a template, deterministic and sanitised.
//! - [`lineage`]: the lineage metadata stored on the object.
//! - [`quarantine`]: the report of a rejected file (or of invalid rows kept
//!   aside), under the quarantine prefix beside the raw layer.
//! - [`upload`]: [`validate_and_upload`], one pass of the engine whose decoded
//!   bytes stream into a multipart upload completed only on acceptance.
//! - [`handle`]: [`handle::ingest_message`], the ingester's whole work on one
//!   `FileDiscovered` message: lease, fetch, validate, upload, ledger, DLQ, alerts.
//! - [`bridge`]: the bounded channels between the async source and store and the
//!   synchronous engine.

pub mod bridge;
pub mod handle;
pub mod lineage;
pub mod object_key;
pub mod quarantine;
pub mod upload;

pub use lineage::Lineage;
pub use object_key::{KeyInput, KeyTemplate};
pub use upload::{
    Destination, FileToIngest, IngestError, Landed, Landing, UploadOptions, validate_and_upload,
};
