//! A notifier that appends each notification as one JSON line to a file, where
//! the demo (and ops on an on-premises run) read them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fs_util::{append_line, random_id, read_lines};
use crate::ports::notifier::{Notification, Notifier, NotifyError};

/// One published notification as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub id: String,
    pub published_at: DateTime<Utc>,
    #[serde(flatten)]
    pub notification: Notification,
}

/// Notifications appended to a JSON-lines file.
/// Clones share one lock, so they write as one.
#[derive(Debug, Clone)]
pub struct FileNotifier {
    path: PathBuf,
    write: Arc<Mutex<()>>,
}

impl FileNotifier {
    /// Appends to `path` (created on the first notification).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileNotifier {
            path: path.into(),
            write: Arc::new(Mutex::new(())),
        }
    }

    fn unavailable(&self, source: impl std::error::Error + Send + Sync + 'static) -> NotifyError {
        NotifyError::Unavailable {
            topic: self.path.display().to_string(),
            source: Box::new(source),
        }
    }

    /// Everything published so far, oldest first.
    pub fn published(&self) -> Result<Vec<Published>, NotifyError> {
        read_lines(&self.path)
            .map_err(|e| self.unavailable(e))?
            .iter()
            .map(|line| serde_json::from_str(line).map_err(|e| self.unavailable(e)))
            .collect()
    }

    fn publish_now(&self, notification: &Notification) -> Result<String, NotifyError> {
        let published = Published {
            id: random_id().map_err(|e| self.unavailable(e))?,
            published_at: Utc::now(),
            notification: notification.clone(),
        };
        let line = serde_json::to_string(&published).map_err(|e| self.unavailable(e))?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        append_line(&self.path, &line).map_err(|e| self.unavailable(e))?;
        Ok(published.id)
    }
}

impl Notifier for FileNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        self.publish_now(notification)
    }
}
