//! The words of every notification: what happened to which file of which tenant,
//! why, and what to do next. Functions build these; the notifier port delivers
//! them. Subjects are short and start with the tenant; bodies are plain text a
//! person on call can act on without opening a console.

use crate::failure::FailureKind;
use crate::ports::notifier::{Notification, Severity};
use crate::registry::NotifyPolicy;

/// Event names (the `event` attribute subscriptions filter on).
pub mod event {
    pub const FILE_INGESTED: &str = "file_ingested";
    pub const FILE_REJECTED: &str = "file_rejected";
    pub const FILE_FAILED: &str = "file_failed";
    pub const POST_ACTION_FAILED: &str = "post_action_failed";
    pub const POLL_FAILED: &str = "poll_failed";
    pub const MESSAGE_UNREADABLE: &str = "message_unreadable";
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

/// Whether `policy` wants a notice of this severity: `failures` takes
/// warnings and errors, `all` everything, `none` nothing.
pub fn wanted(policy: NotifyPolicy, severity: Severity) -> bool {
    match policy {
        NotifyPolicy::All => true,
        NotifyPolicy::Failures => severity != Severity::Info,
        NotifyPolicy::None => false,
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

/// A file the engine rejected: never retried.
pub fn file_rejected(file: FileRef<'_>, reasons: &[String]) -> Notification {
    Notification {
        subject: format!("{}: rejected {}", file.tenant, file.path),
        body: format!(
            "{}\nThe file was rejected and nothing was written to the lake:\n  - {}\n\n\
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
        let n = file_rejected(file(), &["rows 3 below min_rows 10".into()]);
        assert_eq!(n.subject, "acme: rejected /out/orders.csv");
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

    #[test]
    fn the_policy_decides_which_notices_go_out() {
        assert!(wanted(NotifyPolicy::All, Severity::Info));
        assert!(!wanted(NotifyPolicy::Failures, Severity::Info));
        assert!(wanted(NotifyPolicy::Failures, Severity::Warning));
        assert!(!wanted(NotifyPolicy::None, Severity::Error));
    }
}
