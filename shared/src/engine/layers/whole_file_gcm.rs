//! Whole-file AES-256-GCM: `12-byte nonce ‖ ciphertext ‖ 16-byte tag`, as Python
//! `cryptography`'s `AESGCM.encrypt` output prefixed with its nonce.
//!
//! GCM can only be authenticated at the end, and releasing unauthenticated
//! plaintext is what the format forbids, so the whole file is read into memory up
//! to [`Limits::max_whole_file_aead_bytes`](crate::engine::spec::Limits) and
//! decrypted in place. Large files should use the streaming format
//! (`aes-256-gcm-hkdf-stream`), which authenticates segment by segment.

use std::io::{self, Cursor, Read};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use super::LayerError;
use crate::engine::data_key::DataKey;
use crate::engine::spec::Layer;

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Decrypts lazily: the first `read` loads, authenticates and decrypts the file.
pub struct WholeFileGcmReader<R> {
    state: State<R>,
    cipher: Aes256Gcm,
    associated_data: Vec<u8>,
    max_bytes: u64,
}

enum State<R> {
    Pending(R),
    Ready(Cursor<Vec<u8>>),
    Failed,
}

impl<R: Read> WholeFileGcmReader<R> {
    /// `max_bytes` bounds the ciphertext held in memory.
    pub fn new(inner: R, key: &DataKey, associated_data: &[u8], max_bytes: u64) -> Self {
        WholeFileGcmReader {
            state: State::Pending(inner),
            cipher: Aes256Gcm::new(key.expose().into()),
            associated_data: associated_data.to_vec(),
            max_bytes,
        }
    }

    fn load(&self, inner: R) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        let read = inner
            .take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut data)?;
        if read as u64 > self.max_bytes {
            return Err(fail(format!(
                "file is larger than the whole-file limit ({} bytes); use aes-256-gcm-hkdf-stream for large files",
                self.max_bytes
            )));
        }
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(fail(format!(
                "truncated: {} bytes is shorter than a nonce and a tag ({} bytes)",
                data.len(),
                NONCE_LEN + TAG_LEN
            )));
        }
        let (nonce, rest) = data.split_at_mut(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let nonce = Nonce::try_from(&*nonce).map_err(|_| fail("bad nonce length"))?;
        let tag = Tag::try_from(&*tag).map_err(|_| fail("bad tag length"))?;
        self.cipher
            .decrypt_inout_detached(&nonce, &self.associated_data, ciphertext.into(), &tag)
            .map_err(|_| {
                fail("authentication failed (wrong key, wrong associated data or tampered data)")
            })?;
        let plaintext_len = data.len() - NONCE_LEN - TAG_LEN;
        data.copy_within(NONCE_LEN..NONCE_LEN + plaintext_len, 0);
        data.truncate(plaintext_len);
        Ok(data)
    }
}

impl<R: Read> Read for WholeFileGcmReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                State::Ready(cursor) => return cursor.read(buf),
                State::Failed => return Err(fail("already failed")),
                State::Pending(_) => {
                    let State::Pending(inner) = std::mem::replace(&mut self.state, State::Failed)
                    else {
                        continue;
                    };
                    let plaintext = self.load(inner)?;
                    self.state = State::Ready(Cursor::new(plaintext));
                }
            }
        }
    }
}

fn fail(reason: impl Into<String>) -> io::Error {
    LayerError::into_io(Layer::Aes256Gcm, reason)
}

/// Encrypts `plaintext` in the whole-file format with the given nonce (tests,
/// benches and the demo; tenants use their own tools).
pub fn encrypt(
    plaintext: &[u8],
    key: &DataKey,
    associated_data: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = Aes256Gcm::new(key.expose().into());
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let nonce = Nonce::from(nonce);
    let body: &mut [u8] = out.get_mut(NONCE_LEN..).unwrap_or_default();
    let tag = cipher.encrypt_inout_detached(&nonce, associated_data, body.into())?;
    out.extend_from_slice(&tag);
    Ok(out)
}
