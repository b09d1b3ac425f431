//! The SLA monitor's domain: when each rule's files are due ([`windows`]), and
//! the scheduled run that finds the windows whose deadline passed without an
//! ingested file, records one breach per window, alerts, and sends a
//! "recovered" notice when the late file lands ([`monitor`]).

pub mod monitor;
pub mod windows;

pub use monitor::{SlaContext, SlaReport, SlaSettings, run};
pub use windows::{ScheduleError, SlaSchedule, Window, Windows};
