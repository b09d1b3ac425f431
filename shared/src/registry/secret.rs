//! References to secrets (FTP passwords, data keys). The registry never holds a
//! secret: only where to fetch it (`{secrets_manager: NAME}`, `{ssm: NAME}`, and for
//! local runs `{env: VAR}` or `{file: PATH}`).
//!
//! A secret written inline (`password: hunter2`, or any value that is not a reference)
//! still deserializes, into [`SecretRef::Inline`], and its text is dropped on the spot,
//! so that validation can say what to do instead and no error, log or `Debug` output
//! can ever echo it.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Where a secret is fetched from. Holds names, never secret values.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// An AWS Secrets Manager secret, by name or ARN.
    SecretsManager(String),
    /// An AWS SSM Parameter Store `SecureString` parameter, by name.
    Ssm(String),
    /// An environment variable (local runs and the demo).
    Env(String),
    /// A file holding the secret (local runs and the demo).
    File(String),
    /// A secret was written inline; its value was discarded while loading. Never valid.
    Inline,
}

/// The reference kinds, in the order the registry documents them.
const KINDS: [&str; 4] = ["secrets_manager", "ssm", "env", "file"];

impl SecretRef {
    /// The reference kind as written in the registry (`secrets_manager`, `ssm`, `env`,
    /// `file`), or `inline`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretRef::SecretsManager(_) => "secrets_manager",
            SecretRef::Ssm(_) => "ssm",
            SecretRef::Env(_) => "env",
            SecretRef::File(_) => "file",
            SecretRef::Inline => "inline",
        }
    }

    /// The secret's name (or variable name, or path); `None` for [`SecretRef::Inline`].
    pub fn name(&self) -> Option<&str> {
        match self {
            SecretRef::SecretsManager(name)
            | SecretRef::Ssm(name)
            | SecretRef::Env(name)
            | SecretRef::File(name) => Some(name),
            SecretRef::Inline => None,
        }
    }

    /// Whether the secret was written inline (and discarded).
    pub fn is_inline(&self) -> bool {
        matches!(self, SecretRef::Inline)
    }

    fn from_kind(kind: &str, name: String) -> Option<Self> {
        match kind {
            "secrets_manager" => Some(SecretRef::SecretsManager(name)),
            "ssm" => Some(SecretRef::Ssm(name)),
            "env" => Some(SecretRef::Env(name)),
            "file" => Some(SecretRef::File(name)),
            _ => None,
        }
    }
}

/// Shows the reference as written (`{ssm: /tenant/key}`); names are not secrets.
impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{{{}: {name}}}", self.kind()),
            None => f.write_str("<inline secret, redacted>"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::SecretsManager(name) => f.debug_tuple("SecretsManager").field(name).finish(),
            SecretRef::Ssm(name) => f.debug_tuple("Ssm").field(name).finish(),
            SecretRef::Env(name) => f.debug_tuple("Env").field(name).finish(),
            SecretRef::File(name) => f.debug_tuple("File").field(name).finish(),
            SecretRef::Inline => f.write_str("<inline secret, redacted>"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretRefVisitor)
    }
}

/// Accepts anything; only a one-entry mapping `{kind: "name"}` with a known kind and a
/// string name is a reference. Every other value becomes [`SecretRef::Inline`] without
/// being kept, and no error ever quotes a value.
struct SecretRefVisitor;

impl<'de> Visitor<'de> for SecretRefVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a secret reference: {secrets_manager: NAME}, {ssm: NAME}, {env: VAR} or {file: PATH}",
        )
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<SecretRef, E> {
        Ok(SecretRef::Inline)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretRef, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SecretRef::Inline)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        let mut found: Option<SecretRef> = None;
        let mut inline = false;
        while let Some(key) = map.next_key::<KeyOrOther>()? {
            let known = match &key {
                KeyOrOther::Key(kind) => KINDS.contains(&kind.as_str()),
                KeyOrOther::Other => false,
            };
            if !known {
                // Not a reference kind: the entry may well hold the secret itself.
                map.next_value::<IgnoredAny>()?;
                inline = true;
                continue;
            }
            let name = map.next_value::<StringOrOther>()?;
            match (&key, name, &found) {
                (_, _, Some(_)) => {
                    return Err(de::Error::custom(format_args!(
                        "a secret reference names exactly one of {}",
                        KINDS.join(", ")
                    )));
                }
                (KeyOrOther::Key(kind), StringOrOther::String(name), None) => {
                    found = SecretRef::from_kind(kind, name);
                }
                _ => inline = true,
            }
        }
        Ok(match found {
            Some(reference) if !inline => reference,
            _ => SecretRef::Inline,
        })
    }
}

