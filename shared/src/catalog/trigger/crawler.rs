//! Step 6b: the dataset's crawler, started after its job if one is
//! configured. A crawler failure is a warning alert, never a dead letter: the
//! job already started.

use std::time::Duration as StdDuration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::super::job_name::CrawlerTemplate;
use super::pause;
use super::target::Target;
use crate::alerts;
use crate::failure::FailureKind;
use crate::ports::job_trigger::{CrawlerStart, JobTrigger};
use crate::ports::notifier::Notifier;

/// Starts the dataset's crawler, trying again (per `backoff`, before
/// `deadline`) while Glue is busy or unreachable; failures are warnings.
pub(super) async fn crawl(
    jobs: &impl JobTrigger,
    notifier: &impl Notifier,
    target: &Target<'_>,
    template: &CrawlerTemplate,
    run_id: &str,
    backoff: &[StdDuration],
    deadline: Instant,
) {
    let Some(dataset) = target.dataset.as_deref() else {
        warn!(key = target.key, "No dataset: no crawler to start.");
        return;
    };
    let crawler = match template.render(target.key, target.tenant.as_deref().unwrap_or(""), dataset)
    {
        Ok(crawler) => crawler,
        Err(error) => {
            warn!(key = target.key, %error, "No valid crawler name.");
            alerts::publish(
                notifier,
                alerts::crawler_not_started(target.object(), run_id, "-", &error.to_string()),
            )
            .await;
            return;
        }
    };
    let mut attempt = 0;
    loop {
        match jobs.start_crawler(&crawler).await {
            Ok(CrawlerStart::Started) => {
                info!(key = target.key, %crawler, "Crawler started.");
                return;
            }
            Ok(CrawlerStart::AlreadyRunning) => {
                info!(key = target.key, %crawler, "Crawler already running.");
                return;
            }
            Err(error) => {
                if error.kind() == FailureKind::Transient
                    && let Some(wait) = pause(backoff, attempt, deadline)
                {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                warn!(key = target.key, %crawler, %error, "The crawler was not started.");
                alerts::publish(
                    notifier,
                    alerts::crawler_not_started(
                        target.object(),
                        run_id,
                        &crawler,
                        &error.to_string(),
                    ),
                )
                .await;
                return;
            }
        }
    }
}
