//! The SLA monitor's configuration, from its environment (documented in
//! `docs/functions/sla-monitor.md`).

use std::time::Duration as StdDuration;

use chrono::Duration;
use tributary::lambda::{Env, EnvError, Reporting};
use tributary::sla::SlaSettings;

/// How the SLA monitor works.
#[derive(Debug, Clone)]
pub struct SlaMonitorConfig {
    /// `max_catch_up` from `TRIBUTARY_SLA_MAX_CATCH_UP_HOURS` (default 24,
    /// 1–720) and `max_windows` from `TRIBUTARY_SLA_MAX_WINDOWS` (default 200,
    /// 1–10000), and `digest_after` from `TRIBUTARY_DIGEST_AFTER` (default
    /// 3, as every function's); the other settings keep their defaults
    /// ([`SlaSettings`]).
    pub settings: SlaSettings,
    /// How long a loaded registry is reused (`TRIBUTARY_REGISTRY_TTL_SECS`, default 60).
    pub registry_ttl: StdDuration,
    /// Metrics (`TRIBUTARY_METRICS_NAMESPACE`).
    pub reporting: Reporting,
}

impl SlaMonitorConfig {
    /// Reads the configuration; every bad variable is named.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        let defaults = SlaSettings::default();
        let reporting = Reporting::from_env(env, "sla-monitor")?;
        Ok(SlaMonitorConfig {
            settings: SlaSettings {
                max_catch_up: Duration::hours(env.number(
                    "TRIBUTARY_SLA_MAX_CATCH_UP_HOURS",
                    24,
                    1..=720,
                )?),
                max_windows: env.number("TRIBUTARY_SLA_MAX_WINDOWS", 200, 1..=10_000)?,
                digest_after: reporting.digest_after,
                ..defaults
            },
            registry_ttl: StdDuration::from_secs(env.number(
                "TRIBUTARY_REGISTRY_TTL_SECS",
                60,
                0..=3600,
            )?),
            reporting,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn defaults_and_bounds() {
        let config = SlaMonitorConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.settings.max_catch_up, Duration::hours(24));
        assert_eq!(config.settings.max_windows, 200);
        assert_eq!(config.registry_ttl, StdDuration::from_secs(60));
        assert_eq!(config.settings.recheck_for, Duration::days(30));
        assert_eq!(config.settings.digest_after, 3);

        let config = SlaMonitorConfig::from_env(&env(&[
            ("TRIBUTARY_SLA_MAX_CATCH_UP_HOURS", "720"),
            ("TRIBUTARY_SLA_MAX_WINDOWS", "1"),
            ("TRIBUTARY_DIGEST_AFTER", "10"),
        ]))
        .unwrap();
        assert_eq!(config.settings.max_catch_up, Duration::days(30));
        assert_eq!(config.settings.max_windows, 1);
        assert_eq!(config.settings.digest_after, 10);

        for (name, value) in [
            ("TRIBUTARY_SLA_MAX_CATCH_UP_HOURS", "0"),
            ("TRIBUTARY_SLA_MAX_CATCH_UP_HOURS", "721"),
            ("TRIBUTARY_SLA_MAX_WINDOWS", "0"),
            ("TRIBUTARY_SLA_MAX_WINDOWS", "lots"),
        ] {
            let error = SlaMonitorConfig::from_env(&env(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{error}");
        }
    }
}
