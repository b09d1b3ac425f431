//! The job trigger port (Glue `StartJobRun` / `StartCrawler`, or a runs file
//! locally): starts the catalog job named after a landed object's path, and
//! optionally the crawler that tells the Data Catalog about new partitions.

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

/// What starting a crawler came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlerStart {
    /// A crawl started.
    Started,
    /// A crawl was already running (Glue's `CrawlerRunningException`): the
    /// crawler is busy, which is not a failure.
    AlreadyRunning,
}

/// Why a crawler could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CrawlerError {
    /// No crawler of that name: the deployment or the template is wrong.
    #[error("crawler {crawler} does not exist")]
    NotFound { crawler: String },
    /// Throttled: retry later.
    #[error("crawler {crawler}: {reason}")]
    Busy { crawler: String, reason: String },
    /// No permission to start it, or another refusal.
    #[error("crawler {crawler} refused: {reason}")]
    Denied { crawler: String, reason: String },
    /// The service could not be reached.
    #[error("crawler {crawler}: {source}")]
    Unavailable {
        crawler: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CrawlerError {
    /// A missing crawler or a refused call is misconfigured; the rest is transient.
    pub fn kind(&self) -> FailureKind {
        match self {
            CrawlerError::NotFound { .. } | CrawlerError::Denied { .. } => {
                FailureKind::Misconfigured
            }
            CrawlerError::Busy { .. } | CrawlerError::Unavailable { .. } => FailureKind::Transient,
        }
    }
}

/// Starts jobs and crawlers.
pub trait JobTrigger: Send + Sync {
    /// Starts a run of `job` with `arguments` (`--bucket`, `--key`, …).
    fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<JobRun, JobError>> + Send;

    /// Starts a crawl of `crawler`; one already running is `AlreadyRunning`.
    fn start_crawler(
        &self,
        crawler: &str,
    ) -> impl Future<Output = Result<CrawlerStart, CrawlerError>> + Send;
}
