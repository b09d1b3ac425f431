//! The dlq-redrive Lambda (docs/architecture.md, flow step 5), invoked by ops:
//! `{"tenant", "source", "rule", "error_kind", "max", "dry_run"}` in (every
//! field optional), [`tributary::redrive::redrive`] run on the ingest queue's
//! dead letters, the report out as JSON.
//!
//! Unknown fields are refused, so a typo (`"tennant"`) cannot widen the filter
//! to every tenant; `error_kind` is one of `rejected`, `misconfigured`,
//! `transient`, `unknown` (dead letters SQS moved by itself). Everything here
//! is glue: the payload in, the domain called, the report out.

pub mod aws;
pub mod config;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::info;
use tributary::metrics::{Metric, Metrics};
use tributary::ports::{Ledger, WorkQueue};
use tributary::redrive::{
    DEFAULT_MAX, DeadLetterKind, ItemOutcome, RedriveError, RedriveFilter, RedriveReport,
    RedriveRequest, RedriveSettings, redrive,
};

pub use config::RedriveConfig;

/// The most items a response lists (Lambda answers at most 6 MB); the rest
/// are counted in `items_omitted`, and every item is in the function's logs.
pub const MAX_ITEMS_IN_RESPONSE: usize = 1000;

/// The function with its adapters, built once per container.
pub struct Redriver<L, Q> {
    pub ledger: L,
    /// The ingest queue and its dead-letter queue.
    pub queue: Q,
    pub config: RedriveConfig,
}

/// The payload ops send.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with any of tenant, source, rule, error_kind, max, dry_run"
)]
struct Input {
    tenant: Option<String>,
    source: Option<String>,
    rule: Option<String>,
    error_kind: Option<DeadLetterKind>,
    max: Option<u32>,
    #[serde(default)]
    dry_run: bool,
}

