//! Checking a parsed registry: every problem at once, each with the path of the value
//! at fault (`tenants[0].sources[1].rules[2].max_rows: must be >= min_rows (10)`).

use std::collections::HashMap;
use std::fmt;

use croner::parser::{CronParser, Seconds, Year};

use super::model::{PostAction, Quote, Registry, Rule, Source, Tenant};
use super::secret::SecretRef;
use crate::contract::Contract;
use crate::engine::spec::{Format, Limits};
use crate::sla::windows::MAX_GRACE_MINUTES;

/// The only registry format version this build understands.
pub const REGISTRY_VERSION: u32 = 1;

/// Most connections a source may allow tributary to open.
pub const MAX_CONNECTIONS: u32 = 64;

/// One thing wrong with a registry, displayed as `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the value at fault is, e.g. `tenants[0].sources[1].rules[2].max_rows`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Registry {
    /// Checks everything deserialization cannot: ids, uniqueness, paths, patterns, cron
    /// expressions, time zones, bounds, format-specific settings, secrets given inline.
    /// Returns every problem found, in document order.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut check = Checker::default();
        check.registry(self);
        if check.problems.is_empty() {
            Ok(())
        } else {
            Err(check.problems)
        }
    }
}

/// The first place each id was used, per kind of id.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    tenant_ids: HashMap<String, String>,
    source_ids: HashMap<String, String>,
    rule_ids: HashMap<String, String>,
}

impl Checker {
    fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn registry(&mut self, registry: &Registry) {
        if registry.version != REGISTRY_VERSION {
            self.report(
                "version",
                format!(
                    "unsupported registry format version {} (expected {REGISTRY_VERSION})",
                    registry.version
                ),
            );
        }
        if registry.tenants.is_empty() {
            self.report("tenants", "must list at least one tenant");
        }
        for (i, tenant) in registry.tenants.iter().enumerate() {
            self.tenant(&format!("tenants[{i}]"), tenant);
        }
    }

    fn tenant(&mut self, at: &str, tenant: &Tenant) {
        self.unique_id(IdKind::Tenant, &format!("{at}.id"), &tenant.id);
        self.timezone(&format!("{at}.timezone"), &tenant.timezone);
        if tenant.sources.is_empty() {
            self.report(format!("{at}.sources"), "must list at least one source");
        }
        for (i, source) in tenant.sources.iter().enumerate() {
            self.source(&format!("{at}.sources[{i}]"), source);
        }
    }

    fn source(&mut self, at: &str, source: &Source) {
        self.unique_id(IdKind::Source, &format!("{at}.id"), &source.id);
        self.not_blank(&format!("{at}.host"), &source.host);
        if source.port == Some(0) {
            self.report(format!("{at}.port"), "must not be 0");
        }
        self.not_blank(&format!("{at}.username"), &source.username);
        self.secret(&format!("{at}.password"), &source.password);
        if source.directories.is_empty() {
            self.report(
                format!("{at}.directories"),
                "must list at least one directory",
            );
        }
        for (i, directory) in source.directories.iter().enumerate() {
            self.absolute(&format!("{at}.directories[{i}]"), directory);
        }
        self.cron(&format!("{at}.poll_schedule"), &source.poll_schedule);
        if source.max_connections == 0 || source.max_connections > MAX_CONNECTIONS {
            self.report(
                format!("{at}.max_connections"),
                format!(
                    "must be between 1 and {MAX_CONNECTIONS}, got {}",
                    source.max_connections
                ),
            );
        }
        self.timezone(&format!("{at}.timezone"), &source.timezone);
        if !source.protocol.uses_tls() && source.tls.ca_bundle.is_some() {
            self.report(
                format!("{at}.tls.ca_bundle"),
                "only applies to protocols ftps and ftps-implicit (this source's protocol is ftp)",
            );
        }
        if let Some(bundle) = &source.tls.ca_bundle {
            self.not_blank(&format!("{at}.tls.ca_bundle"), bundle);
        }
        for (field, value) in [
            ("connect_timeout_secs", source.connect_timeout_secs),
            ("data_timeout_secs", source.data_timeout_secs),
        ] {
            if value == 0 {
                self.report(format!("{at}.{field}"), "must be > 0");
            }
        }
        if source.rules.is_empty() {
            self.report(format!("{at}.rules"), "must list at least one rule");
        }
        for (i, rule) in source.rules.iter().enumerate() {
            self.rule(&format!("{at}.rules[{i}]"), rule);
        }
    }

