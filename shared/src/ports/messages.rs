//! The messages functions send each other through work queues: versioned JSON
//! (`{"v":1,…}`). A reader refuses a version it does not know with an error that
//! names both versions, rather than guessing at fields. Unknown fields of a known
//! version are ignored, so a newer sender may add optional fields.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::failure::FailureKind;
use crate::ports::FileVersion;

/// The message version this build writes and reads.
pub const MESSAGE_VERSION: u64 = 1;

/// "Poll this source now": one per due source, from the scheduled fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSource {
    pub tenant: String,
    pub source: String,
    /// When the schedule asked for the poll.
    pub requested_at: DateTime<Utc>,
}

/// "This file version is complete and claimed": one per file, for the ingester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiscovered {
    pub tenant: String,
    pub source: String,
    pub rule: String,
    pub path: String,
    pub size: u64,
    pub mtime: Option<DateTime<Utc>>,
    pub discovered_at: DateTime<Utc>,
}

impl FileDiscovered {
    /// The ledger identity of the file.
    pub fn version(&self) -> FileVersion {
        FileVersion {
            source: self.source.clone(),
            path: self.path.clone(),
            size: self.size,
            mtime: self.mtime,
        }
    }
}

/// Why a message body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("{message} message is not valid JSON of the expected shape: {source}")]
    Malformed {
        message: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{message} message has no numeric \"v\" field")]
    MissingVersion { message: &'static str },
    #[error(
        "{message} message has version {found}, this build reads only version {MESSAGE_VERSION}"
    )]
    UnsupportedVersion { message: &'static str, found: u64 },
}

impl MessageError {
    /// A message this build cannot read is a deployment problem (mixed versions,
    /// a hand-written message): ops fix and redrive.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    v: u64,
    #[serde(flatten)]
    body: &'a T,
}

fn encode<T: Serialize>(body: &T) -> String {
    let envelope = Envelope {
        v: MESSAGE_VERSION,
        body,
    };
    #[allow(clippy::expect_used)]
    serde_json::to_string(&envelope)
        .expect("structs of strings, numbers and timestamps always serialise to JSON")
}

fn decode<T: DeserializeOwned>(message: &'static str, body: &str) -> Result<T, MessageError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|source| MessageError::Malformed { message, source })?;
    let found = value
        .get("v")
        .and_then(serde_json::Value::as_u64)
        .ok_or(MessageError::MissingVersion { message })?;
    if found != MESSAGE_VERSION {
        return Err(MessageError::UnsupportedVersion { message, found });
    }
    serde_json::from_value(value).map_err(|source| MessageError::Malformed { message, source })
}

impl PollSource {
    /// The message body.
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Reads a message body.
    pub fn decode(body: &str) -> Result<Self, MessageError> {
        decode("PollSource", body)
    }
}

impl FileDiscovered {
    /// The message body.
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Reads a message body.
    pub fn decode(body: &str) -> Result<Self, MessageError> {
        decode("FileDiscovered", body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovered() -> FileDiscovered {
        FileDiscovered {
            tenant: "acme".into(),
            source: "acme-ftp".into(),
            rule: "orders".into(),
            path: "/out/orders_2024-05-01.csv.gz".into(),
            size: 1234,
            mtime: Some("2024-05-01T06:00:00Z".parse().unwrap()),
            discovered_at: "2024-05-01T06:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn file_discovered_round_trips_with_its_version_first_class() {
        let message = discovered();
        let body = message.encode();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["path"], "/out/orders_2024-05-01.csv.gz");
        assert_eq!(value["mtime"], "2024-05-01T06:00:00Z");
        assert_eq!(FileDiscovered::decode(&body).unwrap(), message);
        assert_eq!(message.version().version_key(), "1234@1714543200");
    }

    #[test]
    fn poll_source_round_trips() {
        let message = PollSource {
            tenant: "acme".into(),
            source: "acme-ftp".into(),
            requested_at: "2024-05-01T06:00:00Z".parse().unwrap(),
        };
        assert_eq!(PollSource::decode(&message.encode()).unwrap(), message);
    }

    #[test]
    fn unknown_versions_are_refused_with_both_versions_named() {
        let body = discovered().encode().replace("\"v\":1", "\"v\":2");
        let err = FileDiscovered::decode(&body).unwrap_err();
        assert!(matches!(
            err,
            MessageError::UnsupportedVersion { found: 2, .. }
        ));
        assert_eq!(
            err.to_string(),
            "FileDiscovered message has version 2, this build reads only version 1"
        );
        assert_eq!(err.kind(), FailureKind::Misconfigured);
    }

    #[test]
    fn missing_versions_and_bad_shapes_are_errors_not_panics() {
        let err = PollSource::decode(r#"{"tenant":"acme","source":"s"}"#).unwrap_err();
        assert!(matches!(err, MessageError::MissingVersion { .. }), "{err}");
        let err = PollSource::decode(r#"{"v":1,"tenant":"acme"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `source`"), "{err}");
        let err = PollSource::decode("not json").unwrap_err();
        assert!(matches!(err, MessageError::Malformed { .. }));
    }

    #[test]
    fn unknown_fields_of_a_known_version_are_ignored() {
        let body = discovered()
            .encode()
            .replace("\"v\":1", "\"v\":1,\"priority\":\"high\"");
        assert_eq!(FileDiscovered::decode(&body).unwrap(), discovered());
    }
}
