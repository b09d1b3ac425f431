//! The ports: the small traits through which the domain reaches the outside world
//! (file source, object store, ledger, work queue, notifier, job trigger,
//! registry store, SLA store, poll log), the clock they read, and the domain
//! values that cross them (file versions, listings, messages between functions).
//! Two adapter sets implement them: [`crate::local`] (filesystem, in-process) and
//! [`crate::aws`]; one contract suite (`shared/tests/contract/`) runs against both.
//! The file source has one implementation on both, FTP/FTPS ([`crate::ftp`]).
//! [`Backends`] names one adapter per port, so a function takes one type
//! parameter for all of them.
//!
//! Every error type here has `kind()`, mapping it onto the failure taxonomy.
//! Outcomes that are part of normal concurrent operation (another poller claimed
//! the file first, another ingester holds the lease) are values, not errors.

pub mod backends;
pub mod clock;
pub mod file_version;
pub mod job_trigger;
pub mod ledger;
pub mod listing;
pub mod messages;
pub mod notifier;
pub mod object_store;
pub mod poll_log;
pub mod registry_store;
pub mod sla_store;
pub mod source;
pub mod work_queue;

pub use backends::Backends;
pub use clock::{Clock, ManualClock, SystemClock};
pub use file_version::FileVersion;
pub use job_trigger::{CrawlerError, CrawlerStart, JobError, JobRun, JobTrigger};
pub use ledger::{
    Claim, FileError, FileRecord, FileState, Lease, Ledger, LedgerError, NewFile, Outcome,
};
pub use messages::{FileDiscovered, MessageError, PollSource};
pub use notifier::{Notification, Notifier, NotifyError, Severity};
pub use object_store::{
    CompletedPart, Metadata, MultipartUpload, ObjectInfo, ObjectStore, ObjectStoreError,
};
pub use poll_log::{PollLog, PollOutcome, PollRecord};
pub use registry_store::{RegistryStore, RegistryStoreError, StoredRegistry};
pub use sla_store::{
    Breach, BreachOpening, BreachState, Notice, NoticeKind, Recovery, Resolution, SlaStore,
    SlaStoreError,
};
pub use source::{PostActionOutcome, SessionError, SourceConnector, SourceError, SourceSession};
pub use work_queue::{DeadLetter, OutgoingMessage, QueueError, Received, WorkQueue};