    fn rule(&mut self, at: &str, rule: &Rule) {
        self.unique_id(IdKind::Rule, &format!("{at}.id"), &rule.id);
        if let Err(err) = rule.r#match.compile() {
            self.report(
                format!("{at}.match.{}", rule.r#match.kind()),
                format!("invalid {}: {}", rule.r#match.kind(), err.reason()),
            );
        }
        if let Err(message) = check_id(&rule.dataset) {
            self.report(format!("{at}.dataset"), message);
        }
        self.format_settings(at, rule);
        self.contract(at, rule);
        self.encryption(at, rule);
        for (min_field, min, max_field, max) in [
            ("min_bytes", rule.min_bytes, "max_bytes", rule.max_bytes),
            (
                "min_decoded_bytes",
                rule.min_decoded_bytes,
                "max_decoded_bytes",
                rule.max_decoded_bytes,
            ),
            ("min_rows", rule.min_rows, "max_rows", rule.max_rows),
        ] {
            if let (Some(min), Some(max)) = (min, max)
                && max < min
            {
                self.report(
                    format!("{at}.{max_field}"),
                    format!("must be >= {min_field} ({min})"),
                );
            }
        }
        if let Some(limits) = &rule.limits {
            self.limits(&format!("{at}.limits"), limits);
        }
        if let Some(suffix) = &rule.stability.marker_suffix
            && suffix.is_empty()
        {
            self.report(format!("{at}.stability.marker_suffix"), "must not be empty");
        }
        if let Some(sla) = &rule.sla {
            self.cron(&format!("{at}.sla.expected"), &sla.expected);
            if sla.grace_minutes > MAX_GRACE_MINUTES {
                self.report(
                    format!("{at}.sla.grace_minutes"),
                    format!(
                        "must be at most {MAX_GRACE_MINUTES} (a year), got {}",
                        sla.grace_minutes
                    ),
                );
            }
            if let Some(timezone) = &sla.timezone {
                self.timezone(&format!("{at}.sla.timezone"), timezone);
            }
        }
        if let PostAction::MoveTo(directory) = &rule.post_action {
            self.absolute(&format!("{at}.post_action.move_to"), directory);
        }
    }

    /// Settings that only make sense for some formats, and the csv/tsv characters.
    fn format_settings(&mut self, at: &str, rule: &Rule) {
        let format = rule.format;
        let delimited = matches!(format, Format::Csv | Format::Tsv);
        let only_for =
            |formats: &str| format!("only applies to {formats} (this rule's format is {format})");

        if !delimited {
            for (field, given) in [
                ("header", rule.header.is_some()),
                ("delimiter", rule.delimiter.is_some()),
                ("quote", rule.quote.is_some()),
            ] {
                if given {
                    self.report(format!("{at}.{field}"), only_for("formats csv and tsv"));
                }
            }
            if !rule.required_columns.is_empty() {
                self.report(
                    format!("{at}.required_columns"),
                    only_for("formats csv and tsv"),
                );
            }
        } else {
            let delimiter = match &rule.delimiter {
                Some(d) => match d.byte() {
                    Some(byte) => Some(byte),
                    None => {
                        self.report(
                            format!("{at}.delimiter"),
                            format!(
                                "must be a single ASCII character other than a line break, got {:?}",
                                d.as_str()
                            ),
                        );
                        None
                    }
                },
                None => Some(if format == Format::Tsv { b'\t' } else { b',' }),
            };
            let quote = match rule.quote.as_ref().map(Quote::byte) {
                Some(Ok(quote)) => quote,
                Some(Err(c)) => {
                    self.report(
                        format!("{at}.quote"),
                        format!(
                            "must be a single ASCII character other than a line break, or none; got {:?}",
                            c.as_str()
                        ),
                    );
                    None
                }
                None => Some(b'"'),
            };
            if let (Some(d), Some(q)) = (delimiter, quote)
                && d == q
            {
                self.report(
                    format!("{at}.quote"),
                    format!(
                        "must differ from the delimiter ({:?})",
                        char::from(d).to_string()
                    ),
                );
            }
            if rule.header == Some(false) && !rule.required_columns.is_empty() {
                self.report(
                    format!("{at}.required_columns"),
                    "needs a header row, but header is false",
                );
            }
            for (i, column) in rule.required_columns.iter().enumerate() {
                if column.is_empty() {
                    self.report(format!("{at}.required_columns[{i}]"), "must not be empty");
                }
            }
        }
        match (format, &rule.record_element) {
            (Format::Xml, None) => {
                self.report(format!("{at}.record_element"), "required for format xml");
            }
            (Format::Xml, Some(element)) if element.trim().is_empty() => {
                self.report(format!("{at}.record_element"), "must not be empty");
            }
            (Format::Xml, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                self.report(format!("{at}.record_element"), only_for("format xml"));
            }
        }
        if rule.parse_json && format != Format::Jsonl {
            self.report(format!("{at}.parse_json"), only_for("format jsonl"));
        }
    }

    /// Keys, encryption layers and associated data agree with each other.
    fn encryption(&mut self, at: &str, rule: &Rule) {
        if let Some(key) = &rule.key {
            self.secret(&format!("{at}.key"), key);
        }
        let encryption = rule.layers.as_ref().map(|layers| {
            layers
                .iter()
                .copied()
                .filter(|l| l.needs_key())
                .collect::<Vec<_>>()
        });
        match (&rule.key, &encryption) {
            (None, Some(layers)) if !layers.is_empty() => {
                let names: Vec<&str> = layers.iter().map(|l| l.name()).collect();
                self.report(
                    format!("{at}.key"),
                    format!("required: layers include {}", names.join(", ")),
                );
            }
            (Some(_), Some(layers)) if layers.is_empty() => {
                self.report(
                    format!("{at}.key"),
                    "given, but layers include no encryption layer (aes-256-gcm or aes-256-gcm-hkdf-stream)",
                );
            }
            _ => {}
        }
        if rule.associated_data.is_some() && rule.key.is_none() {
            self.report(
                format!("{at}.associated_data"),
                "only applies to encrypted files (give a key)",
            );
        }
    }

    /// The data contract: compiled as the engine would, every mistake reported.
    fn contract(&mut self, at: &str, rule: &Rule) {
        let Some(contract) = rule.contract("UTC") else {
            for (field, given) in [
                ("primary_key", !rule.primary_key.is_empty()),
                ("null_values", rule.null_values.is_some()),
                ("extra_columns", rule.extra_columns.is_some()),
                ("on_invalid", rule.on_invalid.is_some()),
            ] {
                if given {
                    self.report(
                        format!("{at}.{field}"),
                        "is part of a data contract, which needs `columns`",
                    );
                }
            }
            return;
        };
        if rule.format == Format::Xml {
            self.report(
                format!("{at}.columns"),
                "data contracts apply to formats csv, tsv and jsonl (this rule's format is xml)",
            );
            return;
        }
        if let Err(problems) = Contract::compile(&contract) {
            for problem in problems {
                self.report(format!("{at}.{}", problem.path), problem.message);
            }
        }
    }

    fn limits(&mut self, at: &str, limits: &Limits) {
        let Limits {
            max_decoded_bytes,
            max_expansion_ratio,
            expansion_check_after_bytes,
            max_record_bytes,
            max_xml_depth,
            max_whole_file_aead_bytes,
            unique_memory_bytes,
        } = *limits;
        for (field, value) in [
            ("max_decoded_bytes", max_decoded_bytes),
            ("max_expansion_ratio", max_expansion_ratio),
            ("expansion_check_after_bytes", expansion_check_after_bytes),
            ("max_record_bytes", max_record_bytes),
            ("max_xml_depth", u64::from(max_xml_depth)),
            ("max_whole_file_aead_bytes", max_whole_file_aead_bytes),
            ("unique_memory_bytes", unique_memory_bytes),
        ] {
            if value == 0 {
                self.report(format!("{at}.{field}"), "must be > 0");
            }
        }
    }

    fn unique_id(&mut self, kind: IdKind, at: &str, id: &str) {
        if let Err(message) = check_id(id) {
            self.report(at, message);
            return;
        }
        let seen = match kind {
            IdKind::Tenant => &mut self.tenant_ids,
            IdKind::Source => &mut self.source_ids,
            IdKind::Rule => &mut self.rule_ids,
        };
        if let Some(first) = seen.get(id) {
            let message = format!(
                "duplicate {} id {id:?} (first used at {first})",
                kind.name()
            );
            self.report(at, message);
        } else {
            seen.insert(id.to_owned(), at.to_owned());
        }
    }

    fn secret(&mut self, at: &str, secret: &SecretRef) {
        match secret.name() {
            None => self.report(
                at,
                "given inline; store it in Secrets Manager or SSM and reference it as \
                 {secrets_manager: NAME} or {ssm: NAME}",
            ),
            Some(name) if name.trim().is_empty() => {
                self.report(format!("{at}.{}", secret.kind()), "must not be empty");
            }
            Some(_) => {}
        }
    }

    fn absolute(&mut self, at: &str, path: &str) {
        if !path.starts_with('/') {
            self.report(
                at,
                format!("must be an absolute path (start with /), got {path:?}"),
            );
        }
    }

    fn not_blank(&mut self, at: &str, value: &str) {
        if value.trim().is_empty() {
            self.report(at, "must not be empty");
        }
    }

    fn cron(&mut self, at: &str, expression: &str) {
        match parse_cron(expression) {
            Err(reason) => self.report(
                at,
                format!("invalid cron expression {expression:?}: {reason}"),
            ),
            // A valid expression for a day no month has (`0 6 31 2 *`).
            Ok(cron) if cron.find_next_occurrence(&cron_epoch(), false).is_err() => self.report(
                at,
                format!("cron expression {expression:?} never fires (no month has that day)"),
            ),
            Ok(_) => {}
        }
    }

    fn timezone(&mut self, at: &str, name: &str) {
        if name.parse::<chrono_tz::Tz>().is_err() {
            self.report(
                at,
                format!("unknown time zone {name:?} (expected an IANA name such as \"Europe/Paris\" or \"UTC\")"),
            );
        }
    }
}

#[derive(Clone, Copy)]
enum IdKind {
    Tenant,
    Source,
    Rule,
}

impl IdKind {
    fn name(self) -> &'static str {
        match self {
            IdKind::Tenant => "tenant",
            IdKind::Source => "source",
            IdKind::Rule => "rule",
        }
    }
}

/// Ids and dataset names end up in S3 keys: 1–64 characters of `[a-z0-9_-]`,
/// starting with a letter or digit.
pub fn check_id(id: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a valid id: use 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit"
        ))
    }
}

/// Where "does it ever fire" is searched from (croner searches up to year
/// 5000, so a leap day is found from any start).
fn cron_epoch() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Parses a standard 5-field cron expression (minute hour day-of-month month
/// day-of-week; no seconds, no year) with croner.
pub fn parse_cron(expression: &str) -> Result<croner::Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
}
