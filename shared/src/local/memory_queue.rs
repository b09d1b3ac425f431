//! A work queue in process, with what the flow relies on from SQS: visibility
//! timeouts read from an injectable [`Clock`], a receive count, a dead-letter
//! queue that messages move to by themselves after `max_receives` receives
//! (SQS redrive), explicit dead-lettering with reason attributes, redrive
//! back, and dead letters returned (made visible) at once.
//!
//! In memory only ([`MemoryQueue::new`], tests), or mirrored to a JSON file
//! after every change ([`MemoryQueue::open`]) so that a later process — the
//! CLI's `dlq list` after a `demo` — sees the same messages. One process owns
//! the file at a time, as with the file ledger.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::fs_util::{random_id, write_atomic};
use crate::failure::FailureKind;
use crate::ports::clock::Clock;
use crate::ports::work_queue::{
    DeadLetter, MAX_BATCH, OutgoingMessage, QueueError, Received, WorkQueue, attr, reason_attribute,
};

/// The largest body SQS takes.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// The longest visibility timeout SQS takes.
const MAX_VISIBILITY_SECS: i64 = 12 * 60 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    id: String,
    body: String,
    attributes: crate::ports::work_queue::Attributes,
    receive_count: u32,
    visible_at: DateTime<Utc>,
    receipt: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Queues {
    main: VecDeque<Stored>,
    dead: VecDeque<Stored>,
    next_id: u64,
}

/// One queue and its dead-letter queue, in memory (optionally mirrored to a
/// file). Clones are handles to the same queue.
#[derive(Clone)]
pub struct MemoryQueue {
    name: String,
    max_receives: u32,
    clock: Arc<dyn Clock>,
    path: Option<PathBuf>,
    queues: Arc<Mutex<Queues>>,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue")
            .field("name", &self.name)
            .field("max_receives", &self.max_receives)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl MemoryQueue {
    /// A queue named `name` whose messages move to its dead-letter queue when
    /// received more than `max_receives` times (at least 1).
    pub fn new(name: impl Into<String>, max_receives: u32, clock: Arc<dyn Clock>) -> Self {
        MemoryQueue {
            name: name.into(),
            max_receives: max_receives.max(1),
            clock,
            path: None,
            queues: Arc::new(Mutex::new(Queues::default())),
        }
    }

    /// The queue kept in the JSON file `path` (created on the first change),
    /// with the messages a previous process left there. A file that cannot be
    /// read as a queue is an error naming it; it is never overwritten.
    pub fn open(
        path: impl AsRef<Path>,
        name: impl Into<String>,
        max_receives: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, QueueError> {
        let path = path.as_ref().to_path_buf();
        let mut queue = MemoryQueue::new(name, max_receives, clock);
        let queues = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                queue.invalid(format!("{} is not a queue file: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Queues::default(),
            Err(e) => return Err(queue.unavailable("open", e)),
        };
        queue.queues = Arc::new(Mutex::new(queues));
        queue.path = Some(path);
        Ok(queue)
    }

    /// How many messages wait in the queue and in its dead-letter queue
    /// (visible or not): what `tributary status` shows.
    pub fn depths(&self) -> (usize, usize) {
        let queues = self.lock();
        (queues.main.len(), queues.dead.len())
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unavailable(&self, op: &'static str, e: std::io::Error) -> QueueError {
        QueueError::Unavailable {
            queue: self.name.clone(),
            op,
            source: Box::new(e),
        }
    }

    /// Applies `change` to the queues; a queue kept in a file applies it to a
    /// copy, writes the copy, and only then keeps it, so a failed write
    /// changes nothing.
    fn update<T>(
        &self,
        op: &'static str,
        change: impl FnOnce(&mut Queues) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        let mut guard = self.lock();
        let Some(path) = &self.path else {
            return change(&mut guard);
        };
        let mut next = guard.clone();
        let value = change(&mut next)?;
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| self.unavailable(op, std::io::Error::other(e)))?;
        write_atomic(path, &bytes).map_err(|e| self.unavailable(op, e))?;
        *guard = next;
        Ok(value)
    }

    fn invalid(&self, reason: String) -> QueueError {
        QueueError::Invalid {
            queue: self.name.clone(),
            reason,
        }
    }

    fn stale(&self, receipt: &str) -> QueueError {
        QueueError::StaleReceipt {
            queue: self.name.clone(),
            receipt: receipt.to_owned(),
        }
    }

    fn check_receive(&self, max: usize, visibility: Duration) -> Result<(), QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(self.invalid(format!(
                "receive takes 1 to {MAX_BATCH} messages, not {max}"
            )));
        }
        let secs = visibility.num_seconds();
        if !(0..=MAX_VISIBILITY_SECS).contains(&secs) {
            return Err(self.invalid(format!(
                "visibility timeout {secs}s is outside 0..={MAX_VISIBILITY_SECS}s"
            )));
        }
        Ok(())
    }

    fn new_receipt(&self) -> Result<String, QueueError> {
        random_id().map_err(|e| self.unavailable("receive", e))
    }

    fn send_now(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if messages.len() > MAX_BATCH {
            return Err(self.invalid(format!(
                "a batch holds at most {MAX_BATCH} messages, not {}",
                messages.len()
            )));
        }
        if let Some(m) = messages.iter().find(|m| m.body.len() > MAX_BODY_BYTES) {
            return Err(self.invalid(format!(
                "a body holds at most {MAX_BODY_BYTES} bytes, not {}",
                m.body.len()
            )));
        }
        let now = self.clock.now();
        self.update("send", |queues| {
            for message in messages {
                queues.next_id += 1;
                let id = format!("{}-{}", self.name, queues.next_id);
                queues.main.push_back(Stored {
                    id,
                    body: message.body.clone(),
                    attributes: message.attributes.clone(),
                    receive_count: 0,
                    visible_at: now,
                    receipt: None,
                });
            }
            Ok(())
        })
    }

    fn receive_now(
        &self,
        max: usize,
        visibility: Duration,
        dead: bool,
    ) -> Result<Vec<Received>, QueueError> {
        self.check_receive(max, visibility)?;
        let now = self.clock.now();
        self.update("receive", |queues| {
            let mut received = Vec::new();
            let mut index = 0;
            while received.len() < max {
                let queue = if dead {
                    &mut queues.dead
                } else {
                    &mut queues.main
                };
                let Some(message) = queue.get_mut(index) else {
                    break;
                };
                if message.visible_at > now {
                    index += 1;
                    continue;
                }
                if !dead && message.receive_count >= self.max_receives {
                    if let Some(mut moved) = queues.main.remove(index) {
                        moved.receive_count = 0;
                        moved.receipt = None;
                        moved.visible_at = now;
                        queues.dead.push_back(moved);
                    }
                    continue;
                }
                let receipt = self.new_receipt()?;
                message.receive_count += 1;
                message.visible_at = now + visibility;
                message.receipt = Some(receipt.clone());
                received.push(Received {
                    id: message.id.clone(),
                    receipt,
                    body: message.body.clone(),
                    attributes: message.attributes.clone(),
                    receive_count: message.receive_count,
                });
                index += 1;
            }
            Ok(received)
        })
    }

    /// Removes the message holding `receipt` from the main or dead queue.
    fn take(&self, queues: &mut Queues, receipt: &str, dead: bool) -> Result<Stored, QueueError> {
        let queue = if dead {
            &mut queues.dead
        } else {
            &mut queues.main
        };
        let index = queue
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| self.stale(receipt))?;
        queue.remove(index).ok_or_else(|| self.stale(receipt))
    }

