//! The notifier on SNS: one topic, email subscribers for ops, message
//! attributes `tenant`, `severity` and `event` so subscriptions filter per
//! tenant. Subjects are made to fit what SNS takes (ASCII, no line breaks,
//! at most 100 characters); the full text stays in the body.

use std::collections::HashMap;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{ErrorClass, classify, describe};
use crate::ports::notifier::{Notification, Notifier, NotifyError};

/// The longest subject SNS takes.
pub const MAX_SUBJECT_CHARS: usize = 100;
/// The largest message SNS takes (256 KiB), less room for the attributes.
const MAX_BODY_BYTES: usize = 250 * 1024;
/// What an empty subject becomes.
const DEFAULT_SUBJECT: &str = "tributary notification";

/// A notifier publishing to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier on the topic `topic_arn`, through `client` (built once per container).
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// A subject SNS accepts: printable ASCII (other characters become `?`, line
/// breaks and tabs a space), trimmed, at most [`MAX_SUBJECT_CHARS`] characters
/// (cut with `...`), never empty.
pub fn sns_subject(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_whitespace() || c.is_control() => ' ',
            _ => '?',
        })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return DEFAULT_SUBJECT.to_owned();
    }
    if cleaned.len() <= MAX_SUBJECT_CHARS {
        return cleaned;
    }
    // ASCII only from here: byte and character counts agree.
    format!("{}...", cleaned[..MAX_SUBJECT_CHARS - 3].trim_end())
}

/// The body, cut at a character boundary below SNS's size limit.
fn sns_body(body: &str, subject: &str) -> String {
    if body.trim().is_empty() {
        // SNS refuses an empty message.
        return subject.to_owned();
    }
    if body.len() <= MAX_BODY_BYTES {
        return body.to_owned();
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[truncated]", &body[..end])
}

fn attribute(value: &str) -> Option<MessageAttributeValue> {
    // SNS refuses empty attribute values: an empty one is left out.
    if value.is_empty() {
        return None;
    }
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl Notifier for SnsNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        let subject = sns_subject(&notification.subject);
        let attributes: HashMap<String, MessageAttributeValue> = [
            ("tenant", notification.tenant.as_str()),
            ("severity", notification.severity.name()),
            ("event", notification.event.as_str()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), attribute(value)?)))
        .collect();
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&subject)
            .message(sns_body(&notification.body, &subject))
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|err| match classify(&err) {
                ErrorClass::Transient => NotifyError::Unavailable {
                    topic: self.topic_arn.clone(),
                    source: Box::new(err),
                },
                ErrorClass::Denied | ErrorClass::Refused => NotifyError::Denied {
                    topic: self.topic_arn.clone(),
                    reason: describe(&err),
                },
            })?;
        out.message_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| NotifyError::Unavailable {
                topic: self.topic_arn.clone(),
                source: "Publish answered without a message id".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_made_to_fit_sns() {
        assert_eq!(sns_subject("acme: a.csv rejected"), "acme: a.csv rejected");
        assert_eq!(sns_subject("line\nbreak\ttab"), "line break tab");
        assert_eq!(sns_subject("café ✓"), "caf? ?");
        assert_eq!(sns_subject(" \n "), DEFAULT_SUBJECT);
        let long = sns_subject(&"x".repeat(300));
        assert_eq!(long.len(), MAX_SUBJECT_CHARS);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn bodies_are_never_empty_nor_too_large() {
        assert_eq!(sns_body("", "subject"), "subject");
        let big = "é".repeat(MAX_BODY_BYTES);
        let cut = sns_body(&big, "s");
        assert!(cut.len() <= MAX_BODY_BYTES + 20);
        assert!(cut.ends_with("[truncated]"));
    }
}
