//! Steps 3 and 5: the job's name ([`super::super::job_name`]) and its
//! `StartJobRun`, with `--bucket`, `--key`, `--tenant`, `--dataset`, where
//! throttling, `ConcurrentRunsExceededException` and outages are retried in
//! the call with backoff (bounded by the invocation's deadline); what still
//! fails is left to [`super::Stop`].

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use tokio::time::Instant;
use tracing::warn;

use super::super::job_name::{JobNaming, JobOverrides, job_name};
use super::target::Target;
use super::{Stop, pause};
use crate::failure::FailureKind;
use crate::ports::job_trigger::{JobRun, JobTrigger};

/// Step 3: the job `target` starts; a key that names none is misconfigured.
pub(super) fn name(
    target: &Target<'_>,
    naming: JobNaming,
    overrides: &JobOverrides,
) -> Result<String, Stop> {
    job_name(target.key, target.dataset.as_deref(), naming, overrides).map_err(|error| {
        let reason = format!("{error} (TRIBUTARY_JOB_NAMING={naming})");
        Stop::failed(None, FailureKind::Misconfigured, reason)
    })
}

/// Step 5: starts `job` for `target`, trying again (per `backoff`, before
/// `deadline`) while Glue is busy or unreachable.
pub(super) async fn start(
    jobs: &impl JobTrigger,
    target: &Target<'_>,
    job: &str,
    backoff: &[StdDuration],
    deadline: Instant,
) -> Result<JobRun, Stop> {
    let key = target.key;
    let arguments = arguments(target);
    let mut attempt = 0;
    loop {
        match jobs.start(job, &arguments).await {
            Ok(run) => return Ok(run),
            Err(error) if error.kind() == FailureKind::Transient => {
                match pause(backoff, attempt, deadline) {
                    Some(wait) => {
                        warn!(key, %job, %error, attempt, "Glue is busy; trying again.");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return Err(Stop::failed(
                            Some(job),
                            FailureKind::Transient,
                            error.to_string(),
                        ));
                    }
                }
            }
            Err(error) => return Err(Stop::failed(Some(job), error.kind(), error.to_string())),
        }
    }
}

/// The job run's arguments; a tenant or dataset that nothing names is left
/// out, with a warning.
fn arguments(target: &Target<'_>) -> BTreeMap<String, String> {
    let key = target.key;
    let mut arguments = BTreeMap::from([
        ("--bucket".to_owned(), target.bucket.to_owned()),
        ("--key".to_owned(), key.to_owned()),
    ]);
    for (name, value) in [("--tenant", &target.tenant), ("--dataset", &target.dataset)] {
        match value {
            Some(value) => {
                arguments.insert(name.to_owned(), value.clone());
            }
            None => warn!(
                key,
                argument = name,
                "Neither the key nor the lineage names it; the job runs without it."
            ),
        }
    }
    arguments
}
