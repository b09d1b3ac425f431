//! The `tributary` command: check a file as the ingester would, propose a
//! file's contract columns, validate a registry, run the whole flow on one
//! machine (`demo`); the ops commands.
//!
//! Exit codes: 0 success (file accepted, registry valid), 1 the file was rejected
//! (or cannot be read as its format) or the registry has problems, 2 usage or
//! configuration error.

mod check;
mod demo;
mod dlq;
mod exit;
mod files;
mod local_backends;
mod ls;
mod registry_cmd;
mod schema;
mod status;
mod target;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tributary",
    version,
    about = "FTP-to-data-lake ingestion: check files, validate registries, operate the service."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the validation engine on a local file exactly as the ingester will,
    /// and print one JSON report: "would this file pass?".
    Check(Box<check::CheckArgs>),
    /// Propose a data contract from a sample of a tenant's file.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Connect to a source as the poller would and show each file it sees, the
    /// rule it matches and whether it is complete yet.
    Ls(ls::LsArgs),
    /// Run the whole flow on this machine: an embedded FTP server with
    /// example tenants, the functions on local back-ends, and a summary.
    Demo(demo::DemoArgs),
    /// Per tenant and source: files by state in the last day, open SLA
    /// breaches, the DLQ's depth.
    Status(status::StatusArgs),
    /// The ledger's files, newest first: a table, or `--json`.
    Files(files::FilesArgs),
    /// Inspect the ingest dead-letter queue and move messages back.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Work with the registry: tenants → sources → file rules.
    #[command(subcommand)]
    Registry(registry_cmd::RegistryCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Schema(command) => schema::run(&command),
        Command::Registry(command) => registry_cmd::run(&command),
        Command::Ls(args) => ls::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Files(args) => files::run(&args),
        Command::Dlq(command) => dlq::run(&command),
    };
    exit::finish(outcome)
}
