//! `tributary registry …`: validate a registry file (every problem at once, each
//! with its path), push it as the next stored version (after showing the
//! diff against the current one), and print the JSON Schema editors use.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use tributary::ports::registry_store::RegistryStore;
use tributary::registry::{LoadError, Registry, Syntax, registry_json_schema};

use crate::exit::Outcome;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Check a registry (YAML or JSON): print every problem with its path; exit 1
    /// when there are any.
    Validate {
        /// The registry file (`.json` is read as JSON, anything else as YAML).
        file: PathBuf,
    },
    /// Validate FILE, show its diff against the stored registry, and store it
    /// as the next version (what the functions read).
    Push {
        /// The registry file (`.json` is read as JSON, anything else as YAML).
        file: PathBuf,
        /// Show the diff and store nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the registry's JSON Schema (the one in docs/registry.schema.json).
    Schema,
}

pub fn run(command: &RegistryCommand) -> anyhow::Result<Outcome> {
    match command {
        RegistryCommand::Validate { file } => validate(file),
        RegistryCommand::Push {
            file,
            dry_run,
            target,
        } => push(file, *dry_run, target),
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

fn push(file: &Path, dry_run: bool, target: &TargetArgs) -> anyhow::Result<Outcome> {
    // Every problem is shown before anything is stored (the store checks again).
    load_valid(file)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let syntax = Syntax::of_path(file);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match target.open(false).await? {
            Target::Local(local) => push_to(&local.registry, file, syntax, &text, dry_run).await,
            Target::Aws(aws) => push_to(&aws.registry, file, syntax, &text, dry_run).await,
        }
    })
}

async fn push_to<R: RegistryStore>(
    store: &R,
    file: &Path,
    syntax: Syntax,
    text: &str,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let current = store
        .current()
        .await
        .context("cannot read the stored registry")?;
    let (old, label) = match &current {
        Some(stored) => (stored.text.as_str(), format!("v{}", stored.version)),
        None => ("", "nothing stored".to_owned()),
    };
    if old == text {
        println!(
            "{} is the same as the stored {label}: nothing to push",
            file.display()
        );
        return Ok(Outcome::Success);
    }
    let diff = similar::TextDiff::from_lines(old, text);
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("stored ({label})"), &file.display().to_string())
    );
    if dry_run {
        println!("dry run: nothing stored");
        return Ok(Outcome::Success);
    }
    let version = store
        .push(syntax, text, Utc::now())
        .await
        .with_context(|| format!("the push of {} was refused", file.display()))?;
    println!("stored {} as registry v{version}", file.display());
    Ok(Outcome::Success)
}
