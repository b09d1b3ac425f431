//! What one demo pass did, read back from the back-ends the functions wrote
//! (the ledger, the raw layer, the DLQ, the job runs, the alerts), not from
//! what the demo believes happened.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tributary::ports::work_queue::WorkQueue;
use tributary::ports::{FileState, Ledger, SlaStore};
use tributary::redrive::{RedriveRequest, RedriveSettings, redrive};
use tributary::registry::Registry;

use super::functions::{JobRunStarted, Journal};

/// Where the pass ran, for the summary's first line.
pub struct Header {
    /// The back-ends: a directory, or AWS.
    pub backends: String,
    pub ftp_port: u16,
    pub registry_version: u64,
}

#[derive(Debug, Serialize)]
pub struct Landed {
    pub tenant: String,
    pub path: String,
    pub rule: String,
    pub key: String,
    /// Where the object is on disk.
    pub file: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NotLanded {
    pub tenant: String,
    pub path: String,
    pub rule: String,
    pub state: String,
    pub kind: String,
    pub reason: String,
    /// Where its quarantine report is (a rejected file), on disk.
    pub report: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeadLetter {
    pub tenant: String,
    pub path: String,
    pub error_kind: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SlaBreach {
    pub tenant: String,
    pub rule: String,
    pub expected: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub state: String,
}

/// One pass, as the back-ends tell it.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The back-ends: the local directory, or AWS.
    pub backends: String,
    pub ftp_port: u16,
    pub registry_version: u64,
    /// Files the poller sent to the ingest queue in this pass.
    pub discovered: usize,
    pub landed: Vec<Landed>,
    pub rejected: Vec<NotLanded>,
    /// Every message in the ingest DLQ (from this pass and earlier ones).
    pub dead_letters: Vec<DeadLetter>,
    /// Open SLA breaches.
    pub sla_breaches: Vec<SlaBreach>,
    /// Glue job runs started in this pass (recorded, not run: no Glue here).
    pub jobs: Vec<JobRunStarted>,
    /// Notices published in this pass (`alerts.jsonl`).
    pub alerts: Vec<String>,
    /// Files the ledger holds in all, by state.
    pub ledger_totals: std::collections::BTreeMap<String, usize>,
}

impl Summary {
    /// Reads what the pass that started at `started` left behind in
    /// `ledger` and the DLQ of `ingest_queue`; `journal` is what the
    /// functions published and started; `locate` says where an object is.
    #[allow(clippy::too_many_arguments)]
    pub async fn read<L: Ledger + SlaStore, Q: WorkQueue>(
        ledger: &L,
        ingest_queue: &Q,
        registry: &Registry,
        started: DateTime<Utc>,
        header: Header,
        discovered: usize,
        journal: Journal,
        locate: impl Fn(&str) -> String,
    ) -> anyhow::Result<Summary> {
        let mut summary = Summary {
            backends: header.backends,
            ftp_port: header.ftp_port,
            registry_version: header.registry_version,
            discovered,
            landed: Vec::new(),
            rejected: Vec::new(),
            dead_letters: Vec::new(),
            sla_breaches: Vec::new(),
            jobs: journal.jobs,
            alerts: journal.alerts,
            ledger_totals: Default::default(),
        };
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        for tenant in &registry.tenants {
            for state in crate::status::STATES {
                let all = ledger.by_state(&tenant.id, state, 10_000).await?;
                *summary
                    .ledger_totals
                    .entry(state.name().to_owned())
                    .or_default() += all.len();
                for record in all.into_iter().filter(|r| r.updated_at >= started) {
                    match state {
                        FileState::Ingested => {
                            let key = record.s3_key.clone().unwrap_or_default();
                            summary.landed.push(Landed {
                                tenant: record.tenant,
                                path: record.version.path,
                                rule: record.rule,
                                file: locate(&key),
                                key,
                                rows: record.rows,
                                bytes: record.bytes_out,
                                sha256: record.sha256,
                            });
                        }
                        FileState::Rejected | FileState::Failed => {
                            let (kind, reason) = record
                                .error
                                .map(|e| (e.kind.name().to_owned(), e.reason))
                                .unwrap_or_default();
                            summary.rejected.push(NotLanded {
                                tenant: record.tenant,
                                path: record.version.path,
                                rule: record.rule,
                                state: state.name().to_owned(),
                                kind,
                                reason,
                                report: record.report_key.as_deref().map(&locate),
                            });
                        }
                        _ => {}
                    }
                }
            }
            for breach in ledger.active_breaches(&tenant.id, epoch, 100).await? {
                summary.sla_breaches.push(SlaBreach {
                    tenant: breach.tenant,
                    rule: breach.rule,
                    expected: breach.expected,
                    deadline: breach.deadline,
                    state: format!("{:?}", breach.state).to_lowercase(),
                });
            }
        }
        summary.landed.sort_by(|a, b| a.path.cmp(&b.path));
        summary.rejected.sort_by(|a, b| a.path.cmp(&b.path));

        // The DLQ as `tributary dlq list` shows it: a dry run of the redrive.
        let listing = redrive(
            ingest_queue,
            ledger,
            &RedriveRequest {
                max: 1000,
                dry_run: true,
                ..RedriveRequest::default()
            },
            RedriveSettings {
                visibility: chrono::Duration::seconds(30),
                deadline: None,
            },
            Utc::now(),
            |_| {},
        )
        .await?;
        summary.dead_letters = listing
            .items
            .into_iter()
            .map(|item| DeadLetter {
                tenant: item.tenant,
                path: item.path,
                error_kind: item.error_kind.to_string(),
                reason: item.error_reason,
            })
            .collect();

        Ok(summary)
    }

    /// The `--local DIR` the ops commands need for these back-ends.
    fn local_flag(&self) -> String {
        if self.backends == "AWS" {
            String::new()
        } else {
            format!(" --local {}", self.backends)
        }
    }

    /// The summary a person reads.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tributary demo — embedded FTP server on 127.0.0.1:{}, registry v{}, back-ends: {}",
            self.ftp_port, self.registry_version, self.backends
        );
        let _ = writeln!(
            out,
            "\nDiscovered this pass: {} file(s) sent to the ingest queue",
            self.discovered
        );

        let _ = writeln!(out, "\nLanded in the raw layer ({}):", self.landed.len());
        if self.landed.is_empty() {
            let _ = writeln!(
                out,
                "  nothing new (files already in the ledger are never ingested twice)"
            );
        }
        for landed in &self.landed {
            let _ = writeln!(out, "  {} {}", landed.tenant, landed.path);
            let _ = writeln!(
                out,
                "    → {}\n      rows {}, {} bytes, sha256 {}",
                landed.key,
                landed.rows.map_or("?".into(), |r| r.to_string()),
                landed.bytes.map_or("?".into(), |b| b.to_string()),
                landed.sha256.as_deref().unwrap_or("?")
            );
        }

        let _ = writeln!(out, "\nRejected or failed ({}):", self.rejected.len());
        for file in &self.rejected {
            let label = if file.state == file.kind {
                file.state.clone()
            } else {
                format!("{}, {}", file.state, file.kind)
            };
            let _ = writeln!(
                out,
                "  {} {} [{label}]\n    why: {}",
                file.tenant, file.path, file.reason
            );
            if let Some(report) = &file.report {
                let _ = writeln!(out, "    report: {report}");
            }
        }

        let _ = writeln!(
            out,
            "\nIngest dead-letter queue ({} message(s)):",
            self.dead_letters.len()
        );
        for letter in &self.dead_letters {
            let _ = writeln!(
                out,
                "  {} {} [{}] {}",
                letter.tenant,
                letter.path,
                letter.error_kind,
                letter.reason.as_deref().unwrap_or("")
            );
        }
        if !self.dead_letters.is_empty() {
            let _ = writeln!(
                out,
                "  (fix the cause, push the registry, then: tributary dlq redrive{})",
                self.local_flag()
            );
        }

        let _ = writeln!(out, "\nSLA breaches open ({}):", self.sla_breaches.len());
        for breach in &self.sla_breaches {
            let _ = writeln!(
                out,
                "  {} {}: expected {}, late since {} ({})",
                breach.tenant, breach.rule, breach.expected, breach.deadline, breach.state
            );
        }

        let _ = writeln!(
            out,
            "\nGlue jobs that would have started ({}):",
            self.jobs.len()
        );
        for job in &self.jobs {
            let _ = writeln!(out, "  {} (run {}) for {}", job.job, job.run_id, job.key);
        }

        let _ = writeln!(out, "\nAlerts published ({}):", self.alerts.len());
        for subject in &self.alerts {
            let _ = writeln!(out, "  {subject}");
        }
        let totals: Vec<String> = self
            .ledger_totals
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        let _ = writeln!(out, "\nLedger in all: {}", totals.join(", "));
        out
    }
}
