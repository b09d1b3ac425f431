//! `tributary schema infer`: proposes a rule's `columns:` from a sample of a
//! tenant's file (the inference is `tributary::contract::infer`), printed as
//! YAML to review and paste into the rule.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use tributary::contract::infer::{self, DEFAULT_SAMPLE_ROWS, InferError, InferOptions};
use tributary::engine::spec::{Format, ParseSpec};

use crate::exit::Outcome;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Read a sample of FILE and print a `columns:` block (YAML) for its rule:
    /// each column with the narrowest type every sampled value has.
    Infer(InferArgs),
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// The file (gzip and bzip2 are undone, from the name and magic bytes).
    file: PathBuf,
    /// Format of the records (default: from the name, `.csv`, `.tsv`,
    /// `.jsonl` under any `.gz`/`.bz2`; else csv).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Data rows to read at most.
    #[arg(long, default_value_t = DEFAULT_SAMPLE_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    rows: u64,
    /// csv/tsv field delimiter, one byte (`;`, `|`, `tab`).
    #[arg(long, value_parser = parse_delimiter)]
    delimiter: Option<u8>,
    /// The csv/tsv file has no header record: columns are `column_1`, `column_2`…
    #[arg(long)]
    no_header: bool,
    /// A value that reads as null (repeat the flag for several; default: the
    /// empty value only). Put the same list in the rule's `null_values`.
    #[arg(long = "null-value", value_name = "VALUE")]
    null_values: Vec<String>,
    /// The tenant's time zone, in which local timestamps are read.
    #[arg(long, default_value = "UTC")]
    timezone: String,
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s.parse::<Format>() {
        Ok(Format::Xml) => Err("schema infer reads csv, tsv and jsonl files".to_owned()),
        Ok(format) => Ok(format),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" => Ok(b'\t'),
        _ => match s.as_bytes() {
            [byte] => Ok(*byte),
            _ => Err("one byte, or `tab`".to_owned()),
        },
    }
}

pub fn run(command: &SchemaCommand) -> anyhow::Result<Outcome> {
    match command {
        SchemaCommand::Infer(args) => infer_schema(args),
    }
}

fn infer_schema(args: &InferArgs) -> anyhow::Result<Outcome> {
    let name = args.file.to_string_lossy();
    let format = args
        .format
        .or_else(|| infer::format_from_name(&name))
        .unwrap_or(Format::Csv);
    let mut options = InferOptions::new(format);
    options.parse = ParseSpec::new(format);
    if let Some(delimiter) = args.delimiter {
        options.parse.delimiter = delimiter;
    }
    if args.no_header {
        options.parse.header = false;
    }
    options.rows = args.rows;
    if !args.null_values.is_empty() {
        options.null_values = args.null_values.clone();
    }
    options.timezone = args.timezone.clone();
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let inference = match infer::infer_file(BufReader::new(file), &name, &options) {
        Ok(inference) => inference,
        Err(error) if is_the_files_fault(&error) => {
            eprintln!("tributary: {}: {error}", args.file.display());
            return Ok(Outcome::Failure);
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", args.file.display()));
        }
    };
    let layers = if inference.layers.is_empty() {
        String::new()
    } else {
        let names: Vec<_> = inference.layers.iter().map(|l| l.name()).collect();
        format!(", layers: {}", names.join(", "))
    };
    let shown: String = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "# tributary schema infer {shown} ({format}{layers})")?;
    out.write_all(inference.to_yaml().as_bytes())?;
    out.flush()?;
    for note in inference.all_notes() {
        eprintln!("note: {note}");
    }
    Ok(Outcome::Success)
}

/// Whether the file itself is the problem (exit 1), not how it was asked for.
fn is_the_files_fault(error: &InferError) -> bool {
    matches!(
        error,
        InferError::Decode(_)
            | InferError::RecordTooLong { .. }
            | InferError::Malformed { .. }
            | InferError::NoColumns
            | InferError::TooManyColumns { .. }
    )
}
