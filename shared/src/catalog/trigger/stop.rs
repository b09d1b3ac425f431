//! Why an object's work ends before its job starts ([`Stop`]), and the
//! [`ObjectOutcome`] that makes of it: ignored, a duplicate, retried by the
//! queue, or alerted and dead-lettered.

use tracing::{error, info, warn};

use super::ObjectOutcome;
use super::target::Target;
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::notifier::Notifier;

/// Why an object's job is not started.
pub(super) enum Stop {
    /// Not a landed file, or gone: nothing to do, and why.
    Ignored(String),
    /// The ledger item already holds this run id: a duplicate event.
    Duplicate(String),
    /// A failure; `job` once the job is named.
    Failed {
        job: Option<String>,
        kind: FailureKind,
        reason: String,
    },
}

impl Stop {
    pub fn failed(job: Option<&str>, kind: FailureKind, reason: String) -> Self {
        Stop::Failed {
            job: job.map(str::to_owned),
            kind,
            reason,
        }
    }

    /// What became of `target`, logged; failures go through [`fail`].
    pub async fn outcome(
        self,
        notifier: &impl Notifier,
        target: &Target<'_>,
        last_receive: bool,
    ) -> ObjectOutcome {
        let key = target.key;
        match self {
            Stop::Ignored(why) => {
                info!(key, %why, "Ignored.");
                ObjectOutcome::Ignored {
                    key: key.to_owned(),
                    why,
                }
            }
            Stop::Duplicate(job_run_id) => {
                info!(key, %job_run_id, "The file's job already started: a duplicate event.");
                ObjectOutcome::Duplicate {
                    key: key.to_owned(),
                    job_run_id,
                }
            }
            Stop::Failed { job, kind, reason } => {
                fail(notifier, target, job.as_deref(), kind, reason, last_receive).await
            }
        }
    }
}

/// A failure of one object: transient ones are retried by the queue except on
/// the last receive; the others, and those, are alerted and dead-lettered.
async fn fail(
    notifier: &impl Notifier,
    target: &Target<'_>,
    job: Option<&str>,
    kind: FailureKind,
    reason: String,
    last_receive: bool,
) -> ObjectOutcome {
    let key = target.key.to_owned();
    if kind == FailureKind::Transient && !last_receive {
        warn!(%key, job = job.unwrap_or("-"), %reason, "Transient failure; SQS delivers the message again.");
        return ObjectOutcome::Retry { key, reason };
    }
    error!(%key, job = job.unwrap_or("-"), %kind, %reason, "The catalog job was not started; dead-lettered.");
    alerts::publish(
        notifier,
        alerts::job_not_started(target.object(), job, kind, &reason),
    )
    .await;
    ObjectOutcome::Failed {
        key,
        kind,
        reason,
        tenant: target.tenant.clone(),
        source: target.source.clone(),
    }
}
