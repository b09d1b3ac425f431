//! Reading a registry from YAML or JSON text or a file, with errors that name the
//! file, line and column (`registry.yaml:12:5: unknown field `foo`, …`).
//!
//! YAML goes through `serde-saphyr` (panic-free) with tight budgets against alias
//! bombs and deep nesting; JSON through `serde_json` (recursion-limited). Both reject
//! input over [`MAX_REGISTRY_BYTES`]. Error messages never carry a snippet of the
//! input, so a secret written inline next to a mistake is not echoed.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use super::model::Registry;

/// Largest registry accepted, in bytes.
pub const MAX_REGISTRY_BYTES: u64 = 16 * 1024 * 1024;

/// The syntax a registry is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Json,
}

impl Syntax {
    /// The syntax a file's extension implies: `.json` is JSON, anything else YAML.
    pub fn of_path(path: &Path) -> Syntax {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Syntax::Json,
            _ => Syntax::Yaml,
        }
    }
}

impl Syntax {
    /// The file extension (and stored tag) of this syntax: `yaml` or `json`.
    pub fn extension(self) -> &'static str {
        match self {
            Syntax::Yaml => "yaml",
            Syntax::Json => "json",
        }
    }

    /// The syntax an [`extension`](Syntax::extension) names, if any.
    pub fn from_extension(extension: &str) -> Option<Syntax> {
        match extension {
            "yaml" => Some(Syntax::Yaml),
            "json" => Some(Syntax::Json),
            _ => None,
        }
    }
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::Yaml => "YAML",
            Syntax::Json => "JSON",
        })
    }
}

/// Why a registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read the registry: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The input is larger than [`MAX_REGISTRY_BYTES`].
    #[error("{}registry is larger than {limit} bytes", prefix(file.as_deref(), None))]
    TooLarge { file: Option<PathBuf>, limit: u64 },
    /// The text is not a registry: a syntax error, an unknown field, a wrong type…
    #[error("{}{message}", prefix(file.as_deref(), *position))]
    Parse {
        /// The file, when loaded from one.
        file: Option<PathBuf>,
        syntax: Syntax,
        /// 1-based line and column, when the parser knows them.
        position: Option<(u64, u64)>,
        /// The parser's message, without location.
        message: String,
    },
}

impl LoadError {
    /// The 1-based line and column of a parse error.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            LoadError::Parse { position, .. } => *position,
            _ => None,
        }
    }
}

/// `file:line:column: `, `file: `, `line L, column C: ` or nothing.
fn prefix(file: Option<&Path>, position: Option<(u64, u64)>) -> String {
    match (file, position) {
        (Some(file), Some((line, column))) => format!("{}:{line}:{column}: ", file.display()),
        (Some(file), None) => format!("{}: ", file.display()),
        (None, Some((line, column))) => format!("line {line}, column {column}: "),
        (None, None) => String::new(),
    }
}

impl Registry {
    /// Parses a registry written in YAML. Call [`Registry::validate`] before using it.
    pub fn from_yaml_str(text: &str) -> Result<Registry, LoadError> {
        parse(text, Syntax::Yaml, None)
    }

    /// Parses a registry written in JSON. Call [`Registry::validate`] before using it.
    pub fn from_json_str(text: &str) -> Result<Registry, LoadError> {
        parse(text, Syntax::Json, None)
    }

    /// Reads and parses a registry file: `.json` as JSON, anything else as YAML. Errors
    /// name the file. Call [`Registry::validate`] before using it.
    pub fn load_path(path: &Path) -> Result<Registry, LoadError> {
        let read_error = |source| LoadError::Read {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|file| file.take(MAX_REGISTRY_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_REGISTRY_BYTES {
            return Err(LoadError::TooLarge {
                file: Some(path.to_owned()),
                limit: MAX_REGISTRY_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|err| {
            read_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not UTF-8 (at byte {})", err.utf8_error().valid_up_to()),
            ))
        })?;
        parse(&text, Syntax::of_path(path), Some(path))
    }
}

fn parse(text: &str, syntax: Syntax, file: Option<&Path>) -> Result<Registry, LoadError> {
    if text.len() as u64 > MAX_REGISTRY_BYTES {
        return Err(LoadError::TooLarge {
            file: file.map(Path::to_owned),
            limit: MAX_REGISTRY_BYTES,
        });
    }
    let parse_error = |position: Option<(u64, u64)>, message: String| LoadError::Parse {
        file: file.map(Path::to_owned),
        syntax,
        position,
        message: one_line(&message),
    };
    match syntax {
        Syntax::Yaml => serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|err| {
            let err = err.without_snippet();
            let position = err
                .location()
                .filter(|loc| loc.line() > 0)
                .map(|loc| (loc.line(), loc.column()));
            parse_error(
                position,
                DefaultMessageFormatter.format_message(err).into_owned(),
            )
        }),
        Syntax::Json => serde_json::from_str(text).map_err(|err| {
            let (line, column) = (err.line() as u64, err.column() as u64);
            let text = err.to_string();
            if line == 0 {
                return parse_error(None, text);
            }
            let suffix = format!(" at line {line} column {column}");
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            parse_error(Some((line, column)), message)
        }),
    }
}

/// YAML budgets sized for registries (thousands of sources, shared anchors) while
/// cutting alias bombs and pathological nesting short.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_nodes: 1_000_000,
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_total_scalar_bytes: MAX_REGISTRY_BYTES as usize,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 200_000,
            max_replay_stack_depth: 16,
        },
    }
}

/// Control characters (line breaks included) escaped, so a message stays on one line
/// and cannot drive a terminal.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
