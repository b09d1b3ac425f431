//! The adapters one deployment runs on, bundled as one type: what each port is
//! on AWS ([`crate::aws::Aws`]) or on one machine (the CLI's demo), so that a
//! function is `Ingester<B>` rather than a list of seven adapter types.

use super::{
    Clock, JobTrigger, Ledger, Notifier, ObjectStore, PollLog, RegistryStore, SlaStore,
    SourceConnector, WorkQueue,
};
use crate::poll::observations::ObservationStore;
use crate::secrets::SecretStore;

/// One adapter type per port.
pub trait Backends: Send + Sync + 'static {
    /// The ledger, which also keeps the poller's observations, the poll log
    /// and the SLA windows (one table on AWS, one file locally).
    type Ledger: Ledger + ObservationStore + PollLog + SlaStore;
    /// Where the registry is stored.
    type Registry: RegistryStore;
    /// The poll, ingest and catalog queues, each with its dead-letter queue.
    type Queue: WorkQueue;
    /// The raw bucket.
    type Store: ObjectStore;
    /// Alerts to ops.
    type Notifier: Notifier;
    /// Passwords and data keys, by reference.
    type Secrets: SecretStore;
    /// The catalog jobs (Glue).
    type Jobs: JobTrigger;
    /// What the functions read the time from.
    type Clock: Clock;
    /// The sources' file servers (FTP/FTPS on both adapter sets).
    type Sources: SourceConnector;
}
