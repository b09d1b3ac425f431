//! The job trigger port (Glue `StartJobRun`, or a runs file locally): starts the
//! catalog job named after a landed object's path.

use std::collections::BTreeMap;
use std::future::Future;

use crate::failure::FailureKind;

/// A started run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job: String,
    pub run_id: String,
}

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No job of that name: the registry or the deployment is wrong.
    #[error("job {job} does not exist")]
    NotFound { job: String },
    /// Throttled, or the job's concurrent-run limit is reached: retry later.
    #[error("job {job}: {reason}")]
    Busy { job: String, reason: String },
    /// The service refused the call for good: no permission to start the job,
    /// or arguments it does not take. The deployment or registry is wrong.
    #[error("job {job} refused: {reason}")]
    Denied { job: String, reason: String },
    /// The service could not be reached.
    #[error("job {job}: {source}")]
    Unavailable {
        job: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl JobError {
    /// A missing job or a refused call is misconfigured; the rest is transient.
    pub fn kind(&self) -> FailureKind {
        match self {
            JobError::NotFound { .. } | JobError::Denied { .. } => FailureKind::Misconfigured,
            JobError::Busy { .. } | JobError::Unavailable { .. } => FailureKind::Transient,
        }
    }
}

/// Starts jobs.
pub trait JobTrigger: Send + Sync {
    /// Starts a run of `job` with `arguments` (`--bucket`, `--key`, …).
    fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<JobRun, JobError>> + Send;
}
