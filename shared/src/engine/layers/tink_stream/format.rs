//! The wire format both directions share: the segment sizes, the header, the
//! segment key derived from the data key, and each segment's nonce.
//!
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

use std::io;

use aes_gcm::aead::{KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Key};
use hkdf::Hkdf;
use sha2::Sha256;

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
pub(super) const HEADER_LEN: usize = 1 + SALT_LEN + NONCE_PREFIX_LEN;
pub(super) const SALT_LEN: usize = 32;
pub(super) const NONCE_PREFIX_LEN: usize = 7;
pub(super) const TAG_LEN: usize = 16;
pub(super) const LAYER: Layer = Layer::Aes256GcmHkdfStream;

/// A segment size outside [`MIN_SEGMENT_SIZE`]`..=`[`MAX_SEGMENT_SIZE`] is an
/// `InvalidInput` error: a configuration error, not bad data.
pub(super) fn check_segment_size(size: u32) -> io::Result<()> {
    if (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&size) {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{LAYER}: segment size {size} is outside \
             {MIN_SEGMENT_SIZE}..={MAX_SEGMENT_SIZE} bytes"
        ),
    ))
}

/// The stream header: the salt the segment key is derived with, and the
/// prefix of every segment's nonce.
pub(super) struct Header {
    pub(super) salt: [u8; SALT_LEN],
    pub(super) nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    /// length byte ‖ salt ‖ nonce prefix.
    pub(super) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut header = [0u8; HEADER_LEN];
        let (length, rest) = header.split_at_mut(1);
        length.fill(HEADER_LEN as u8);
        let (salt_dst, prefix_dst) = rest.split_at_mut(SALT_LEN);
        salt_dst.copy_from_slice(&self.salt);
        prefix_dst.copy_from_slice(&self.nonce_prefix);
        header
    }

    /// The header at the start of `buf`, of which the stream filled `filled`
    /// bytes (fewer than [`HEADER_LEN`] when it ended early). The length byte
    /// is checked first, so a wrong one is named even in a short stream; the
    /// error is the rejection reason.
    pub(super) fn decode(buf: &[u8], filled: usize) -> Result<Header, String> {
        let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
            return Err("internal: segment buffer too small".into());
        };
        let Some((&length, rest)) = header.split_first() else {
            return Err("internal: header layout".into());
        };
        if filled >= 1 && usize::from(length) != HEADER_LEN {
            return Err(format!(
                "header: length byte {length}, expected {HEADER_LEN}"
            ));
        }
        if filled == 0 {
            return Err(format!(
                "truncated: the stream is empty, expected a {HEADER_LEN}-byte header"
            ));
        }
        if filled < HEADER_LEN {
            return Err(format!(
                "truncated: the stream ended inside the header ({filled} of {HEADER_LEN} bytes)"
            ));
        }
        let Some((salt, nonce_prefix)) = rest.split_first_chunk::<SALT_LEN>() else {
            return Err("internal: header layout".into());
        };
        let Ok(nonce_prefix) = <[u8; NONCE_PREFIX_LEN]>::try_from(nonce_prefix) else {
            return Err("internal: header layout".into());
        };
        Ok(Header {
            salt: *salt,
            nonce_prefix,
        })
    }
}

/// The AES-256-GCM cipher of one stream: its key is HKDF-SHA256 of the data key
/// with the header's salt and the associated data as info.
pub(super) fn segment_cipher(
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
pub(super) fn segment_nonce(
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
