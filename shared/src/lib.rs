//! tributary's library: everything the Lambdas and the `tributary` command share.
//!
//! # Layout
//! - [`engine`]: the streaming validation engine (hash → decrypt → decompress →
//!   count → check), independent of where bytes come from or go to.
//! - [`registry`]: tenants → sources → file rules, loaded from YAML/JSON and validated,
//!   with the JSON Schema editors use.
//! - [`ftp`]: the FTP/FTPS client the poller lists with and the ingester streams
//!   files from, the listing parser, and the post-actions applied after a file landed.
//! - [`ingest`]: where a file lands (the object key, its lineage metadata) and how
//!   its decoded bytes stream from the engine into a multipart upload that is
//!   completed only when the file is accepted.
//! - [`poll`]: the poller's domain: which listed files are complete, new versions.
//! - [`secrets`]: secrets by reference: the port and its local adapter.
//! - [`sla`]: the SLA monitor's domain: each rule's windows (expected arrival in
//!   its time zone plus grace) and the run that records breaches and recoveries.
//! - [`ports`]: the traits the domain reaches the outside through (object store,
//!   ledger, work queue, notifier, job trigger, registry store, SLA store), the
//!   clock, and the versioned messages functions exchange.
//! - [`local`]: the ports on the filesystem and in process, for the demo,
//!   on-premises runs and tests.
//! - [`aws`]: the same ports (and secrets) on S3, DynamoDB, SQS, SNS, Glue,
//!   Secrets Manager and SSM, through SDK clients built once and passed in.
//! - [`alerts`]: the words of every notification (what, why, what to do next).
//! - [`lambda`]: what the Lambda entrypoints share: configuration from the
//!   environment, SDK configuration, the registry cached per container.
//! - [`failure`]: the failure taxonomy (transient, rejected, misconfigured).
//!
//! The domain here knows nothing of AWS; adapters for the outside world live behind
//! small traits (ports).

pub mod alerts;
pub mod aws;
pub mod engine;
pub mod failure;
pub mod ftp;
pub mod ingest;
pub mod lambda;
pub mod local;
pub mod poll;
pub mod ports;
pub mod registry;
pub mod secrets;
pub mod sla;
