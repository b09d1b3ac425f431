//! `tributary registry …`: validate a registry file (every problem at once, each
//! with its path) and print the JSON Schema editors use.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use tributary::registry::{LoadError, Registry, registry_json_schema};

use crate::exit::Outcome;

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Check a registry (YAML or JSON): print every problem with its path; exit 1
    /// when there are any.
    Validate {
        /// The registry file (`.json` is read as JSON, anything else as YAML).
        file: PathBuf,
    },
    /// Print the registry's JSON Schema (the one in docs/registry.schema.json).
    Schema,
}

pub fn run(command: &RegistryCommand) -> anyhow::Result<Outcome> {
    match command {
        RegistryCommand::Validate { file } => validate(file),
        RegistryCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&registry_json_schema())?);
            Ok(Outcome::Success)
        }
    }
}

fn validate(file: &Path) -> anyhow::Result<Outcome> {
    let registry = match Registry::load_path(file) {
        Ok(registry) => registry,
        // A file that cannot be read is a usage error; one that does not parse is
        // a problem of the registry, reported like the others.
        Err(error @ LoadError::Read { .. }) => return Err(error.into()),
        Err(error) => {
            println!("{error}");
            eprintln!("{}: 1 problem", file.display());
            return Ok(Outcome::Failure);
        }
    };
    match registry.validate() {
        Ok(()) => {
            let sources: usize = registry.tenants.iter().map(|t| t.sources.len()).sum();
            let rules: usize = registry
                .tenants
                .iter()
                .flat_map(|t| &t.sources)
                .map(|s| s.rules.len())
                .sum();
            println!(
                "{}: valid ({} tenants, {sources} sources, {rules} rules)",
                file.display(),
                registry.tenants.len()
            );
            Ok(Outcome::Success)
        }
        Err(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            let n = problems.len();
            eprintln!(
                "{}: {n} problem{}",
                file.display(),
                if n == 1 { "" } else { "s" }
            );
            Ok(Outcome::Failure)
        }
    }
}

/// Loads and validates a registry for another command; problems are an error.
pub fn load_valid(file: &Path) -> anyhow::Result<Registry> {
    let registry =
        Registry::load_path(file).with_context(|| format!("registry {}", file.display()))?;
    if let Err(problems) = registry.validate() {
        anyhow::bail!(
            "registry {} has {} problem(s), first: {}; run `tributary registry validate {}`",
            file.display(),
            problems.len(),
            problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            file.display()
        );
    }
    Ok(registry)
}
