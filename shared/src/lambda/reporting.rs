//! How every function reports a run: alerts folded into a digest past
//! `TRIBUTARY_DIGEST_AFTER` per tenant ([`crate::digest`]) and EMF metrics in
//! `TRIBUTARY_METRICS_NAMESPACE` ([`crate::metrics`]).

use super::env::{Env, EnvError};
use crate::digest::DEFAULT_DIGEST_AFTER;
use crate::metrics::{DEFAULT_NAMESPACE, Metrics};

/// The reporting settings of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporting {
    /// The function's name, a property on every metrics line.
    pub function: String,
    /// Notifications of one tenant sent one by one in a run before the rest
    /// are folded into a digest.
    pub digest_after: usize,
    pub metrics_namespace: String,
    /// Metrics lines go to this file instead of standard output (the demo;
    /// never set on Lambda, where standard output is how EMF reaches CloudWatch).
    pub metrics_file: Option<std::path::PathBuf>,
}

impl Reporting {
    /// Reads `TRIBUTARY_DIGEST_AFTER` (default 3, 1–1000) and
    /// `TRIBUTARY_METRICS_NAMESPACE` (default `tributary`).
    pub fn from_env(env: &Env, function: &str) -> Result<Self, EnvError> {
        let namespace = env
            .get("TRIBUTARY_METRICS_NAMESPACE")
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        if namespace.trim().is_empty() || namespace.len() > 255 {
            return Err(EnvError::Invalid {
                name: "TRIBUTARY_METRICS_NAMESPACE".into(),
                value: namespace,
                reason: "a CloudWatch namespace is 1–255 characters".into(),
            });
        }
        Ok(Reporting {
            function: function.to_owned(),
            digest_after: env.number("TRIBUTARY_DIGEST_AFTER", DEFAULT_DIGEST_AFTER, 1..=1000)?,
            metrics_namespace: namespace,
            metrics_file: None,
        })
    }

    /// The settings used when no environment is read (tests, the demo).
    pub fn defaults(function: &str) -> Self {
        Reporting {
            function: function.to_owned(),
            digest_after: DEFAULT_DIGEST_AFTER,
            metrics_namespace: DEFAULT_NAMESPACE.to_owned(),
            metrics_file: None,
        }
    }

    /// Empty metrics for one run.
    pub fn metrics(&self) -> Metrics {
        let metrics = Metrics::new(&self.metrics_namespace, &self.function);
        match &self.metrics_file {
            Some(path) => metrics.to_file(path),
            None => metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_and_bad_values_are_named() {
        let env = Env::from_map(HashMap::new());
        assert_eq!(
            Reporting::from_env(&env, "poller").unwrap(),
            Reporting::defaults("poller")
        );
        let env = Env::from_map(HashMap::from([(
            "TRIBUTARY_DIGEST_AFTER".into(),
            "0".into(),
        )]));
        let error = Reporting::from_env(&env, "poller").unwrap_err().to_string();
        assert!(error.contains("TRIBUTARY_DIGEST_AFTER"), "{error}");
    }
}
