//! The work queue on SQS: a queue and its dead-letter queue. The queue's
//! `RedrivePolicy` (`maxReceiveCount`) moves a message that keeps failing to the
//! dead-letter queue by itself; [`SqsWorkQueue::dead_letter`] moves one at once,
//! with the reason as message attributes. Moves are send-then-delete, so a
//! message is never lost: a failure in between leaves a duplicate, which the
//! ledger's conditional writes absorb. Redrive is receive → send → delete
//! (`StartMessageMoveTask` cannot filter, and moto lacks it); dead letters
//! browsed but left are returned with `ChangeMessageVisibility` 0.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use chrono::Duration;

use super::{ErrorClass, classify, code, describe};
use crate::failure::FailureKind;
use crate::ports::work_queue::{
    Attributes, DeadLetter, MAX_BATCH, OutgoingMessage, QueueError, Received, WorkQueue, attr,
    reason_attribute,
};

/// The longest visibility timeout SQS takes (12 hours).
const MAX_VISIBILITY_SECS: i64 = 12 * 60 * 60;
/// The longest reason kept in the `error_reason` attribute.
const MAX_REASON_CHARS: usize = 1024;
/// How often entries of a batch that failed for a transient reason are resent.
const BATCH_RETRIES: usize = 2;

/// Error codes that mean a receipt handle is no longer valid.
const STALE_RECEIPT_CODES: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "AWS.SimpleQueueService.ReceiptHandleIsInvalid",
    "InvalidParameterValue",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

/// One SQS queue and its dead-letter queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsWorkQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
    wait_seconds: i32,
}

/// Which of the pair a call acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Dead,
}

/// The entries of a batch SQS did not take, after retries.
#[derive(Debug, thiserror::Error)]
#[error("{} of the batch's messages were not sent: {}", failed.len(), failed.join("; "))]
pub struct BatchFailed {
    /// `index: code: message` per failed entry (the index in the batch given).
    pub failed: Vec<String>,
}

impl SqsWorkQueue {
    /// The queue at `queue_url` with its dead-letter queue at `dead_letter_url`,
    /// through `client` (built once per container). Receives do not wait for
    /// messages (short polling); see [`SqsWorkQueue::with_wait`].
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        SqsWorkQueue {
            client,
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
            wait_seconds: 0,
        }
    }

    /// Receives wait up to `seconds` (0–20) for a message (long polling).
    pub fn with_wait(mut self, seconds: u8) -> Self {
        self.wait_seconds = i32::from(seconds.min(20));
        self
    }

    fn url(&self, which: Which) -> &str {
        match which {
            Which::Main => &self.queue_url,
            Which::Dead => &self.dead_letter_url,
        }
    }

    fn error<E>(
        &self,
        which: Which,
        op: &'static str,
        err: SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let queue = self.url(which).to_owned();
        match classify(&err) {
            ErrorClass::Transient => QueueError::Unavailable {
                queue,
                op,
                source: Box::new(err),
            },
            ErrorClass::Denied => QueueError::Denied {
                queue,
                reason: format!("{op}: {}", describe(&err)),
            },
            ErrorClass::Refused => QueueError::Invalid {
                queue,
                reason: format!("{op}: {}", describe(&err)),
            },
        }
    }

    /// Maps an error of a call that took a receipt: a stale receipt is its own case.
    fn receipt_error<E>(
        &self,
        which: Which,
        op: &'static str,
        receipt: &str,
        err: SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if STALE_RECEIPT_CODES.contains(&code(&err)) {
            QueueError::StaleReceipt {
                queue: self.url(which).to_owned(),
                receipt: receipt.to_owned(),
            }
        } else {
            self.error(which, op, err)
        }
    }

    fn invalid(&self, which: Which, reason: String) -> QueueError {
        QueueError::Invalid {
            queue: self.url(which).to_owned(),
            reason,
        }
    }

    fn check_receive(
        &self,
        which: Which,
        max: usize,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(self.invalid(
                which,
                format!("receive takes 1 to {MAX_BATCH} messages, not {max}"),
            ));
        }
        visibility_secs(visibility).map_err(|reason| self.invalid(which, reason))?;
        Ok(())
    }

    async fn send_batch_to(
        &self,
        which: Which,
        messages: &[OutgoingMessage],
    ) -> Result<(), QueueError> {
        if messages.len() > MAX_BATCH {
            return Err(self.invalid(
                which,
                format!(
                    "a batch holds at most {MAX_BATCH} messages, not {}",
                    messages.len()
                ),
            ));
        }
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        for attempt in 0..=BATCH_RETRIES {
            if pending.is_empty() {
                return Ok(());
            }
            let mut entries = Vec::with_capacity(pending.len());
            for &index in &pending {
                let message = &messages[index];
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(&message.body)
                        .set_message_attributes(to_sqs_attributes(&message.attributes))
                        .build()
                        .map_err(|e| self.invalid(which, e.to_string()))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(self.url(which))
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.error(which, "send batch", e))?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            let describe_failures = || BatchFailed {
                failed: failed
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {}: {}",
                            f.id(),
                            f.code(),
                            f.message().unwrap_or_default()
                        )
                    })
                    .collect(),
            };
            // The caller's mistake (a body too large, a bad attribute): resending cannot help.
            if failed.iter().any(|f| f.sender_fault()) {
                return Err(self.invalid(which, describe_failures().to_string()));
            }
            if attempt == BATCH_RETRIES {
                return Err(QueueError::Unavailable {
                    queue: self.url(which).to_owned(),
                    op: "send batch",
                    source: Box::new(describe_failures()),
                });
            }
            pending = failed.iter().filter_map(|f| f.id().parse().ok()).collect();
            tracing::warn!(
                queue = %self.url(which),
                failed = pending.len(),
                "Resending the messages of a batch SQS did not take."
            );
        }
        Ok(())
    }

    async fn receive_from(
        &self,
        which: Which,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        self.check_receive(which, max, visibility)?;
        let visibility = visibility_secs(visibility).map_err(|r| self.invalid(which, r))?;
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(which))
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(visibility)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.error(which, "receive", e))?;
        let mut received = Vec::new();
        for message in out.messages() {
            let (Some(id), Some(receipt)) = (message.message_id(), message.receipt_handle()) else {
                continue;
            };
            let receive_count = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            received.push(Received {
                id: id.to_owned(),
                receipt: receipt.to_owned(),
                body: message.body().unwrap_or_default().to_owned(),
                attributes: from_sqs_attributes(message.message_attributes()),
                receive_count,
            });
        }
        Ok(received)
    }

    async fn delete_from(&self, which: Which, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(self.url(which))
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| self.receipt_error(which, "delete", receipt, e))?;
        Ok(())
    }

    /// Hides the message holding `receipt` for `visibility` from now (zero:
    /// visible at once).
    async fn change_visibility(
        &self,
        which: Which,
        op: &'static str,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let secs = visibility_secs(visibility).map_err(|r| self.invalid(which, r))?;
        self.client
            .change_message_visibility()
            .queue_url(self.url(which))
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| self.receipt_error(which, op, receipt, e))?;
        Ok(())
    }

    /// Sends `attributes` with `body` to `to`, then deletes `receipt` from `from`.
    async fn move_message(
        &self,
        from: Which,
        to: Which,
        receipt: &str,
        body: &str,
        attributes: &Attributes,
    ) -> Result<(), QueueError> {
        self.send_batch_to(
            to,
            &[OutgoingMessage {
                body: body.to_owned(),
                attributes: attributes.clone(),
            }],
        )
        .await?;
        // Sent: deleting the original now can only leave a duplicate, never a loss.
        self.delete_from(from, receipt).await
    }
}