    /// The message holding `receipt` in the main or dead queue, to change.
    fn find<'q>(
        &self,
        queues: &'q mut Queues,
        receipt: &str,
        dead: bool,
    ) -> Result<&'q mut Stored, QueueError> {
        let queue = if dead {
            &mut queues.dead
        } else {
            &mut queues.main
        };
        queue
            .iter_mut()
            .find(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| self.stale(receipt))
    }

    fn delete_now(&self, receipt: &str) -> Result<(), QueueError> {
        self.update("delete", |queues| {
            self.take(queues, receipt, false).map(drop)
        })
    }

    fn extend_now(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.check_receive(1, visibility)?;
        let now = self.clock.now();
        self.update("extend_visibility", |queues| {
            self.find(queues, receipt, false)?.visible_at = now + visibility;
            Ok(())
        })
    }

    fn dead_letter_now(
        &self,
        message: &Received,
        kind: FailureKind,
        reason: &str,
    ) -> Result<(), QueueError> {
        let now = self.clock.now();
        self.update("dead_letter", |queues| {
            let mut stored = self.take(queues, &message.receipt, false)?;
            stored
                .attributes
                .insert(attr::ERROR_KIND.into(), kind.name().into());
            stored
                .attributes
                .insert(attr::ERROR_REASON.into(), reason_attribute(reason));
            stored.receive_count = 0;
            stored.receipt = None;
            stored.visible_at = now;
            queues.dead.push_back(stored);
            Ok(())
        })
    }

    /// Makes the dead letter holding `receipt` visible now. The receipt stays
    /// valid until the message is received again, as on SQS.
    fn return_now(&self, receipt: &str) -> Result<(), QueueError> {
        let now = self.clock.now();
        self.update("return_dead_letter", |queues| {
            self.find(queues, receipt, true)?.visible_at = now;
            Ok(())
        })
    }

    fn redrive_now(&self, message: &DeadLetter) -> Result<(), QueueError> {
        let now = self.clock.now();
        self.update("redrive", |queues| {
            let mut stored = self.take(queues, &message.receipt, true)?;
            stored.attributes.remove(attr::ERROR_KIND);
            stored.attributes.remove(attr::ERROR_REASON);
            stored.receive_count = 0;
            stored.receipt = None;
            stored.visible_at = now;
            queues.main.push_back(stored);
            Ok(())
        })
    }
}

impl WorkQueue for MemoryQueue {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        self.send_now(messages)
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        self.receive_now(max, visibility, false)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.delete_now(receipt)
    }

    async fn extend_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.extend_now(receipt, visibility)
    }

    async fn dead_letter(
        &self,
        message: &Received,
        kind: FailureKind,
        reason: &str,
    ) -> Result<(), QueueError> {
        self.dead_letter_now(message, kind, reason)
    }

    async fn receive_dead_letters(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.receive_now(max, visibility, true)
    }

    async fn redrive(&self, message: &DeadLetter) -> Result<(), QueueError> {
        self.redrive_now(message)
    }

    async fn return_dead_letter(&self, receipt: &str) -> Result<(), QueueError> {
        self.return_now(receipt)
    }
}
