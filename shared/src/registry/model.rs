//! The registry's data types as the data platform team writes them (YAML or JSON):
//! tenants → sources → file rules, with their defaults.
//!
//! Deserializing only checks shape (unknown fields are errors, values have the right
//! type); every rule about values (ids, paths, cron, time zones, bounds) is checked by
//! [`Registry::validate`](super::Registry::validate), which reports all problems at once.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::secret::SecretRef;
use crate::contract::spec::default_null_values;
use crate::contract::{ColumnSpec, ContractSpec, ExtraColumns, OnInvalid};
use crate::engine::spec::{Bounds, Format, Layer, Limits, ParseSpec, ValidationSpec};

/// What ids and dataset names look like (they are part of S3 keys); see
/// [`check_id`](super::check_id).
pub const ID_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

/// The whole registry: every tenant, its FTP/FTPS sources and their file rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tributary registry")]
pub struct Registry {
    /// Registry format version; must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The tenants whose files are ingested.
    #[schemars(length(min = 1))]
    pub tenants: Vec<Tenant>,
}

/// A tenant: one company dropping files, with its sources.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Tenant id: 1–64 characters of `a-z`, `0-9`, `_`, `-`, starting with a letter or
    /// digit (it is part of S3 keys). Unique in the registry.
    #[schemars(pattern(ID_PATTERN))]
    pub id: String,
    /// Human-readable name, for alerts and reports.
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone of the tenant (e.g. `Europe/Paris`); SLAs are evaluated in it
    /// unless they name their own. Default `UTC`.
    #[serde(default = "utc")]
    pub timezone: String,
    /// The FTP/FTPS servers this tenant drops files on.
    #[schemars(length(min = 1))]
    pub sources: Vec<Source>,
}

/// How to talk to an FTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Plain FTP (default port 21). Credentials and data travel in clear text.
    Ftp,
    /// Explicit FTPS: connect in clear, then `AUTH TLS` (default port 21).
    Ftps,
    /// Implicit FTPS: TLS from the first byte (default port 990).
    FtpsImplicit,
}

impl Protocol {
    /// The name used in the registry.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ftp => "ftp",
            Protocol::Ftps => "ftps",
            Protocol::FtpsImplicit => "ftps-implicit",
        }
    }

    /// The port used when a source does not give one.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Ftp | Protocol::Ftps => 21,
            Protocol::FtpsImplicit => 990,
        }
    }

    /// Whether the connection is protected by TLS.
    pub fn uses_tls(self) -> bool {
        !matches!(self, Protocol::Ftp)
    }
}

/// TLS settings of an `ftps` / `ftps-implicit` source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TlsOptions {
    /// Verify the server's certificate chain and host name. Default true; turn off only
    /// for a server you reach over a private link, and prefer `ca_bundle`.
    pub verify_certificate: bool,
    /// Path to a PEM bundle of the CA certificates trusted for this server (e.g. a
    /// tenant's private CA). When given, only these are trusted (the server is pinned
    /// to them); otherwise Mozilla's public roots are.
    pub ca_bundle: Option<String>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            verify_certificate: true,
            ca_bundle: None,
        }
    }
}

