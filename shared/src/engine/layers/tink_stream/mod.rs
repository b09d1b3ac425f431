//! Tink streaming AEAD (`AES256_GCM_HKDF_4KB` / `AES256_GCM_HKDF_1MB`): the
//! `aes-256-gcm-hkdf-stream` layer. [`TinkStreamReader`] decrypts, as a `Read`
//! in constant memory (one ciphertext segment), the ciphertexts Tink's
//! `newEncryptingStream` (Java) / `new_encrypting_stream` (Python) produce;
//! [`TinkStreamWriter`] produces them, for tests, benches and demos.
//!
//! - [`format`]: the wire format both share: segment sizes, header, segment
//!   key derivation, nonces;
//! - `reader.rs`: [`TinkStreamReader`] and the [`SegmentSize`] it expects;
//! - `writer.rs`: [`TinkStreamWriter`];
//! - `tests.rs`: round trips, Tink's lengths, and every way a ciphertext is
//!   rejected.

pub mod format;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

pub use format::{MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, SEGMENT_SIZE_1MB, SEGMENT_SIZE_4KB};
pub use reader::{SegmentSize, TinkStreamReader};
pub use writer::TinkStreamWriter;
