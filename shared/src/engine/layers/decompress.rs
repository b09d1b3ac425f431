//! gzip and bzip2 decoding as streaming readers, multi-member and multi-stream
//! (as `pigz`, concatenated `.gz` files and `pbzip2` produce), with the decoders'
//! own errors turned into [`LayerError`]s naming the layer.

use std::io::{self, Read};

use bzip2::read::MultiBzDecoder;
use flate2::read::MultiGzDecoder;

use super::LayerError;
use crate::engine::meter::{Breach, SourceFailure};
use crate::engine::spec::Layer;

/// A gzip decoder over `inner`.
pub fn gzip<'a, R: Read + 'a>(inner: R) -> Box<dyn Read + 'a> {
    Box::new(Named {
        layer: Layer::Gzip,
        inner: MultiGzDecoder::new(inner),
        produced: false,
    })
}

/// A bzip2 decoder over `inner`.
pub fn bzip2<'a, R: Read + 'a>(inner: R) -> Box<dyn Read + 'a> {
    Box::new(Named {
        layer: Layer::Bzip2,
        inner: MultiBzDecoder::new(inner),
        produced: false,
    })
}

/// Gives a decoder's errors the name of its layer; errors that already carry a
/// meaning (from the source, an inner layer or a limit) pass through unchanged.
struct Named<R> {
    layer: Layer,
    inner: R,
    /// Whether the decoder has read anything at all (to name empty input).
    produced: bool,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.produced |= n > 0;
                Ok(n)
            }
            Err(e) if carries_meaning(&e) || e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(LayerError::into_io(self.layer, describe(self.layer, &e))),
        }
    }
}

/// Whether an error already says what it is, so a decoder must not rename it.
pub(crate) fn carries_meaning(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| {
        inner.is::<SourceFailure>() || inner.is::<LayerError>() || inner.is::<Breach>()
    })
}

fn describe(layer: Layer, error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated {layer} data ({error})"),
        _ => format!("corrupt {layer} data ({error})"),
    }
}
