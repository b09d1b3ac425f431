//! Builds the chain of readers that undoes a file's layers, in order, on top of
//! the received bytes; with inferred layers, also looks at the magic bytes of
//! what the named layers leave.

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use super::infer::{self, MAGIC_LEN};
use super::tink_stream::{SegmentSize, TinkStreamReader};
use super::whole_file_gcm::WholeFileGcmReader;
use super::{LayerError, decompress};
use crate::engine::data_key::DataKey;
use crate::engine::meter::LayerMeter;
use crate::engine::spec::{Layer, Limits};

/// What the chain needs to undo encryption layers.
pub struct Decryption<'k> {
    pub key: Option<&'k DataKey>,
    pub associated_data: &'k [u8],
}

/// What every decompression layer's output is checked against (see
/// [`LayerMeter`]): the running count of received bytes and the limits.
pub struct StageGuard {
    pub received: Rc<Cell<u64>>,
    pub limits: Limits,
    pub ratio_applies: bool,
}

/// Which layers to undo.
pub enum Plan {
    /// Exactly these, as the rule lists them.
    Explicit(Vec<Layer>),
    /// These (from the file name), then one more if the magic bytes show one.
    Inferred(Vec<Layer>),
}

/// The reader of the decoded bytes, and the layers it undoes in order.
pub struct Chain<'a> {
    pub reader: Box<dyn Read + 'a>,
    pub layers: Vec<Layer>,
}

/// Stacks the readers for `plan` on `source`. Reads at most [`MAGIC_LEN`] bytes
/// (to sniff) before returning; a layer that needs a key without one is an error
/// the caller checks for beforehand (see [`missing_key`]).
pub fn build<'a>(
    source: Box<dyn Read + 'a>,
    plan: Plan,
    decryption: &Decryption<'_>,
    guard: &StageGuard,
) -> io::Result<Chain<'a>> {
    let (mut layers, sniff) = match plan {
        Plan::Explicit(layers) => (layers, false),
        Plan::Inferred(layers) => (layers, true),
    };
    let mut reader = source;
    for &layer in &layers {
        reader = wrap(reader, layer, decryption, guard)?;
    }
    if sniff {
        let (prefix, rest) = peek(reader, MAGIC_LEN)?;
        reader = rest;
        if let Some(layer) = infer::sniff(&prefix) {
            reader = wrap(reader, layer, decryption, guard)?;
            layers.push(layer);
        }
    }
    Ok(Chain { reader, layers })
}

/// The first layer of `layers` that needs a key, when no key is given.
pub fn missing_key(layers: &[Layer], key: Option<&DataKey>) -> Option<Layer> {
    match key {
        Some(_) => None,
        None => layers.iter().copied().find(|l| l.needs_key()),
    }
}

fn wrap<'a>(
    inner: Box<dyn Read + 'a>,
    layer: Layer,
    decryption: &Decryption<'_>,
    guard: &StageGuard,
) -> io::Result<Box<dyn Read + 'a>> {
    let metered = |decoder: Box<dyn Read + 'a>| -> Box<dyn Read + 'a> {
        Box::new(LayerMeter::new(
            decoder,
            layer,
            Rc::clone(&guard.received),
            guard.limits,
            guard.ratio_applies,
        ))
    };
    let key = || {
        decryption
            .key
            .ok_or_else(|| LayerError::into_io(layer, "no key is configured"))
    };
    Ok(match layer {
        Layer::Gzip => metered(decompress::gzip(inner)),
        Layer::Bzip2 => metered(decompress::bzip2(inner)),
        Layer::Aes256Gcm => Box::new(WholeFileGcmReader::new(
            inner,
            key()?,
            decryption.associated_data,
            guard.limits.max_whole_file_aead_bytes,
        )),
        Layer::Aes256GcmHkdfStream => Box::new(TinkStreamReader::new(
            inner,
            key()?,
            decryption.associated_data,
            SegmentSize::Auto,
        )),
    })
}

/// Reads up to `n` bytes from the front of `reader` and gives back a reader that
/// still yields them.
fn peek<'a>(mut reader: Box<dyn Read + 'a>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + 'a>)> {
    let mut prefix = Vec::with_capacity(n);
    while prefix.len() < n {
        let mut byte_buf = [0u8; MAGIC_LEN];
        let want = (n - prefix.len()).min(byte_buf.len());
        let got = match reader.read(&mut byte_buf[..want]) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        prefix.extend_from_slice(&byte_buf[..got]);
    }
    let replay = Cursor::new(prefix.clone());
    Ok((prefix, Box::new(replay.chain(reader))))
}
