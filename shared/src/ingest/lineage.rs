//! The lineage stored on a landed object as S3 user metadata: where the file
//! came from, what was received, which rule and registry version judged it.
//!
//! S3's rules are met here, not left to the adapter:
//! - keys are lowercase ASCII words joined by `-` (S3 returns them lowercase);
//! - values are header-safe: bytes outside printable ASCII, and `%` itself, are
//!   percent-encoded (`/in/café.csv` → `/in/caf%C3%A9.csv`);
//! - keys and values together are at most [`MAX_METADATA_BYTES`] (S3's 2 KiB).
//!   When they are not, the longest value is cut (at a byte boundary that does
//!   not split an escape, ending in `...`), repeatedly, and the names of the cut
//!   values are listed under `truncated`; the SHA-256 of the full source path is
//!   always stored (`source-path-sha256`), so a cut path can still be matched.
//!
//! The file's ledger identity (source id, path, listed size, FTP mtime) is part
//! of the lineage and known before the file is read, so a multipart upload
//! carries it too: the catalog trigger rebuilds the ledger's [`FileVersion`]
//! from an object's metadata ([`file_version`]) to record the job run on it.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::engine::Report;
use crate::percent::{self, Plus};
use crate::ports::FileVersion;
use crate::ports::object_store::Metadata;

/// S3's limit on user metadata: the UTF-8 bytes of every key and value.
pub const MAX_METADATA_BYTES: usize = 2048;

/// A cut value keeps at least this many bytes (before the `...` marker).
const MIN_CUT_VALUE: usize = 32;

/// Marks a value that was cut.
const CUT_MARK: &str = "...";

/// Metadata keys, as stored.
pub mod keys {
    pub const TENANT: &str = "tenant";
    pub const DATASET: &str = "dataset";
    /// The registry id of the source the file came from.
    pub const SOURCE: &str = "source";
    pub const SOURCE_HOST: &str = "source-host";
    pub const SOURCE_PATH: &str = "source-path";
    pub const SOURCE_PATH_SHA256: &str = "source-path-sha256";
    pub const FTP_MTIME: &str = "ftp-mtime";
    /// The file's size as listed (the ledger's version), before any decoding.
    pub const LISTED_SIZE: &str = "listed-size";
    pub const RULE_ID: &str = "rule-id";
    pub const REGISTRY_VERSION: &str = "registry-version";
    pub const INGESTED_AT: &str = "ingested-at";
    pub const SHA256: &str = "sha256";
    pub const ROWS: &str = "rows";
    pub const RECEIVED_BYTES: &str = "received-bytes";
    pub const DECODED_BYTES: &str = "decoded-bytes";
    pub const TRUNCATED: &str = "truncated";
}

/// What is known of a file before it is read; [`Lineage::metadata`] adds the
/// engine's figures once there is a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    pub tenant: String,
    pub dataset: String,
    /// The source's registry id.
    pub source_id: String,
    pub source_host: String,
    pub source_path: String,
    /// The file's size as listed.
    pub listed_size: u64,
    /// The file's modification time as listed (`None` when the listing had none).
    pub ftp_mtime: Option<DateTime<Utc>>,
    pub rule_id: String,
    pub registry_version: String,
    /// When this ingestion started.
    pub ingested_at: DateTime<Utc>,
}

