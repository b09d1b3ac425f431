//! `tributary dlq list | redrive`: the ingest dead-letter queue, with the
//! dlq-redrive function's own logic ([`tributary::redrive::redrive`]): list
//! is its dry run; redrive moves matching messages back to the ingest queue
//! (send, then delete: a message whose send failed stays in the DLQ) and
//! resets their ledger items so that they are ingested again.

use chrono::Utc;
use clap::{Args, Subcommand};
use tributary::ports::Ledger;
use tributary::ports::work_queue::WorkQueue;
use tributary::redrive::{
    DeadLetterKind, ItemOutcome, RedriveFilter, RedriveItem, RedriveReport, RedriveRequest,
    RedriveSettings, redrive,
};
use tributary_dlq_redrive::RedriveConfig;

use crate::exit::Outcome;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Show the dead letters that match (a dry run of the redrive: nothing moves).
    List(DlqArgs),
    /// Move the matching dead letters back to the ingest queue.
    Redrive(RedriveArgs),
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    source: Option<String>,
    #[arg(long)]
    rule: Option<String>,
    /// rejected, misconfigured, transient or unknown (moved by SQS after its
    /// receive limit).
    #[arg(long)]
    error_kind: Option<DeadLetterKind>,
    /// At most this many matching messages.
    #[arg(long, default_value_t = 100)]
    max: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    filter: DlqArgs,
    /// Show what would move, and move nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(command: &DlqCommand) -> anyhow::Result<Outcome> {
    let (args, dry_run) = match command {
        DlqCommand::List(args) => (args, true),
        DlqCommand::Redrive(args) => (&args.filter, args.dry_run),
    };
    let request = RedriveRequest {
        filter: RedriveFilter {
            tenant: args.tenant.clone(),
            source: args.source.clone(),
            rule: args.rule.clone(),
            error_kind: args.error_kind,
        },
        max: args.max,
        dry_run,
    };
    request.validate()?;
    let config = RedriveConfig::from_env(&tributary::lambda::Env::process())?;
    let settings = RedriveSettings {
        visibility: config.visibility,
        deadline: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        match args.target.open(true).await? {
            Target::Local(local) => {
                run_on(&local.ingest_queue, &local.ledger, &request, settings).await
            }
            Target::Aws(aws) => run_on(&aws.ingest_queue, &aws.ledger, &request, settings).await,
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    let failed = report.total.failed > 0 || report.receive_error.is_some();
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

async fn run_on<Q: WorkQueue, L: Ledger>(
    queue: &Q,
    ledger: &L,
    request: &RedriveRequest,
    settings: RedriveSettings,
) -> anyhow::Result<RedriveReport> {
    let progress = indicatif::ProgressBar::new(u64::from(request.max));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} matching dead letter(s) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let verb = if request.dry_run { "listed" } else { "handled" };
    let report = redrive(
        queue,
        ledger,
        request,
        settings,
        Utc::now(),
        |item: &RedriveItem| {
            progress.inc(1);
            progress.set_message(format!("{verb}; last: {}", item.path));
        },
    )
    .await;
    progress.finish_and_clear();
    Ok(report?)
}

fn outcome(outcome: ItemOutcome) -> &'static str {
    match outcome {
        ItemOutcome::WouldMove => "would move",
        ItemOutcome::WouldMoveAlreadyIngested => "would drop (already ingested)",
        ItemOutcome::WouldFail => "would stay (see problem)",
        ItemOutcome::Moved => "moved",
        ItemOutcome::AlreadyIngested => "dropped (already ingested)",
        ItemOutcome::Failed => "stayed (see problem)",
    }
}

fn text(report: &RedriveReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} dead letter(s) matched of {} scanned{}",
        report.total.matched,
        report.scanned,
        if report.dry_run {
            " (dry run: nothing moved)"
        } else {
            ""
        }
    );
    for item in &report.items {
        let _ = writeln!(
            out,
            "  {} {} {} [{}] {} — {}{}",
            item.tenant,
            item.source,
            item.path,
            item.error_kind,
            item.error_reason.as_deref().unwrap_or(""),
            outcome(item.outcome),
            item.problem
                .as_deref()
                .map(|p| format!(": {p}"))
                .unwrap_or_default()
        );
    }
    for (kind, counts) in &report.by_kind {
        let _ = writeln!(
            out,
            "  {kind}: {} matched, {} moved, {} already ingested, {} failed, {} left",
            counts.matched, counts.moved, counts.already_ingested, counts.failed, counts.left
        );
    }
    if report.not_matching + report.unreadable + report.beyond_max > 0 {
        let _ = writeln!(
            out,
            "  left untouched: {} not matching, {} unreadable, {} beyond --max",
            report.not_matching, report.unreadable, report.beyond_max
        );
    }
    if let Some(error) = &report.receive_error {
        let _ = writeln!(out, "  stopped: {error}");
    }
    out
}
