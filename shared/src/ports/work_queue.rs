//! The work queue port (SQS, or in-process locally): batched sends, receives
//! with a visibility timeout, deletes, and a dead-letter queue fed two ways —
//! by the queue itself once a message was received `max_receives` times (SQS
//! redrive), and explicitly, with the reason as attributes, for rejected files.
//! Ops list and move dead letters back (redrive), and hand back at once the
//! ones they browsed but leave.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::Duration;
use serde::Serialize;

use crate::failure::FailureKind;

/// The most messages one `send_batch` takes (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// String attributes on a message (SQS message attributes).
pub type Attributes = BTreeMap<String, String>;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    pub attributes: Attributes,
}

impl OutgoingMessage {
    /// A message with no attributes.
    pub fn new(body: impl Into<String>) -> Self {
        OutgoingMessage {
            body: body.into(),
            attributes: Attributes::new(),
        }
    }
}

/// A message as received: hidden from other receivers until its visibility
/// timeout passes, deleted with its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Stable across receives.
    pub id: String,
    /// Valid for this receive only (SQS receipt handle).
    pub receipt: String,
    pub body: String,
    pub attributes: Attributes,
    /// How many times the message was received, this time included.
    pub receive_count: u32,
}

impl Received {
    /// Whether this is the last receive the queue allows (its
    /// `maxReceiveCount`): a message left on the queue now is moved to the
    /// dead-letter queue by the queue itself, without its reason.
    pub fn is_last_receive(&self, max_receives: u32) -> bool {
        self.receive_count >= max_receives
    }
}

/// A message received from the dead-letter queue.
pub type DeadLetter = Received;

/// What becomes of a received message once handled. `D` is what a handled
/// message came to (the ingester's landed file or duplicate; nothing for the
/// catalog trigger, whose objects are reported beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate<D = ()> {
    /// Handled: deleted from the queue.
    Done(D),
    /// Moved to the dead-letter queue with its reason.
    DeadLettered { kind: FailureKind, reason: String },
    /// Left on the queue for another delivery (a batch item failure).
    Retry { reason: String },
}

impl<D> Fate<D> {
    /// Whether the message must stay on the queue (reported as a failure).
    pub fn retry(&self) -> bool {
        matches!(self, Fate::Retry { .. })
    }
}

/// Moves `message` to the dead-letter queue of `queue` with its reason; if
/// that fails, the message is left for a retry instead (never lost).
pub async fn dead_letter<D>(
    queue: &impl WorkQueue,
    message: &Received,
    kind: FailureKind,
    reason: String,
) -> Fate<D> {
    match queue.dead_letter(message, kind, &reason).await {
        Ok(()) => Fate::DeadLettered { kind, reason },
        Err(error) => {
            tracing::error!(message_id = %message.id, %error, "Dead-lettering failed; the message is retried.");
            Fate::Retry {
                reason: format!("{reason} (and dead-lettering failed: {error})"),
            }
        }
    }
}

/// The reason attribute a dead letter carries: `reason`, or a placeholder
/// when it is blank (SQS refuses empty attribute values, and every adapter
/// stores the same).
pub fn reason_attribute(reason: &str) -> String {
    if reason.trim().is_empty() {
        "(no reason given)".to_owned()
    } else {
        reason.to_owned()
    }
}

/// Attribute names `dead_letter` sets.
pub mod attr {
    /// The failure kind (`rejected`, `misconfigured`, `transient`).
    pub const ERROR_KIND: &str = "error_kind";
    /// The human-readable reason.
    pub const ERROR_REASON: &str = "error_reason";
}

/// Why a queue call failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue could not be reached or throttled us.
    #[error("queue {queue}: {op}: {source}")]
    Unavailable {
        queue: String,
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The receipt is unknown or stale (the message was deleted, or its
    /// visibility timeout passed and another receiver got it).
    #[error("queue {queue}: receipt {receipt} is no longer valid")]
    StaleReceipt { queue: String, receipt: String },
    /// A batch larger than [`MAX_BATCH`], a visibility timeout out of range.
    #[error("queue {queue}: {reason}")]
    Invalid { queue: String, reason: String },
    /// The queue does not exist or we may not use it.
    #[error("queue {queue}: {reason}")]
    Denied { queue: String, reason: String },
}

impl QueueError {
    /// Unreachable queues and stale receipts are transient (the message comes
    /// back); invalid calls and missing queues need a fix.
    pub fn kind(&self) -> FailureKind {
        match self {
            QueueError::Unavailable { .. } | QueueError::StaleReceipt { .. } => {
                FailureKind::Transient
            }
            QueueError::Invalid { .. } | QueueError::Denied { .. } => FailureKind::Misconfigured,
        }
    }
}

/// One work queue with its dead-letter queue.
pub trait WorkQueue: Send + Sync {
    /// Sends up to [`MAX_BATCH`] messages.
    fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Receives up to `max` visible messages (at most 10), hiding each for
    /// `visibility`. A message already received `max_receives` times is moved
    /// to the dead-letter queue instead of being returned.
    fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, QueueError>> + Send;

    /// Deletes a received message.
    fn delete(&self, receipt: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Hides a received message for `visibility` from now (a long ingest).
    fn extend_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Moves a received message to the dead-letter queue at once, with
    /// [`attr::ERROR_KIND`] and [`attr::ERROR_REASON`] added to its attributes.
    fn dead_letter(
        &self,
        message: &Received,
        kind: FailureKind,
        reason: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Receives up to `max` dead letters, hiding each for `visibility` (SQS
    /// cannot list a queue; ops browse by receiving).
    fn receive_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Moves a received dead letter back to the work queue, without the
    /// attributes `dead_letter` added: sent first, deleted from the dead-letter
    /// queue only once sent, so a failure in between leaves a duplicate, never
    /// a loss.
    fn redrive(&self, message: &DeadLetter) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes a received dead letter visible again at once (its visibility
    /// timeout set to zero), unchanged: what a redrive does with the dead
    /// letters it browsed but did not move, so the next reader sees them
    /// without waiting out the timeout.
    fn return_dead_letter(
        &self,
        receipt: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_serialise_with_their_tag_and_the_last_receive_is_the_queues_count() {
        let done: Fate = Fate::Done(());
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({"fate": "done"})
        );
        let dead: Fate = Fate::DeadLettered {
            kind: FailureKind::Rejected,
            reason: "rows".into(),
        };
        assert_eq!(
            serde_json::to_value(&dead).unwrap(),
            serde_json::json!({"fate": "dead_lettered", "kind": "rejected", "reason": "rows"})
        );
        assert!(Fate::<()>::Retry { reason: "x".into() }.retry());
        assert!(!done.retry());

        let mut message = Received {
            id: "m".into(),
            receipt: "r".into(),
            body: String::new(),
            attributes: Attributes::new(),
            receive_count: 4,
        };
        assert!(!message.is_last_receive(5));
        message.receive_count = 5;
        assert!(message.is_last_receive(5));
        assert_eq!(reason_attribute(" "), "(no reason given)");
        assert_eq!(reason_attribute("bad header"), "bad header");
    }
}
