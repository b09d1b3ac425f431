//! The 32-byte data key that decrypts a tenant's files. It is never printed:
//! `Debug` is redacted and no error message carries key bytes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A 256-bit key: the AES-256-GCM key, or the input key material of a Tink
/// `AES256_GCM_HKDF_*` streaming key.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

/// Why a key could not be read. Never contains the key text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key is not valid base64")]
    NotBase64,
    #[error("key must be 32 bytes once base64-decoded, got {0}")]
    WrongLength(usize),
}

impl DataKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }

    /// Reads the key as stored in Secrets Manager / SSM or a key file: standard
    /// base64 of 32 bytes, surrounding whitespace ignored.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(DataKey(array))
    }

    /// The key bytes, for the cipher only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base64_of_32_bytes_and_never_prints_it() {
        let text = STANDARD.encode([7u8; 32]);
        let key = DataKey::from_base64(&format!("  {text}\n")).unwrap();
        assert_eq!(key.expose(), &[7u8; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }

    #[test]
    fn rejects_wrong_length_and_garbage_without_echoing_them() {
        let short = STANDARD.encode([1u8; 16]);
        assert_eq!(DataKey::from_base64(&short), Err(KeyError::WrongLength(16)));
        let err = DataKey::from_base64("not base64 at all!").unwrap_err();
        assert_eq!(err, KeyError::NotBase64);
        assert!(!err.to_string().contains("not base64 at all"));
    }
}
