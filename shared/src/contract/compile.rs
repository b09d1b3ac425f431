//! A written contract turned into what the checker runs: types read, patterns
//! compiled, bounds and allowed values parsed as their column's type, the key's
//! columns found. Every mistake is reported with the path of the field at fault,
//! so the registry's validator and the engine share one reading.

use std::collections::{HashMap, HashSet};

use regex::bytes::Regex;

use super::spec::{ColumnSpec, ContractSpec, ExtraColumns, InvalidAction, OnInvalid, Scalar};
use super::types::ColumnType;
use super::value::{Value, ValueParser, Zone};

/// Names a column may not take: the partition keys of the layers tributary
/// writes (`tenant=…/dataset=…/ingest_date=…`), compared without case because
/// catalogs fold it.
pub const PARTITION_KEYS: [&str; 3] = ["tenant", "dataset", "ingest_date"];

/// One mistake in a contract: `path` is relative to the rule (`columns[2].min`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractProblem {
    pub path: String,
    pub message: String,
}

/// A compiled contract, ready to check rows.
#[derive(Debug, Clone)]
pub struct Contract {
    pub(crate) columns: Vec<Column>,
    /// Raw values that read as null.
    pub(crate) null_values: Vec<Vec<u8>>,
    pub(crate) extra_columns: ExtraColumns,
    /// Indexes into `columns`, in key order; empty without a primary key.
    pub(crate) primary_key: Vec<usize>,
    pub(crate) on_invalid: OnInvalid,
}

/// One compiled column.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) parser: ValueParser,
    pub(crate) nullable: bool,
    pub(crate) unique: bool,
    pub(crate) min: Option<Value<'static>>,
    pub(crate) max: Option<Value<'static>>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) pattern: Option<Regex>,
    /// Keys ([`Value::write_key`]) of the allowed values.
    pub(crate) allowed: Option<HashSet<Vec<u8>>>,
}

impl Column {
    pub(crate) fn column_type(&self) -> ColumnType {
        self.parser.column_type()
    }
}

impl Contract {
    /// Compiles `spec`, or lists every mistake in it.
    pub fn compile(spec: &ContractSpec) -> Result<Contract, Vec<ContractProblem>> {
        let mut problems = Vec::new();
        let mut report = |path: String, message: String| {
            problems.push(ContractProblem { path, message });
        };
        if spec.columns.is_empty() {
            report("columns".into(), "must list at least one column".into());
        }
        let default_zone = Zone::from_name(&spec.default_timezone);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut columns = Vec::with_capacity(spec.columns.len());
        for (i, written) in spec.columns.iter().enumerate() {
            let at = format!("columns[{i}]");
            if written.name.is_empty() {
                report(format!("{at}.name"), "must not be empty".into());
            }
            if let Some(first) = seen.insert(written.name.as_str(), i) {
                report(
                    format!("{at}.name"),
                    format!("`{}` is already columns[{first}]", written.name),
                );
            }
            if PARTITION_KEYS
                .iter()
                .any(|key| key.eq_ignore_ascii_case(&written.name))
            {
                report(
                    format!("{at}.name"),
                    format!(
                        "`{}` is a partition key of the data lake's layout ({}); rename the column",
                        written.name,
                        PARTITION_KEYS.join(", ")
                    ),
                );
            }
            let in_key = spec.primary_key.contains(&written.name);
            match compile_column(written, in_key, default_zone) {
                Ok(column) => columns.push(column),
                Err(mistakes) => {
                    for (field, message) in mistakes {
                        report(format!("{at}.{field}"), message);
                    }
                }
            }
        }
        let mut primary_key = Vec::new();
        let mut in_key = HashSet::new();
        for (i, name) in spec.primary_key.iter().enumerate() {
            match seen.get(name.as_str()) {
                Some(&index) if in_key.insert(index) => primary_key.push(index),
                Some(_) => report(
                    format!("primary_key[{i}]"),
                    format!("`{name}` is named twice"),
                ),
                None => report(
                    format!("primary_key[{i}]"),
                    format!("`{name}` is not one of the columns"),
                ),
            }
        }
        for (i, value) in spec.null_values.iter().enumerate() {
            if spec.null_values.iter().take(i).any(|v| v == value) {
                report(
                    format!("null_values[{i}]"),
                    format!("`{value}` is listed twice"),
                );
            }
        }
        on_invalid_mistakes(&spec.on_invalid, &mut report);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Contract {
            columns,
            null_values: spec
                .null_values
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect(),
            extra_columns: spec.extra_columns,
            primary_key,
            on_invalid: spec.on_invalid.clone(),
        })
    }

    /// The columns' names, in contract order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// What an invalid row does to the file.
    pub fn on_invalid(&self) -> &OnInvalid {
        &self.on_invalid
    }
}

