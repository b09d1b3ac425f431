//! The poller's domain: from a source's listings to the files it hands to the
//! ingester. [`select`] decides which files are complete and new versions.

pub mod select;
pub mod walk;

#[cfg(test)]
mod tests;
