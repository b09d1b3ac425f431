//! The poller's configuration, from its environment (documented in
//! `docs/deployment.md`; the SAM template sets every variable).

use std::time::Duration as StdDuration;

use chrono::Duration;
use tributary::lambda::{Env, EnvError, Reporting};
use tributary::poll::walk::WalkLimits;

/// How the poller works.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// The schedule's period (`TRIBUTARY_FAN_OUT_INTERVAL_SECS`, default 300):
    /// a source is due when its cron fires within one period before the event.
    pub fan_out_interval: Duration,
    /// Time kept back from the invocation's deadline (`TRIBUTARY_TIME_RESERVE_SECS`,
    /// default 30) to claim, send and answer after listing stops.
    pub time_reserve: StdDuration,
    /// How long a loaded registry is reused (`TRIBUTARY_REGISTRY_TTL_SECS`, default 60).
    pub registry_ttl: StdDuration,
    /// Alert digests and metrics (`TRIBUTARY_DIGEST_AFTER`, `TRIBUTARY_METRICS_NAMESPACE`).
    pub reporting: Reporting,
    /// Walk bounds (`TRIBUTARY_MAX_DIRS` 10000, `TRIBUTARY_MAX_FILES` 1000000).
    pub walk: WalkLimits,
    /// Most files refined with MDTM/SIZE per poll (`TRIBUTARY_REFINE_LIMIT`, 10000).
    pub refine_limit: usize,
    /// How long a file must look the same before it counts as unchanged
    /// (`TRIBUTARY_MIN_UNCHANGED_SECS`, default 60).
    pub min_unchanged: Duration,
    /// A claim never picked up this long after it was made is announced again
    /// (`TRIBUTARY_REANNOUNCE_AFTER_SECS`, default 3600; 0 turns it off).
    pub reannounce_after: Duration,
}

impl PollerConfig {
    /// Reads the configuration; every bad variable is named.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        Ok(PollerConfig {
            fan_out_interval: Duration::seconds(env.number(
                "TRIBUTARY_FAN_OUT_INTERVAL_SECS",
                300,
                60..=86_400,
            )?),
            time_reserve: StdDuration::from_secs(env.number(
                "TRIBUTARY_TIME_RESERVE_SECS",
                30,
                1..=600,
            )?),
            registry_ttl: StdDuration::from_secs(env.number(
                "TRIBUTARY_REGISTRY_TTL_SECS",
                60,
                0..=3600,
            )?),
            walk: WalkLimits {
                max_dirs: env.number("TRIBUTARY_MAX_DIRS", 10_000, 1..=1_000_000)?,
                max_files: env.number("TRIBUTARY_MAX_FILES", 1_000_000, 1..=10_000_000)?,
                deadline: None,
            },
            refine_limit: env.number("TRIBUTARY_REFINE_LIMIT", 10_000, 0..=1_000_000)?,
            min_unchanged: Duration::seconds(env.number(
                "TRIBUTARY_MIN_UNCHANGED_SECS",
                60,
                0..=86_400,
            )?),
            reannounce_after: Duration::seconds(env.number(
                "TRIBUTARY_REANNOUNCE_AFTER_SECS",
                3600,
                0..=1_209_600,
            )?),
            reporting: Reporting::from_env(env, "poller")?,
        })
    }
}
