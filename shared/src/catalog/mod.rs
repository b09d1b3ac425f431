//! The catalog trigger's domain (docs/architecture.md, flow step 3): a landed
//! object's S3 event starts the Glue job named after its key, with the run id
//! written to the file's ledger item.
//!
//! - [`event`]: the catalog queue's message bodies (S3 event notifications,
//!   the `s3:TestEvent`), with keys decoded.
//! - [`job_name`]: which job (and crawler) an object key starts.
//! - [`trigger`]: [`trigger::handle_message`], the whole work on one message:
//!   ignore rules, lineage, ledger, `StartJobRun` with retries, DLQ, alerts.

pub mod event;
pub mod job_name;
pub mod trigger;

pub use job_name::{CrawlerTemplate, JobNaming, JobOverrides};
pub use trigger::{CatalogContext, CatalogSettings, Handled, ObjectOutcome};
