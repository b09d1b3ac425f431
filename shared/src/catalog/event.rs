//! The catalog queue's message bodies: S3 event notifications
//! (`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":…},
//! "object":{"key":…,"size":…}}}]}`), or the `s3:TestEvent` S3 sends once when
//! the notification is configured. Keys arrive form-URL-encoded (`+` is a
//! space, `%2B` a plus, `%2F` a slash) and are decoded here, strictly.
//!
//! Only the fields the trigger uses are read: `aws_lambda_events`' `S3Event`
//! requires `eventTime`, `userIdentity` and `requestParameters`, which this
//! function never uses and which some producers (moto among them) leave out.
//! Bodies are bounded: at most [`MAX_BODY_BYTES`] and [`MAX_RECORDS`] records.

use serde::Deserialize;

use crate::failure::FailureKind;
use crate::percent::{self, Plus};

/// The largest body read (SQS's own limit).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most records one notification may hold (S3 sends one).
pub const MAX_RECORDS: usize = 100;
/// S3's limit on a key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// What a catalog-queue message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Event {
    /// `s3:TestEvent`, sent when the notification is configured: nothing to do.
    Test { bucket: Option<String> },
    /// One or more object events.
    Objects(Vec<ObjectEvent>),
}

/// One record of an S3 event notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, …
    pub event_name: String,
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// The size S3 reported, when it did.
    pub size: Option<u64>,
}

impl ObjectEvent {
    /// Whether the event is an object creation (any `ObjectCreated:*`).
    pub fn is_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }
}

/// Why a body is not a notification this function reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is {bytes} bytes, more than {MAX_BODY_BYTES}")]
    TooLarge { bytes: usize },
    #[error("the body is not an S3 event notification nor an s3:TestEvent: {reason}")]
    NotS3 { reason: String },
    #[error("the notification holds {count} records, more than {MAX_RECORDS}")]
    TooManyRecords { count: usize },
    #[error("record {index} has no {missing}")]
    Incomplete { index: usize, missing: &'static str },
    #[error("record {index}: object key {raw:?} cannot be decoded: {reason}")]
    BadKey {
        index: usize,
        raw: String,
        reason: String,
    },
}

impl EventError {
    /// A body this function cannot read is never fixed by a retry: ops look
    /// at what sends it.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Bucket")]
    bucket: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: Option<String>,
    s3: Option<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Option<Bucket>,
    object: Option<Object>,
}