impl Lineage {
    /// The metadata map for the object. Without a report (a multipart upload
    /// is started before the figures are known) the figures are left out.
    pub fn metadata(&self, report: Option<&Report>) -> Metadata {
        let mut map = Metadata::new();
        let mut put = |k: &str, v: &str| {
            map.insert(k.to_owned(), header_safe(v));
        };
        put(keys::TENANT, &self.tenant);
        put(keys::DATASET, &self.dataset);
        put(keys::SOURCE, &self.source_id);
        put(keys::SOURCE_HOST, &self.source_host);
        put(keys::SOURCE_PATH, &self.source_path);
        put(
            keys::SOURCE_PATH_SHA256,
            &hex::encode(Sha256::digest(self.source_path.as_bytes())),
        );
        put(keys::LISTED_SIZE, &self.listed_size.to_string());
        if let Some(mtime) = self.ftp_mtime {
            // Sub-second digits when the listing had them: the ledger's
            // version is rebuilt from this exactly.
            put(
                keys::FTP_MTIME,
                &mtime.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            );
        }
        put(keys::RULE_ID, &self.rule_id);
        put(keys::REGISTRY_VERSION, &self.registry_version);
        put(keys::INGESTED_AT, &rfc3339(self.ingested_at));
        if let Some(report) = report {
            if let Some(sha) = report.sha256_hex() {
                put(keys::SHA256, &sha);
            }
            put(keys::ROWS, &report.rows.to_string());
            put(keys::RECEIVED_BYTES, &report.received_bytes.to_string());
            put(keys::DECODED_BYTES, &report.decoded_bytes.to_string());
        }
        fit(map)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Why an object's metadata does not give its file's ledger identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineageGap {
    /// A key is absent: an object not written by tributary (or by a build
    /// before the key existed).
    #[error("the object's metadata has no {key}")]
    Missing { key: &'static str },
    /// The value was cut to fit S3's 2 KiB metadata limit (listed under
    /// `truncated`), so the full value is not on the object.
    #[error("the object's {key} was cut to fit S3's metadata limit")]
    Truncated { key: &'static str },
    /// The value does not read as what it should be.
    #[error("the object's {key} {value:?} is invalid: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
}

/// The value of `key` as written before it was made header-safe; `None` when
/// absent. A cut or undecodable value is an error.
pub fn value(metadata: &Metadata, key: &'static str) -> Result<Option<String>, LineageGap> {
    let Some(stored) = metadata.get(key) else {
        return Ok(None);
    };
    if metadata
        .get(keys::TRUNCATED)
        .is_some_and(|cut| cut.split(',').any(|k| k == key))
    {
        return Err(LineageGap::Truncated { key });
    }
    percent::decode(stored, Plus::Literal)
        .map(Some)
        .map_err(|e| LineageGap::Invalid {
            key,
            value: stored.clone(),
            reason: e.to_string(),
        })
}

/// The ledger identity of the file an object holds, from its lineage: source
/// id, path, listed size and FTP mtime (absent when the listing had none).
pub fn file_version(metadata: &Metadata) -> Result<FileVersion, LineageGap> {
    let required = |key: &'static str| value(metadata, key)?.ok_or(LineageGap::Missing { key });
    let source = required(keys::SOURCE)?;
    let path = required(keys::SOURCE_PATH)?;
    let size_text = required(keys::LISTED_SIZE)?;
    let size = size_text.parse().map_err(|_| LineageGap::Invalid {
        key: keys::LISTED_SIZE,
        value: size_text.clone(),
        reason: "not a whole number of bytes".into(),
    })?;
    let mtime = value(metadata, keys::FTP_MTIME)?
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| LineageGap::Invalid {
                    key: keys::FTP_MTIME,
                    value: text.clone(),
                    reason: e.to_string(),
                })
        })
        .transpose()?;
    Ok(FileVersion {
        source,
        path,
        size,
        mtime,
    })
}

/// `value` with every byte outside printable ASCII, and `%`, percent-encoded.
pub fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The S3 size of a metadata map.
pub fn size(map: &Metadata) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Cuts the longest values until the map fits (see the module docs).
fn fit(mut map: Metadata) -> Metadata {
    let mut cut: Vec<String> = Vec::new();
    loop {
        let listed = if cut.is_empty() {
            0
        } else {
            keys::TRUNCATED.len() + cut.join(",").len()
        };
        let excess = (size(&map) + listed).saturating_sub(MAX_METADATA_BYTES);
        if excess == 0 {
            break;
        }
        // The longest value; ties broken by key order, so the result is stable.
        let Some((key, value)) = map
            .iter()
            .filter(|(_, v)| v.len() > MIN_CUT_VALUE + CUT_MARK.len())
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            // Cannot happen with this module's keys; stop rather than loop.
            break;
        };
        let target = value
            .len()
            .saturating_sub(excess + CUT_MARK.len() + 1)
            .max(MIN_CUT_VALUE);
        let mut end = target;
        if let Some(pct) = value[..end].rfind('%')
            && pct + 3 > end
        {
            end = pct;
        }
        map.insert(key.clone(), format!("{}{CUT_MARK}", &value[..end]));
        if !cut.contains(&key) {
            cut.push(key);
            cut.sort();
        }
    }
    if !cut.is_empty() {
        map.insert(keys::TRUNCATED.to_owned(), cut.join(","));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Report, Verdict};

