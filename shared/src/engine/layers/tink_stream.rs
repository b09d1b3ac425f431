//! Tink streaming AEAD (`AES256_GCM_HKDF_4KB` / `AES256_GCM_HKDF_1MB`): the
//! `aes-256-gcm-hkdf-stream` layer. [`TinkStreamReader`] decrypts, as a `Read`
//! in constant memory (one ciphertext segment), the ciphertexts Tink's
//! `newEncryptingStream` (Java) / `new_encrypting_stream` (Python) produce;
//! [`TinkStreamWriter`] produces them, for tests, benches and demos.
//!
//! # Wire format
//! As implemented by Tink's `subtle/AesGcmHkdfStreaming.java` and
//! `StreamingAeadDecryptingStream.java` (HKDF-SHA256, 32-byte derived key,
//! ciphertext offset 0):
//!
//! ```text
//! ciphertext = header ‖ segment_0 ‖ segment_1 ‖ … ‖ segment_n
//! header     = 0x28 (header length, 40) ‖ salt (32) ‖ nonce_prefix (7)
//! seg_key    = HKDF-SHA256(ikm = data key, salt = salt, info = associated data), 32 bytes
//! segment_i  = AES-256-GCM(seg_key, nonce_i, aad = "", plaintext_i) ‖ tag (16)
//! nonce_i    = nonce_prefix (7) ‖ i as u32 big-endian (4) ‖ 0x01 if i = n else 0x00
//!
//! S = ciphertext segment size (4096 or 1048576), not written anywhere:
//! |header| + |segment_0| = S and |segment_i| = S for every i < n;
//! 16 ≤ |segment_n| ≤ S. An empty plaintext is one 16-byte (tag only) segment,
//! and a plaintext that fills its last segment exactly gets no extra empty one.
//! ```
//!
//! A segment is the last one exactly when the stream ends right after it, so the
//! reader reads a segment plus one byte before deciding which nonce to use, as
//! Tink does. Plaintext of a segment is handed out only once its tag verified.
//! A stream cut at a segment boundary and a full last segment followed by more
//! data are recognised (the segment authenticates under the other flag); a cut
//! inside a segment, or bytes appended to a short last segment, show as an
//! authentication failure of the final segment, since the plaintext length is
//! not written anywhere.

use std::io::{self, Read, Write};

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Key, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::LayerError;
use crate::engine::data_key::DataKey;
use crate::engine::spec::Layer;

/// The ciphertext segment size of Tink's `AES256_GCM_HKDF_4KB` template.
pub const SEGMENT_SIZE_4KB: u32 = 4 * 1024;
/// The ciphertext segment size of Tink's `AES256_GCM_HKDF_1MB` template.
pub const SEGMENT_SIZE_1MB: u32 = 1024 * 1024;
/// The smallest ciphertext segment size Tink accepts: the first segment must
/// hold the header, the tag and at least one plaintext byte.
pub const MIN_SEGMENT_SIZE: u32 = (HEADER_LEN + TAG_LEN + 1) as u32;
/// The largest ciphertext segment size accepted here, which bounds memory.
pub const MAX_SEGMENT_SIZE: u32 = 8 * 1024 * 1024;

/// Header length, also the value of the header's first byte.
const HEADER_LEN: usize = 1 + SALT_LEN + NONCE_PREFIX_LEN;
const SALT_LEN: usize = 32;
const NONCE_PREFIX_LEN: usize = 7;
const TAG_LEN: usize = 16;
const LAYER: Layer = Layer::Aes256GcmHkdfStream;

/// The ciphertext segment size a reader expects. Tink does not write it in the
/// ciphertext: it is a parameter of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentSize {
    /// Either Tink template: the first segment is tried as a 4 KiB segment and,
    /// if it does not authenticate, as a 1 MiB one (reading ahead up to one
    /// 1 MiB segment). This is safe: a segment cannot authenticate under the
    /// wrong size, since its nonce, its length and its tag would all have to
    /// match. A stream shorter than one 4 KiB segment is identical under both.
    Auto,
    /// An exact ciphertext segment size in bytes, from
    /// [`MIN_SEGMENT_SIZE`] to [`MAX_SEGMENT_SIZE`].
    Bytes(u32),
}

/// Decrypts a Tink streaming AEAD ciphertext read from `inner`, segment by
/// segment, holding one ciphertext segment in memory.
///
/// Errors: a ciphertext that is corrupt, truncated, tampered with, or encrypted
/// under another key or associated data is an `io::Error` of kind
/// `InvalidData` carrying a [`LayerError`] (see [`LayerError::find`]); once
/// one is returned every later `read` returns it again. Errors of `inner` are
/// passed through unchanged. A [`SegmentSize::Bytes`] outside the accepted
/// range is an `InvalidInput` error (a configuration error, not bad data).
pub struct TinkStreamReader<R: Read> {
    input: Input<R>,
    requested: SegmentSize,
    state: State,
    /// Decrypted, verified plaintext not yet handed out: `input.buf[start..end]`.
    plain_start: usize,
    plain_end: usize,
    /// First byte of the next segment, read to learn that the current one is
    /// not the last.
    carry: Option<u8>,
    /// The segment size [`SegmentSize::Auto`] settled on.
    detected: Option<u32>,
}

