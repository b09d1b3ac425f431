//! `tributary files`: the ledger's file versions of a tenant, newest first,
//! as a table or JSON — "what happened to the file the tenant says they sent?".

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use tributary::ports::{FileRecord, FileState, Ledger};

use crate::exit::Outcome;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// The tenant (all tenants of the current registry when omitted).
    #[arg(long)]
    tenant: Option<String>,
    /// discovered, ingesting, ingested, rejected or failed (all when omitted).
    #[arg(long, value_parser = parse_state)]
    state: Option<FileState>,
    /// Only files changed at or after this instant (RFC 3339), or this long ago (`24h`, `30m`, `7d`).
    #[arg(long, value_parser = crate::status::parse_since)]
    since: Option<DateTime<Utc>>,
    /// At most this many files per tenant and state.
    #[arg(long, default_value_t = 200)]
    limit: usize,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn parse_state(text: &str) -> Result<FileState, String> {
    crate::status::STATES
        .into_iter()
        .find(|s| s.name() == text)
        .ok_or_else(|| {
            format!(
                "unknown state {text:?}: one of discovered, ingesting, ingested, rejected, failed"
            )
        })
}

#[derive(Debug, Serialize)]
struct Row {
    tenant: String,
    source: String,
    path: String,
    rule: String,
    state: &'static str,
    updated_at: DateTime<Utc>,
    rows: Option<u64>,
    sha256: Option<String>,
    s3_key: Option<String>,
    job_run_id: Option<String>,
    error: Option<String>,
}

impl From<FileRecord> for Row {
    fn from(r: FileRecord) -> Self {
        Row {
            tenant: r.tenant,
            source: r.version.source,
            path: r.version.path,
            rule: r.rule,
            state: r.state.name(),
            updated_at: r.updated_at,
            rows: r.rows,
            sha256: r.sha256,
            s3_key: r.s3_key,
            job_run_id: r.job_run_id,
            error: r.error.map(|e| format!("{}: {}", e.kind.name(), e.reason)),
        }
    }
}

pub fn run(args: &FilesArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        match args.target.open(false).await? {
            Target::Local(local) => {
                let tenants =
                    crate::status::tenants(&local.registry, args.tenant.as_deref()).await?;
                rows(&local.ledger, &tenants, args).await
            }
            Target::Aws(aws) => {
                let tenants = crate::status::tenants(&aws.registry, args.tenant.as_deref()).await?;
                rows(&aws.ledger, &tenants, args).await
            }
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Success);
    }
    println!(
        "{:<13} {:<10} {:<25} {:>8}  {:<20}  PATH / WHY",
        "TENANT", "STATE", "UPDATED", "ROWS", "RULE"
    );
    for row in &rows {
        println!(
            "{:<13} {:<10} {:<25} {:>8}  {:<20}  {}",
            row.tenant,
            row.state,
            row.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
            row.rows.map_or("-".into(), |r| r.to_string()),
            row.rule,
            row.path
        );
        if let Some(error) = &row.error {
            println!("{:>82}  why: {error}", "");
        }
    }
    if rows.is_empty() {
        println!("(no files)");
    }
    Ok(Outcome::Success)
}

async fn rows<L: Ledger>(
    ledger: &L,
    tenants: &[String],
    args: &FilesArgs,
) -> anyhow::Result<Vec<Row>> {
    let states: Vec<FileState> = match args.state {
        Some(state) => vec![state],
        None => crate::status::STATES.to_vec(),
    };
    let mut rows = Vec::new();
    for tenant in tenants {
        for state in &states {
            let records = match args.since {
                Some(since) => {
                    ledger
                        .by_state_since(tenant, *state, since, args.limit)
                        .await?
                }
                None => ledger.by_state(tenant, *state, args.limit).await?,
            };
            rows.extend(records.into_iter().map(Row::from));
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.updated_at));
    Ok(rows)
}
