//! The decrypting reader: [`TinkStreamReader`] reads the header, derives the
//! segment key, then verifies and decrypts one segment at a time, handing out
//! a segment's plaintext only once its tag verified.
//!
//! A segment is the last one exactly when the stream ends right after it, so the
//! reader reads a segment plus one byte before deciding which nonce to use, as
//! Tink does. A stream cut at a segment boundary and a full last segment
//! followed by more data are recognised (the segment authenticates under the
//! other flag); a cut inside a segment, or bytes appended to a short last
//! segment, show as an authentication failure of the final segment, since the
//! plaintext length is not written anywhere.

use std::io::{self, Read};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, Tag};

use super::format::{
    HEADER_LEN, Header, LAYER, NONCE_PREFIX_LEN, SEGMENT_SIZE_1MB, SEGMENT_SIZE_4KB, TAG_LEN,
    check_segment_size, segment_cipher, segment_nonce,
};
use crate::engine::data_key::DataKey;
use crate::engine::layers::LayerError;

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
    /// [`MIN_SEGMENT_SIZE`](super::MIN_SEGMENT_SIZE) to
    /// [`MAX_SEGMENT_SIZE`](super::MAX_SEGMENT_SIZE).
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

    /// Reads the header and derives the segment key: the reader moves on to
    /// the segments.
    fn read_header(&mut self) -> Result<(), Fault> {
        let first_size = match self.requested {
            SegmentSize::Auto => SEGMENT_SIZE_4KB,
            SegmentSize::Bytes(size) => {
                check_segment_size(size)?;
                size
            }
        };
        // One segment plus the byte that tells whether it is the last.
        self.input.reserve(first_size as usize + 1);
        self.input.fill(HEADER_LEN)?;

        let header = Header::decode(&self.input.buf, self.input.filled).map_err(Fault::Reject)?;
        let State::Header {
            key,
            associated_data,
        } = &self.state
        else {
            return Ok(());
        };
        let cipher = segment_cipher(key, &header.salt, associated_data).map_err(Fault::Reject)?;
        self.state = State::Segments {
            cipher: Box::new(cipher),
            nonce_prefix: header.nonce_prefix,
            segment_size: match self.requested {
                SegmentSize::Auto => None,
                SegmentSize::Bytes(size) => Some(size as usize),
            },
            next: 0,
        };
        self.input.filled = 0;
        Ok(())
    }

    /// Reads, verifies and decrypts the next segment in place; under
    /// [`SegmentSize::Auto`], the first one is tried under both sizes.
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
            input.start_with(byte);
        }

        let auto = segment_size.is_none();
        for (attempt, size) in candidate_sizes(*segment_size)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let may_retry = auto && attempt == 0;
            let capacity = if index == 0 { size - HEADER_LEN } else { size };
            input.reserve(capacity + 1);
            input.fill(capacity + 1)?;
            let more_follows = input.filled > capacity;
            let len = if more_follows { capacity } else { input.filled };
            if len < TAG_LEN {
                return Err(Fault::Reject(shorter_than_a_tag(index, len)));
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
                    return Err(Fault::Reject(authentication_failed(
                        index,
                        auto,
                        more_follows,
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
    /// Empties the buffer but for `byte`, read ahead, which starts the next
    /// segment.
    fn start_with(&mut self, byte: u8) {
        self.filled = 0;
        if let Some(first) = self.buf.first_mut() {
            *first = byte;
            self.filled = 1;
        }
    }

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

/// The segment sizes to try: the one settled on, or (while
/// [`SegmentSize::Auto`] has not decided) 4 KiB, then 1 MiB.
fn candidate_sizes(segment_size: Option<usize>) -> [Option<usize>; 2] {
    match segment_size {
        Some(size) => [Some(size), None],
        None => [
            Some(SEGMENT_SIZE_4KB as usize),
            Some(SEGMENT_SIZE_1MB as usize),
        ],
    }
}

/// Why segment `index`, of `len` bytes, cannot even hold its tag.
fn shorter_than_a_tag(index: u32, len: usize) -> String {
    if len == 0 {
        "truncated: the stream ended before its last segment".to_owned()
    } else {
        format!("truncated: segment {index} has {len} bytes, fewer than its {TAG_LEN}-byte tag")
    }
}

/// Why segment `index` verified under neither flag: the causes it may have,
/// depending on whether the stream ends in it, and under which sizes it was
/// tried.
fn authentication_failed(index: u32, auto: bool, more_follows: bool) -> String {
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
    format!("authentication failed in segment {index}{sizes} ({causes})")
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
