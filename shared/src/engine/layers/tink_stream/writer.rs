//! The encrypting writer: [`TinkStreamWriter`] writes the header before the
//! first segment, then encrypts the plaintext one segment at a time, holding
//! back a full segment until it knows whether it is the last.

use std::io::{self, Write};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::AeadInOut;

use super::format::{
    HEADER_LEN, Header, LAYER, NONCE_PREFIX_LEN, SALT_LEN, TAG_LEN, check_segment_size,
    segment_cipher, segment_nonce,
};
use crate::engine::data_key::DataKey;
use crate::engine::layers::LayerError;

/// Encrypts a stream into Tink's streaming AEAD format (see [`super::format`]),
/// one segment at a time. [`TinkStreamWriter::finish`] writes the last segment:
/// a writer dropped without it leaves a truncated ciphertext, which readers
/// reject. After an error the writer must be discarded.
pub struct TinkStreamWriter<W: Write> {
    inner: W,
    cipher: Box<Aes256Gcm>,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Written just before the first segment.
    header: Option<[u8; HEADER_LEN]>,
    /// Plaintext of the current segment; its tag is appended in place.
    buf: Vec<u8>,
    segment_size: usize,
    index: u32,
}

impl<W: Write> TinkStreamWriter<W> {
    /// A writer encrypting into `inner` with `key`, `associated_data` and a
    /// ciphertext segment size in bytes ([`SEGMENT_SIZE_4KB`](super::SEGMENT_SIZE_4KB) or
    /// [`SEGMENT_SIZE_1MB`](super::SEGMENT_SIZE_1MB) for Tink's templates), with a fresh random salt and
    /// nonce prefix from the operating system.
    pub fn new(
        inner: W,
        key: &DataKey,
        associated_data: &[u8],
        segment_size: u32,
    ) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        getrandom::fill(&mut salt)?;
        getrandom::fill(&mut nonce_prefix)?;
        Self::with_salt_and_nonce_prefix(
            inner,
            key,
            associated_data,
            segment_size,
            salt,
            nonce_prefix,
        )
    }

    /// Like [`TinkStreamWriter::new`] with a given salt and nonce prefix, for
    /// reproducible output. Never reuse them with the same key and associated
    /// data: two streams would share segment keys and nonces.
    pub fn with_salt_and_nonce_prefix(
        inner: W,
        key: &DataKey,
        associated_data: &[u8],
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> io::Result<Self> {
        check_segment_size(segment_size)?;
        let cipher = segment_cipher(key, &salt, associated_data)
            .map_err(|reason| LayerError::into_io(LAYER, reason))?;
        let header = Header { salt, nonce_prefix }.encode();
        let segment_size = segment_size as usize;
        Ok(TinkStreamWriter {
            inner,
            cipher: Box::new(cipher),
            nonce_prefix,
            header: Some(header),
            buf: Vec::with_capacity(segment_size),
            segment_size,
            index: 0,
        })
    }

    /// Encrypts the buffered plaintext as the last segment (an empty one if
    /// nothing is buffered), flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Plaintext bytes the current segment holds.
    fn capacity(&self) -> usize {
        let overhead = if self.index == 0 {
            HEADER_LEN + TAG_LEN
        } else {
            TAG_LEN
        };
        self.segment_size - overhead
    }

    /// Encrypts the buffered plaintext as segment `index` and writes it.
    fn emit(&mut self, last: bool) -> io::Result<()> {
        let nonce = segment_nonce(&self.nonce_prefix, self.index, last);
        let next = match self.index.checked_add(1) {
            Some(next) => next,
            None if last => self.index,
            None => {
                return Err(io::Error::other(format!(
                    "{LAYER}: too many segments: more than 2^32"
                )));
            }
        };
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &[], self.buf.as_mut_slice().into())
            .map_err(|_| io::Error::other(format!("{LAYER}: encryption failed")))?;
        if let Some(header) = self.header.take() {
            self.inner.write_all(&header)?;
        }
        self.buf.extend_from_slice(&tag);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.index = next;
        Ok(())
    }
}

impl<W: Write> Write for TinkStreamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full segment is written only once more data arrives: the last
        // segment is encrypted differently, and may be full.
        if self.buf.len() >= self.capacity() {
            self.emit(false)?;
        }
        let n = (self.capacity() - self.buf.len()).min(data.len());
        self.buf
            .extend_from_slice(data.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// Flushes the inner writer. Buffered plaintext stays buffered: a segment
    /// is only written once full (or by [`TinkStreamWriter::finish`]).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