fn visibility_secs(visibility: Duration) -> Result<i32, String> {
    let secs = visibility.num_seconds();
    if (0..=MAX_VISIBILITY_SECS).contains(&secs) {
        i32::try_from(secs).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "visibility timeout {secs}s is outside 0..={MAX_VISIBILITY_SECS}s"
        ))
    }
}

/// Keeps only the characters SQS accepts in attribute values, at most `max` of them.
fn sqs_text(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
                || c >= '\u{10000}'
        })
        .take(max)
        .collect()
}

fn to_sqs_attributes(attributes: &Attributes) -> Option<HashMap<String, MessageAttributeValue>> {
    if attributes.is_empty() {
        return None;
    }
    Some(
        attributes
            .iter()
            .filter_map(|(name, value)| {
                let value = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .ok()?;
                Some((name.clone(), value))
            })
            .collect(),
    )
}

fn from_sqs_attributes(attributes: Option<&HashMap<String, MessageAttributeValue>>) -> Attributes {
    attributes
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), value.string_value()?.to_owned())))
        .collect()
}

impl WorkQueue for SqsWorkQueue {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        self.send_batch_to(Which::Main, messages).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        self.receive_from(Which::Main, max, visibility).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.delete_from(Which::Main, receipt).await
    }

    async fn extend_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.change_visibility(Which::Main, "extend visibility", receipt, visibility)
            .await
    }

    async fn dead_letter(
        &self,
        message: &Received,
        kind: FailureKind,
        reason: &str,
    ) -> Result<(), QueueError> {
        let mut attributes = message.attributes.clone();
        attributes.insert(attr::ERROR_KIND.into(), kind.name().into());
        attributes.insert(
            attr::ERROR_REASON.into(),
            reason_attribute(&sqs_text(reason, MAX_REASON_CHARS)),
        );
        self.move_message(
            Which::Main,
            Which::Dead,
            &message.receipt,
            &message.body,
            &attributes,
        )
        .await
    }

    async fn receive_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.receive_from(Which::Dead, max, visibility).await
    }

    async fn redrive(&self, message: &DeadLetter) -> Result<(), QueueError> {
        let mut attributes = message.attributes.clone();
        attributes.remove(attr::ERROR_KIND);
        attributes.remove(attr::ERROR_REASON);
        self.move_message(
            Which::Dead,
            Which::Main,
            &message.receipt,
            &message.body,
            &attributes,
        )
        .await
    }

    async fn return_dead_letter(&self, receipt: &str) -> Result<(), QueueError> {
        self.change_visibility(Which::Dead, "return", receipt, Duration::zero())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_only_what_sqs_accepts() {
        assert_eq!(sqs_text("bad\u{0}row\u{1}", 100), "badrow");
        assert_eq!(sqs_text("ünïcode ok\n", 100), "ünïcode ok\n");
        assert_eq!(sqs_text(&"x".repeat(2000), 10).len(), 10);
    }

    #[test]
    fn visibility_out_of_range_is_refused() {
        assert_eq!(visibility_secs(Duration::seconds(30)), Ok(30));
        assert!(visibility_secs(Duration::seconds(-1)).is_err());
        assert!(visibility_secs(Duration::hours(13)).is_err());
    }
}