fn on_invalid_mistakes(on_invalid: &OnInvalid, report: &mut impl FnMut(String, String)) {
    if on_invalid.action == InvalidAction::RejectFile {
        for (field, set) in [
            ("max_invalid_rows", on_invalid.max_invalid_rows.is_some()),
            ("max_invalid_ratio", on_invalid.max_invalid_ratio.is_some()),
        ] {
            if set {
                report(
                    format!("on_invalid.{field}"),
                    "only applies with `action: quarantine_rows` (with `reject_file` any invalid row rejects the file)".into(),
                );
            }
        }
    }
    if let Some(ratio) = on_invalid.max_invalid_ratio
        && !(0.0..=1.0).contains(&ratio)
    {
        report(
            "on_invalid.max_invalid_ratio".into(),
            format!("must be between 0 and 1, got {ratio}"),
        );
    }
}

/// One column compiled, or its mistakes as `(field, message)`.
fn compile_column(
    written: &ColumnSpec,
    in_key: bool,
    default_zone: Option<Zone>,
) -> Result<Column, Vec<(&'static str, String)>> {
    let mut mistakes = Vec::new();
    let ty = match ColumnType::parse(&written.r#type) {
        Ok(ty) => ty,
        Err(message) => return Err(vec![("type", message)]),
    };
    let mut only = |field: &'static str, set: bool, applies: bool, to: &str| {
        if set && !applies {
            mistakes.push((field, format!("does not apply to type {ty} (only to {to})")));
        }
    };
    only(
        "format",
        written.format.is_some(),
        matches!(ty, ColumnType::Date | ColumnType::Timestamp),
        "date and timestamp",
    );
    only(
        "timezone",
        written.timezone.is_some(),
        ty == ColumnType::Timestamp,
        "timestamp",
    );
    only(
        "min",
        written.min.is_some(),
        ty.is_ordered(),
        "numbers, dates and timestamps",
    );
    only(
        "max",
        written.max.is_some(),
        ty.is_ordered(),
        "numbers, dates and timestamps",
    );
    only(
        "min_length",
        written.min_length.is_some(),
        ty == ColumnType::String,
        "string",
    );
    only(
        "max_length",
        written.max_length.is_some(),
        ty == ColumnType::String,
        "string",
    );
    only(
        "pattern",
        written.pattern.is_some(),
        ty == ColumnType::String,
        "string",
    );
    only(
        "allowed",
        written.allowed.is_some(),
        ty != ColumnType::Double,
        "every type but double",
    );
    only(
        "allow_non_finite",
        written.allow_non_finite,
        ty == ColumnType::Double,
        "double",
    );
    if in_key && written.nullable == Some(true) {
        mistakes.push((
            "nullable",
            "a primary-key column cannot be nullable".to_owned(),
        ));
    }
    let zone = match &written.timezone {
        Some(name) => Zone::from_name(name).or_else(|| {
            mistakes.push((
                "timezone",
                format!("unknown time zone `{name}` (expected an IANA name such as Europe/Paris)"),
            ));
            None
        }),
        None => default_zone,
    };
    let parser = match ValueParser::new(
        ty,
        written.format.as_deref(),
        zone.unwrap_or(Zone::Utc),
        written.allow_non_finite,
    ) {
        Ok(parser) => Some(parser),
        Err(e) => {
            mistakes.push(("format", e.to_string()));
            None
        }
    };
    // Bounds and allowed values are read as the type's default form (ISO for
    // dates and timestamps), whatever the column's format.
    let plain = ValueParser::new(ty, None, zone.unwrap_or(Zone::Utc), false).ok();
    let mut bound = |field: &'static str, scalar: &Option<Scalar>| -> Option<Value<'static>> {
        let scalar = scalar.as_ref().filter(|_| ty.is_ordered())?;
        let value = plain
            .as_ref()?
            .parse(scalar.0.as_bytes())
            .ok()
            .and_then(owned);
        if value.is_none() {
            mistakes.push((field, format!("`{scalar}` is not a valid {ty}")));
        }
        value
    };
    let min = bound("min", &written.min);
    let max = bound("max", &written.max);
    if let (Some(min), Some(max)) = (min, max)
        && min.partial_cmp_same_type(&max) == Some(std::cmp::Ordering::Greater)
    {
        mistakes.push(("max", "must be at least min".to_owned()));
    }
    if let (Some(min), Some(max)) = (written.min_length, written.max_length)
        && min > max
    {
        mistakes.push(("max_length", format!("must be at least min_length ({min})")));
    }
    let pattern = match written
        .pattern
        .as_deref()
        .filter(|_| ty == ColumnType::String)
    {
        Some(text) => match Regex::new(&format!("^(?:{text})$")) {
            Ok(regex) => Some(regex),
            Err(e) => {
                // regex's syntax errors draw a caret over several lines: keep
                // the last one, which says what is wrong.
                let full = e.to_string();
                let reason = full
                    .lines()
                    .last()
                    .and_then(|line| line.strip_prefix("error: "))
                    .unwrap_or(&full);
                mistakes.push(("pattern", format!("does not compile: {reason}")));
                None
            }
        },
        None => None,
    };
    let allowed = match written
        .allowed
        .as_ref()
        .filter(|_| ty != ColumnType::Double)
    {
        Some(values) => {
            if values.is_empty() {
                mistakes.push(("allowed", "must list at least one value".to_owned()));
            }
            let mut keys = HashSet::new();
            for value in values {
                let key = plain
                    .as_ref()
                    .and_then(|p| p.parse(value.0.as_bytes()).ok())
                    .map(|v| {
                        let mut key = Vec::new();
                        v.write_key(&mut key);
                        key
                    });
                match key {
                    Some(key) => {
                        keys.insert(key);
                    }
                    None => mistakes.push(("allowed", format!("`{value}` is not a valid {ty}"))),
                }
            }
            Some(keys)
        }
        None => None,
    };
    match parser {
        Some(parser) if mistakes.is_empty() => Ok(Column {
            name: written.name.clone(),
            parser,
            nullable: written.nullable.unwrap_or(!in_key) && !in_key,
            unique: written.unique,
            min,
            max,
            min_length: written.min_length,
            max_length: written.max_length,
            pattern,
            allowed,
        }),
        _ => Err(mistakes),
    }
}