/// One FTP/FTPS server (an account on it) and the files to take from it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Source id, same syntax as a tenant id. Unique in the whole registry.
    #[schemars(pattern(ID_PATTERN))]
    pub id: String,
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port of the control connection. Default 21, or 990 for `ftps-implicit`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `ftp`, `ftps` (explicit, `AUTH TLS`) or `ftps-implicit`.
    pub protocol: Protocol,
    /// Passive mode (`PASV`/`EPSV`); active mode is rarely reachable from AWS. Default true.
    #[serde(default = "yes")]
    pub passive: bool,
    /// Login name.
    pub username: String,
    /// Reference to the password (never the password itself).
    pub password: SecretRef,
    /// Absolute directories to list.
    #[schemars(length(min = 1), inner(pattern("^/")))]
    pub directories: Vec<String>,
    /// List sub-directories too. Default false.
    #[serde(default)]
    pub recursive: bool,
    /// How many levels below each directory are listed when `recursive`. Default 5.
    #[serde(default = "default_max_depth")]
    pub max_depth: u32,
    /// When to poll: 5-field cron expression (minute hour day-of-month month
    /// day-of-week), in UTC. Default every 15 minutes.
    #[serde(default = "default_poll_schedule")]
    pub poll_schedule: String,
    /// Most simultaneous connections tributary opens to this server (1–64). Default 2.
    #[serde(default = "default_max_connections")]
    #[schemars(range(min = 1, max = 64))]
    pub max_connections: u32,
    /// IANA time zone of the modification times the server lists. Default `UTC`.
    #[serde(default = "utc")]
    pub timezone: String,
    /// TLS settings (ftps and ftps-implicit only).
    #[serde(default)]
    pub tls: TlsOptions,
    /// Connect passive data connections to the control connection's address
    /// instead of the address a `PASV` reply names. Unset or true (the default):
    /// always, as curl does (servers behind NAT announce private addresses, and a
    /// hostile server could aim the connection elsewhere). `false`: trust the
    /// announced address (a multi-homed server whose data port is elsewhere).
    #[serde(default)]
    pub nat_workaround: Option<bool>,
    /// Seconds to wait for the control connection. Default 10.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u32,
    /// Seconds a data transfer may stall before it is abandoned. Default 60.
    #[serde(default = "default_data_timeout_secs")]
    pub data_timeout_secs: u32,
    /// Stop polling this source (files already discovered are still ingested). Default false.
    #[serde(default)]
    pub paused: bool,
    /// File rules; the first rule whose `match` matches a path applies to it.
    #[schemars(length(min = 1))]
    pub rules: Vec<Rule>,
}

impl Source {
    /// The control port: the one given, or the protocol's default (21, or 990 for
    /// `ftps-implicit`).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.protocol.default_port())
    }
}

/// A single ASCII character given as a one-character string (`","`, `"|"`, `"\t"`).
///
/// Any string deserializes; [`Registry::validate`](super::Registry::validate) reports
/// one that is not a single ASCII character, and [`AsciiChar::byte`] returns `None` for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct AsciiChar(pub String);

impl AsciiChar {
    /// The byte, when the text is exactly one ASCII character other than a line break.
    pub fn byte(&self) -> Option<u8> {
        match self.0.as_bytes() {
            [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Some(*b),
            _ => None,
        }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for AsciiChar {
    fn schema_name() -> Cow<'static, str> {
        "AsciiChar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A single ASCII character, e.g. \",\", \"|\" or \"\\t\".",
            "type": "string",
            "minLength": 1,
            "maxLength": 1
        })
    }
}

/// The quote character of a csv/tsv file: a single character, or `none` when quotes
/// are ordinary data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quote {
    /// `none`: no quoting.
    Disabled,
    /// A quote character.
    Char(AsciiChar),
}

impl Quote {
    /// The engine's quote setting (`None` for no quoting), or the character as written
    /// when it is not a single ASCII character.
    pub fn byte(&self) -> Result<Option<u8>, &AsciiChar> {
        match self {
            Quote::Disabled => Ok(None),
            Quote::Char(c) => c.byte().map(Some).ok_or(c),
        }
    }
}

impl<'de> Deserialize<'de> for Quote {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(if text == "none" {
            Quote::Disabled
        } else {
            Quote::Char(AsciiChar(text))
        })
    }
}

impl JsonSchema for Quote {
    fn schema_name() -> Cow<'static, str> {
        "Quote".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let char_schema = generator.subschema_for::<AsciiChar>();
        json_schema!({
            "description": "A single quote character, or `none` when quotes are ordinary data.",
            "anyOf": [
                { "const": "none" },
                char_schema
            ]
        })
    }
}

/// Which paths a rule applies to: exactly one of `glob` or `regex`, matched against the
/// full path as listed (e.g. `/outgoing/sales_2024-05-01.csv.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    /// A glob on the whole path; `*` and `?` do not cross `/`, `**` does.
    Glob(String),
    /// A regular expression (Rust `regex` syntax) that must match the whole path, as if
    /// wrapped in `^(?:…)$`.
    Regex(String),
}

/// What to do with a file on the server once it was ingested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostAction {
    /// Leave the file where it is (the ledger remembers it was ingested). The default.
    #[default]
    Leave,
    /// Delete the file.
    Delete,
    /// Move the file into this absolute directory on the server (e.g. `/archive`).
    MoveTo(String),
}

