//! The contract every adapter of a port must meet, as generic async functions:
//! `local.rs` runs them against the `local` adapters, and `aws.rs` runs the same
//! functions against the SDK adapters on moto (one test binary, `contract`). Each function
//! expects fresh, empty resources (a new directory, table, queue or topic).
//!
//! Where a back-end's clock or inbox cannot be reached through the port, the
//! caller passes a small helper: [`TimeTravel`] (a manual clock locally, a real
//! sleep against SQS) and [`Inbox`] (the notifier's file locally, a subscribed
//! queue against SNS).
//!
//! One file per port, each function named for the port it checks:
//! `object_store.rs`, `ledger.rs`, `poll_log.rs`, `observations.rs`,
//! `registry_store.rs`, `sla_store.rs`, `work_queue.rs` (`queue_…`),
//! `notifier.rs` and `job_trigger.rs`.
mod aws;
mod job_trigger;
mod ledger;
mod local;
mod notifier;
mod object_store;
mod observations;
mod poll_log;
mod registry_store;
mod sla_store;
mod work_queue;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use tributary::ports::notifier::Notification;

pub use job_trigger::{job_trigger_starts_and_refuses_unknown, job_trigger_starts_crawlers};
pub use ledger::{
    ledger_by_state_is_newest_first, ledger_by_state_since_is_bounded_by_the_last_change,
    ledger_claims_many_at_once, ledger_claims_once, ledger_known_is_batched_and_exact,
    ledger_leases, ledger_refuses_illegal_transitions, ledger_release_races_a_lease,
    ledger_releases_only_unleased_claims,
};
pub use notifier::notifier_preserves_attributes;
pub use object_store::{
    object_store_abort_leaves_nothing, object_store_multipart_completes,
    object_store_put_round_trips, object_store_refuses_small_middle_parts,
};
pub use observations::observations_round_trip;
pub use poll_log::poll_log_keeps_each_sources_last_poll;
pub use registry_store::{
    REGISTRY_YAML, registry_store_concurrent_pushes_never_share_a_version,
    registry_store_pushes_and_keeps_versions, registry_store_refuses_invalid_registries,
    registry_store_refuses_too_large,
};
pub use sla_store::{
    sla_store_checkpoints_only_move_forward, sla_store_lists_active_breaches_latest_first,
    sla_store_opens_a_breach_once, sla_store_resolves_once_and_tracks_notices,
};
pub use work_queue::{
    queue_dead_letter_with_a_blank_reason, queue_explicit_dead_letter_keeps_reason,
    queue_max_receives_dead_letters, queue_return_dead_letter_is_visible_at_once,
    queue_visibility_and_delete,
};

/// Moves the queue's clock forward.
pub trait TimeTravel {
    fn advance(&self, by: Duration) -> impl Future<Output = ()>;
}

/// Reads back what a notifier published.
pub trait Inbox {
    fn received(&self) -> impl Future<Output = Vec<Notification>>;
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
