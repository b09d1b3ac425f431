//! The words of every notification: what happened to which file of which tenant,
//! why, and what to do next. Functions build these; the notifier port delivers
//! them. Subjects are short and start with the tenant; bodies are plain text a
//! person on call can act on without opening a console.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::failure::FailureKind;
use crate::ports::notifier::{Notification, Notifier, Severity};
use crate::ports::sla_store::Breach;
use crate::registry::NotifyPolicy;

/// Event names (the `event` attribute subscriptions filter on).
pub mod event {
    pub const FILE_INGESTED: &str = "file_ingested";
    pub const FILE_REJECTED: &str = "file_rejected";
    pub const ROWS_QUARANTINED: &str = "rows_quarantined";
    pub const FILE_FAILED: &str = "file_failed";
    pub const POST_ACTION_FAILED: &str = "post_action_failed";
    pub const POLL_FAILED: &str = "poll_failed";
    pub const MESSAGE_UNREADABLE: &str = "message_unreadable";
    pub const FILE_LATE: &str = "file_late";
    pub const FILE_RECOVERED: &str = "file_recovered";
    pub const JOB_FAILED: &str = "job_failed";
    pub const CRAWLER_FAILED: &str = "crawler_failed";
    pub const JOB_RUN_UNRECORDED: &str = "job_run_unrecorded";
}

/// Which landed object a catalog notice is about. `tenant` and `dataset` are
/// `-` when neither the key nor the object's lineage names them.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    pub tenant: &'a str,
    pub dataset: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
}

impl ObjectRef<'_> {
    /// The key's last segment: subjects are cut at 100 characters by SNS, so
    /// they name the file and the body names the whole key.
    fn file(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(self.key)
    }

    fn lines(&self) -> String {
        format!(
            "Tenant:  {}\nDataset: {}\nObject:  s3://{}/{}\n",
            self.tenant, self.dataset, self.bucket, self.key
        )
    }
}

/// Which file a notice is about.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub rule: &'a str,
    pub path: &'a str,
}

impl FileRef<'_> {
    fn lines(&self) -> String {
        format!(
            "Tenant: {}\nSource: {}\nFile:   {}\nRule:   {}\n",
            self.tenant, self.source, self.path, self.rule
        )
    }
}

/// Publishes `notification`; a failure is logged, not returned: the ledger and
/// the dead-letter queue keep the truth, and the DLQ alarm still reaches ops.
pub async fn publish(notifier: &impl Notifier, notification: Notification) {
    if let Err(error) = notifier.publish(&notification).await {
        tracing::error!(event = %notification.event, tenant = %notification.tenant, %error, "Could not publish a notification.");
    }
}

/// Whether `policy` wants a notice of this severity: `failures` takes
/// warnings and errors, `all` everything, `none` nothing.
pub fn wanted(policy: NotifyPolicy, severity: Severity) -> bool {
    match policy {
        NotifyPolicy::All => true,
        NotifyPolicy::Failures => severity != Severity::Info,
        NotifyPolicy::None => false,
    }
}

/// A file that landed with rows its contract found invalid (`on_invalid:
/// quarantine_rows`, within its limits). Counts and the report's key only:
/// the values are in the report.
pub fn rows_quarantined(
    file: FileRef<'_>,
    object: &str,
    rows: u64,
    invalid_rows: u64,
    report: &str,
) -> Notification {
    Notification {
        subject: format!(
            "{}: {invalid_rows} invalid row(s) in {}",
            file.tenant, file.path
        ),
        body: format!(
            "{}\nLanded at {object}: {rows} rows, of which {invalid_rows} break the data contract \
             (within the rule's on_invalid limits).\nThe report (each invalid row's line, column \
             and check) is at {report}.\n\nWhat to do: ask the tenant to correct those rows in \
             their next delivery, or loosen the rule's contract if the rows are right.\n",
            file.lines()
        ),
        tenant: file.tenant.to_owned(),
        severity: Severity::Warning,
        event: event::ROWS_QUARANTINED.to_owned(),
    }
}

