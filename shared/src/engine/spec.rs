//! What a file must look like: the layers to undo, its format, the bounds it must
//! meet and the safety limits that keep hostile input from exhausting memory.
//!
//! These types are shared by the registry (a file rule embeds them) and by the
//! engine (which enforces them), so one name means one idea everywhere.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contract::ContractSpec;
use crate::contract::check::DEFAULT_MAX_ROW_ERRORS;

/// One layer wrapped around a file's records, undone by the engine.
///
/// A rule lists layers in the order they are undone: `[aes-256-gcm-hkdf-stream, gzip]`
/// decrypts first, then decompresses (the file was gzipped, then encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Layer {
    /// Whole-file AES-256-GCM: 12-byte nonce ‖ ciphertext ‖ 16-byte tag.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    /// Tink streaming AEAD `AES256_GCM_HKDF_1MB` / `AES256_GCM_HKDF_4KB`.
    #[serde(rename = "aes-256-gcm-hkdf-stream")]
    Aes256GcmHkdfStream,
    /// gzip, multi-member (pigz, concatenated files).
    #[serde(rename = "gzip")]
    Gzip,
    /// bzip2, multi-stream.
    #[serde(rename = "bzip2")]
    Bzip2,
}

impl Layer {
    /// Every layer, in the order the documentation lists them.
    pub const ALL: [Layer; 4] = [
        Layer::Aes256Gcm,
        Layer::Aes256GcmHkdfStream,
        Layer::Gzip,
        Layer::Bzip2,
    ];

