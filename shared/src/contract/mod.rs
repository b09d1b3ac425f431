//! Data contracts: the typed columns and per-row checks a rule may carry for
//! csv, tsv and jsonl files, applied in the engine's streaming pass.
//!
//! - [`spec`]: the contract as the registry writes it;
//! - [`types`] and [`value`]: the column types and the exact parsers that read
//!   each value into its Arrow-compatible form;
//! - [`compile`]: a written contract checked and made ready to run;
//! - [`check`]: the row checker, its row errors and counts;
//! - [`unique`]: exact uniqueness in bounded memory (spills to local disk);
//! - [`infer`]: a contract proposed from a sample of a file (`tributary schema
//!   infer`), typed with the same parsers.
//!
//! docs/contracts.md is the user's guide to what each type accepts.

pub mod check;
pub mod compile;
pub mod infer;
pub mod spec;
pub mod types;
pub mod unique;
pub mod value;

pub use check::{Check, ContractOutcome, RecordAt, RowChecker, RowError};
pub use compile::{Contract, ContractProblem};
pub use spec::{ColumnSpec, ContractSpec, ExtraColumns, InvalidAction, OnInvalid, Scalar};
pub use types::ColumnType;