/// A file that landed.
pub fn file_ingested(file: FileRef<'_>, object: &str, rows: u64, bytes: u64) -> Notification {
    Notification {
        subject: format!("{}: ingested {}", file.tenant, file.path),
        body: format!(
            "{}\nLanded at {object}: {rows} rows, {bytes} bytes after decoding.\n",
            file.lines()
        ),
        tenant: file.tenant.to_owned(),
        severity: Severity::Info,
        event: event::FILE_INGESTED.to_owned(),
    }
}

/// A file the engine rejected: never retried. `report` is the key of its
/// quarantine report (the line, column and check of each invalid row); the
/// reasons name columns and checks with counts, never a value.
pub fn file_rejected(file: FileRef<'_>, reasons: &[String], report: Option<&str>) -> Notification {
    let report = report
        .map(|key| {
            format!("\nThe report (each problem with its line, column and check) is at {key}.\n")
        })
        .unwrap_or_default();
    Notification {
        subject: format!("{}: rejected {}", file.tenant, file.path),
        body: format!(
            "{}\nThe file was rejected and nothing was written to the lake:\n  - {}\n{report}\n\
             What to do: ask the tenant for a corrected file (a new upload is a new version \
             and is picked up by itself), or, if the rule is too strict, fix the rule, push the \
             registry and redrive the message from the ingest dead-letter queue.\n",
            file.lines(),
            reasons.join("\n  - ")
        ),
        tenant: file.tenant.to_owned(),
        severity: Severity::Error,
        event: event::FILE_REJECTED.to_owned(),
    }
}

/// A file that could not be ingested for a reason outside the file.
pub fn file_failed(
    file: FileRef<'_>,
    kind: FailureKind,
    reason: &str,
    attempts: u32,
) -> Notification {
    let next = match kind {
        FailureKind::Misconfigured => {
            "What to do: fix the configuration named above (secret, key, rule, bucket, \
             permissions), then redrive the message from the ingest dead-letter queue."
        }
        _ => {
            "What to do: the error kept coming back after every retry; check that the server \
             and AWS services are reachable, then redrive the message from the ingest \
             dead-letter queue."
        }
    };
    Notification {
        subject: format!("{}: {kind} failure on {}", file.tenant, file.path),
        body: format!(
            "{}\nAfter {attempts} attempt(s) the file was not ingested ({kind}):\n  {reason}\n\n{next}\n",
            file.lines()
        ),
        tenant: file.tenant.to_owned(),
        severity: Severity::Error,
        event: event::FILE_FAILED.to_owned(),
    }
}

/// A landed file whose post-action (delete, move) failed on the server.
pub fn post_action_failed(file: FileRef<'_>, action: &str, reason: &str) -> Notification {
    Notification {
        subject: format!("{}: post-action failed for {}", file.tenant, file.path),
        body: format!(
            "{}\nThe file was ingested, but the post-action ({action}) failed:\n  {reason}\n\n\
             The file is still on the server; the ledger records it as ingested, so it will not \
             be ingested again. What to do: check the account's permissions on the server and \
             remove or archive the file by hand.\n",
            file.lines()
        ),
        tenant: file.tenant.to_owned(),
        severity: Severity::Warning,
        event: event::POST_ACTION_FAILED.to_owned(),
    }
}

/// A source that could not be polled for a reason a retry cannot fix.
pub fn poll_failed(tenant: &str, source: &str, kind: FailureKind, reason: &str) -> Notification {
    Notification {
        subject: format!("{tenant}: cannot poll source {source}"),
        body: format!(
            "Tenant: {tenant}\nSource: {source}\n\nThe source could not be polled ({kind}):\n  {reason}\n\n\
             No new files of this source are taken until this is fixed. What to do: check the \
             source's host, credentials (the secret it references) and directories in the \
             registry.\n"
        ),
        tenant: tenant.to_owned(),
        severity: Severity::Error,
        event: event::POLL_FAILED.to_owned(),
    }
}