/// Which outcomes of a file are published to SNS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyPolicy {
    /// Only rejected, failed and late files. The default.
    #[default]
    Failures,
    /// Every outcome, ingested files included.
    All,
    /// Nothing (the ledger still records every outcome).
    None,
}

/// How the poller decides that a file is complete (no longer being written).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Stability {
    /// The file's modification time must be at least this many seconds old.
    pub min_age_secs: Option<u64>,
    /// Size and modification time must be unchanged across two polls. Default true.
    pub require_unchanged: bool,
    /// A marker file `<path><suffix>` (e.g. `.done`) must exist next to the file.
    pub marker_suffix: Option<String>,
}

impl Default for Stability {
    fn default() -> Self {
        Stability {
            min_age_secs: None,
            require_unchanged: true,
            marker_suffix: None,
        }
    }
}

/// When a file is due; a window with no ingested file by its deadline raises one alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Expected arrival: 5-field cron expression (e.g. `0 6 * * 1-5`, 06:00 on weekdays).
    pub expected: String,
    /// IANA time zone of `expected`; default: the tenant's.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Minutes after the expected time before the file counts as late. Default 30.
    #[serde(default = "default_grace_minutes")]
    pub grace_minutes: u32,
}

impl Sla {
    /// The time zone `expected` is evaluated in: the SLA's own, else the tenant's.
    pub fn timezone<'a>(&'a self, tenant: &'a Tenant) -> &'a str {
        self.timezone.as_deref().unwrap_or(&tenant.timezone)
    }
}

/// A file rule: which paths it covers, what a valid file looks like, and what happens
/// around its ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Rule id, same syntax as a tenant id. Unique in the whole registry.
    #[schemars(pattern(ID_PATTERN))]
    pub id: String,
    /// Which paths this rule applies to.
    #[serde(rename = "match")]
    pub r#match: PathMatch,
    /// Dataset name (same syntax as ids); part of the S3 key and the Glue job name.
    #[schemars(pattern(ID_PATTERN))]
    pub dataset: String,
    /// How records are split: `csv`, `tsv`, `jsonl` or `xml`.
    pub format: Format,
    /// csv/tsv field delimiter. Default `,` for csv, tab for tsv.
    #[serde(default)]
    pub delimiter: Option<AsciiChar>,
    /// csv/tsv quote character, or `none`. Default `"`.
    #[serde(default)]
    pub quote: Option<Quote>,
    /// csv/tsv: whether the first record is a header (not counted). Default true.
    #[serde(default)]
    pub header: Option<bool>,
    /// xml only (required there): the element whose occurrences are the records.
    #[serde(default)]
    pub record_element: Option<String>,
    /// jsonl only: parse every line as JSON and reject the file if one is invalid.
    #[serde(default)]
    pub parse_json: bool,
    /// Layers to undo, in order (e.g. `[aes-256-gcm, gzip]`). Unset: inferred from the
    /// file name's extensions and magic bytes. `[]`: the file is plain.
    #[serde(default)]
    pub layers: Option<Vec<Layer>>,
    /// Reference to the base64 data key (32 bytes) for encrypted files.
    #[serde(default)]
    pub key: Option<SecretRef>,
    /// Associated data (UTF-8 text) the tenant bound to the ciphertext. Default empty.
    #[serde(default)]
    pub associated_data: Option<String>,
    /// csv/tsv with a header: columns the header must contain.
    #[serde(default)]
    pub required_columns: Vec<String>,
    /// Fewest bytes as received (before decryption/decompression).
    #[serde(default)]
    pub min_bytes: Option<u64>,
    /// Most bytes as received.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Fewest bytes once every layer was undone.
    #[serde(default)]
    pub min_decoded_bytes: Option<u64>,
    /// Most bytes once every layer was undone.
    #[serde(default)]
    pub max_decoded_bytes: Option<u64>,
    /// Fewest data rows (header excluded).
    #[serde(default)]
    pub min_rows: Option<u64>,
    /// Most data rows (header excluded).
    #[serde(default)]
    pub max_rows: Option<u64>,
    /// Reject files whose decoded bytes are not valid UTF-8. Default false.
    #[serde(default)]
    pub require_utf8: bool,
    /// The data contract (csv, tsv, jsonl): the columns in file order, each with
    /// its type and checks. With `header: false`, matched by position.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// Columns whose combined values must be unique and present.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Values that read as null, compared as written. Default `[""]`.
    #[serde(default)]
    pub null_values: Option<Vec<String>>,
    /// `reject` (default) or `ignore` columns the file has and `columns` does not name.
    #[serde(default)]
    pub extra_columns: Option<ExtraColumns>,
    /// What invalid rows do to the file: `reject_file` (default) or
    /// `quarantine_rows` within limits.
    #[serde(default)]
    pub on_invalid: Option<OnInvalid>,
    /// Safety limits against hostile files; unset fields keep the engine's defaults.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// How the poller decides a file is complete.
    #[serde(default)]
    pub stability: Stability,
    /// When files are due; unset: no lateness alerts.
    #[serde(default)]
    pub sla: Option<Sla>,
    /// `leave` (default), `delete`, or `{move_to: /archive}` once ingested.
    #[serde(default)]
    pub post_action: PostAction,
    /// `failures` (default), `all` or `none`.
    #[serde(default)]
    pub notify: NotifyPolicy,
}

