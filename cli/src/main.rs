//! The `tributary` command: check a file as the ingester would, validate a
//! registry, run the whole flow on one machine (`demo`); the ops commands.
//!
//! Exit codes: 0 success (file accepted, registry valid), 1 the file was rejected
//! or the registry has problems, 2 usage or configuration error.

mod check;
mod demo;
mod exit;
mod local_backends;
mod ls;
mod registry_cmd;

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
    /// Connect to a source as the poller would and show each file it sees, the
    /// rule it matches and whether it is complete yet.
    Ls(ls::LsArgs),
    /// Run the whole flow on this machine: an embedded FTP server with
    /// example tenants, the functions on local back-ends, and a summary.
    Demo(demo::DemoArgs),
    /// Work with the registry: tenants → sources → file rules.
    #[command(subcommand)]
    Registry(registry_cmd::RegistryCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Registry(command) => registry_cmd::run(&command),
        Command::Ls(args) => ls::run(&args),
        Command::Demo(args) => demo::run(&args),
    };
    exit::finish(outcome)
}