/// The ciphertext source and the buffer a segment is read and decrypted in.
struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    filled: usize,
    eof: bool,
}

enum State {
    /// Before the header: the key and associated data needed to derive the
    /// segment key from the header's salt.
    Header {
        key: DataKey,
        associated_data: Vec<u8>,
    },
    Segments {
        cipher: Box<Aes256Gcm>,
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
        /// `None` while [`SegmentSize::Auto`] has not decided yet.
        segment_size: Option<usize>,
        next: u32,
    },
    /// The last segment verified; its plaintext may still be buffered.
    Done,
    /// The ciphertext was rejected for this reason.
    Failed(String),
}

/// Why a step stopped: an error of the inner reader (or configuration), passed
/// through, or a rejection of the ciphertext.
enum Fault {
    Io(io::Error),
    Reject(String),
}

impl From<io::Error> for Fault {
    fn from(error: io::Error) -> Self {
        Fault::Io(error)
    }
}

/// How a segment's tag verified.
enum Opened {
    /// Under the flag its position implies.
    Authentic,
    /// Only flagged as the last segment, yet more data follows.
    DataAfterLast,
    /// Only flagged as not the last segment, yet the stream ends after it.
    EndedEarly,
    /// Under neither flag.
    Failed,
}

impl<R: Read> TinkStreamReader<R> {
    /// A reader of the plaintext of the Tink ciphertext read from `inner`,
    /// encrypted with `key` (the raw 32-byte key material of the Tink key) and
    /// `associated_data`. Nothing is read until the first `read`.
    pub fn new(inner: R, key: &DataKey, associated_data: &[u8], segment_size: SegmentSize) -> Self {
        TinkStreamReader {
            input: Input {
                inner,
                buf: Vec::new(),
                filled: 0,
                eof: false,
            },
            requested: segment_size,
            state: State::Header {
                key: key.clone(),
                associated_data: associated_data.to_vec(),
            },
            plain_start: 0,
            plain_end: 0,
            carry: None,
            detected: None,
        }
    }

    /// The ciphertext segment size in use, once known (after the first segment
    /// verified, for [`SegmentSize::Auto`]).
    pub fn segment_size(&self) -> Option<u32> {
        match self.requested {
            SegmentSize::Bytes(size) => Some(size),
            SegmentSize::Auto => self.detected,
        }
    }

    /// Reads and decrypts the next segment, or the header.
    fn advance(&mut self) -> Result<(), Fault> {
        match self.state {
            State::Header { .. } => self.read_header(),
            State::Segments { .. } => self.read_segment(),
            State::Done | State::Failed(_) => Ok(()),
        }
    }

