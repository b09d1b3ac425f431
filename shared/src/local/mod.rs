//! The `local` adapters: the ports implemented on the filesystem and in process,
//! for the CLI's demo, on-premises runs and tests. Real but simple: one process
//! owns a directory at a time; writes that matter are atomic (temp file +
//! rename) so a crash leaves the previous state, never a torn file. They do
//! blocking file I/O inside their async fns, which is fine at demo sizes.

mod fs_util;

pub mod bucket_notifications;
pub mod file_jobs;
pub mod file_ledger;
pub mod file_notifier;
pub mod file_registry_store;
pub mod fs_object_store;
pub mod memory_queue;

pub use bucket_notifications::NotifyingStore;
pub use file_jobs::{FileJobTrigger, RecordedCrawl, RecordedRun};
pub use file_ledger::FileLedger;
pub use file_notifier::FileNotifier;
pub use file_registry_store::FileRegistryStore;
pub use fs_object_store::FsObjectStore;
pub use memory_queue::MemoryQueue;
