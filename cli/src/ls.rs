//! `tributary ls`: connects to a source as the poller would and shows every file
//! it sees: its identity (path, size, mtime in UTC), the rule it matches, whether
//! it is complete yet and why not. "What does the poller see on this server?"

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Args;
use serde::Serialize;
use tributary::ftp::{FtpClient, FtpConfig, Password};
use tributary::poll::select::{Candidate, Readiness, SourceRules, observe, select};
use tributary::poll::walk::{WalkLimits, refine, walk};
use tributary::registry::Registry;
use tributary::secrets::{LocalSecrets, SecretValue};

use crate::exit::Outcome;
use crate::registry_cmd::load_valid;

/// Most files refined with MDTM/SIZE in one run.
const REFINE_LIMIT: usize = 10_000;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The registry naming the source.
    #[arg(long)]
    registry: PathBuf,
    /// Id of the source to list.
    #[arg(long)]
    source: String,
    /// File holding the FTP password (else the source's `{env: VAR}` or
    /// `{file: PATH}` reference is read).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Look twice, this many seconds apart, so that "unchanged since the previous
    /// poll" can be judged as the poller would.
    #[arg(long, value_name = "SECONDS")]
    second_look: Option<u64>,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// One line of the output.
#[derive(Debug, Serialize)]
struct Row {
    path: String,
    size: Option<u64>,
    mtime: Option<String>,
    rule: Option<String>,
    stable: bool,
    why: Option<String>,
    version: Option<String>,
    raw: String,
}

impl From<Candidate> for Row {
    fn from(c: Candidate) -> Self {
        let (stable, why) = match c.readiness {
            Readiness::Ready => (true, None),
            Readiness::NotYet(why) => (false, Some(why)),
        };
        Row {
            path: c.file.path,
            size: c.file.size,
            mtime: c
                .file
                .mtime
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            rule: c.rule_id,
            stable,
            why,
            version: c.version.map(|v| v.version_key()),
            raw: c.file.raw,
        }
    }
}

pub fn run(args: &LsArgs) -> anyhow::Result<Outcome> {
    let registry = load_valid(&args.registry)?;
    let rows = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(list(args, &registry))?;
    if args.json {
        serde_json::to_writer_pretty(std::io::stdout().lock(), &rows)?;
        println!();
    } else {
        print_table(&rows);
    }
    Ok(Outcome::Success)
}

async fn list(args: &LsArgs, registry: &Registry) -> anyhow::Result<Vec<Row>> {
    let Some((_, source)) = registry.find_source(&args.source) else {
        let ids: Vec<&str> = registry
            .tenants
            .iter()
            .flat_map(|t| &t.sources)
            .map(|s| s.id.as_str())
            .collect();
        bail!(
            "no source `{}` in {}; its sources are: {}",
            args.source,
            args.registry.display(),
            ids.join(", ")
        );
    };
    let password = match &args.password_file {
        Some(path) => SecretValue::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read password file {}", path.display()))?,
        ),
        None => LocalSecrets
            .resolve_now(&source.password)
            .with_context(|| {
                format!(
                    "the password of source {} (or pass --password-file)",
                    source.id
                )
            })?,
    };
    let config = FtpConfig::for_source(source, Password::new(password.expose()));
    let rules = SourceRules::compile(source).context("the source's rules")?;
    let mut client = FtpClient::connect(&config)
        .await
        .with_context(|| format!("source {}", source.id))?;

    let mut previous = HashMap::new();
    if let Some(seconds) = args.second_look {
        let first = walk(&mut client, source, Utc::now(), WalkLimits::default()).await?;
        previous = observe(&first.files, &HashMap::new(), Utc::now())
            .into_iter()
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }
    let now = Utc::now();
    let mut walked = walk(&mut client, source, now, WalkLimits::default())
        .await
        .with_context(|| format!("source {}", source.id))?;
    // As the poller does: files a rule takes get exact times (MDTM) and sizes
    // (SIZE) where the listing was coarse, so identities match the poller's.
    let (mut matched, others): (Vec<_>, Vec<_>) = walked
        .files
        .into_iter()
        .partition(|f| rules.rule_for(&f.path).is_some());
    refine(&mut client, &mut matched, REFINE_LIMIT)
        .await
        .with_context(|| format!("source {}", source.id))?;
    walked.files = matched.into_iter().chain(others).collect();
    client.quit().await;
    for passed in &walked.passed {
        eprintln!("warning: {}: {}", passed.dir, passed.reason);
    }
    if walked.truncated {
        eprintln!("warning: the listing was cut at the walk's limits");
    }
    Ok(select(
        &rules,
        &walked.files,
        &previous,
        now,
        chrono::Duration::zero(),
    )
    .into_iter()
    .map(Row::from)
    .collect())
}

fn print_table(rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.path.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<width$}  {:>12}  {:<20}  {:<20}  {:<6}  WHY",
        "PATH", "SIZE", "MTIME (UTC)", "RULE", "STABLE"
    );
    for row in rows {
        println!(
            "{:<width$}  {:>12}  {:<20}  {:<20}  {:<6}  {}",
            row.path,
            row.size.map_or_else(|| "?".into(), |s| s.to_string()),
            row.mtime.as_deref().unwrap_or("?"),
            row.rule.as_deref().unwrap_or("-"),
            if row.stable { "yes" } else { "no" },
            row.why.as_deref().unwrap_or("")
        );
    }
}
