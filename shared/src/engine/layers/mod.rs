//! The layers wrapped around a file (encryption, compression): how each is undone
//! as a streaming `Read`, and how the layers of a file are inferred when its rule
//! does not list them.

pub mod chain;
pub mod decompress;
pub mod infer;
pub mod whole_file_gcm;

use std::io;

use super::spec::Layer;

pub mod tink_stream;

/// Why a layer could not be undone: the file is corrupt, truncated, tampered with
/// or encrypted under another key. It travels inside an `io::Error` (kind
/// `InvalidData`) through the chain of readers, and the engine turns it into a
/// rejection reason. It never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{layer}: {reason}")]
pub struct LayerError {
    pub layer: Layer,
    pub reason: String,
}

impl LayerError {
    /// An `io::Error` carrying this layer error, for use inside `Read` impls.
    pub fn into_io(layer: Layer, reason: impl Into<String>) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            LayerError {
                layer,
                reason: reason.into(),
            },
        )
    }

    /// The layer error inside an `io::Error`, if there is one.
    pub fn find(error: &io::Error) -> Option<&LayerError> {
        error.get_ref().and_then(|e| e.downcast_ref::<LayerError>())
    }
}
