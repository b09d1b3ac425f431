//! The job trigger's contract: jobs and crawlers started, unknown ones
//! refused as misconfigured.

use std::collections::BTreeMap;

use tributary::failure::FailureKind;
use tributary::ports::{CrawlerError, CrawlerStart, JobError, JobTrigger};

/// A known job starts with distinct run ids; an unknown job is misconfigured and
/// named in the error.
pub async fn job_trigger_starts_and_refuses_unknown<J: JobTrigger>(
    trigger: &J,
    known: &str,
    unknown: &str,
) {
    let args: BTreeMap<String, String> = [
        ("--bucket".to_owned(), "raw".to_owned()),
        (
            "--key".to_owned(),
            "raw/tenant=acme/dataset=orders/x.csv".to_owned(),
        ),
    ]
    .into();
    let a = trigger.start(known, &args).await.unwrap();
    let b = trigger.start(known, &args).await.unwrap();
    assert_eq!(a.job, known);
    assert!(!a.run_id.is_empty());
    assert_ne!(a.run_id, b.run_id);

    let err = trigger.start(unknown, &args).await.unwrap_err();
    assert!(matches!(err, JobError::NotFound { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(err.to_string().contains(unknown), "{err}");
}

/// A known crawler starts; started again at once it is `Started` (a crawl
/// that finished) or `AlreadyRunning`, never an error; an unknown crawler is
/// misconfigured and named in the error.
pub async fn job_trigger_starts_crawlers<J: JobTrigger>(trigger: &J, known: &str, unknown: &str) {
    assert_eq!(
        trigger.start_crawler(known).await.unwrap(),
        CrawlerStart::Started
    );
    let again = trigger.start_crawler(known).await.unwrap();
    assert!(
        matches!(again, CrawlerStart::Started | CrawlerStart::AlreadyRunning),
        "{again:?}"
    );

    let err = trigger.start_crawler(unknown).await.unwrap_err();
    assert!(matches!(err, CrawlerError::NotFound { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert!(err.to_string().contains(unknown), "{err}");
}
