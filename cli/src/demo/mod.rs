//! `tributary demo`: the whole flow on one machine, no AWS account and no
//! Docker. An embedded FTP server serves the demo tenants' drop folders; the
//! poller, ingester, catalog trigger and SLA monitor — the Lambda crates' own
//! handlers — run once against the local back-ends; a summary says what
//! landed where, what was rejected and why, what is in the DLQ, which SLA
//! was breached and which Glue jobs would have started.

mod drop_folder;
mod functions;
mod summary;

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::Args;
use tributary::ftp::Password;
use tributary::ftp::testing::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::ports::SlaStore;
use tributary::ports::registry_store::RegistryStore;
use tributary::registry::{Registry, Syntax};

use crate::exit::Outcome;
use crate::local_backends::LocalBackends;
use drop_folder::{DropFolder, FTP_USER};
use functions::Functions;
use summary::Summary;

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
    let backends = LocalBackends::open(&folder.dir)?;
    init_logs(&folder.dir)?;
    let server = EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(folder.ftp_root())
            .credentials(FTP_USER, Password::new(folder.ftp_password()?)),
    )
    .await
    .context("cannot start the embedded FTP server")?;
    let (version, registry) = push_registry(&backends, &folder, server.port()).await?;
    if fresh {
        eprintln!(
            "tributary demo: made the tenants' drop folders in {}",
            folder.ftp_root().display()
        );
        start_sla_clock(&backends, &registry).await?;
    }
    let functions = Functions::new(&backends)?;

    let mut pass = 0u32;
    loop {
        pass += 1;
        let summary = one_pass(
            &backends,
            &functions,
            &registry,
            server.port(),
            version,
            pass,
        )
        .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{}", summary.text());
        }
        let done = !args.watch || args.passes.is_some_and(|n| pass >= n);
        if done {
            return Ok(Outcome::Success);
        }
        if !args.json {
            println!("\n(next pass in {} s; Ctrl-C stops)\n", args.interval);
        }
        tokio::time::sleep(StdDuration::from_secs(args.interval)).await;
    }
}

/// Pushes the demo registry for the server's port, unless the stored version
/// already says the same; returns the current version and its registry.
async fn push_registry(
    backends: &LocalBackends,
    folder: &DropFolder,
    port: u16,
) -> anyhow::Result<(u64, Registry)> {
    let text = folder.registry(port);
    std::fs::write(folder.dir.join("registry.yaml"), &text)?;
    let current = backends.registry.current().await?;
    let version = match current {
        Some(stored) if stored.text == text => stored.version,
        _ => backends
            .registry
            .push(Syntax::Yaml, &text, Utc::now())
            .await
            .context("the demo registry was refused")?,
    };
    let registry = Registry::from_yaml_str(&text)?;
    Ok((version, registry))
}

/// Starts each SLA rule's watch a day back, so that the first pass judges
/// the windows of the last day (see [`FIRST_LOOK_BACK`]).
async fn start_sla_clock(backends: &LocalBackends, registry: &Registry) -> anyhow::Result<()> {
    let since = Utc::now() - FIRST_LOOK_BACK;
    for tenant in &registry.tenants {
        for source in &tenant.sources {
            for rule in source.rules.iter().filter(|r| r.sla.is_some()) {
                backends.ledger.advance_checkpoint(&rule.id, since).await?;
            }
        }
    }
    Ok(())
}

/// One pass of the flow: schedule → poll (two looks, a second apart, so
/// that files are seen unchanged) → ingest → catalog → SLA.
async fn one_pass(
    backends: &LocalBackends,
    functions: &Functions,
    registry: &Registry,
    port: u16,
    version: u64,
    pass: u32,
) -> anyhow::Result<Summary> {
    let started = Utc::now();
    let before = backends.ingest_queue.depths().0;
    for look in 0..2 {
        if look > 0 {
            tokio::time::sleep(StdDuration::from_millis(1_100)).await;
        }
        functions.fan_out(Utc::now()).await?;
        functions.drain_poll_queue().await?;
    }
    let discovered = backends.ingest_queue.depths().0.saturating_sub(before);
    functions
        .drain_ingest_queue(&format!("demo-pass-{pass}"))
        .await?;
    functions.drain_catalog_queue().await?;
    functions
        .sla_monitor(Utc::now(), &format!("demo-sla-{pass}"))
        .await?;
    Summary::read(backends, registry, started, port, version, discovered).await
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
