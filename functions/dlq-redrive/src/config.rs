//! The dlq-redrive function's configuration, from its environment (documented
//! in `docs/functions/dlq-redrive.md`).

use std::time::Duration as StdDuration;

use chrono::Duration;
use tributary::lambda::{Env, EnvError, Reporting};

/// The function's timeout in the SAM template; the visibility must exceed it.
pub const FUNCTION_TIMEOUT_SECS: i64 = 300;

/// How the function works.
#[derive(Debug, Clone)]
pub struct RedriveConfig {
    /// How long each dead letter a run receives stays hidden during the run
    /// (`TRIBUTARY_REDRIVE_VISIBILITY_SECS`, default 600, more than the
    /// function's 300 s timeout, at most 12 hours). A run scans for at most
    /// half of it; what it does not move it makes visible again at its end.
    pub visibility: Duration,
    /// Time kept back from the invocation's deadline (`TRIBUTARY_TIME_RESERVE_SECS`,
    /// default 30) to make the dead letters left visible again and answer.
    pub time_reserve: StdDuration,
    /// Metrics (`TRIBUTARY_METRICS_NAMESPACE`).
    pub reporting: Reporting,
}

impl RedriveConfig {
    /// Reads the configuration; every bad variable is named.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        Ok(RedriveConfig {
            visibility: Duration::seconds(env.number(
                "TRIBUTARY_REDRIVE_VISIBILITY_SECS",
                600,
                FUNCTION_TIMEOUT_SECS + 1..=43_200,
            )?),
            time_reserve: StdDuration::from_secs(env.number(
                "TRIBUTARY_TIME_RESERVE_SECS",
                30,
                1..=120,
            )?),
            reporting: Reporting::from_env(env, "dlq-redrive")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn defaults_and_bad_values() {
        let config = RedriveConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.visibility, Duration::seconds(600));
        assert_eq!(config.time_reserve, StdDuration::from_secs(30));
        let config =
            RedriveConfig::from_env(&env(&[("TRIBUTARY_REDRIVE_VISIBILITY_SECS", "900")])).unwrap();
        assert_eq!(config.visibility, Duration::seconds(900));
        // Not longer than the function runs: messages would reappear mid-run.
        let error = RedriveConfig::from_env(&env(&[("TRIBUTARY_REDRIVE_VISIBILITY_SECS", "300")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "environment variable TRIBUTARY_REDRIVE_VISIBILITY_SECS=\"300\": must be between 301 and 43200"
        );
        assert!(RedriveConfig::from_env(&env(&[("TRIBUTARY_TIME_RESERVE_SECS", "0")])).is_err());
    }
}
