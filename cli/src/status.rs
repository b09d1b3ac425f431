//! `tributary status`: per tenant and source, the last poll and how it ended,
//! the files of the last day by state, the open SLA breaches and the DLQ's
//! depth — the first look on call.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde::Serialize;
use tributary::ports::registry_store::RegistryStore;
use tributary::ports::{FileState, Ledger, PollLog, PollRecord, SlaStore};

use crate::exit::Outcome;
use crate::target::{Target, TargetArgs};

pub const STATES: [FileState; 5] = [
    FileState::Discovered,
    FileState::Ingesting,
    FileState::Ingested,
    FileState::Rejected,
    FileState::Failed,
];

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Files changed since this instant (RFC 3339) or this long ago.
    #[arg(long, default_value = "24h", value_parser = parse_since)]
    since: DateTime<Utc>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// `24h`, `30m`, `7d`, `90s` ago, or an RFC 3339 instant.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let (number, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is neither an RFC 3339 instant nor a duration like 24h"))?;
    let ago = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?}: use s, m, h or d (24h, 7d), within range"))?;
    Ok(Utc::now() - ago)
}

#[derive(Debug, Serialize)]
struct SourceStatus {
    tenant: String,
    source: String,
    /// `None`: never polled (or polled before polls were recorded).
    last_poll: Option<PollRecord>,
    files: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize)]
struct Breach {
    tenant: String,
    rule: String,
    deadline: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct Status {
    registry_version: u64,
    since: DateTime<Utc>,
    sources: Vec<SourceStatus>,
    open_sla_breaches: Vec<Breach>,
    dlq_depth: u64,
}

/// The tenants to show: `only`, which must be in the current registry, or all.
pub async fn tenants<R: RegistryStore>(
    store: &R,
    only: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let (_, registry) = current(store).await?;
    let all: Vec<String> = registry.tenants.iter().map(|t| t.id.clone()).collect();
    match only {
        None => Ok(all),
        Some(tenant) if all.iter().any(|t| t == tenant) => Ok(vec![tenant.to_owned()]),
        Some(tenant) => anyhow::bail!(
            "tenant {tenant:?} is not in the current registry (tenants: {})",
            all.join(", ")
        ),
    }
}

async fn current<R: RegistryStore>(
    store: &R,
) -> anyhow::Result<(u64, tributary::registry::Registry)> {
    let stored = store
        .current()
        .await
        .context("cannot read the registry")?
        .ok_or_else(|| {
            anyhow::anyhow!("no registry has been pushed yet: tributary registry push FILE")
        })?;
    let registry = stored.load().context("the stored registry does not load")?;
    Ok((stored.version, registry))
}

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime.block_on(async {
        match args.target.open(true).await? {
            Target::Local(local) => {
                let dlq = local.ingest_queue.depths().1 as u64;
                status(&local.registry, &local.ledger, args.since, dlq).await
            }
            Target::Aws(aws) => {
                let dlq = aws.dlq_depth().await?;
                status(&aws.registry, &aws.ledger, args.since, dlq).await
            }
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(Outcome::Success);
    }
    println!(
        "registry v{}; files changed since {}",
        status.registry_version,
        status.since.format("%Y-%m-%d %H:%M UTC")
    );
    println!(
        "{:<16} {:<16} {:<31} {:>10} {:>9} {:>8} {:>8} {:>6}",
        "TENANT",
        "SOURCE",
        "LAST POLL",
        "DISCOVERED",
        "INGESTING",
        "INGESTED",
        "REJECTED",
        "FAILED"
    );
    for s in &status.sources {
        let n = |state: &str| s.files.get(state).copied().unwrap_or(0);
        let last = s.last_poll.as_ref().map_or("never".to_owned(), |p| {
            format!("{} {}", p.at.format("%m-%d %H:%M:%S"), p.outcome.name())
        });
        println!(
            "{:<16} {:<16} {:<31} {:>10} {:>9} {:>8} {:>8} {:>6}",
            s.tenant,
            s.source,
            last,
            n("discovered"),
            n("ingesting"),
            n("ingested"),
            n("rejected"),
            n("failed")
        );
        if let Some(poll) = s.last_poll.as_ref().filter(|p| !p.detail.is_empty()) {
            println!("{:>34}  {}", "", poll.detail);
        }
    }
    println!("open SLA breaches: {}", status.open_sla_breaches.len());
    for b in &status.open_sla_breaches {
        println!("  {} {}: late since {}", b.tenant, b.rule, b.deadline);
    }
    println!("ingest DLQ depth: {}", status.dlq_depth);
    Ok(Outcome::Success)
}

async fn status<R, L>(
    store: &R,
    ledger: &L,
    since: DateTime<Utc>,
    dlq_depth: u64,
) -> anyhow::Result<Status>
where
    R: RegistryStore,
    L: Ledger + SlaStore + PollLog,
{
    let (version, registry) = current(store).await?;
    let mut sources = Vec::new();
    let mut breaches = Vec::new();
    for tenant in &registry.tenants {
        let mut by_source: BTreeMap<String, BTreeMap<&'static str, usize>> = tenant
            .sources
            .iter()
            .map(|s| (s.id.clone(), BTreeMap::new()))
            .collect();
        for state in STATES {
            for record in ledger
                .by_state_since(&tenant.id, state, since, 10_000)
                .await?
            {
                *by_source
                    .entry(record.version.source)
                    .or_default()
                    .entry(state.name())
                    .or_default() += 1;
            }
        }
        let ids: Vec<String> = by_source.keys().cloned().collect();
        let mut polls: BTreeMap<String, PollRecord> = ledger
            .last_polls(&ids)
            .await?
            .into_iter()
            .map(|p| (p.source.clone(), p))
            .collect();
        sources.extend(by_source.into_iter().map(|(source, files)| SourceStatus {
            tenant: tenant.id.clone(),
            last_poll: polls.remove(&source),
            source,
            files,
        }));
        for breach in ledger
            .active_breaches(&tenant.id, DateTime::<Utc>::UNIX_EPOCH, 100)
            .await?
        {
            breaches.push(Breach {
                tenant: breach.tenant,
                rule: breach.rule,
                deadline: breach.deadline,
            });
        }
    }
    Ok(Status {
        registry_version: version,
        since,
        sources,
        open_sla_breaches: breaches,
        dlq_depth,
    })
}
