//! The job trigger on AWS Glue: `StartJobRun` of the catalog job named after a
//! landed object's path, with the bucket, key, tenant and dataset as job
//! arguments.
//!
//! Errors follow the failure taxonomy: a job that does not exist
//! (`EntityNotFoundException`) is `NotFound`, misconfigured; the job's
//! concurrent-run limit (`ConcurrentRunsExceededException`), the account's
//! (`ResourceNumberLimitExceededException`) and throttling are `Busy`, retried
//! later; network failures and 5xx answers are `Unavailable`; no permission or
//! arguments Glue does not take are `Denied`, misconfigured.
//!
//! `StartCrawler` maps the same way; a crawl already running
//! (`CrawlerRunningException`) is not an error but `AlreadyRunning`.

use std::collections::BTreeMap;

use aws_sdk_glue::Client;
use aws_sdk_glue::error::SdkError;
use aws_sdk_glue::operation::start_crawler::StartCrawlerError;
use aws_sdk_glue::operation::start_job_run::StartJobRunError;

use super::{ErrorClass, classify, code, describe, throttled};
use crate::ports::job_trigger::{CrawlerError, CrawlerStart, JobError, JobRun, JobTrigger};

/// Glue error codes meaning "too many runs now, try later".
const BUSY_CODES: &[&str] = &[
    "ConcurrentRunsExceededException",
    "ResourceNumberLimitExceededException",
];

/// A job trigger starting AWS Glue job runs.
#[derive(Debug, Clone)]
pub struct GlueJobTrigger {
    client: Client,
}

impl GlueJobTrigger {
    /// A trigger through `client` (built once per container).
    pub fn new(client: Client) -> Self {
        GlueJobTrigger { client }
    }
}

/// Sorts a `StartJobRun` failure into the port's errors.
fn error(
    job: &str,
    err: SdkError<StartJobRunError, aws_sdk_glue::config::http::HttpResponse>,
) -> JobError {
    let job = job.to_owned();
    if code(&err) == "EntityNotFoundException" {
        return JobError::NotFound { job };
    }
    if BUSY_CODES.contains(&code(&err)) || throttled(&err) {
        return JobError::Busy {
            job,
            reason: describe(&err),
        };
    }
    match classify(&err) {
        ErrorClass::Transient => JobError::Unavailable {
            job,
            source: Box::new(err),
        },
        ErrorClass::Denied | ErrorClass::Refused => JobError::Denied {
            job,
            reason: describe(&err),
        },
    }
}

/// Sorts a `StartCrawler` failure into the port's errors (a running crawl is
/// not one: the caller checks that first).
fn crawler_error(
    crawler: &str,
    err: SdkError<StartCrawlerError, aws_sdk_glue::config::http::HttpResponse>,
) -> CrawlerError {
    let crawler = crawler.to_owned();
    if code(&err) == "EntityNotFoundException" {
        return CrawlerError::NotFound { crawler };
    }
    if throttled(&err) {
        return CrawlerError::Busy {
            crawler,
            reason: describe(&err),
        };
    }
    match classify(&err) {
        ErrorClass::Transient => CrawlerError::Unavailable {
            crawler,
            source: Box::new(err),
        },
        ErrorClass::Denied | ErrorClass::Refused => CrawlerError::Denied {
            crawler,
            reason: describe(&err),
        },
    }
}

impl JobTrigger for GlueJobTrigger {
    async fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<JobRun, JobError> {
        let out = self
            .client
            .start_job_run()
            .job_name(job)
            .set_arguments(Some(
                arguments
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|err| error(job, err))?;
        let run_id =
            out.job_run_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| JobError::Unavailable {
                    job: job.to_owned(),
                    source: "StartJobRun answered without a run id".into(),
                })?;
        Ok(JobRun {
            job: job.to_owned(),
            run_id,
        })
    }

    async fn start_crawler(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
        match self.client.start_crawler().name(crawler).send().await {
            Ok(_) => Ok(CrawlerStart::Started),
            Err(err) if code(&err) == "CrawlerRunningException" => Ok(CrawlerStart::AlreadyRunning),
            Err(err) => Err(crawler_error(crawler, err)),
        }
    }
}