/// Why an invocation failed (nothing was moved).
#[derive(Debug, thiserror::Error)]
pub enum RedriveFnError {
    #[error("invalid redrive request: {0}")]
    Input(String),
    #[error(transparent)]
    Redrive(#[from] RedriveError),
}

/// Reads ops' payload as a request; unknown fields and kinds are errors.
pub fn parse_request(payload: Value) -> Result<RedriveRequest, RedriveFnError> {
    let input: Input =
        serde_json::from_value(payload).map_err(|e| RedriveFnError::Input(e.to_string()))?;
    let request = RedriveRequest {
        filter: RedriveFilter {
            tenant: input.tenant,
            source: input.source,
            rule: input.rule,
            error_kind: input.error_kind,
        },
        max: input.max.unwrap_or(DEFAULT_MAX),
        dry_run: input.dry_run,
    };
    request.validate()?;
    Ok(request)
}

/// The report as the response: at most [`MAX_ITEMS_IN_RESPONSE`] items.
pub fn response(mut report: RedriveReport) -> Value {
    let omitted = report.items.len().saturating_sub(MAX_ITEMS_IN_RESPONSE);
    report.items.truncate(MAX_ITEMS_IN_RESPONSE);
    let mut value = json!(report);
    if omitted > 0 {
        value["items_omitted"] = json!(omitted);
    }
    value
}

pub use tributary::lambda::deadline;

impl<L: Ledger, Q: WorkQueue> Redriver<L, Q> {
    /// Handles one invocation; `deadline` is when scanning must stop.
    pub async fn handle(
        &self,
        payload: Value,
        deadline: Option<Instant>,
    ) -> Result<Value, RedriveFnError> {
        let request = parse_request(payload)?;
        info!(filter = ?request.filter, max = request.max, dry_run = request.dry_run, "Redrive requested.");
        let settings = RedriveSettings {
            visibility: self.config.visibility,
            deadline,
        };
        // Each item is logged by the domain as it is handled.
        let report = redrive(
            &self.queue,
            &self.ledger,
            &request,
            settings,
            Utc::now(),
            |_| {},
        )
        .await?;
        let mut metrics = self.config.reporting.metrics();
        measure(&mut metrics, &report);
        metrics.emit(Utc::now());
        Ok(response(report))
    }
}

/// Adds the files a run moved back to its metrics, per tenant and source.
pub fn measure(metrics: &mut Metrics, report: &RedriveReport) {
    for item in &report.items {
        if matches!(
            item.outcome,
            ItemOutcome::Moved | ItemOutcome::AlreadyIngested
        ) {
            metrics.count(&item.tenant, &item.source, Metric::FilesRedriven);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration as StdDuration;

    use tributary::metrics::EmfLine;

    use super::*;

    fn parse(json: &str) -> Result<RedriveRequest, RedriveFnError> {
        parse_request(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn the_sample_events_read_as_requests() {
        let dry = parse(include_str!("../../../events/dlq-redrive-dry-run.json")).unwrap();
        let expected = RedriveFilter {
            tenant: Some("acme-retail".into()),
            source: Some("acme-ftp".into()),
            rule: Some("acme-daily-sales".into()),
            error_kind: Some(DeadLetterKind::Rejected),
        };
        assert_eq!(dry.filter, expected);
        assert_eq!((dry.max, dry.dry_run), (100, true));
        let real = parse(include_str!("../../../events/dlq-redrive.json")).unwrap();
        assert_eq!(real.filter, expected);
        assert_eq!((real.max, real.dry_run), (100, false));
    }

    #[test]
    fn every_field_is_optional() {
        let request = parse("{}").unwrap();
        assert_eq!(request, RedriveRequest::default());
        assert!(!request.dry_run);
        let request = parse(r#"{"error_kind":"unknown","tenant":null}"#).unwrap();
        assert_eq!(request.filter.error_kind, Some(DeadLetterKind::Unknown));
        assert_eq!(request.filter.tenant, None);
    }

    #[test]
    fn malformed_requests_are_refused_with_what_is_wrong() {
        for (json, says) in [
            (r#"{"tennant":"acme-retail"}"#, "unknown field `tennant`"),
            (r#"{"error_kind":"poison"}"#, "unknown variant `poison`"),
            (r#"{"error_kind":"Rejected"}"#, "expected one of `rejected`"),
            (r#"{"max":0}"#, "max must be between 1 and 10000, not 0"),
            (r#"{"max":10001}"#, "max must be between 1 and 10000"),
            (r#"{"max":-1}"#, "invalid value: integer `-1`"),
            (
                r#"{"dry_run":"yes"}"#,
                "invalid type: string \"yes\", expected a boolean",
            ),
            (r#"{"tenant":""}"#, "tenant must not be empty"),
            ("null", "expected a JSON object with any of tenant"),
            (
                r#"["acme-retail"]"#,
                "expected a JSON object with any of tenant",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(
                error.starts_with("invalid redrive request: "),
                "{json}: {error}"
            );
            assert!(error.contains(says), "{json}: {error}");
        }
    }

    #[test]
    fn long_reports_list_the_first_items_and_count_the_rest() {
        let request = RedriveRequest::default();
        let item = tributary::redrive::RedriveItem {
            message_id: "m".into(),
            tenant: "acme-retail".into(),
            source: "acme-ftp".into(),
            rule: "acme-daily-sales".into(),
            path: "/outgoing/x.csv".into(),
            size: 1,
            error_kind: DeadLetterKind::Rejected,
            error_reason: None,
            receive_count: 1,
            ledger_state: None,
            outcome: tributary::redrive::ItemOutcome::WouldMove,
            problem: None,
        };
        let mut report = empty_report(&request);
        report.items = vec![item; MAX_ITEMS_IN_RESPONSE + 5];
        let value = response(report);
        assert_eq!(
            value["items"].as_array().unwrap().len(),
            MAX_ITEMS_IN_RESPONSE
        );
        assert_eq!(value["items_omitted"], 5);
        let value = response(empty_report(&request));
        assert!(value.get("items_omitted").is_none());
    }

    fn item(tenant: &str, source: &str, outcome: ItemOutcome) -> tributary::redrive::RedriveItem {
        tributary::redrive::RedriveItem {
            message_id: format!("m-{tenant}-{source}-{outcome:?}"),
            tenant: tenant.into(),
            source: source.into(),
            rule: "r".into(),
            path: "/outgoing/x.csv".into(),
            size: 1,
            error_kind: DeadLetterKind::Rejected,
            error_reason: None,
            receive_count: 1,
            ledger_state: None,
            outcome,
            problem: None,
        }
    }

    #[test]
    fn moved_dead_letters_become_files_redriven_per_tenant_and_source() {
        let mut report = empty_report(&RedriveRequest::default());
        report.items = vec![
            item("acme-retail", "acme-ftp", ItemOutcome::Moved),
            item("acme-retail", "acme-ftp", ItemOutcome::Moved),
            // Moved too: the ingester drops it as a duplicate.
            item("acme-retail", "acme-ftp", ItemOutcome::AlreadyIngested),
            item("acme-retail", "acme-sftp", ItemOutcome::Moved),
            // Left in the DLQ, or a dry run: nothing moved, no line.
            item("acme-retail", "acme-ftp", ItemOutcome::Failed),
            item("globex", "globex-ftp", ItemOutcome::Failed),
            item("globex", "globex-ftp", ItemOutcome::WouldMove),
            item(
                "globex",
                "globex-ftp",
                ItemOutcome::WouldMoveAlreadyIngested,
            ),
            item("globex", "globex-ftp", ItemOutcome::WouldFail),
        ];
        let mut metrics = Metrics::new("tributary", "dlq-redrive");
        measure(&mut metrics, &report);

        let at = Utc::now();
        let lines: Vec<EmfLine> = metrics
            .emf_lines(at)
            .iter()
            .map(|l| EmfLine::read(l).unwrap())
            .collect();
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.tenant.as_str(), l.source.as_str(), l.metrics.clone()))
            .collect();
        let redriven =
            |v: f64| BTreeMap::from([("FilesRedriven".to_owned(), ("Count".to_owned(), json!(v)))]);
        assert_eq!(
            got,
            [
                ("acme-retail", "acme-ftp", redriven(3.0)),
                ("acme-retail", "acme-sftp", redriven(1.0)),
            ]
        );
        for line in &lines {
            assert_eq!(line.function, "dlq-redrive");
            assert_eq!(line.dimensions, [vec!["tenant", "source"], vec!["tenant"]]);
        }
    }

    fn empty_report(request: &RedriveRequest) -> RedriveReport {
        RedriveReport {
            dry_run: request.dry_run,
            filter: request.filter.clone(),
            max: request.max,
            scanned: 0,
            unreadable: 0,
            not_matching: 0,
            beyond_max: 0,
            total: Default::default(),
            by_kind: Default::default(),
            stopped: tributary::redrive::StopReason::Exhausted,
            receive_error: None,
            not_returned: 0,
            items: Vec::new(),
        }
    }

    #[test]
    fn the_deadline_keeps_the_reserve_back() {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap();
        let until = deadline(now_ms + 60_000, StdDuration::from_secs(30)).unwrap();
        let left = until - Instant::now();
        assert!(left <= StdDuration::from_secs(30), "{left:?}");
        assert!(left >= StdDuration::from_secs(28), "{left:?}");
        // Inside the reserve: no time left to scan.
        let until = deadline(now_ms + 1_000, StdDuration::from_secs(30)).unwrap();
        assert!(until <= Instant::now());
        // Not a deadline at all (`cargo lambda watch` sends 600000): ignored.
        assert_eq!(deadline(600_000, StdDuration::from_secs(30)), None);
    }
}
