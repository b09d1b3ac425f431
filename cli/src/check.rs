//! `tributary check`: runs the engine on a local file with a rule from a registry
//! or from flags, and prints the engine's report as JSON on stdout.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use tributary::contract::check::DEFAULT_MAX_ROW_ERRORS;
use tributary::engine::data_key::DataKey;
use tributary::engine::spec::{Format, Layer, ParseSpec, ValidationSpec};
use tributary::engine::validate;
use tributary::registry::{Registry, Rule, Tenant};
use tributary::secrets::{LocalSecrets, SecretError};

use crate::exit::Outcome;
use crate::registry_cmd::load_valid;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file to check.
    file: PathBuf,

    /// Registry holding the rule to check the file against.
    #[arg(long, requires = "rule")]
    registry: Option<PathBuf>,
    /// Id of the rule in the registry (its format, layers, bounds, key…).
    #[arg(long, requires = "registry")]
    rule: Option<String>,

    /// Format of the records (default: csv, or the rule's).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Element whose occurrences are the records of an XML file.
    #[arg(long)]
    record_element: Option<String>,
    /// Layers to undo, in order, e.g. `aes-256-gcm-hkdf-stream,gzip`
    /// (default: inferred from the extensions and magic bytes; `none` for none).
    #[arg(long)]
    layers: Option<String>,
    /// The first csv/tsv record is a header (the default).
    #[arg(long, overrides_with = "no_header")]
    header: bool,
    /// The csv/tsv file has no header record.
    #[arg(long, overrides_with = "header")]
    no_header: bool,
    #[arg(long)]
    min_rows: Option<u64>,
    #[arg(long)]
    max_rows: Option<u64>,
    /// Bounds on the bytes as received (compressed/encrypted).
    #[arg(long)]
    min_bytes: Option<u64>,
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Columns the header must contain, comma-separated.
    #[arg(long, value_delimiter = ',')]
    required_columns: Vec<String>,
    /// Reject decoded bytes that are not valid UTF-8.
    #[arg(long)]
    require_utf8: bool,
    /// jsonl: every line must parse as JSON (not only be non-empty).
    #[arg(long)]
    parse_json: bool,
    /// File holding the 32-byte key, base64 on one line (as stored in Secrets
    /// Manager); for the Tink format, the key's input key material.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Row errors listed in the report (the first ones, by record); the
    /// counts cover them all.
    #[arg(long, default_value_t = DEFAULT_MAX_ROW_ERRORS)]
    max_row_errors: usize,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
        .map_err(|e: tributary::engine::spec::UnknownFormat| e.to_string())
}

fn parse_layers(list: &str) -> anyhow::Result<Vec<Layer>> {
    if list == "none" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|name| name.trim().parse::<Layer>().map_err(anyhow::Error::from))
        .collect()
}

/// The spec from the rule (if any, with its tenant's time zone), then the
/// flags on top.
fn spec_from_flags(
    args: &CheckArgs,
    rule: Option<(&Tenant, &Rule)>,
) -> anyhow::Result<ValidationSpec> {
    let mut spec = match rule {
        Some((tenant, rule)) => rule.validation_spec(&tenant.timezone),
        None => ValidationSpec::new(Format::Csv),
    };
    spec.max_row_errors = args.max_row_errors;
    // A --format other than the rule's starts from that format's defaults; the
    // same format keeps the rule's delimiter, quote, header and record element.
    if let Some(format) = args.format.filter(|f| *f != spec.parse.format) {
        let record_element = spec.parse.record_element.take();
        spec.parse = ParseSpec::new(format);
        spec.parse.record_element = record_element;
    }
    if let Some(list) = &args.layers {
        spec.layers = Some(parse_layers(list).context("--layers")?);
    }
    if args.header {
        spec.parse.header = true;
    }
    if args.no_header {
        spec.parse.header = false;
    }
    spec.parse.parse_json |= args.parse_json;
    if let Some(element) = &args.record_element {
        spec.parse.record_element = Some(element.clone());
    }
    if spec.parse.format == Format::Xml && spec.parse.record_element.is_none() {
        bail!("--format xml needs --record-element NAME");
    }
    let bounds = &mut spec.bounds;
    bounds.min_rows = args.min_rows.or(bounds.min_rows);
    bounds.max_rows = args.max_rows.or(bounds.max_rows);
    bounds.min_bytes = args.min_bytes.or(bounds.min_bytes);
    bounds.max_bytes = args.max_bytes.or(bounds.max_bytes);
    if !args.required_columns.is_empty() {
        bounds.required_columns = args.required_columns.clone();
    }
    bounds.require_utf8 |= args.require_utf8;
    Ok(spec)
}

fn read_key(path: &PathBuf) -> anyhow::Result<DataKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    DataKey::from_base64(&text).with_context(|| format!("key file {}", path.display()))
}

/// The key for a rule: the key file if given, else the rule's own reference when
/// it can be read locally (`env`, `file`).
fn key_for(args: &CheckArgs, rule: Option<&Rule>) -> anyhow::Result<Option<DataKey>> {
    if let Some(path) = &args.key_file {
        return read_key(path).map(Some);
    }
    let Some(reference) = rule.and_then(|r| r.key.as_ref()) else {
        return Ok(None);
    };
    let value = match LocalSecrets.resolve_now(reference) {
        Ok(value) => value,
        Err(SecretError::NotLocal { .. }) => bail!(
            "the rule's key is in {} ({}); pass it with --key-file",
            reference.kind(),
            reference.name().unwrap_or("?")
        ),
        Err(error) => return Err(anyhow::Error::new(error).context("the rule's key")),
    };
    DataKey::from_base64(value.expose())
        .map(Some)
        .context("the rule's key")
}

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let registry = args.registry.as_deref().map(load_valid).transpose()?;
    let found = match (&registry, &args.rule) {
        (Some(registry), Some(id)) => match registry.find_rule(id) {
            Some((tenant, _, rule)) => Some((tenant, rule)),
            None => bail!(
                "no rule `{id}` in {}; its rules are: {}",
                args.registry
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                rule_ids(registry).join(", ")
            ),
        },
        _ => None,
    };
    let spec = spec_from_flags(args, found)?;
    let key = key_for(args, found.map(|(_, rule)| rule))?;
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let name = args.file.to_string_lossy();
    let report = validate(BufReader::new(file), &name, &spec, key.as_ref(), io::sink())
        .with_context(|| format!("cannot check {}", args.file.display()))?;
    serde_json::to_writer_pretty(io::stdout().lock(), &report)?;
    println!();
    Ok(if report.accepted() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn rule_ids(registry: &Registry) -> Vec<&str> {
    registry
        .tenants
        .iter()
        .flat_map(|t| &t.sources)
        .flat_map(|s| &s.rules)
        .map(|r| r.id.as_str())
        .collect()
}