    fn read_header(&mut self) -> Result<(), Fault> {
        let first_size = match self.requested {
            SegmentSize::Auto => SEGMENT_SIZE_4KB,
            SegmentSize::Bytes(size) if (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&size) => {
                size
            }
            SegmentSize::Bytes(size) => {
                return Err(Fault::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{LAYER}: segment size {size} is outside \
                         {MIN_SEGMENT_SIZE}..={MAX_SEGMENT_SIZE} bytes"
                    ),
                )));
            }
        };
        // One segment plus the byte that tells whether it is the last.
        self.input.reserve(first_size as usize + 1);
        self.input.fill(HEADER_LEN)?;

        let filled = self.input.filled;
        let Some(header) = self.input.buf.first_chunk::<HEADER_LEN>() else {
            return Err(Fault::Reject("internal: segment buffer too small".into()));
        };
        let Some((&length, rest)) = header.split_first() else {
            return Err(Fault::Reject("internal: header layout".into()));
        };
        if filled >= 1 && usize::from(length) != HEADER_LEN {
            return Err(Fault::Reject(format!(
                "header: length byte {length}, expected {HEADER_LEN}"
            )));
        }
        if filled == 0 {
            return Err(Fault::Reject(format!(
                "truncated: the stream is empty, expected a {HEADER_LEN}-byte header"
            )));
        }
        if filled < HEADER_LEN {
            return Err(Fault::Reject(format!(
                "truncated: the stream ended inside the header ({filled} of {HEADER_LEN} bytes)"
            )));
        }
        let Some((salt, nonce_prefix)) = rest.split_first_chunk::<SALT_LEN>() else {
            return Err(Fault::Reject("internal: header layout".into()));
        };
        let Ok(nonce_prefix) = <[u8; NONCE_PREFIX_LEN]>::try_from(nonce_prefix) else {
            return Err(Fault::Reject("internal: header layout".into()));
        };
        let State::Header {
            key,
            associated_data,
        } = &self.state
        else {
            return Ok(());
        };
        let cipher = segment_cipher(key, salt, associated_data).map_err(Fault::Reject)?;
        self.state = State::Segments {
            cipher: Box::new(cipher),
            nonce_prefix,
            segment_size: match self.requested {
                SegmentSize::Auto => None,
                SegmentSize::Bytes(size) => Some(size as usize),
            },
            next: 0,
        };
        self.input.filled = 0;
        Ok(())
    }

    fn read_segment(&mut self) -> Result<(), Fault> {
        let Self {
            input,
            state,
            plain_start,
            plain_end,
            carry,
            detected,
            ..
        } = self;
        let State::Segments {
            cipher,
            nonce_prefix,
            segment_size,
            next,
        } = state
        else {
            return Ok(());
        };
        let index = *next;

        // The byte read ahead last time starts this segment.
        if let Some(byte) = carry.take() {
            input.filled = 0;
            if let Some(first) = input.buf.first_mut() {
                *first = byte;
                input.filled = 1;
            }
        }

        let auto = segment_size.is_none();
        let candidates = match segment_size {
            Some(size) => [Some(*size), None],
            None => [
                Some(SEGMENT_SIZE_4KB as usize),
                Some(SEGMENT_SIZE_1MB as usize),
            ],
        };
        for (attempt, size) in candidates.into_iter().flatten().enumerate() {
            let may_retry = auto && attempt == 0;
            let capacity = if index == 0 { size - HEADER_LEN } else { size };
            input.reserve(capacity + 1);
            input.fill(capacity + 1)?;
            let more_follows = input.filled > capacity;
            let len = if more_follows { capacity } else { input.filled };
            if len < TAG_LEN {
                return Err(Fault::Reject(if len == 0 {
                    "truncated: the stream ended before its last segment".to_owned()
                } else {
                    format!(
                        "truncated: segment {index} has {len} bytes, fewer than its {TAG_LEN}-byte tag"
                    )
                }));
            }
            let Some(segment) = input.buf.get_mut(..len) else {
                return Err(Fault::Reject("internal: segment buffer too small".into()));
            };
            match open_segment(cipher, nonce_prefix, index, !more_follows, segment) {
                Opened::Authentic => {
                    *segment_size = Some(size);
                    *detected = u32::try_from(size).ok();
                    *plain_start = 0;
                    *plain_end = len - TAG_LEN;
                    if more_follows {
                        *carry = input.buf.get(len).copied();
                        *next = index.checked_add(1).ok_or_else(|| {
                            Fault::Reject("too many segments: more than 2^32".into())
                        })?;
                    } else {
                        *state = State::Done;
                    }
                    return Ok(());
                }
                Opened::DataAfterLast => {
                    return Err(Fault::Reject(format!(
                        "data after the last segment (segment {index} is marked last)"
                    )));
                }
                Opened::EndedEarly => {
                    return Err(Fault::Reject(format!(
                        "truncated: the stream ended before its last segment \
                         (segment {index} is complete but not marked last)"
                    )));
                }
                // Auto: a segment the stream ends in is the same under both
                // sizes, so only a full 4 KiB one is worth another try.
                Opened::Failed if more_follows && may_retry => {}
                Opened::Failed => {
                    let sizes = if auto {
                        " under either segment size (4 KiB, 1 MiB)"
                    } else {
                        ""
                    };
                    let causes = if more_follows {
                        "wrong key, wrong associated data or tampered data"
                    } else {
                        "wrong key, wrong associated data, tampered data, \
                         or the stream was truncated or has data appended"
                    };
                    return Err(Fault::Reject(format!(
                        "authentication failed in segment {index}{sizes} ({causes})"
                    )));
                }
            }
        }
        Err(Fault::Reject("internal: no segment size to try".into()))
    }
}

impl<R: Read> Read for TinkStreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let ready = self
                .input
                .buf
                .get(self.plain_start..self.plain_end)
                .unwrap_or_default();
            if !ready.is_empty() {
                let n = ready.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), ready.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.plain_start += n;
                return Ok(n);
            }
            match &self.state {
                State::Done => return Ok(0),
                State::Failed(reason) => return Err(LayerError::into_io(LAYER, reason.clone())),
                State::Header { .. } | State::Segments { .. } => {}
            }
            match self.advance() {
                Ok(()) => {}
                Err(Fault::Io(error)) => return Err(error),
                Err(Fault::Reject(reason)) => {
                    self.plain_start = 0;
                    self.plain_end = 0;
                    self.state = State::Failed(reason.clone());
                    return Err(LayerError::into_io(LAYER, reason));
                }
            }
        }
    }
}

