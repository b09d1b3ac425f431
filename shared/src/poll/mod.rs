//! The poller's domain: from a source's listings to the files it hands to the
//! ingester. [`walk`] lists a source's directories, [`select`] decides which
//! files are complete and new versions, [`observations`] remembers what each poll
//! saw for the next one. [`fan_out`] turns the schedule into one poll message per
//! due source; [`source_poll`] is one poll of one source, down to the claimed
//! files sent to the ingest queue.

pub mod fan_out;
pub mod observations;
pub mod select;
pub mod source_poll;
pub mod walk;

#[cfg(test)]
mod tests;
