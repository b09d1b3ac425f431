//! SQS events as Lambda delivers them, turned into the work-queue port's
//! [`Received`] messages, and the partial batch response
//! (`ReportBatchItemFailures`) that tells Lambda which messages to leave on
//! the queue.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};

use crate::ports::work_queue::{Attributes, Received};

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
