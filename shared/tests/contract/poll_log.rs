//! The poll log's contract: each source's last poll, kept and replaced.

/// Each source's last poll comes back, the latest replacing the one before;
/// sources never polled are absent; a source asked twice is answered once.
pub async fn poll_log_keeps_each_sources_last_poll<P: tributary::ports::PollLog>(log: &P) {
    use tributary::ports::{PollOutcome, PollRecord};
    let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let names = |ns: &[&str]| ns.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert!(
        log.last_polls(&names(&["acme-ftp"]))
            .await
            .unwrap()
            .is_empty()
    );

    let first = PollRecord::new(
        "acme",
        "acme-ftp",
        at("2024-05-01T06:00:00Z"),
        PollOutcome::Complete,
        3,
        "",
    );
    let failed = PollRecord::new(
        "globex",
        "globex-ftp",
        at("2024-05-01T06:00:05Z"),
        PollOutcome::Failed,
        0,
        &format!("login refused: 530 {}", "x".repeat(2000)),
    );
    assert_eq!(
        failed.detail.chars().count(),
        tributary::ports::poll_log::MAX_DETAIL_CHARS
    );
    log.record_poll(&first).await.unwrap();
    log.record_poll(&failed).await.unwrap();
    let later = PollRecord::new(
        "acme",
        "acme-ftp",
        at("2024-05-01T06:10:00Z"),
        PollOutcome::Partial,
        1,
        "deadline",
    );
    log.record_poll(&later).await.unwrap();

    let mut got = log
        .last_polls(&names(&[
            "acme-ftp",
            "globex-ftp",
            "never-polled",
            "acme-ftp",
        ]))
        .await
        .unwrap();
    got.sort_by(|a, b| a.source.cmp(&b.source));
    assert_eq!(got, vec![later, failed]);
}