/// A queue message this build cannot read (dead-lettered as it is).
pub fn message_unreadable(queue: &str, message_id: &str, reason: &str) -> Notification {
    Notification {
        subject: format!("tributary: unreadable message on {queue}"),
        body: format!(
            "Message {message_id} on {queue} cannot be read:\n  {reason}\n\n\
             It was moved to the dead-letter queue. What to do: check that every function runs \
             the same release, then redrive or delete the message.\n"
        ),
        tenant: "-".to_owned(),
        severity: Severity::Error,
        event: event::MESSAGE_UNREADABLE.to_owned(),
    }
}

/// A landed object whose catalog job could not be started: misconfigured (no
/// such job, no permission, no job name for the key) or transient on the
/// catalog queue's last allowed receive. The message is in the catalog DLQ.
/// `job` is `None` when no job name could be derived.
pub fn job_not_started(
    object: ObjectRef<'_>,
    job: Option<&str>,
    kind: FailureKind,
    reason: &str,
) -> Notification {
    let job_line = job.unwrap_or("(none: see why)");
    let next = match kind {
        FailureKind::Transient => {
            "What to do: the error kept coming back after every retry (Glue throttling or the \
             job's concurrent-run limit, an outage, or a ledger item that never became \
             ingested). Check the job's MaxConcurrentRuns, Glue's health and the file's ledger \
             item, then redrive the message from the catalog dead-letter queue."
                .to_owned()
        }
        _ => match job {
            Some(job) => format!(
                "What to do: if the job does not exist, create the Glue job {job} or map the \
                 dataset to an existing job with TRIBUTARY_JOB_OVERRIDES; if Glue refused the \
                 call, give the catalog-trigger function glue:StartJobRun on it; otherwise fix \
                 what the reason names. Then redrive the message from the catalog dead-letter \
                 queue."
            ),
            None => "What to do: fix what the reason names (for a key that names no job: \
                     TRIBUTARY_JOB_NAMING, TRIBUTARY_JOB_OVERRIDES or the key template; for \
                     the object: the function's permissions on the raw bucket), then redrive \
                     the message from the catalog dead-letter queue."
                .to_owned(),
        },
    };
    Notification {
        subject: format!(
            "{}: catalog job not started for {}",
            object.tenant,
            object.file()
        ),
        body: format!(
            "{}Job:     {job_line}\n\nThe catalog job was not started ({kind}):\n  {reason}\n\n\
             The file is in the lake; the Data Catalog does not know it yet. {next}\n",
            object.lines()
        ),
        tenant: object.tenant.to_owned(),
        severity: Severity::Error,
        event: event::JOB_FAILED.to_owned(),
    }
}

/// The job started, but the crawler that adds the new partition to the Data
/// Catalog did not: a warning, nothing is dead-lettered.
pub fn crawler_not_started(
    object: ObjectRef<'_>,
    job_run: &str,
    crawler: &str,
    reason: &str,
) -> Notification {
    Notification {
        subject: format!(
            "{}: crawler {crawler} not started for {}",
            object.tenant,
            object.file()
        ),
        body: format!(
            "{}Job run: {job_run}\nCrawler: {crawler}\n\nThe catalog job was started, but the \
             crawler was not:\n  {reason}\n\nThe Data Catalog will not list the new partition \
             until the crawler runs. What to do: check that the crawler exists (its name comes \
             from TRIBUTARY_CRAWLER_TEMPLATE) and that the function may start it, then run it \
             once by hand (aws glue start-crawler --name {crawler}).\n",
            object.lines()
        ),
        tenant: object.tenant.to_owned(),
        severity: Severity::Warning,
        event: event::CRAWLER_FAILED.to_owned(),
    }
}

/// The job started but its run id could not be written to the file's ledger
/// item: a warning (the run goes on; a redelivered event would start another).
pub fn job_run_unrecorded(
    object: ObjectRef<'_>,
    job: &str,
    run_id: &str,
    reason: &str,
) -> Notification {
    Notification {
        subject: format!(
            "{}: job run of {} not recorded",
            object.tenant,
            object.file()
        ),
        body: format!(
            "{}Job:     {job}\nJob run: {run_id}\n\nThe catalog job was started, but its run id \
             could not be written to the file's ledger item:\n  {reason}\n\nWhat to do: nothing \
             for the run itself. The ledger does not link the file to its run; if the event is \
             delivered again a second run may start, so check the job's runs for this object.\n",
            object.lines()
        ),
        tenant: object.tenant.to_owned(),
        severity: Severity::Warning,
        event: event::JOB_RUN_UNRECORDED.to_owned(),
    }
}

