//! The work queue's contract: visibility timeouts, receive counts and
//! deletes, dead letters (moved after too many receives, or explicitly with a
//! reason), browsing them, returning them and redriving them.

use std::collections::BTreeMap;

use chrono::Duration;
use tributary::failure::FailureKind;
use tributary::ports::work_queue::{OutgoingMessage, QueueError, Received, WorkQueue, attr};

use super::TimeTravel;

fn message(body: &str) -> OutgoingMessage {
    let mut m = OutgoingMessage::new(body);
    m.attributes.insert("tenant".into(), "acme".into());
    m
}

/// Receives until `n` messages arrived (SQS may return fewer than asked).
async fn receive_n<Q: WorkQueue>(queue: &Q, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..10 {
        if got.len() >= n {
            break;
        }
        got.extend(
            queue
                .receive((n - got.len()).min(10), visibility)
                .await
                .unwrap(),
        );
    }
    got
}

async fn dead_letters_n<Q: WorkQueue>(queue: &Q, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..10 {
        if got.len() >= n {
            break;
        }
        got.extend(
            queue
                .receive_dead_letters((n - got.len()).min(10), visibility)
                .await
                .unwrap(),
        );
    }
    got
}

/// A received message is hidden for its visibility timeout, then returns with a
/// higher receive count; extending hides it longer; delete removes it for good.
/// Batches above ten are refused.
pub async fn queue_visibility_and_delete<Q: WorkQueue, T: TimeTravel>(queue: &Q, time: &T) {
    let too_many: Vec<OutgoingMessage> = (0..11).map(|i| message(&i.to_string())).collect();
    let err = queue.send_batch(&too_many).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");

    queue
        .send_batch(&[message("one"), message("two")])
        .await
        .unwrap();
    let vis = Duration::seconds(2);
    let first = receive_n(queue, 2, vis).await;
    let mut bodies: Vec<&str> = first.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["one", "two"]);
    assert!(
        first
            .iter()
            .all(|m| m.receive_count == 1 && m.attributes["tenant"] == "acme")
    );
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "hidden while in flight"
    );

    let one = first.iter().find(|m| m.body == "one").unwrap();
    let two = first.iter().find(|m| m.body == "two").unwrap();
    queue.delete(&one.receipt).await.unwrap();
    queue
        .extend_visibility(&two.receipt, Duration::seconds(6))
        .await
        .unwrap();

    time.advance(Duration::seconds(3)).await;
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "extended and deleted stay hidden"
    );

    time.advance(Duration::seconds(4)).await;
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].body.as_str(), back[0].receive_count), ("two", 2));
    assert_eq!(back[0].id, two.id);
    queue.delete(&back[0].receipt).await.unwrap();
    time.advance(Duration::seconds(3)).await;
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "deleted for good"
    );
}

/// After `max_receives` receives without a delete the queue moves the message to
/// its dead-letter queue; from there it can be moved back.
pub async fn queue_max_receives_dead_letters<Q: WorkQueue, T: TimeTravel>(
    queue: &Q,
    time: &T,
    max_receives: u32,
) {
    queue.send_batch(&[message("poison")]).await.unwrap();
    let vis = Duration::seconds(1);
    for round in 1..=max_receives {
        let got = receive_n(queue, 1, vis).await;
        assert_eq!(got.len(), 1, "receive {round}");
        assert_eq!(got[0].receive_count, round);
        time.advance(Duration::seconds(2)).await;
    }
    assert!(
        queue.receive(10, vis).await.unwrap().is_empty(),
        "moved after {max_receives}"
    );

    let dead = dead_letters_n(queue, 1, Duration::seconds(30)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].attributes["tenant"], "acme");

    queue.redrive(&dead[0]).await.unwrap();
    let again = receive_n(queue, 1, vis).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, "poison");
    assert_eq!(again[0].attributes.get(attr::ERROR_KIND), None);
    queue.delete(&again[0].receipt).await.unwrap();
}