/// A mapping key: its text when it is a string, otherwise nothing (never kept).
enum KeyOrOther {
    Key(String),
    Other,
}

impl<'de> Deserialize<'de> for KeyOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(StringOrOtherVisitor)? {
            StringOrOther::String(text) => Ok(KeyOrOther::Key(text)),
            StringOrOther::Other => Ok(KeyOrOther::Other),
        }
    }
}

/// A reference's name: its text when it is a string, otherwise nothing (never kept).
enum StringOrOther {
    String(String),
    Other,
}

impl<'de> Deserialize<'de> for StringOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringOrOtherVisitor)
    }
}

struct StringOrOtherVisitor;

impl<'de> Visitor<'de> for StringOrOtherVisitor {
    type Value = StringOrOther;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<StringOrOther, E> {
        Ok(StringOrOther::String(text.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<StringOrOther, E> {
        Ok(StringOrOther::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<StringOrOther, D::Error> {
        deserializer.deserialize_any(StringOrOtherVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrOther, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(StringOrOther::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringOrOther, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(StringOrOther::Other)
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let reference = |kind: &str, what: &str| {
            json_schema!({
                "type": "object",
                "properties": {
                    kind: { "type": "string", "minLength": 1, "description": what }
                },
                "required": [kind],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": "Where a secret is fetched from; never the secret itself.",
            "oneOf": [
                reference("secrets_manager", "AWS Secrets Manager secret name or ARN."),
                reference("ssm", "AWS SSM Parameter Store SecureString parameter name."),
                reference("env", "Environment variable (local runs and the demo)."),
                reference("file", "File holding the secret (local runs and the demo).")
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> SecretRef {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn references_deserialize_from_yaml_and_json() {
        assert_eq!(
            yaml("{secrets_manager: tributary/retail/ftp}"),
            SecretRef::SecretsManager("tributary/retail/ftp".into())
        );
        assert_eq!(yaml("ssm: /bank/key"), SecretRef::Ssm("/bank/key".into()));
        assert_eq!(
            yaml("{env: FTP_PASSWORD}"),
            SecretRef::Env("FTP_PASSWORD".into())
        );
        let json: SecretRef = serde_json::from_str(r#"{"file": "/run/key.b64"}"#).unwrap();
        assert_eq!(json, SecretRef::File("/run/key.b64".into()));
    }

    #[test]
    fn inline_values_become_the_redacted_marker() {
        for text in [
            "hunter2",
            "123456",
            "true",
            "[hunter2]",
            "{value: hunter2}",
            "{ssm: 123456}",
            "{ssm: /ok, password: hunter2}",
            "{secret_manager: hunter2}",
        ] {
            let secret = yaml(text);
            assert_eq!(secret, SecretRef::Inline, "{text}");
            assert_eq!(format!("{secret:?}"), "<inline secret, redacted>");
            assert_eq!(secret.to_string(), "<inline secret, redacted>");
        }
        let json: SecretRef = serde_json::from_str(r#""hunter2""#).unwrap();
        assert!(json.is_inline());
    }

    #[test]
    fn two_reference_kinds_are_an_error_that_quotes_no_value() {
        let err = serde_json::from_str::<SecretRef>(r#"{"ssm": "hunter2", "env": "hunter3"}"#)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("names exactly one of"), "{text}");
        assert!(!text.contains("hunter"), "{text}");
    }

    #[test]
    fn display_and_debug_show_names_only() {
        let secret = SecretRef::Ssm("/bank/key".into());
        assert_eq!(secret.to_string(), "{ssm: /bank/key}");
        assert_eq!(format!("{secret:?}"), "Ssm(\"/bank/key\")");
        assert_eq!(secret.kind(), "ssm");
        assert_eq!(secret.name(), Some("/bank/key"));
    }
}
