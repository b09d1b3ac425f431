//! EventBridge scheduled events, as the poller and the SLA monitor receive
//! them: told apart from their other events in one place.

use serde_json::Value;

/// The `detail-type` EventBridge gives a scheduled event.
pub const DETAIL_TYPE: &str = "Scheduled Event";

/// Whether `payload` is an EventBridge scheduled event (each function reads
/// its `time` as it needs it).
pub fn is_scheduled(payload: &Value) -> bool {
    payload.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_scheduled_detail_type_is_a_schedule() {
        assert!(is_scheduled(
            &json!({"detail-type": "Scheduled Event", "source": "aws.events"})
        ));
        assert!(!is_scheduled(
            &json!({"detail-type": "Object Created", "source": "aws.s3"})
        ));
        assert!(!is_scheduled(&json!({"Records": []})));
        assert!(!is_scheduled(&json!("Scheduled Event")));
    }
}
