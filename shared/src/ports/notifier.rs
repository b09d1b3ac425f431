//! The notifier port (SNS, or a JSON-lines file locally): alerts and outcome
//! notices with `tenant`, `severity` and `event` attributes, so subscriptions
//! can filter per tenant.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::failure::FailureKind;

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The attribute value.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub subject: String,
    pub body: String,
    pub tenant: String,
    pub severity: Severity,
    /// What happened: `file_ingested`, `file_rejected`, `file_late`, …
    pub event: String,
}

/// Why a notification could not be published.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The topic could not be reached or throttled us.
    #[error("notifier {topic}: {source}")]
    Unavailable {
        topic: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The topic does not exist or we may not publish to it.
    #[error("notifier {topic}: {reason}")]
    Denied { topic: String, reason: String },
}

impl NotifyError {
    /// An unreachable topic is transient; a missing one is misconfigured.
    pub fn kind(&self) -> FailureKind {
        match self {
            NotifyError::Unavailable { .. } => FailureKind::Transient,
            NotifyError::Denied { .. } => FailureKind::Misconfigured,
        }
    }
}

/// Where notifications go.
pub trait Notifier: Send + Sync {
    /// Publishes `notification`; returns the message id.
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<String, NotifyError>> + Send;
}