    /// The name used in the registry, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Aes256Gcm => "aes-256-gcm",
            Layer::Aes256GcmHkdfStream => "aes-256-gcm-hkdf-stream",
            Layer::Gzip => "gzip",
            Layer::Bzip2 => "bzip2",
        }
    }

    /// Whether undoing this layer needs a key.
    pub fn needs_key(self) -> bool {
        matches!(self, Layer::Aes256Gcm | Layer::Aes256GcmHkdfStream)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A layer name that is not one of [`Layer::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layer `{0}` (expected one of: aes-256-gcm, aes-256-gcm-hkdf-stream, gzip, bzip2)")]
pub struct UnknownLayer(pub String);

impl FromStr for Layer {
    type Err = UnknownLayer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLayer(s.to_owned()))
    }
}

/// How the decoded bytes are split into records (rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values (delimiter and quote configurable).
    Csv,
    /// Tab-separated values (same parser as CSV, tab delimiter).
    Tsv,
    /// JSON lines: one record per non-empty line.
    Jsonl,
    /// XML: one record per element named by `record_element`.
    Xml,
}

impl Format {
    /// The name used in the registry, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Xml => "xml",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not csv, tsv, jsonl or xml.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected one of: csv, tsv, jsonl, xml)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "tsv" => Ok(Format::Tsv),
            "jsonl" => Ok(Format::Jsonl),
            "xml" => Ok(Format::Xml),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// How records are parsed: everything the row counters need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSpec {
    pub format: Format,
    /// Field delimiter for csv/tsv (default `,` for csv, tab for tsv).
    pub delimiter: u8,
    /// Quote byte for csv/tsv; `None` means quotes are ordinary data.
    pub quote: Option<u8>,
    /// Whether the first csv/tsv record is a header (not counted as a row).
    pub header: bool,
    /// Element name whose occurrences are the records of an xml file.
    pub record_element: Option<String>,
    /// For jsonl: parse each line as JSON and reject the file if one is invalid.
    pub parse_json: bool,
}

impl ParseSpec {
    /// The defaults for a format: csv with `,` and `"`, tsv with tab and `"`, header on.
    pub fn new(format: Format) -> Self {
        ParseSpec {
            format,
            delimiter: if format == Format::Tsv { b'\t' } else { b',' },
            quote: Some(b'"'),
            header: matches!(format, Format::Csv | Format::Tsv),
            record_element: None,
            parse_json: false,
        }
    }
}

/// Safety limits that bound memory and work whatever the input; hostile input
/// that crosses one is rejected with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Hard ceiling on decoded bytes, whatever the rule's own bounds (decompression bombs).
    pub max_decoded_bytes: u64,
    /// Decoded bytes may be at most this many times the received bytes (gzip
    /// cannot exceed about 1032:1; real CSV is 5–50:1, near-constant rows ~400:1)…
    pub max_expansion_ratio: u64,
    /// …once more than this many bytes were decoded (small files may expand a lot).
    /// Checked after every decompression layer; not applied when the rule sets
    /// its own `max_decoded_bytes`.
    pub expansion_check_after_bytes: u64,
    /// Longest record (csv/tsv/jsonl line) accepted; also bounds the header kept in memory.
    pub max_record_bytes: u64,
    /// Deepest XML element nesting accepted.
    pub max_xml_depth: u32,
    /// Largest whole-file `aes-256-gcm` ciphertext, which must be held in memory to
    /// authenticate; larger files should use `aes-256-gcm-hkdf-stream`.
    pub max_whole_file_aead_bytes: u64,
    /// Memory for a data contract's `unique` and `primary_key` checks, all
    /// together; past it, keys spill to local disk (the check stays exact).
    pub unique_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decoded_bytes: 64 * 1024 * 1024 * 1024,
            max_expansion_ratio: 1000,
            expansion_check_after_bytes: 64 * 1024 * 1024,
            max_record_bytes: 16 * 1024 * 1024,
            max_xml_depth: 256,
            max_whole_file_aead_bytes: 32 * 1024 * 1024,
            unique_memory_bytes: 48 * 1024 * 1024,
        }
    }
}

/// Bounds a file must meet to be accepted. `None` means unbounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes as received from the source (compressed/encrypted).
    pub min_bytes: Option<u64>,
    pub max_bytes: Option<u64>,
    /// Bytes after every layer was undone.
    pub min_decoded_bytes: Option<u64>,
    pub max_decoded_bytes: Option<u64>,
    /// Data rows (the header not included).
    pub min_rows: Option<u64>,
    pub max_rows: Option<u64>,
    /// Columns the header must contain (csv/tsv with a header).
    pub required_columns: Vec<String>,
    /// Reject decoded bytes that are not valid UTF-8.
    pub require_utf8: bool,
}

/// Everything the engine needs to validate one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationSpec {
    /// Layers to undo in order; `None` infers them from the file name and magic bytes.
    pub layers: Option<Vec<Layer>>,
    pub parse: ParseSpec,
    pub bounds: Bounds,
    pub limits: Limits,
    /// Associated data the tenant bound to `aes-256-gcm` / `aes-256-gcm-hkdf-stream`
    /// ciphertexts (empty by default, as most tools write).
    pub associated_data: Vec<u8>,
    /// The data contract every record is checked against (csv, tsv, jsonl).
    pub contract: Option<ContractSpec>,
    /// Row errors kept in the report (the first ones, by record).
    pub max_row_errors: usize,
}

impl ValidationSpec {
    /// A spec with the format's defaults, inferred layers, no bounds and default limits.
    pub fn new(format: Format) -> Self {
        ValidationSpec {
            layers: None,
            parse: ParseSpec::new(format),
            bounds: Bounds::default(),
            limits: Limits::default(),
            associated_data: Vec::new(),
            contract: None,
            max_row_errors: DEFAULT_MAX_ROW_ERRORS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_round_trip_through_from_str_and_serde() {
        for layer in Layer::ALL {
            assert_eq!(layer.name().parse::<Layer>(), Ok(layer));
            let json = serde_json::to_string(&layer).unwrap();
            assert_eq!(json, format!("\"{}\"", layer.name()));
        }
        assert_eq!(
            "zip".parse::<Layer>().unwrap_err().to_string(),
            "unknown layer `zip` (expected one of: aes-256-gcm, aes-256-gcm-hkdf-stream, gzip, bzip2)"
        );
    }

    #[test]
    fn tsv_defaults_to_tab_and_xml_to_no_header() {
        assert_eq!(ParseSpec::new(Format::Tsv).delimiter, b'\t');
        assert!(ParseSpec::new(Format::Csv).header);
        assert!(!ParseSpec::new(Format::Xml).header);
    }
}