/// A bound kept beyond the text it was read from (bounds are never strings).
fn owned(value: Value<'_>) -> Option<Value<'static>> {
    Some(match value {
        Value::String(_) => return None,
        Value::Int(v) => Value::Int(v),
        Value::BigInt(v) => Value::BigInt(v),
        Value::Double(v) => Value::Double(v),
        Value::Decimal(v) => Value::Decimal(v),
        Value::Boolean(v) => Value::Boolean(v),
        Value::Date(v) => Value::Date(v),
        Value::Timestamp(v) => Value::Timestamp(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::spec::default_null_values;

    fn spec(columns: Vec<ColumnSpec>) -> ContractSpec {
        ContractSpec {
            columns,
            primary_key: Vec::new(),
            null_values: default_null_values(),
            extra_columns: ExtraColumns::Reject,
            on_invalid: OnInvalid::default(),
            default_timezone: "UTC".into(),
        }
    }

    fn problems(spec: &ContractSpec) -> Vec<String> {
        match Contract::compile(spec) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        }
    }

    #[test]
    fn a_sound_contract_compiles() {
        let mut amount = ColumnSpec::new("amount", "decimal(12,2)");
        amount.min = Some(Scalar("0".into()));
        amount.max = Some(Scalar("1000000".into()));
        let mut sku = ColumnSpec::new("sku", "string");
        sku.pattern = Some("SKU-[0-9]{6}".into());
        sku.allowed = Some(vec![Scalar("SKU-000001".into())]);
        let mut s = spec(vec![ColumnSpec::new("id", "bigint"), amount, sku]);
        s.primary_key = vec!["id".into()];
        let contract = Contract::compile(&s).unwrap();
        assert_eq!(contract.primary_key, vec![0]);
        assert!(
            !contract.columns[0].nullable,
            "key columns are not nullable"
        );
        assert_eq!(contract.columns[1].max, Some(Value::Decimal(100_000_000)));
    }

    #[test]
    fn every_mistake_is_reported_with_its_path() {
        let mut bad_min = ColumnSpec::new("name", "string");
        bad_min.min = Some(Scalar("1".into()));
        bad_min.pattern = Some("(".into());
        let mut bad_bound = ColumnSpec::new("n", "int");
        bad_bound.max = Some(Scalar("abc".into()));
        bad_bound.format = Some("%Y".into());
        let mut bad_zone = ColumnSpec::new("at", "timestamp");
        bad_zone.timezone = Some("Mars/Olympus".into());
        let mut nullable_key = ColumnSpec::new("k", "bigint");
        nullable_key.nullable = Some(true);
        let mut s = spec(vec![
            bad_min,
            ColumnSpec::new("wide", "decimal(40,2)"),
            ColumnSpec::new("x", "integer"),
            bad_bound,
            bad_zone,
            ColumnSpec::new("Ingest_Date", "date"),
            ColumnSpec::new("n", "int"),
            nullable_key,
        ]);
        s.primary_key = vec!["k".into(), "missing".into(), "k".into()];
        s.on_invalid.max_invalid_rows = Some(3);
        let found = problems(&s);
        let expected = [
            "columns[0].min: does not apply to type string",
            "columns[0].pattern: does not compile",
            "columns[1].type: `decimal(40,2)`: the precision must be between 1 and 38",
            "columns[2].type: unknown type `integer`",
            "columns[3].format: does not apply to type int",
            "columns[3].max: `abc` is not a valid int",
            "columns[4].timezone: unknown time zone `Mars/Olympus`",
            "columns[5].name: `Ingest_Date` is a partition key",
            "columns[6].name: `n` is already columns[3]",
            "columns[7].nullable: a primary-key column cannot be nullable",
            "primary_key[1]: `missing` is not one of the columns",
            "primary_key[2]: `k` is named twice",
            "on_invalid.max_invalid_rows: only applies with `action: quarantine_rows`",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (found, expected) in found.iter().zip(expected) {
            assert!(
                found.starts_with(expected),
                "{found} should start with {expected}"
            );
        }
    }
}
