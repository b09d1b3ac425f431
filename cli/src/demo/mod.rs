//! `tributary demo`: the whole flow on one machine, no AWS account and no
//! Docker. An embedded FTP server serves the demo tenants' drop folders; the
//! poller, ingester, catalog trigger and SLA monitor — the Lambda crates' own
//! handlers — run once against the local back-ends; a summary says what
//! landed where, what was rejected and why, what is in the DLQ, which SLA
//! was breached and which Glue jobs would have started.
//!
//! `--aws` runs the same flow with the functions built from the environment
//! exactly as on Lambda (DynamoDB, SQS, S3, SNS, Glue; `AWS_ENDPOINT_URL` for
//! moto), the FTP server and the functions still on this machine.

mod drop_folder;
mod functions;
mod summary;

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::Args;
use tributary::ftp::Password;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::lambda::Env;
use tributary::ports::Backends;
use tributary::ports::SlaStore;
use tributary::ports::registry_store::RegistryStore;
use tributary::registry::{Registry, Syntax};

use crate::exit::Outcome;
use crate::local_backends::LocalBackends;
use drop_folder::{DropFolder, FTP_USER};
use functions::{AwsFunctions, Functions, LocalFunctions, SharedJournal};
use summary::{Header, Summary};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder for the drop folders and the local back-ends (kept between
    /// runs: a second run ingests nothing twice).
    #[arg(long, default_value = "tributary-demo")]
    dir: PathBuf,
    /// Keep polling every `--interval` seconds (Ctrl-C stops).
    #[arg(long)]
    watch: bool,
    /// Seconds between passes with `--watch`.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: u64,
    /// With `--watch`: stop after this many passes.
    #[arg(long, requires = "watch")]
    passes: Option<u32>,
    /// Print each pass's summary as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Run against AWS (or moto through `AWS_ENDPOINT_URL`): the resources
    /// named by the `TRIBUTARY_*` variables the SAM template gives the
    /// functions; `--dir` still holds the drop folders and secrets.
    #[arg(long)]
    aws: bool,
}

/// How many times the SLA monitor looks back on its first run in a demo
/// directory: a fresh monitor starts judging from now, so the demo starts it
/// as if it had been watching since a day ago.
const FIRST_LOOK_BACK: Duration = Duration::hours(24);

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let (folder, fresh) = DropFolder::prepare(&args.dir)?;
    init_logs(&folder.dir)?;
    if fresh {
        eprintln!(
            "tributary demo: made the tenants' drop folders in {}",
            folder.ftp_root().display()
        );
    }
    let server = EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(folder.ftp_root())
            .credentials(FTP_USER, Password::new(folder.ftp_password()?)),
    )
    .await
    .context("cannot start the embedded FTP server")?;
    let journal = SharedJournal::default();
    if args.aws {
        let functions = AwsFunctions::aws(&journal, &folder.dir.join("metrics.jsonl")).await?;
        let bucket = Env::process().get("TRIBUTARY_BUCKET").unwrap_or_default();
        let run = Run {
            args,
            folder: &folder,
            port: server.port(),
            backends: "AWS".to_owned(),
            journal: &journal,
        };
        run.passes(&functions, functions.poller.registry.store(), |key| {
            format!("s3://{bucket}/{key}")
        })
        .await
    } else {
        let backends = LocalBackends::open(&folder.dir)?;
        let functions = LocalFunctions::local(&backends, &journal)?;
        let run = Run {
            args,
            folder: &folder,
            port: server.port(),
            backends: backends.dir.display().to_string(),
            journal: &journal,
        };
        run.passes(&functions, &backends.registry, |key| {
            backends.object_path(key).display().to_string()
        })
        .await
    }
}

/// One demo run: its settings, and where it reports.
struct Run<'a> {
    args: &'a DemoArgs,
    folder: &'a DropFolder,
    port: u16,
    backends: String,
    journal: &'a SharedJournal,
}

impl Run<'_> {
    /// Pushes the registry, then runs passes (one, or until `--passes` with
    /// `--watch`), printing each one's summary.
    async fn passes<B: Backends>(
        &self,
        functions: &Functions<B>,
        store: &B::Registry,
        locate: impl Fn(&str) -> String,
    ) -> anyhow::Result<Outcome> {
        let (version, registry) = push_registry(store, self.folder, self.port).await?;
        start_sla_clock(&functions.sla.ledger, &registry).await?;
        let mut pass = 0u32;
        loop {
            pass += 1;
            let started = Utc::now();
            let discovered = functions.pass(pass).await?;
            let journal =
                std::mem::take(&mut *self.journal.lock().unwrap_or_else(|p| p.into_inner()));
            let header = Header {
                backends: self.backends.clone(),
                ftp_port: self.port,
                registry_version: version,
            };
            let summary = Summary::read(
                &functions.sla.ledger,
                &functions.ingester.queue,
                &registry,
                started,
                header,
                discovered,
                journal,
                &locate,
            )
            .await?;
            if self.args.json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{}", summary.text());
            }
            if !self.args.watch || self.args.passes.is_some_and(|n| pass >= n) {
                return Ok(Outcome::Success);
            }
            if !self.args.json {
                println!("\n(next pass in {} s; Ctrl-C stops)\n", self.args.interval);
            }
            tokio::time::sleep(StdDuration::from_secs(self.args.interval)).await;
        }
    }
}

/// Pushes the demo registry for the server's port, unless the stored version
/// already says the same; returns the current version and its registry.
async fn push_registry<R: RegistryStore>(
    store: &R,
    folder: &DropFolder,
    port: u16,
) -> anyhow::Result<(u64, Registry)> {
    let text = folder.registry(port);
    std::fs::write(folder.dir.join("registry.yaml"), &text)?;
    let version = match store
        .current()
        .await
        .context("cannot read the stored registry")?
    {
        Some(stored) if stored.text == text => stored.version,
        _ => store
            .push(Syntax::Yaml, &text, Utc::now())
            .await
            .context("the demo registry was refused")?,
    };
    let registry = Registry::from_yaml_str(&text)?;
    Ok((version, registry))
}

/// A monitor seeing a rule for the first time starts judging from now; the
/// demo starts each SLA rule's watch a day back instead, so that the first
/// pass judges the windows of the last day (see [`FIRST_LOOK_BACK`]).
async fn start_sla_clock<L: SlaStore>(ledger: &L, registry: &Registry) -> anyhow::Result<()> {
    let since = Utc::now() - FIRST_LOOK_BACK;
    for tenant in &registry.tenants {
        for source in &tenant.sources {
            for rule in source.rules.iter().filter(|r| r.sla.is_some()) {
                if ledger.checkpoint(&rule.id).await?.is_none() {
                    ledger.advance_checkpoint(&rule.id, since).await?;
                }
            }
        }
    }
    Ok(())
}

/// The functions' structured logs go to `DIR/demo.log` (JSON lines, as on
/// Lambda), keeping the terminal for the summary.
fn init_logs(dir: &std::path::Path) -> anyhow::Result<()> {
    let path = dir.join("demo.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}
