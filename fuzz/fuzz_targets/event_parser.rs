//! What arrives on the queues, on arbitrary text: the poll and
//! ingest messages and S3 event notifications (keys form-URL-encoded). No
//! panic; a decoded S3 key is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::catalog::event::{self, Notification};
use tributary::ports::messages::{FileDiscovered, PollSource};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = FileDiscovered::decode(&text);
    let _ = PollSource::decode(&text);
    if let Ok(Notification::Objects(objects)) = event::parse(&text) {
        for object in objects {
            assert!(object.key.len() <= event::MAX_KEY_BYTES * 4, "{}", object.key.len());
        }
    }
});
