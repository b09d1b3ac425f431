//! The streaming validation engine: one pass over a file's bytes as received,
//! with bounded memory, that hashes them, undoes their layers (decrypt,
//! decompress), counts records and checks them against a rule, while handing the
//! decoded bytes to a sink (the uploader).

pub mod count;
pub mod key;
pub mod layers;
pub mod spec;
