//! The scheduled half of the poller: which sources are due, and one
//! [`PollSource`] message per due source on the poll queue, so that every
//! source is polled by its own invocation and a dead server delays only itself.
//!
//! The schedule fires every `interval` (EventBridge `rate(5 minutes)`). A source
//! is due when its `poll_schedule` (cron, UTC) has an occurrence in the window
//! `(fired_at − interval, fired_at]`. The window is computed from the event's
//! own time, not from when the function happens to run, so a retried or late
//! invocation makes the same decision and consecutive windows neither overlap
//! nor leave gaps.

use chrono::{DateTime, Duration, Utc};
use tracing::{info, warn};

use crate::ports::messages::PollSource;
use crate::ports::work_queue::{MAX_BATCH, OutgoingMessage, QueueError, WorkQueue};
use crate::registry::{Registry, Source, Tenant, parse_cron};

/// Why a source is not due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDue {
    /// The source is paused in the registry.
    Paused,
    /// Its schedule has no occurrence in this window.
    NotScheduled,
    /// Its cron expression does not parse (a validated registry never has one).
    BadSchedule(String),
}

/// Whether `source` is due in the window ending at `fired_at`.
pub fn is_due(source: &Source, fired_at: DateTime<Utc>, interval: Duration) -> Result<(), NotDue> {
    if source.paused {
        return Err(NotDue::Paused);
    }
    let cron = parse_cron(&source.poll_schedule).map_err(|e| NotDue::BadSchedule(e.to_string()))?;
    let window_start = fired_at - interval;
    match cron.find_next_occurrence(&window_start, false) {
        Ok(next) if next <= fired_at => Ok(()),
        Ok(_) => Err(NotDue::NotScheduled),
        Err(e) => Err(NotDue::BadSchedule(e.to_string())),
    }
}

/// The sources due in the window ending at `fired_at`, with their tenants.
pub fn due_sources(
    registry: &Registry,
    fired_at: DateTime<Utc>,
    interval: Duration,
) -> Vec<(&Tenant, &Source)> {
    registry
        .tenants
        .iter()
        .flat_map(|tenant| tenant.sources.iter().map(move |source| (tenant, source)))
        .filter(|(_, source)| match is_due(source, fired_at, interval) {
            Ok(()) => true,
            Err(NotDue::BadSchedule(reason)) => {
                warn!(source = %source.id, schedule = %source.poll_schedule, %reason, "Source not polled: its schedule does not parse.");
                false
            }
            Err(_) => false,
        })
        .collect()
}

/// What one fan-out did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FanOutReport {
    pub fired_at: DateTime<Utc>,
    /// Sources a `PollSource` message was sent for.
    pub sent: Vec<String>,
    /// Sources in the registry that are not due (or paused).
    pub not_due: usize,
}

