//! tributary's library: everything the Lambdas and the `tributary` command share.
//!
//! # Layout
//! - [`engine`]: the streaming validation engine (hash → decrypt → decompress →
//!   count → check), independent of where bytes come from or go to.
//! - [`contract`]: data contracts: typed columns and per-row checks, the exact
//!   value parsers, and uniqueness in bounded memory.
//! - [`registry`]: tenants → sources → file rules, loaded from YAML/JSON and validated,
//!   with the JSON Schema editors use.
//! - [`ftp`]: the FTP/FTPS client the poller lists with and the ingester streams
//!   files from, the listing parser, and the post-actions applied after a file landed.
//! - [`ingest`]: where a file lands (the object key, its lineage metadata) and how
//!   its decoded bytes stream from the engine into a multipart upload that is
//!   completed only when the file is accepted.
//! - [`poll`]: the poller's domain: which listed files are complete, new versions.
//! - [`redrive`]: dead letters moved back to the ingest queue, filtered, with
//!   their ledger items reset (the `dlq-redrive` function and the CLI).
//! - [`catalog`]: the catalog trigger's domain: S3 events of landed objects →
//!   Glue job runs, recorded in the ledger.
//! - [`percent`]: strict percent-decoding (S3 event keys, lineage metadata).
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
//! - [`alerts`]: the words of every notification (what, why, what to do next);
//!   [`digest`] folds a run's many notifications into one.
//! - [`metrics`]: CloudWatch metrics in the Embedded Metric Format.
//! - [`lambda`]: what the Lambda entrypoints share: configuration from the
//!   environment, SDK configuration, the registry cached per container.
//! - [`failure`]: the failure taxonomy (transient, rejected, misconfigured).
//!
//! The domain here knows nothing of AWS; adapters for the outside world live behind
//! small traits (ports).

pub mod alerts;
pub mod aws;
pub mod catalog;
pub mod contract;
pub mod digest;
pub mod engine;
pub mod failure;
pub mod ftp;
pub mod ingest;
pub mod lambda;
pub mod local;
pub mod metrics;
pub mod percent;
pub mod poll;
pub mod ports;
pub mod redrive;
pub mod registry;
pub mod secrets;
pub mod sla;
