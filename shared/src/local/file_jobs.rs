//! A job trigger that records each run as one JSON line in a file instead of
//! starting a Glue job. It can be given the list of jobs that exist, so that a
//! missing job is reported as misconfigured exactly as Glue's
//! `EntityNotFoundException` would be.
//!
//! Crawls are recorded the same way in a second file next to the runs file
//! (`runs.jsonl` → `runs.crawls.jsonl`). A local crawl finishes at once, so a
//! crawler is never found already running.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fs_util::{append_line, random_id, read_lines};
use crate::ports::job_trigger::{CrawlerError, CrawlerStart, JobError, JobRun, JobTrigger};

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRun {
    pub job: String,
    pub run_id: String,
    pub arguments: BTreeMap<String, String>,
    pub started_at: DateTime<Utc>,
}

/// One recorded crawl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCrawl {
    pub crawler: String,
    pub started_at: DateTime<Utc>,
}

/// Job runs recorded to a JSON-lines file.
#[derive(Debug)]
pub struct FileJobTrigger {
    path: PathBuf,
    known: Option<HashSet<String>>,
    known_crawlers: Option<HashSet<String>>,
    write: Mutex<()>,
}

impl FileJobTrigger {
    /// Records runs to `path`; every job name exists.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileJobTrigger {
            path: path.into(),
            known: None,
            known_crawlers: None,
            write: Mutex::new(()),
        }
    }

    /// Only these jobs exist; starting any other is `NotFound`.
    pub fn with_known_jobs(mut self, jobs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.known = Some(jobs.into_iter().map(Into::into).collect());
        self
    }

    /// Only these crawlers exist; starting any other is `NotFound`.
    pub fn with_known_crawlers(
        mut self,
        crawlers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.known_crawlers = Some(crawlers.into_iter().map(Into::into).collect());
        self
    }

    /// Where crawls are recorded: next to the runs file.
    pub fn crawls_path(&self) -> PathBuf {
        self.path.with_extension("crawls.jsonl")
    }

    /// Every crawl recorded so far, oldest first.
    pub fn crawls(&self) -> Result<Vec<RecordedCrawl>, CrawlerError> {
        let path = self.crawls_path();
        let unavailable = |e: Box<dyn std::error::Error + Send + Sync>| CrawlerError::Unavailable {
            crawler: path.display().to_string(),
            source: e,
        };
        read_lines(&path)
            .map_err(|e| unavailable(Box::new(e)))?
            .iter()
            .map(|line| serde_json::from_str(line).map_err(|e| unavailable(Box::new(e))))
            .collect()
    }

    fn start_crawler_now(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
        if self
            .known_crawlers
            .as_ref()
            .is_some_and(|known| !known.contains(crawler))
        {
            return Err(CrawlerError::NotFound {
                crawler: crawler.to_owned(),
            });
        }
        let unavailable = |e: Box<dyn std::error::Error + Send + Sync>| CrawlerError::Unavailable {
            crawler: crawler.to_owned(),
            source: e,
        };
        let line = serde_json::to_string(&RecordedCrawl {
            crawler: crawler.to_owned(),
            started_at: Utc::now(),
        })
        .map_err(|e| unavailable(Box::new(e)))?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        append_line(&self.crawls_path(), &line).map_err(|e| unavailable(Box::new(e)))?;
        Ok(CrawlerStart::Started)
    }

    fn unavailable(
        &self,
        job: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> JobError {
        JobError::Unavailable {
            job: job.to_owned(),
            source: Box::new(source),
        }
    }

    /// Every run recorded so far, oldest first.
    pub fn runs(&self) -> Result<Vec<RecordedRun>, JobError> {
        let runs = self.path.display().to_string();
        read_lines(&self.path)
            .map_err(|e| self.unavailable(&runs, e))?
            .iter()
            .map(|line| serde_json::from_str(line).map_err(|e| self.unavailable(&runs, e)))
            .collect()
    }

    fn start_now(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<JobRun, JobError> {
        if self
            .known
            .as_ref()
            .is_some_and(|known| !known.contains(job))
        {
            return Err(JobError::NotFound {
                job: job.to_owned(),
            });
        }
        let run = RecordedRun {
            job: job.to_owned(),
            run_id: format!("jr_{}", random_id().map_err(|e| self.unavailable(job, e))?),
            arguments: arguments.clone(),
            started_at: Utc::now(),
        };
        let line = serde_json::to_string(&run).map_err(|e| self.unavailable(job, e))?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        append_line(&self.path, &line).map_err(|e| self.unavailable(job, e))?;
        Ok(JobRun {
            job: run.job,
            run_id: run.run_id,
        })
    }
}

impl JobTrigger for FileJobTrigger {
    async fn start(
        &self,
        job: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<JobRun, JobError> {
        self.start_now(job, arguments)
    }

    async fn start_crawler(&self, crawler: &str) -> Result<CrawlerStart, CrawlerError> {
        self.start_crawler_now(crawler)
    }
}