impl<R: Read> Input<R> {
    /// Grows the buffer to hold at least `len` bytes.
    fn reserve(&mut self, len: usize) {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
    }

    /// Reads until `want` bytes are buffered or the stream ends. Interrupted
    /// reads are retried; other errors of the inner reader are returned as
    /// they are, and a later call resumes where this one stopped.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        let want = want.min(self.buf.len());
        while self.filled < want && !self.eof {
            let Some(dst) = self.buf.get_mut(self.filled..want) else {
                break;
            };
            match self.inner.read(dst) {
                Ok(0) => self.eof = true,
                // `min` guards against a reader claiming more than it was given.
                Ok(n) => self.filled += n.min(dst.len()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Verifies and decrypts `segment` (ciphertext ‖ tag) in place under the flag
/// its position implies; if that fails, checks the other flag to tell a
/// misplaced end of stream from a forgery. The buffer is left untouched unless
/// the tag verified.
fn open_segment(
    cipher: &Aes256Gcm,
    nonce_prefix: &[u8; NONCE_PREFIX_LEN],
    index: u32,
    last: bool,
    segment: &mut [u8],
) -> Opened {
    let Some((message, tag)) = segment.split_last_chunk_mut::<TAG_LEN>() else {
        return Opened::Failed;
    };
    let tag = Tag::from(*tag);
    let mut open = |last: bool| {
        cipher
            .decrypt_inout_detached(
                &segment_nonce(nonce_prefix, index, last),
                &[],
                (&mut *message).into(),
                &tag,
            )
            .is_ok()
    };
    if open(last) {
        Opened::Authentic
    } else if open(!last) {
        if last {
            Opened::EndedEarly
        } else {
            Opened::DataAfterLast
        }
    } else {
        Opened::Failed
    }
}

/// The AES-256-GCM cipher of one stream: its key is HKDF-SHA256 of the data key
/// with the header's salt and the associated data as info.
fn segment_cipher(
    key: &DataKey,
    salt: &[u8; SALT_LEN],
    associated_data: &[u8],
) -> Result<Aes256Gcm, String> {
    let mut derived = Key::<Aes256Gcm>::default();
    Hkdf::<Sha256>::new(Some(salt), key.expose())
        .expand(associated_data, derived.as_mut_slice())
        .map_err(|_| "key derivation failed".to_owned())?;
    Ok(Aes256Gcm::new(&derived))
}

/// nonce_prefix ‖ segment index (u32 big-endian) ‖ last-segment flag.
fn segment_nonce(
    nonce_prefix: &[u8; NONCE_PREFIX_LEN],
    index: u32,
    last: bool,
) -> Nonce<Aes256Gcm> {
    let mut nonce = Nonce::<Aes256Gcm>::default();
    let (prefix, rest) = nonce.split_at_mut(NONCE_PREFIX_LEN);
    prefix.copy_from_slice(nonce_prefix);
    let (counter, flag) = rest.split_at_mut(4);
    counter.copy_from_slice(&index.to_be_bytes());
    flag.fill(u8::from(last));
    nonce
}

/// Encrypts a stream into Tink's streaming AEAD format (see the module docs),
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
    /// ciphertext segment size in bytes ([`SEGMENT_SIZE_4KB`] or
    /// [`SEGMENT_SIZE_1MB`] for Tink's templates), with a fresh random salt and
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
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{LAYER}: segment size {segment_size} is outside \
                     {MIN_SEGMENT_SIZE}..={MAX_SEGMENT_SIZE} bytes"
                ),
            ));
        }
        let cipher = segment_cipher(key, &salt, associated_data)
            .map_err(|reason| LayerError::into_io(LAYER, reason))?;
        let mut header = [0u8; HEADER_LEN];
        let (length, rest) = header.split_at_mut(1);
        length.fill(HEADER_LEN as u8);
        let (salt_dst, prefix_dst) = rest.split_at_mut(SALT_LEN);
        salt_dst.copy_from_slice(&salt);
        prefix_dst.copy_from_slice(&nonce_prefix);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [0x42; 32];
    const AAD: &[u8] = b"tenant-a/orders.csv";
    const SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];
    const PREFIX: [u8; NONCE_PREFIX_LEN] = [0x07; NONCE_PREFIX_LEN];
    const K4: usize = SEGMENT_SIZE_4KB as usize;
    /// Plaintext bytes in the first / later 4 KiB segments.
    const FIRST_4K: usize = K4 - HEADER_LEN - TAG_LEN;
    const NEXT_4K: usize = K4 - TAG_LEN;

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn encrypt_with(pt: &[u8], key: [u8; 32], aad: &[u8], size: u32) -> Vec<u8> {
        let mut writer = TinkStreamWriter::with_salt_and_nonce_prefix(
            Vec::new(),
            &DataKey::from_bytes(key),
            aad,
            size,
            SALT,
            PREFIX,
        )
        .unwrap();
        writer.write_all(pt).unwrap();
        writer.finish().unwrap()
    }

    fn encrypt(pt: &[u8], size: u32) -> Vec<u8> {
        encrypt_with(pt, KEY, AAD, size)
    }

    fn decrypt_with(
        ct: &[u8],
        key: [u8; 32],
        aad: &[u8],
        size: SegmentSize,
    ) -> io::Result<Vec<u8>> {
        let mut reader = TinkStreamReader::new(ct, &DataKey::from_bytes(key), aad, size);
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    fn decrypt(ct: &[u8], size: SegmentSize) -> io::Result<Vec<u8>> {
        decrypt_with(ct, KEY, AAD, size)
    }

    /// Reads with a buffer of `chunk` bytes per call.
    fn decrypt_in_chunks(ct: &[u8], size: SegmentSize, chunk: usize) -> io::Result<Vec<u8>> {
        let mut reader = TinkStreamReader::new(ct, &DataKey::from_bytes(KEY), AAD, size);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// The rejection reason of a failed decryption (panics on success or on a
    /// non-layer error).
    fn reason(result: io::Result<Vec<u8>>) -> String {
        let error = result.expect_err("decryption should fail");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let layer_error = LayerError::find(&error).expect("a LayerError");
        assert_eq!(layer_error.layer, Layer::Aes256GcmHkdfStream);
        layer_error.reason.clone()
    }

    /// The byte range of segment `i` of a 4 KiB-segment ciphertext.
    fn segment_4k(ct: &[u8], i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { HEADER_LEN } else { K4 * i };
        start..(K4 * (i + 1)).min(ct.len())
    }

    const AUTH_FAILED_MID: &str = "(wrong key, wrong associated data or tampered data)";
    const AUTH_FAILED_END: &str = "(wrong key, wrong associated data, tampered data, \
                                   or the stream was truncated or has data appended)";

    #[test]
    fn lengths_match_tink_at_segment_boundaries() {
        // Tink's own sizes (Python tink 1.16.1, 4 KiB template): 0 → 56,
        // 4040 → 4096 (full last segment, no empty one after it), 4041 → 4113.
        for (pt_len, ct_len) in [
            (0, 56),
            (1, 57),
            (FIRST_4K, K4),
            (FIRST_4K + 1, K4 + 17),
            (FIRST_4K + NEXT_4K, 2 * K4),
            (FIRST_4K + NEXT_4K + 1, 2 * K4 + 17),
        ] {
            let ct = encrypt(&plaintext(pt_len), SEGMENT_SIZE_4KB);
            assert_eq!(ct.len(), ct_len, "plaintext of {pt_len} bytes");
            assert_eq!(ct[0], 40);
            assert_eq!(&ct[1..33], &SALT);
            assert_eq!(&ct[33..40], &PREFIX);
        }
    }

    #[test]
    fn segment_nonce_is_prefix_counter_and_last_flag() {
        let nonce = segment_nonce(&[1, 2, 3, 4, 5, 6, 7], 0x0a0b_0c0d, true);
        assert_eq!(
            nonce.as_slice(),
            &[1, 2, 3, 4, 5, 6, 7, 0x0a, 0x0b, 0x0c, 0x0d, 1]
        );
        let nonce = segment_nonce(&[9; 7], 1, false);
        assert_eq!(nonce.as_slice(), &[9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn round_trips_one_mebibyte_segments_at_boundaries() {
        let first = SEGMENT_SIZE_1MB as usize - HEADER_LEN - TAG_LEN;
        for len in [0, 1, first, first + 1, first + 300_000] {
            let pt = plaintext(len);
            let ct = encrypt(&pt, SEGMENT_SIZE_1MB);
            assert_eq!(
                decrypt(&ct, SegmentSize::Bytes(SEGMENT_SIZE_1MB)).unwrap(),
                pt
            );
            let mut reader = TinkStreamReader::new(
                ct.as_slice(),
                &DataKey::from_bytes(KEY),
                AAD,
                SegmentSize::Auto,
            );
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, pt, "auto, {len} bytes");
            if len > FIRST_4K {
                assert_eq!(reader.segment_size(), Some(SEGMENT_SIZE_1MB));
            }
        }
    }

    #[test]
    fn auto_settles_on_4k_for_a_multi_segment_4k_stream() {
        let pt = plaintext(3 * K4);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let mut reader = TinkStreamReader::new(
            ct.as_slice(),
            &DataKey::from_bytes(KEY),
            AAD,
            SegmentSize::Auto,
        );
        assert_eq!(reader.segment_size(), None);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt);
        assert_eq!(reader.segment_size(), Some(SEGMENT_SIZE_4KB));
    }

    #[test]
    fn one_byte_reads_give_the_same_plaintext() {
        let pt = plaintext(2 * K4 + 123);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
            assert_eq!(decrypt_in_chunks(&ct, size, 1).unwrap(), pt);
        }
    }

    #[test]
    fn one_byte_writes_give_the_same_ciphertext() {
        let pt = plaintext(FIRST_4K + NEXT_4K + 7);
        let mut writer = TinkStreamWriter::with_salt_and_nonce_prefix(
            Vec::new(),
            &DataKey::from_bytes(KEY),
            AAD,
            SEGMENT_SIZE_4KB,
            SALT,
            PREFIX,
        )
        .unwrap();
        for byte in &pt {
            assert_eq!(writer.write(std::slice::from_ref(byte)).unwrap(), 1);
        }
        assert_eq!(writer.finish().unwrap(), encrypt(&pt, SEGMENT_SIZE_4KB));
    }

    #[test]
    fn random_salt_and_nonce_prefix_differ_between_streams() {
        let key = DataKey::from_bytes(KEY);
        let mut a = TinkStreamWriter::new(Vec::new(), &key, AAD, SEGMENT_SIZE_4KB).unwrap();
        let mut b = TinkStreamWriter::new(Vec::new(), &key, AAD, SEGMENT_SIZE_4KB).unwrap();
        a.write_all(b"same").unwrap();
        b.write_all(b"same").unwrap();
        let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
        assert_ne!(a[1..40], b[1..40]);
        assert_eq!(decrypt(&a, SegmentSize::Auto).unwrap(), b"same");
        assert_eq!(decrypt(&b, SegmentSize::Auto).unwrap(), b"same");
    }

    #[test]
    fn wrong_key_is_rejected_without_naming_the_key() {
        let ct = encrypt(&plaintext(100), SEGMENT_SIZE_4KB);
        let error =
            decrypt_with(&ct, [0x43; 32], AAD, SegmentSize::Bytes(SEGMENT_SIZE_4KB)).unwrap_err();
        let text = error.to_string();
        assert_eq!(
            text,
            format!(
                "aes-256-gcm-hkdf-stream: authentication failed in segment 0 {AUTH_FAILED_END}"
            )
        );
        assert!(!text.contains("4242") && !text.contains("QkJC"));
    }

    #[test]
    fn wrong_key_on_a_long_auto_stream_names_both_sizes() {
        let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_4KB);
        assert_eq!(
            reason(decrypt_with(&ct, [0x43; 32], AAD, SegmentSize::Auto)),
            format!(
                "authentication failed in segment 0 under either segment size (4 KiB, 1 MiB) \
                 {AUTH_FAILED_END}"
            )
        );
    }

    #[test]
    fn wrong_associated_data_is_rejected() {
        let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_4KB);
        assert_eq!(
            reason(decrypt_with(
                &ct,
                KEY,
                b"tenant-b/orders.csv",
                SegmentSize::Bytes(4096)
            )),
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}")
        );
        assert!(decrypt_with(&ct, KEY, b"", SegmentSize::Bytes(4096)).is_err());
    }

    #[test]
    fn wrong_segment_size_is_rejected() {
        let ct = encrypt(&plaintext(3 * K4), SEGMENT_SIZE_1MB);
        assert_eq!(
            reason(decrypt(&ct, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
            format!("authentication failed in segment 0 {AUTH_FAILED_MID}")
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_is_rejected_and_names_its_segment() {
        let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let size = SegmentSize::Bytes(SEGMENT_SIZE_4KB);
        let cases = [
            // (byte to flip, expected reason)
            (
                5,
                format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
            ), // salt
            (
                35,
                format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
            ), // nonce prefix
            (
                HEADER_LEN + 10,
                format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
            ),
            (
                K4 - 1,
                format!("authentication failed in segment 0 {AUTH_FAILED_MID}"),
            ), // tag
            (
                2 * K4 + 100,
                format!("authentication failed in segment 2 {AUTH_FAILED_MID}"),
            ),
            (
                2 * K4 - 3,
                format!("authentication failed in segment 1 {AUTH_FAILED_MID}"),
            ), // tag
            (
                ct.len() - 1,
                format!("authentication failed in segment 3 {AUTH_FAILED_END}"),
            ), // tag
        ];
        for (at, expected) in cases {
            let mut bad = ct.clone();
            bad[at] ^= 0x10;
            assert_eq!(reason(decrypt(&bad, size)), expected, "bit flipped at {at}");
        }
    }

    #[test]
    fn verified_segments_are_released_and_the_failure_repeats() {
        let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
        let mut ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        ct[2 * K4 + 100] ^= 1;
        let mut reader = TinkStreamReader::new(
            ct.as_slice(),
            &DataKey::from_bytes(KEY),
            AAD,
            SegmentSize::Bytes(SEGMENT_SIZE_4KB),
        );
        let mut out = Vec::new();
        let error = reader.read_to_end(&mut out).unwrap_err();
        // Segments 0 and 1 verified; nothing of segment 2 came out.
        assert_eq!(out, pt[..FIRST_4K + NEXT_4K]);
        let expected = format!("authentication failed in segment 2 {AUTH_FAILED_MID}");
        assert_eq!(LayerError::find(&error).unwrap().reason, expected);
        let again = reader.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(LayerError::find(&again).unwrap().reason, expected);
    }

    #[test]
    fn header_with_a_wrong_length_byte_is_rejected() {
        let mut ct = encrypt(&plaintext(10), SEGMENT_SIZE_4KB);
        ct[0] = 17;
        assert_eq!(
            reason(decrypt(&ct, SegmentSize::Auto)),
            "header: length byte 17, expected 40"
        );
        // Checked before waiting for the rest of the header.
        assert_eq!(
            reason(decrypt(&[41, 0, 0], SegmentSize::Auto)),
            "header: length byte 41, expected 40"
        );
    }

    #[test]
    fn a_stream_cut_in_or_right_after_the_header_is_truncated() {
        let ct = encrypt(&plaintext(10), SEGMENT_SIZE_4KB);
        assert_eq!(
            reason(decrypt(&[], SegmentSize::Auto)),
            "truncated: the stream is empty, expected a 40-byte header"
        );
        assert_eq!(
            reason(decrypt(&ct[..12], SegmentSize::Auto)),
            "truncated: the stream ended inside the header (12 of 40 bytes)"
        );
        assert_eq!(
            reason(decrypt(&ct[..HEADER_LEN], SegmentSize::Auto)),
            "truncated: the stream ended before its last segment"
        );
        assert_eq!(
            reason(decrypt(&ct[..HEADER_LEN + 5], SegmentSize::Auto)),
            "truncated: segment 0 has 5 bytes, fewer than its 16-byte tag"
        );
    }

    #[test]
    fn a_stream_cut_at_a_segment_boundary_is_truncated() {
        let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        for (cut, segment) in [(K4, 0), (2 * K4, 1), (3 * K4, 2)] {
            for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
                assert_eq!(
                    reason(decrypt(&ct[..cut], size)),
                    format!(
                        "truncated: the stream ended before its last segment \
                         (segment {segment} is complete but not marked last)"
                    ),
                    "cut at {cut}, {size:?}"
                );
            }
        }
    }

    #[test]
    fn a_stream_cut_inside_a_segment_fails_authentication_there() {
        let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let size = SegmentSize::Bytes(SEGMENT_SIZE_4KB);
        assert_eq!(
            reason(decrypt(&ct[..K4 + 1000], size)),
            format!("authentication failed in segment 1 {AUTH_FAILED_END}")
        );
        assert_eq!(
            reason(decrypt(&ct[..ct.len() - 1], size)),
            format!("authentication failed in segment 3 {AUTH_FAILED_END}")
        );
        assert_eq!(
            reason(decrypt(&ct[..3 * K4 + 3], size)),
            "truncated: segment 3 has 3 bytes, fewer than its 16-byte tag"
        );
    }

    #[test]
    fn a_dropped_last_segment_is_truncated() {
        let pt = plaintext(FIRST_4K + 2 * NEXT_4K + 500);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let without_last = &ct[..segment_4k(&ct, 3).start];
        assert_eq!(
            reason(decrypt(without_last, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
            "truncated: the stream ended before its last segment \
             (segment 2 is complete but not marked last)"
        );
    }

    #[test]
    fn reordered_segments_are_rejected() {
        let pt = plaintext(FIRST_4K + 3 * NEXT_4K + 500);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let mut swapped = ct[..K4].to_vec();
        swapped.extend_from_slice(&ct[segment_4k(&ct, 2)]);
        swapped.extend_from_slice(&ct[segment_4k(&ct, 1)]);
        swapped.extend_from_slice(&ct[3 * K4..]);
        assert_eq!(swapped.len(), ct.len());
        assert_eq!(
            reason(decrypt(&swapped, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
            format!("authentication failed in segment 1 {AUTH_FAILED_MID}")
        );
        // The last segment moved forward: it verifies only as segment 3.
        let mut last_first = ct[..K4].to_vec();
        last_first.extend_from_slice(&ct[segment_4k(&ct, 4)]);
        assert_eq!(
            reason(decrypt(&last_first, SegmentSize::Bytes(SEGMENT_SIZE_4KB))),
            format!("authentication failed in segment 1 {AUTH_FAILED_END}")
        );
    }

    #[test]
    fn data_after_a_full_last_segment_is_rejected() {
        let pt = plaintext(FIRST_4K + NEXT_4K);
        let mut ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        assert_eq!(ct.len(), 2 * K4);
        ct.extend_from_slice(b"garbage");
        for size in [SegmentSize::Auto, SegmentSize::Bytes(SEGMENT_SIZE_4KB)] {
            assert_eq!(
                reason(decrypt(&ct, size)),
                "data after the last segment (segment 1 is marked last)"
            );
        }
        // A single full segment: Auto must not go on to try 1 MiB.
        let mut single = encrypt(&plaintext(FIRST_4K), SEGMENT_SIZE_4KB);
        single.push(0);
        assert_eq!(
            reason(decrypt(&single, SegmentSize::Auto)),
            "data after the last segment (segment 0 is marked last)"
        );
    }

    #[test]
    fn data_after_a_short_last_segment_fails_its_authentication() {
        let mut ct = encrypt(&plaintext(FIRST_4K + 100), SEGMENT_SIZE_4KB);
        ct.extend_from_slice(b"garbage");
        assert_eq!(
            reason(decrypt(&ct, SegmentSize::Auto)),
            format!("authentication failed in segment 1 {AUTH_FAILED_END}")
        );
    }

    /// A reader that fails once with its own error, then serves `data`.
    struct Flaky<'a> {
        data: &'a [u8],
        failed: bool,
        kind: io::ErrorKind,
    }

    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.failed && self.data.len() > 100 {
                self.failed = true;
                return Err(io::Error::new(self.kind, "source went away"));
            }
            // Short reads, to exercise refilling.
            let n = buf.len().min(self.data.len()).min(777);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn inner_errors_pass_through_unchanged_and_reading_resumes() {
        let pt = plaintext(FIRST_4K + NEXT_4K + 10);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let source = Flaky {
            data: &ct[200..],
            failed: false,
            kind: io::ErrorKind::ConnectionReset,
        };
        let mut reader = TinkStreamReader::new(
            ct[..200].chain(source),
            &DataKey::from_bytes(KEY),
            AAD,
            SegmentSize::Auto,
        );
        let mut out = Vec::new();
        let error = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(error.to_string(), "source went away");
        assert!(LayerError::find(&error).is_none());
        assert!(out.is_empty());
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt);
    }

    #[test]
    fn interrupted_reads_are_retried() {
        let pt = plaintext(FIRST_4K + NEXT_4K + 10);
        let ct = encrypt(&pt, SEGMENT_SIZE_4KB);
        let source = Flaky {
            data: &ct,
            failed: false,
            kind: io::ErrorKind::Interrupted,
        };
        let mut reader = TinkStreamReader::new(
            source,
            &DataKey::from_bytes(KEY),
            AAD,
            SegmentSize::Bytes(SEGMENT_SIZE_4KB),
        );
        let mut out = vec![0u8; pt.len() + 10];
        let mut filled = 0;
        loop {
            match reader.read(&mut out[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        assert_eq!(out[..filled], pt);
    }

    #[test]
    fn segment_sizes_out_of_range_are_configuration_errors() {
        let ct = encrypt(b"x", SEGMENT_SIZE_4KB);
        let error = decrypt(&ct, SegmentSize::Bytes(56)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(LayerError::find(&error).is_none());
        assert_eq!(
            error.to_string(),
            "aes-256-gcm-hkdf-stream: segment size 56 is outside 57..=8388608 bytes"
        );
        let key = DataKey::from_bytes(KEY);
        let error = TinkStreamWriter::new(Vec::new(), &key, AAD, MAX_SEGMENT_SIZE + 1)
            .err()
            .unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trips_any_length_and_read_size(
            len in 0usize..5 * K4,
            chunk in 1usize..9000,
            auto in any::<bool>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let pt = plaintext(len);
            let ct = encrypt_with(&pt, KEY, &aad, SEGMENT_SIZE_4KB);
            let size = if auto { SegmentSize::Auto } else { SegmentSize::Bytes(SEGMENT_SIZE_4KB) };
            let mut reader = TinkStreamReader::new(ct.as_slice(), &DataKey::from_bytes(KEY), &aad, size);
            let mut out = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 { break; }
                out.extend_from_slice(&buf[..n]);
            }
            prop_assert_eq!(out, pt);
        }

        #[test]
        fn round_trips_small_custom_segment_sizes(
            size in MIN_SEGMENT_SIZE..300,
            len in 0usize..2000,
            chunk in 1usize..100,
        ) {
            let pt = plaintext(len);
            let ct = encrypt(&pt, size);
            prop_assert_eq!(decrypt_in_chunks(&ct, SegmentSize::Bytes(size), chunk).unwrap(), pt);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_are_rejected(
            bytes in proptest::collection::vec(any::<u8>(), 0..6000),
            keep_header in any::<bool>(),
        ) {
            let mut bytes = bytes;
            if keep_header && !bytes.is_empty() {
                bytes[0] = HEADER_LEN as u8;
            }
            let error = decrypt(&bytes, SegmentSize::Auto).unwrap_err();
            prop_assert!(LayerError::find(&error).is_some());
        }
    }
}
