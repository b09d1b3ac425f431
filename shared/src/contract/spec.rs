//! The contract as a rule writes it in the registry: columns with their types
//! and checks, the primary key, what reads as null, what to do with extra
//! columns and with invalid rows.
//!
//! Deserializing checks shape only: a type name, a bound or a pattern is kept
//! as written, and [`Contract::compile`](super::Contract::compile) (which the
//! registry's validator calls) reports every mistake with its path.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One column of a contract, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// csv/tsv: the header name (exact); jsonl: the top-level field. With
    /// `header: false`, columns are matched by position and this is a label.
    pub name: String,
    /// `string`, `int` (32-bit), `bigint` (64-bit), `double`, `decimal(P,S)`
    /// (1 ≤ P ≤ 38, 0 ≤ S ≤ P), `boolean`, `date` or `timestamp`.
    #[serde(rename = "type")]
    #[schemars(pattern(
        r"^(string|int|bigint|double|boolean|date|timestamp|decimal\(\s*[0-9]+\s*,\s*[0-9]+\s*\))$"
    ))]
    pub r#type: String,
    /// Whether a null is valid. Default true (false for primary-key columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// No two rows may hold the same (non-null) value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// `date` and `timestamp`: a strftime-style format (chrono's syntax).
    /// Default: `%Y-%m-%d` for dates, ISO 8601 / RFC 3339 for timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `timestamp`: IANA time zone of values without an offset. Default: the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Smallest valid value (inclusive): numbers, dates, timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Scalar>,
    /// Largest valid value (inclusive): numbers, dates, timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Scalar>,
    /// `string`: fewest characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// `string`: most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// `string`: a regular expression (Rust `regex` syntax) the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The only values accepted (every type but `double`), compared as typed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Scalar>>,
    /// `double`: accept `NaN`, `inf` and `-inf`. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_non_finite: bool,
}

impl ColumnSpec {
    /// A nullable column of `type` with no checks (what `schema infer` starts from).
    pub fn new(name: impl Into<String>, r#type: impl Into<String>) -> Self {
        ColumnSpec {
            name: name.into(),
            r#type: r#type.into(),
            nullable: None,
            unique: false,
            format: None,
            timezone: None,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed: None,
            allow_non_finite: false,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A bound or an allowed value as written: a number, a boolean or a string,
/// kept as text and read as the column's type when the contract is compiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Scalar(#[schemars(with = "ScalarSchema")] pub String);

/// What a [`Scalar`] may be written as, for the JSON Schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    Number(f64),
    Boolean(bool),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a boolean or a string")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                // The shortest text that reads back as the same double: `0.1`, not
                // `0.1000000000000000055511151231257827`.
                Ok(Scalar(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to do with a column the file has and the contract does not name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtraColumns {
    /// The file is rejected (csv/tsv header), or the record is invalid (jsonl). The default.
    #[default]
    Reject,
    /// The column is skipped.
    Ignore,
}

/// What an invalid row does to its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidAction {
    /// Any invalid row rejects the file. The default.
    #[default]
    RejectFile,
    /// The file is accepted and its invalid rows are kept aside in the
    /// quarantine prefix, while they stay within the limits.
    QuarantineRows,
}

/// The verdict an invalid row leads to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnInvalid {
    /// `reject_file` (default) or `quarantine_rows`.
    #[serde(default)]
    pub action: InvalidAction,
    /// With `quarantine_rows`: reject the file when more rows than this are invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_invalid_rows: Option<u64>,
    /// With `quarantine_rows`: reject the file when invalid rows exceed this share
    /// of its rows (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_invalid_ratio: Option<f64>,
}

// The ratio is a plain number from the registry, never NaN after validation.
impl Eq for OnInvalid {}

/// A rule's whole contract, gathered from its fields (`columns`,
/// `primary_key`, `null_values`, `extra_columns`, `on_invalid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSpec {
    pub columns: Vec<ColumnSpec>,
    pub primary_key: Vec<String>,
    /// What reads as null, compared with the value as written.
    pub null_values: Vec<String>,
    pub extra_columns: ExtraColumns,
    pub on_invalid: OnInvalid,
    /// The tenant's time zone: timestamps without an offset or a column zone.
    pub default_timezone: String,
}

/// The default `null_values`: only the empty value.
pub fn default_null_values() -> Vec<String> {
    vec![String::new()]
}