/// An explicitly dead-lettered message leaves the queue at once and carries its
/// reason; redrive strips the reason and the message is worked again.
pub async fn queue_explicit_dead_letter_keeps_reason<Q: WorkQueue>(queue: &Q) {
    queue.send_batch(&[message("bad file")]).await.unwrap();
    let vis = Duration::seconds(30);
    let got = receive_n(queue, 1, vis).await;
    assert_eq!(got.len(), 1);
    queue
        .dead_letter(
            &got[0],
            FailureKind::Rejected,
            "row count 3 below min_rows 10",
        )
        .await
        .unwrap();
    let err = queue.delete(&got[0].receipt).await;
    assert!(
        matches!(err, Ok(()) | Err(QueueError::StaleReceipt { .. })),
        "{err:?}"
    );

    let dead = dead_letters_n(queue, 1, vis).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "bad file");
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "rejected");
    assert_eq!(
        dead[0].attributes[attr::ERROR_REASON],
        "row count 3 below min_rows 10"
    );
    assert_eq!(dead[0].attributes["tenant"], "acme");

    queue.redrive(&dead[0]).await.unwrap();
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "bad file");
    let expected: BTreeMap<String, String> = [("tenant".to_owned(), "acme".to_owned())].into();
    assert_eq!(back[0].attributes, expected);
    queue.delete(&back[0].receipt).await.unwrap();
}

/// A dead letter with a blank reason carries the same placeholder on every
/// adapter (SQS refuses an empty attribute value), so ops and the redrive
/// filters see one shape.
pub async fn queue_dead_letter_with_a_blank_reason<Q: WorkQueue>(queue: &Q) {
    queue.send_batch(&[message("no reason")]).await.unwrap();
    let vis = Duration::seconds(30);
    let got = receive_n(queue, 1, vis).await;
    assert_eq!(got.len(), 1);
    queue
        .dead_letter(&got[0], FailureKind::Transient, "  ")
        .await
        .unwrap();
    let dead = dead_letters_n(queue, 1, vis).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "no reason");
    assert_eq!(dead[0].attributes[attr::ERROR_KIND], "transient");
    assert_eq!(dead[0].attributes[attr::ERROR_REASON], "(no reason given)");
}

/// A dead letter browsed and returned is visible again at once, unchanged (body,
/// reason attributes, id), while one browsed and not returned stays hidden; a
/// returned message is received with a new receipt and can then be redriven;
/// returning a message no longer in flight (it was moved) is a stale receipt.
pub async fn queue_return_dead_letter_is_visible_at_once<Q: WorkQueue>(queue: &Q) {
    queue
        .send_batch(&[message("left"), message("kept hidden")])
        .await
        .unwrap();
    let vis = Duration::seconds(300);
    for got in receive_n(queue, 2, vis).await {
        queue
            .dead_letter(&got, FailureKind::Misconfigured, "no rule matches")
            .await
            .unwrap();
    }
    let browsed = dead_letters_n(queue, 2, vis).await;
    assert_eq!(browsed.len(), 2);
    assert!(
        queue
            .receive_dead_letters(10, vis)
            .await
            .unwrap()
            .is_empty(),
        "hidden while browsed"
    );
    let left = browsed.iter().find(|m| m.body == "left").unwrap();
    queue.return_dead_letter(&left.receipt).await.unwrap();

    let again = dead_letters_n(queue, 1, vis).await;
    assert_eq!(again.len(), 1, "returned at once, the other still hidden");
    assert_eq!(again[0].id, left.id);
    assert_eq!(again[0].body, "left");
    assert_eq!(again[0].attributes, left.attributes);
    assert_eq!(again[0].attributes[attr::ERROR_KIND], "misconfigured");
    assert_eq!(again[0].attributes[attr::ERROR_REASON], "no rule matches");
    assert_eq!(again[0].receive_count, left.receive_count + 1);
    assert_ne!(again[0].receipt, left.receipt);
    assert!(
        queue
            .receive_dead_letters(10, vis)
            .await
            .unwrap()
            .is_empty(),
        "received again, hidden again"
    );

    queue.redrive(&again[0]).await.unwrap();
    let err = queue
        .return_dead_letter(&again[0].receipt)
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::StaleReceipt { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Transient);
    let back = receive_n(queue, 1, vis).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "left");
    queue.delete(&back[0].receipt).await.unwrap();
}
