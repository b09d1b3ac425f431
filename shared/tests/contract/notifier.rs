//! The notifier's contract: notifications arrive with their attributes.

use std::collections::HashSet;

use tributary::ports::notifier::{Notification, Notifier, Severity};

use super::Inbox;

/// Published notifications arrive with subject, body and the `tenant`,
/// `severity` and `event` attributes intact.
pub async fn notifier_preserves_attributes<N: Notifier, I: Inbox>(notifier: &N, inbox: &I) {
    let sent = [
        Notification {
            subject: "acme: orders_2024-05-01.csv rejected".into(),
            body: "row count 3 below min_rows 10".into(),
            tenant: "acme".into(),
            severity: Severity::Error,
            event: "file_rejected".into(),
        },
        Notification {
            subject: "globex: daily.csv ingested".into(),
            body: "rows: 1000\nsha256: ab…".into(),
            tenant: "globex".into(),
            severity: Severity::Info,
            event: "file_ingested".into(),
        },
    ];
    let mut ids = HashSet::new();
    for n in &sent {
        let id = notifier.publish(n).await.unwrap();
        assert!(!id.is_empty());
        ids.insert(id);
    }
    assert_eq!(ids.len(), 2, "message ids are distinct");
    let mut received = inbox.received().await;
    received.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    assert_eq!(received, sent);
}