impl Rule {
    /// The rule's data contract, when it lists `columns`; timestamps without an
    /// offset or a column zone are read in `tenant_timezone`.
    pub fn contract(&self, tenant_timezone: &str) -> Option<ContractSpec> {
        if self.columns.is_empty() {
            return None;
        }
        Some(ContractSpec {
            columns: self.columns.clone(),
            primary_key: self.primary_key.clone(),
            null_values: self.null_values.clone().unwrap_or_else(default_null_values),
            extra_columns: self.extra_columns.unwrap_or_default(),
            on_invalid: self.on_invalid.clone().unwrap_or_default(),
            default_timezone: tenant_timezone.to_owned(),
        })
    }

    /// The engine's spec for this rule: the format's parse defaults overridden by the
    /// rule, its bounds, its limits (the engine's defaults when absent), its layers,
    /// associated data and data contract (`tenant_timezone` is the tenant's zone).
    ///
    /// Infallible: a setting that validation would report (a delimiter that is not one
    /// ASCII character, a header for jsonl) falls back to the format's default.
    pub fn validation_spec(&self, tenant_timezone: &str) -> ValidationSpec {
        let mut parse = ParseSpec::new(self.format);
        if matches!(self.format, Format::Csv | Format::Tsv) {
            if let Some(byte) = self.delimiter.as_ref().and_then(AsciiChar::byte) {
                parse.delimiter = byte;
            }
            if let Some(Ok(quote)) = self.quote.as_ref().map(Quote::byte) {
                parse.quote = quote;
            }
            if let Some(header) = self.header {
                parse.header = header;
            }
        }
        if self.format == Format::Xml {
            parse.record_element = self.record_element.clone();
        }
        parse.parse_json = self.format == Format::Jsonl && self.parse_json;

        ValidationSpec {
            layers: self.layers.clone(),
            parse,
            bounds: Bounds {
                min_bytes: self.min_bytes,
                max_bytes: self.max_bytes,
                min_decoded_bytes: self.min_decoded_bytes,
                max_decoded_bytes: self.max_decoded_bytes,
                min_rows: self.min_rows,
                max_rows: self.max_rows,
                required_columns: self.required_columns.clone(),
                require_utf8: self.require_utf8,
            },
            limits: self.limits.unwrap_or_default(),
            associated_data: self
                .associated_data
                .as_deref()
                .map(|text| text.as_bytes().to_vec())
                .unwrap_or_default(),
            contract: self.contract(tenant_timezone),
            ..ValidationSpec::new(self.format)
        }
    }

    /// The compiled path matcher of this rule (shorthand for `rule.r#match.compile()`).
    pub fn matcher(&self) -> Result<super::PathMatcher, super::PatternError> {
        self.r#match.compile()
    }
}

fn utc() -> String {
    "UTC".to_owned()
}

fn yes() -> bool {
    true
}

fn default_max_depth() -> u32 {
    5
}

fn default_poll_schedule() -> String {
    "*/15 * * * *".to_owned()
}

fn default_max_connections() -> u32 {
    2
}

fn default_connect_timeout_secs() -> u32 {
    10
}

fn default_data_timeout_secs() -> u32 {
    60
}

fn default_grace_minutes() -> u32 {
    30
}
