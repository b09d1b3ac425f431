//! SQS events as Lambda delivers them, turned into the work-queue port's
//! [`Received`] messages, and the partial batch response
//! (`ReportBatchItemFailures`) that tells Lambda which messages to leave on
//! the queue ([`messages`], [`span`] and [`PartialBatch`] walk a batch); and the
//! other way, the event Lambda would deliver for messages received from a
//! queue (what the demo hands the functions).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::{Value, json};
use tracing::{Span, error, info, info_span};

use crate::ports::work_queue::{Attributes, Fate, Received};

/// The attribute Lambda sets with the receive count.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";

/// A record Lambda delivered without an id or receipt (never seen from SQS;
/// a hand-written test event).
#[derive(Debug, thiserror::Error)]
#[error("SQS record {index} has no {missing}")]
pub struct MalformedRecord {
    pub index: usize,
    pub missing: &'static str,
}

/// The record as the port's message. String message attributes are kept;
/// binary ones are dropped (tributary never sends them).
pub fn received(index: usize, record: &SqsMessage) -> Result<Received, MalformedRecord> {
    let id = record.message_id.clone().ok_or(MalformedRecord {
        index,
        missing: "messageId",
    })?;
    let receipt = record.receipt_handle.clone().ok_or(MalformedRecord {
        index,
        missing: "receiptHandle",
    })?;
    let attributes: Attributes = record
        .message_attributes
        .iter()
        .filter_map(|(name, value)| value.string_value.clone().map(|v| (name.clone(), v)))
        .collect();
    let receive_count = record
        .attributes
        .get(RECEIVE_COUNT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Ok(Received {
        id,
        receipt,
        body: record.body.clone().unwrap_or_default(),
        attributes,
        receive_count,
    })
}

/// The records of `event` as the port's [`Received`] messages, in order; a
/// record without an id or receipt is logged and skipped (Lambda deletes it).
///
/// A function handles a batch as
/// `for message in messages(&event) { let fate = handle(&message).instrument(span(&message)).await; batch.settle(&message, &fate); }`
/// and answers `batch.response()`.
pub fn messages(event: &SqsEvent) -> impl Iterator<Item = Received> + '_ {
    event
        .records
        .iter()
        .enumerate()
        .filter_map(|(index, record)| match received(index, record) {
            Ok(message) => Some(message),
            Err(error) => {
                error!(%error, "Malformed SQS record; skipped.");
                None
            }
        })
}

/// The span a message is handled in: its id and receive count, so the log
/// lines inside need not repeat them.
pub fn span(message: &Received) -> Span {
    info_span!("message", id = %message.id, receive = message.receive_count)
}

/// The partial batch response of a batch, built as each message's [`Fate`]
/// is settled.
#[derive(Debug, Default)]
pub struct PartialBatch {
    retry: Vec<String>,
}

impl PartialBatch {
    /// Logs what became of `message` and keeps it for a retry if its fate
    /// says so.
    pub fn settle<D: std::fmt::Debug>(&mut self, message: &Received, fate: &Fate<D>) {
        info!(message_id = %message.id, ?fate, "Message handled.");
        if fate.retry() {
            self.retry.push(message.id.clone());
        }
    }

    /// The response naming the messages to leave on the queue.
    pub fn response(self) -> SqsBatchResponse {
        batch_response(self.retry)
    }
}

/// The response naming the messages to retry.
pub fn batch_response(retry: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in retry {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The SQS event Lambda would deliver for `messages`, received from the queue
/// `queue_arn`: what [`received`] reads back, record for record.
pub fn event(queue_arn: &str, messages: &[Received]) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), json!({"stringValue": v, "dataType": "String"})))
                .collect();
            json!({
                "messageId": m.id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {RECEIVE_COUNT: m.receive_count.to_string()},
                "messageAttributes": attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
}

/// The ids a partial batch response names: the messages Lambda leaves on
/// the queue (every other one it deletes).
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_built_from_received_messages_reads_back_the_same() {
        let messages = vec![
            Received {
                id: "m-1".into(),
                receipt: "r-1".into(),
                body: r#"{"v":1}"#.into(),
                attributes: [("error_kind".to_owned(), "rejected".to_owned())].into(),
                receive_count: 3,
            },
            Received {
                id: "m-2".into(),
                receipt: "r-2".into(),
                body: String::new(),
                attributes: Attributes::new(),
                receive_count: 1,
            },
        ];
        let event = event("arn:aws:sqs:local:0:ingest", &messages).unwrap();
        let back: Vec<Received> = event
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| received(i, r).unwrap())
            .collect();
        assert_eq!(back, messages);
        assert_eq!(
            failed_ids(&batch_response(["m-2".to_owned()])),
            vec!["m-2".to_owned()]
        );
    }
}