/// `at` on the wall clock of `timezone` (`2026-11-23 06:00 Europe/Paris`);
/// in UTC if the zone is unknown (a validated registry has none such).
pub fn local_time(at: DateTime<Utc>, timezone: &str) -> String {
    match timezone.parse::<Tz>() {
        Ok(tz) => format!(
            "{} {timezone}",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
        ),
        Err(_) => format!("{} UTC", at.format("%Y-%m-%d %H:%M")),
    }
}

/// Only the time of day of [`local_time`] (`06:00 Europe/Paris`).
fn local_clock(at: DateTime<Utc>, timezone: &str) -> String {
    match timezone.parse::<Tz>() {
        Ok(tz) => format!("{} {timezone}", at.with_timezone(&tz).format("%H:%M")),
        Err(_) => format!("{} UTC", at.format("%H:%M")),
    }
}

/// A duration as people say it: `2 h 15 min`, `1 d 3 h`, `45 min`, `20 s`
/// (whole minutes from one minute up; the sign is the caller's to say).
pub fn duration_text(duration: Duration) -> String {
    let seconds = duration.num_seconds().unsigned_abs();
    if seconds < 60 {
        return format!("{seconds} s");
    }
    let minutes = seconds / 60;
    let parts = [
        (minutes / (24 * 60), "d"),
        (minutes % (24 * 60) / 60, "h"),
        (minutes % 60, "min"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2 h 15 min after` / `10 min before` / `at`: how `at` stands to `reference`.
fn relative(at: DateTime<Utc>, reference: DateTime<Utc>) -> String {
    let by = at - reference;
    match by.num_seconds() {
        0 => "exactly at".to_owned(),
        s if s > 0 => format!("{} after", duration_text(by)),
        _ => format!("{} before", duration_text(by)),
    }
}

fn breach_lines(breach: &Breach) -> String {
    format!(
        "Tenant:  {}\nSource:  {}\nRule:    {}\nDataset: {}\n",
        breach.tenant, breach.source, breach.rule, breach.dataset
    )
}

/// No file of a rule was ingested by the deadline of a window.
pub fn file_late(breach: &Breach) -> Notification {
    let tz = breach.timezone.as_str();
    let grace = breach.deadline - breach.expected;
    Notification {
        subject: format!(
            "{}: file late for rule {}, expected {}",
            breach.tenant,
            breach.rule,
            local_clock(breach.expected, tz)
        ),
        body: format!(
            "{}\nNo file of this rule was ingested by its deadline.\n\
             Expected: {} ({})\n\
             Deadline: {}, after {} of grace\n\
             Window:   files discovered after {} (the previous deadline) and ingested by the deadline\n\n\
             What to do: check that the tenant uploaded the file to source {} (ask them if not); \
             that the source's polls succeed (\"cannot poll source\" alerts, the poller's logs); \
             and whether the file was rejected or failed (its alert, the ingest dead-letter \
             queue). A \"recovered\" notice follows if this window's file lands late (one \
             discovered before the next expected time, {}).\n",
            breach_lines(breach),
            local_time(breach.expected, tz),
            breach.expected.format("%Y-%m-%dT%H:%M:%SZ"),
            local_time(breach.deadline, tz),
            duration_text(grace),
            local_time(breach.window_start, tz),
            breach.source,
            local_time(breach.next_expected, tz),
        ),
        tenant: breach.tenant.clone(),
        severity: Severity::Error,
        event: event::FILE_LATE.to_owned(),
    }
}

/// The late file of a breach landed after all: how late it was. `None` for a
/// breach that is not recovered.
pub fn file_recovered(breach: &Breach) -> Option<Notification> {
    let recovery = breach.recovery.as_ref()?;
    let tz = breach.timezone.as_str();
    let late = relative(recovery.ingested_at, breach.expected);
    Some(Notification {
        subject: format!(
            "{}: late file for rule {} landed {late} the expected {}",
            breach.tenant,
            breach.rule,
            local_clock(breach.expected, tz)
        ),
        body: format!(
            "{}File:    {}\n\n\
             The file expected at {} arrived {late} the expected {} ({} the deadline).\n\
             Discovered on the server: {}\n\
             Ingested:                 {}\n\n\
             Nothing to do: this closes the late-file alert for that window.\n",
            breach_lines(breach),
            recovery.path,
            local_time(breach.expected, tz),
            local_clock(breach.expected, tz),
            relative(recovery.ingested_at, breach.deadline),
            local_time(recovery.discovered_at, tz),
            local_time(recovery.ingested_at, tz),
        ),
        tenant: breach.tenant.clone(),
        severity: Severity::Info,
        event: event::FILE_RECOVERED.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> FileRef<'static> {
        FileRef {
            tenant: "acme",
            source: "acme-ftp",
            rule: "orders",
            path: "/out/orders.csv",
        }
    }

    #[test]
    fn notices_name_the_file_the_reason_and_what_to_do() {
        let n = file_rejected(
            file(),
            &["rows 3 below min_rows 10".into()],
            Some("quarantine/x.report.json"),
        );
        assert_eq!(n.subject, "acme: rejected /out/orders.csv");
        assert!(n.body.contains("The report (each problem with its line, column and check) is at quarantine/x.report.json."));
        assert!(n.body.contains("Source: acme-ftp"), "{}", n.body);
        assert!(n.body.contains("rows 3 below min_rows 10"));
        assert!(n.body.contains("What to do"));
        assert_eq!(
            (n.severity, n.event.as_str()),
            (Severity::Error, "file_rejected")
        );
        let n = file_failed(
            file(),
            FailureKind::Misconfigured,
            "secret x does not exist",
            1,
        );
        assert!(n.subject.contains("misconfigured"));
        assert!(n.body.contains("secret x does not exist") && n.body.contains("redrive"));
    }

    fn breach() -> Breach {
        use crate::ports::sla_store::{BreachState, Notice};
        Breach {
            tenant: "acme".into(),
            source: "acme-ftp".into(),
            rule: "orders".into(),
            dataset: "sales".into(),
            timezone: "Europe/Paris".into(),
            window_start: "2026-11-20T05:30:00Z".parse().unwrap(),
            expected: "2026-11-23T05:00:00Z".parse().unwrap(),
            deadline: "2026-11-23T05:30:00Z".parse().unwrap(),
            next_expected: "2026-11-24T05:00:00Z".parse().unwrap(),
            state: BreachState::Open,
            opened_at: "2026-11-23T05:35:00Z".parse().unwrap(),
            opened_by: "run-1".into(),
            late_alert: Notice::Pending,
            recovery: None,
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(Duration::minutes(135)), "2 h 15 min");
        assert_eq!(duration_text(Duration::minutes(45)), "45 min");
        assert_eq!(duration_text(Duration::hours(2)), "2 h");
        assert_eq!(
            duration_text(Duration::minutes(27 * 60 + 5)),
            "1 d 3 h 5 min"
        );
        assert_eq!(duration_text(Duration::seconds(20)), "20 s");
        assert_eq!(duration_text(Duration::seconds(-90)), "1 min");
        assert_eq!(duration_text(Duration::seconds(119)), "1 min");
    }

    #[test]
    fn the_late_alert_names_the_window_in_the_tenant_s_time_and_what_to_check() {
        let n = file_late(&breach());
        assert_eq!(
            n.subject,
            "acme: file late for rule orders, expected 06:00 Europe/Paris"
        );
        for part in [
            "Source:  acme-ftp",
            "Dataset: sales",
            "Expected: 2026-11-23 06:00 Europe/Paris (2026-11-23T05:00:00Z)",
            "Deadline: 2026-11-23 06:30 Europe/Paris, after 30 min of grace",
            "files discovered after 2026-11-20 06:30 Europe/Paris",
            "What to do",
            "dead-letter",
        ] {
            assert!(n.body.contains(part), "{part:?} missing from:\n{}", n.body);
        }
        assert_eq!(
            (n.severity, n.event.as_str()),
            (Severity::Error, "file_late")
        );
        assert_eq!(n.tenant, "acme");
    }

    #[test]
    fn the_recovered_notice_says_how_late_the_file_was() {
        use crate::ports::sla_store::{BreachState, Notice, Recovery};
        let mut b = breach();
        assert!(file_recovered(&b).is_none());
        b.state = BreachState::Recovered;
        b.recovery = Some(Recovery {
            source: "acme-ftp".into(),
            path: "/out/sales_2026-11-23.csv".into(),
            discovered_at: "2026-11-23T07:10:00Z".parse().unwrap(),
            ingested_at: "2026-11-23T07:15:00Z".parse().unwrap(),
            resolved_at: "2026-11-23T07:20:00Z".parse().unwrap(),
            notice: Notice::Pending,
        });
        let n = file_recovered(&b).unwrap();
        assert_eq!(
            n.subject,
            "acme: late file for rule orders landed 2 h 15 min after the expected 06:00 Europe/Paris"
        );
        assert!(
            n.body.contains(
                "arrived 2 h 15 min after the expected 06:00 Europe/Paris \
                 (1 h 45 min after the deadline)"
            ),
            "{}",
            n.body
        );
        assert!(n.body.contains("File:    /out/sales_2026-11-23.csv"));
        assert!(
            n.body
                .contains("Ingested:                 2026-11-23 08:15 Europe/Paris")
        );
        assert_eq!(
            (n.severity, n.event.as_str()),
            (Severity::Info, "file_recovered")
        );
    }

    #[test]
    fn the_policy_decides_which_notices_go_out() {
        assert!(wanted(NotifyPolicy::All, Severity::Info));
        assert!(!wanted(NotifyPolicy::Failures, Severity::Info));
        assert!(wanted(NotifyPolicy::Failures, Severity::Warning));
        assert!(!wanted(NotifyPolicy::None, Severity::Error));
    }

    fn object() -> ObjectRef<'static> {
        ObjectRef {
            tenant: "acme",
            dataset: "sales",
            bucket: "raw-bucket",
            key: "raw/tenant=acme/dataset=sales/x.csv",
        }
    }

    #[test]
    fn catalog_notices_name_the_object_the_job_why_and_what_to_do() {
        let n = job_not_started(
            object(),
            Some("sales"),
            FailureKind::Misconfigured,
            "job sales does not exist",
        );
        assert_eq!(n.subject, "acme: catalog job not started for x.csv");
        for part in [
            "Tenant:  acme",
            "Dataset: sales",
            "s3://raw-bucket/raw/tenant=acme/dataset=sales/x.csv",
            "Job:     sales",
            "job sales does not exist",
            "create the Glue job sales",
            "TRIBUTARY_JOB_OVERRIDES",
            "catalog dead-letter queue",
        ] {
            assert!(n.body.contains(part), "{part}: {}", n.body);
        }
        assert_eq!(
            (n.severity, n.event.as_str()),
            (Severity::Error, "job_failed")
        );

        let n = job_not_started(object(), None, FailureKind::Transient, "throttled");
        assert!(n.body.contains("MaxConcurrentRuns") && n.body.contains("(none"));

        let n = crawler_not_started(object(), "jr_1", "tributary-sales", "no such crawler");
        assert_eq!(n.severity, Severity::Warning);
        assert_eq!(n.event, "crawler_failed");
        assert!(
            n.body
                .contains("aws glue start-crawler --name tributary-sales")
        );

        let n = job_run_unrecorded(object(), "sales", "jr_1", "table throttled");
        assert_eq!(n.event, "job_run_unrecorded");
        assert!(n.body.contains("jr_1") && n.body.contains("table throttled"));
    }
}