/// Sends one `PollSource` message per due source to `poll_queue`, in batches.
/// A failed batch fails the fan-out (the schedule's next window polls again;
/// sources sent before the failure are simply polled twice, which is harmless).
pub async fn fan_out<Q: WorkQueue>(
    registry: &Registry,
    fired_at: DateTime<Utc>,
    interval: Duration,
    poll_queue: &Q,
) -> Result<FanOutReport, QueueError> {
    let due = due_sources(registry, fired_at, interval);
    let total: usize = registry.tenants.iter().map(|t| t.sources.len()).sum();
    let messages: Vec<(String, OutgoingMessage)> = due
        .iter()
        .map(|(tenant, source)| {
            let body = PollSource {
                tenant: tenant.id.clone(),
                source: source.id.clone(),
                requested_at: fired_at,
            }
            .encode();
            (source.id.clone(), OutgoingMessage::new(body))
        })
        .collect();
    let mut sent = Vec::with_capacity(messages.len());
    for batch in messages.chunks(MAX_BATCH) {
        let outgoing: Vec<OutgoingMessage> = batch.iter().map(|(_, m)| m.clone()).collect();
        poll_queue.send_batch(&outgoing).await?;
        sent.extend(batch.iter().map(|(id, _)| id.clone()));
    }
    info!(fired_at = %fired_at, due = sent.len(), sources = total, "Fan-out sent the due sources to the poll queue.");
    Ok(FanOutReport {
        fired_at,
        not_due: total - sent.len(),
        sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn registry(schedules: &[(&str, &str, bool)]) -> Registry {
        let sources: String = schedules
            .iter()
            .map(|(id, cron, paused)| {
                format!(
                    r#"
      - id: {id}
        host: ftp.example.com
        protocol: ftp
        username: u
        password: {{ env: P }}
        directories: [/out]
        poll_schedule: "{cron}"
        paused: {paused}
        rules:
          - id: {id}-r
            match: {{ glob: "/out/*.csv" }}
            dataset: d
            format: csv
"#
                )
            })
            .collect();
        let text = format!("version: 1\ntenants:\n  - id: acme\n    sources:{sources}");
        let registry = Registry::from_yaml_str(&text).unwrap();
        registry.validate().unwrap();
        registry
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_is_due_once_per_occurrence_across_consecutive_windows() {
        let r = registry(&[("hourly", "0 * * * *", false)]);
        let source = &r.tenants[0].sources[0];
        let five = Duration::minutes(5);
        // Windows (05:55, 06:00] and (06:00, 06:05]: the 06:00 occurrence is in
        // the first only.
        assert_eq!(is_due(source, at("2026-11-21T06:00:00Z"), five), Ok(()));
        assert_eq!(
            is_due(source, at("2026-11-21T06:05:00Z"), five),
            Err(NotDue::NotScheduled)
        );
        // A window that does not end on the occurrence still contains it.
        assert_eq!(is_due(source, at("2026-11-21T06:03:10Z"), five), Ok(()));
        assert_eq!(
            is_due(source, at("2026-11-21T05:59:59Z"), five),
            Err(NotDue::NotScheduled)
        );
    }

    #[test]
    fn paused_sources_are_never_due() {
        let r = registry(&[("p", "* * * * *", true)]);
        assert_eq!(
            is_due(
                &r.tenants[0].sources[0],
                at("2026-11-21T06:00:00Z"),
                Duration::minutes(5)
            ),
            Err(NotDue::Paused)
        );
    }

    #[tokio::test]
    async fn fan_out_sends_one_message_per_due_source_in_batches() {
        use crate::local::MemoryQueue;
        use crate::ports::clock::ManualClock;
        use std::sync::Arc;

        let mut schedules: Vec<(String, &str, bool)> = (0..23)
            .map(|i| (format!("s{i:02}"), "*/15 * * * *", false))
            .collect();
        schedules.push(("late".into(), "30 7 * * *", false));
        schedules.push(("off".into(), "*/15 * * * *", true));
        let refs: Vec<(&str, &str, bool)> = schedules
            .iter()
            .map(|(a, b, c)| (a.as_str(), *b, *c))
            .collect();
        let r = registry(&refs);
        let fired = at("2026-11-21T06:15:00Z");
        let queue = MemoryQueue::new("poll", 5, Arc::new(ManualClock::new(fired)));
        let report = fan_out(&r, fired, Duration::minutes(5), &queue)
            .await
            .unwrap();
        assert_eq!(report.sent.len(), 23);
        assert_eq!(report.not_due, 2);
        let mut bodies = Vec::new();
        loop {
            let got = queue.receive(10, Duration::minutes(5)).await.unwrap();
            if got.is_empty() {
                break;
            }
            bodies.extend(
                got.into_iter()
                    .map(|m| PollSource::decode(&m.body).unwrap()),
            );
        }
        assert_eq!(bodies.len(), 23);
        assert!(
            bodies
                .iter()
                .all(|m| m.tenant == "acme" && m.requested_at == fired)
        );
        assert!(
            !bodies
                .iter()
                .any(|m| m.source == "late" || m.source == "off")
        );
    }
}