    fn lineage(path: &str) -> Lineage {
        Lineage {
            tenant: "acme".into(),
            dataset: "sales".into(),
            source_id: "acme-ftp".into(),
            source_host: "ftp.acme.example".into(),
            source_path: path.into(),
            listed_size: 1000,
            ftp_mtime: Some("2024-05-01T10:15:00Z".parse().unwrap()),
            rule_id: "daily-sales".into(),
            registry_version: "v42".into(),
            ingested_at: "2024-05-01T10:20:30Z".parse().unwrap(),
        }
    }

    fn report() -> Report {
        Report {
            verdict: Verdict::Accepted,
            reasons: vec![],
            layers: vec![],
            received_bytes: 1000,
            received_sha256: Some([0xab; 32]),
            decoded_bytes: 4000,
            records: 11,
            rows: 10,
            header: None,
            header_columns: None,
            invalid_rows: 0,
            row_errors: vec![],
            row_errors_truncated: false,
            checks: vec![],
        }
    }

    #[test]
    fn every_lineage_field_is_present() {
        let m = lineage("/in/sales.csv.gz").metadata(Some(&report()));
        assert_eq!(m["tenant"], "acme");
        assert_eq!(m["dataset"], "sales");
        assert_eq!(m["source"], "acme-ftp");
        assert_eq!(m["listed-size"], "1000");
        assert_eq!(m["source-host"], "ftp.acme.example");
        assert_eq!(m["source-path"], "/in/sales.csv.gz");
        assert_eq!(m["ftp-mtime"], "2024-05-01T10:15:00Z");
        assert_eq!(m["rule-id"], "daily-sales");
        assert_eq!(m["registry-version"], "v42");
        assert_eq!(m["ingested-at"], "2024-05-01T10:20:30Z");
        assert_eq!(m["sha256"], "ab".repeat(32));
        assert_eq!(m["rows"], "10");
        assert_eq!(m["received-bytes"], "1000");
        assert_eq!(m["decoded-bytes"], "4000");
        assert!(!m.contains_key("truncated"));
        for k in m.keys() {
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{k}"
            );
        }
    }

    #[test]
    fn without_a_report_the_figures_are_left_out() {
        let m = lineage("/in/x.csv").metadata(None);
        for k in ["sha256", "rows", "received-bytes", "decoded-bytes"] {
            assert!(!m.contains_key(k), "{k}");
        }
        assert_eq!(m["source-path"], "/in/x.csv");
        // The ledger identity is known before the file is read.
        assert_eq!(m["source"], "acme-ftp");
        assert_eq!(m["listed-size"], "1000");
    }

    #[test]
    fn the_file_version_is_rebuilt_from_the_metadata() {
        let mut l = lineage("/in/café 100%+x.csv");
        l.ftp_mtime = Some("2024-05-01T10:15:00.250Z".parse().unwrap());
        let m = l.metadata(None);
        assert_eq!(m["ftp-mtime"], "2024-05-01T10:15:00.250Z");
        let version = file_version(&m).unwrap();
        assert_eq!(
            version,
            FileVersion {
                source: "acme-ftp".into(),
                path: "/in/café 100%+x.csv".into(),
                size: 1000,
                mtime: l.ftp_mtime,
            }
        );
        // Whole seconds are written as before.
        assert_eq!(
            lineage("/x").metadata(None)["ftp-mtime"],
            "2024-05-01T10:15:00Z"
        );

        // No mtime in the listing: none in the version.
        l.ftp_mtime = None;
        assert_eq!(file_version(&l.metadata(None)).unwrap().mtime, None);
        assert_eq!(
            value(&l.metadata(None), keys::TENANT).unwrap().as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn a_cut_missing_or_garbled_identity_is_a_gap() {
        let long = format!("/in/{}.csv", "p".repeat(2100));
        let m = lineage(&long).metadata(None);
        assert_eq!(
            file_version(&m).unwrap_err(),
            LineageGap::Truncated {
                key: keys::SOURCE_PATH
            }
        );
        let mut m = lineage("/in/x.csv").metadata(None);
        m.remove(keys::SOURCE);
        assert_eq!(
            file_version(&m).unwrap_err(),
            LineageGap::Missing { key: keys::SOURCE }
        );
        assert_eq!(value(&m, keys::SOURCE).unwrap(), None);
        let mut m = lineage("/in/x.csv").metadata(None);
        m.insert(keys::LISTED_SIZE.into(), "12x".into());
        assert!(matches!(
            file_version(&m).unwrap_err(),
            LineageGap::Invalid {
                key: "listed-size",
                ..
            }
        ));
        let mut m = lineage("/in/x.csv").metadata(None);
        m.insert(keys::SOURCE_PATH.into(), "/in/%zz".into());
        let err = file_version(&m).unwrap_err();
        assert!(err.to_string().contains("source-path"), "{err}");
        let mut m = lineage("/in/x.csv").metadata(None);
        m.insert(keys::FTP_MTIME.into(), "yesterday".into());
        assert!(matches!(
            file_version(&m).unwrap_err(),
            LineageGap::Invalid {
                key: "ftp-mtime",
                ..
            }
        ));
    }

    #[test]
    fn values_are_header_safe() {
        let m = lineage("/in/café 100%\r\n.csv").metadata(None);
        assert_eq!(m["source-path"], "/in/caf%C3%A9 100%25%0D%0A.csv");
        for v in m.values() {
            assert!(v.bytes().all(|b| (0x20..0x7f).contains(&b)), "{v}");
        }
    }

    #[test]
    fn long_values_are_cut_deterministically_to_fit() {
        let path = format!("/in/{}.csv", "é".repeat(1500));
        let a = lineage(&path).metadata(Some(&report()));
        assert!(size(&a) <= MAX_METADATA_BYTES, "{}", size(&a));
        assert_eq!(a, lineage(&path).metadata(Some(&report())));
        assert_eq!(a["truncated"], "source-path");
        assert!(a["source-path"].ends_with("..."));
        // The cut does not split an escape, and the full path stays matchable.
        let kept = a["source-path"].trim_end_matches("...");
        assert!(!kept.ends_with('%') && !kept[..kept.len() - 1].ends_with('%'));
        assert_eq!(
            a["source-path-sha256"],
            hex::encode(Sha256::digest(path.as_bytes()))
        );
        // Everything else is whole.
        assert_eq!(a["sha256"], "ab".repeat(32));
    }

    #[test]
    fn several_long_values_are_all_cut() {
        let mut l = lineage(&"p".repeat(1500));
        l.source_host = "h".repeat(1500);
        l.registry_version = "r".repeat(1500);
        let m = l.metadata(Some(&report()));
        assert!(size(&m) <= MAX_METADATA_BYTES, "{}", size(&m));
        assert_eq!(m["truncated"], "registry-version,source-host,source-path");
    }
}