#[derive(Deserialize)]
struct Bucket {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Object {
    key: Option<String>,
    size: Option<u64>,
}

/// Reads a catalog-queue message body.
pub fn parse(body: &str) -> Result<S3Event, EventError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(EventError::TooLarge { bytes: body.len() });
    }
    let parsed: Body = serde_json::from_str(body).map_err(|e| EventError::NotS3 {
        reason: e.to_string(),
    })?;
    if parsed.event.as_deref() == Some("s3:TestEvent") {
        return Ok(S3Event::Test {
            bucket: parsed.bucket,
        });
    }
    let Some(records) = parsed.records else {
        return Err(EventError::NotS3 {
            reason: "no Records and no \"Event\": \"s3:TestEvent\"".into(),
        });
    };
    if records.is_empty() {
        return Err(EventError::NotS3 {
            reason: "Records is empty".into(),
        });
    }
    if records.len() > MAX_RECORDS {
        return Err(EventError::TooManyRecords {
            count: records.len(),
        });
    }
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let missing = |missing| EventError::Incomplete { index, missing };
            let event_name = record.event_name.ok_or(missing("eventName"))?;
            let s3 = record.s3.ok_or(missing("s3"))?;
            let bucket = s3
                .bucket
                .and_then(|b| b.name)
                .ok_or(missing("s3.bucket.name"))?;
            let object = s3.object.ok_or(missing("s3.object"))?;
            let raw = object.key.ok_or(missing("s3.object.key"))?;
            let key = decode_key(&raw).map_err(|reason| EventError::BadKey {
                index,
                raw: raw.chars().take(2 * MAX_KEY_BYTES).collect(),
                reason,
            })?;
            Ok(ObjectEvent {
                event_name,
                bucket,
                key,
                size: object.size,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(S3Event::Objects)
}

/// Decodes a key as S3 event notifications encode it (form-URL-encoding):
/// the key as stored, at most [`MAX_KEY_BYTES`], not empty.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let key = percent::decode(raw, Plus::Space).map_err(|e| e.to_string())?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the decoded key is {} bytes, more than S3's {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "raw-bucket"}, "object": {"key": key, "size": 42}}
        }]})
        .to_string()
    }

    fn key_of(body: &str) -> Result<String, EventError> {
        match parse(body)? {
            S3Event::Objects(mut events) => Ok(events.remove(0).key),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_notification_gives_its_decoded_objects() {
        let S3Event::Objects(events) = parse(&body(
            "raw/tenant%3Dacme/dataset%3Dsales/sales+2026-11-21.csv",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            events,
            vec![ObjectEvent {
                event_name: "ObjectCreated:Put".into(),
                bucket: "raw-bucket".into(),
                key: "raw/tenant=acme/dataset=sales/sales 2026-11-21.csv".into(),
                size: Some(42),
            }]
        );
        assert!(events[0].is_created());
    }

    #[test]
    fn keys_decode_plus_escapes_and_utf8() {
        assert_eq!(key_of(&body("raw/a+b.csv")).unwrap(), "raw/a b.csv");
        assert_eq!(key_of(&body("raw/a%2Bb.csv")).unwrap(), "raw/a+b.csv");
        assert_eq!(key_of(&body("raw%2Fx%2Fy.csv")).unwrap(), "raw/x/y.csv");
        assert_eq!(
            key_of(&body("raw/caf%C3%A9+%E2%82%AC.csv")).unwrap(),
            "raw/café €.csv"
        );
    }

    #[test]
    fn undecodable_keys_are_clear_errors() {
        let err = key_of(&body("raw/100%.csv")).unwrap_err();
        assert!(matches!(err, EventError::BadKey { index: 0, .. }), "{err}");
        assert!(err.to_string().contains("invalid escape"), "{err}");
        let err = key_of(&body("raw/%FF.csv")).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        let err = key_of(&body("")).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = key_of(&body(&"k".repeat(1025))).unwrap_err();
        assert!(err.to_string().contains("1025 bytes"), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
    }

    #[test]
    fn the_test_event_is_recognised() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T06:00:00.000Z","Bucket":"raw-bucket","RequestId":"X","HostId":"Y"}"#;
        assert_eq!(
            parse(test).unwrap(),
            S3Event::Test {
                bucket: Some("raw-bucket".into())
            }
        );
    }

    #[test]
    fn bodies_that_are_not_notifications_are_refused_with_the_reason() {
        for (text, expected) in [
            ("not json", "not an S3 event"),
            ("{}", "no Records"),
            (r#"{"Records": []}"#, "empty"),
            (r#"{"v":1,"tenant":"acme"}"#, "no Records"),
            (r#"{"Records": [{"s3": {}}]}"#, "record 0 has no eventName"),
            (
                r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}"#,
                "s3.object",
            ),
            (r#"{"Records": [{"eventName": 7}]}"#, "not an S3 event"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
        let many = serde_json::json!({"Records": vec![serde_json::json!({}); 101]}).to_string();
        assert!(matches!(
            parse(&many).unwrap_err(),
            EventError::TooManyRecords { count: 101 }
        ));
        let huge = format!(
            "{{\"Records\": [], \"pad\": \"{}\"}}",
            "x".repeat(MAX_BODY_BYTES)
        );
        assert!(matches!(
            parse(&huge).unwrap_err(),
            EventError::TooLarge { .. }
        ));
    }

    #[test]
    fn other_event_names_are_read_and_told_apart() {
        let text = body("raw/x.csv").replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        let S3Event::Objects(events) = parse(&text).unwrap() else {
            panic!()
        };
        assert!(!events[0].is_created());
    }
}
