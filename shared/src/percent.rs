//! Strict percent-decoding, for the two encodings tributary reads back: object
//! keys in S3 event notifications (form-URL-encoded: `+` is a space, `%2B` a
//! plus, `%2F` a slash) and the header-safe lineage metadata values of
//! [`crate::ingest::lineage::header_safe`]. Unlike lenient decoders, an escape
//! that is not `%` and two hex digits, or bytes that are not UTF-8, are an
//! error naming where, never passed through or replaced.

/// Why a percent-encoded text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    /// `%` not followed by two hex digits.
    #[error("invalid escape {escape:?} at byte {at}: expected % and two hex digits")]
    InvalidEscape { at: usize, escape: String },
    /// The decoded bytes are not UTF-8.
    #[error("decodes to bytes that are not UTF-8 (at byte {at} of the decoded text)")]
    NotUtf8 { at: usize },
}

/// How `+` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plus {
    /// Form-URL-encoding (S3 event keys): `+` is a space.
    Space,
    /// Plain percent-encoding (header-safe metadata): `+` is itself.
    Literal,
}

/// Decodes `text`: `%XX` becomes the byte `XX`, `+` per `plus`, everything
/// else is kept; the result must be UTF-8.
pub fn decode(text: &str, plus: Plus) -> Result<String, PercentError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let value = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| Some(hex_digit(hex[0])? * 16 + hex_digit(hex[1])?));
                let Some(value) = value else {
                    // The escape as written, at most three characters, cut at
                    // a character boundary.
                    let escape: String = text[i..].chars().take(3).collect();
                    return Err(PercentError::InvalidEscape { at: i, escape });
                };
                out.push(value);
                i += 3;
            }
            b'+' if plus == Plus::Space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| PercentError::NotUtf8 {
        at: e.utf8_error().valid_up_to(),
    })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_reads_plus_as_space_and_escapes_as_bytes() {
        let key = "raw/tenant=acme/dataset=daily-sales/sales+2026-11-21.csv";
        assert_eq!(
            decode(key, Plus::Space).unwrap(),
            "raw/tenant=acme/dataset=daily-sales/sales 2026-11-21.csv"
        );
        assert_eq!(decode("a%2Bb", Plus::Space).unwrap(), "a+b");
        assert_eq!(decode("raw%2Fx%2fy", Plus::Space).unwrap(), "raw/x/y");
        assert_eq!(
            decode("caf%C3%A9+%E2%82%AC", Plus::Space).unwrap(),
            "café €"
        );
        assert_eq!(decode("100%25", Plus::Space).unwrap(), "100%");
        // Characters S3 leaves as they are stay as they are.
        assert_eq!(decode("é/ü", Plus::Space).unwrap(), "é/ü");
    }

    #[test]
    fn plain_percent_encoding_keeps_plus() {
        assert_eq!(decode("a+b%20c", Plus::Literal).unwrap(), "a+b c");
        let original = "/in/café 100%\r\n.csv";
        let safe = crate::ingest::lineage::header_safe(original);
        assert_eq!(decode(&safe, Plus::Literal).unwrap(), original);
    }

    #[test]
    fn invalid_escapes_and_bytes_are_errors_that_say_where() {
        assert_eq!(
            decode("abc%zz", Plus::Space).unwrap_err(),
            PercentError::InvalidEscape {
                at: 3,
                escape: "%zz".into()
            }
        );
        assert!(matches!(
            decode("abc%4", Plus::Space).unwrap_err(),
            PercentError::InvalidEscape { at: 3, .. }
        ));
        assert!(matches!(
            decode("%", Plus::Space).unwrap_err(),
            PercentError::InvalidEscape { at: 0, .. }
        ));
        // A multi-byte character right after `%` is reported, not split.
        let err = decode("x%é1", Plus::Space).unwrap_err();
        assert_eq!(
            err,
            PercentError::InvalidEscape {
                at: 1,
                escape: "%é1".into()
            }
        );
        assert_eq!(
            decode("ab%FFcd", Plus::Space).unwrap_err(),
            PercentError::NotUtf8 { at: 2 }
        );
        assert!(
            decode("%C3", Plus::Space)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
    }
}
