//! The poller's domain: from a source's listings to the files it hands to the
//! ingester. [`walk`] lists a source's directories, [`select`] decides which
//! files are complete and new versions, [`observations`] remembers what each poll
//! saw for the next one.

pub mod observations;
pub mod select;
pub mod walk;

#[cfg(test)]
mod tests;
