//! The streaming validation engine: one pass over a file's bytes as received,
//! with bounded memory, that hashes them, undoes their layers (decrypt,
//! decompress), counts records and checks them against a rule, while handing the
//! decoded bytes to a sink (the uploader).
//!
//! - [`pipeline`]: [`validate`], the one pass, and [`EngineError`].
//! - [`layers`]: undoing encryption and compression, and inferring which apply.
//! - [`meter`]: counting and guarding both ends of the layer chain.
//! - [`worker`]: the second thread, which hashes and counts while the first decodes.
//! - [`count`]: row counters per format; [`checks`]: the rule's bounds.
//! - [`spec`], [`data_key`], [`report`]: what goes in and what comes out.

pub mod checks;
pub mod count;
pub mod data_key;
pub mod layers;
pub mod meter;
pub mod pipeline;
pub mod report;
pub mod spec;
pub mod worker;

pub use pipeline::{EngineError, validate, validate_keeping_invalid_records};
pub use report::{Report, Verdict};
