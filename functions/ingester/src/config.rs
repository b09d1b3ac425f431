//! The ingester's configuration, from its environment (documented in
//! `docs/deployment.md`; the SAM template sets every variable).

use std::time::Duration as StdDuration;

use chrono::Duration;
use tributary::ingest::handle::IngestSettings;
use tributary::ingest::{KeyTemplate, UploadOptions};
use tributary::lambda::{Env, EnvError, Reporting};

/// How the ingester works.
#[derive(Debug, Clone)]
pub struct IngesterConfig {
    pub settings: IngestSettings,
    /// How long a loaded registry is reused (`TRIBUTARY_REGISTRY_TTL_SECS`, default 60).
    pub registry_ttl: StdDuration,
    /// Alert digests and metrics (`TRIBUTARY_DIGEST_AFTER`, `TRIBUTARY_METRICS_NAMESPACE`).
    pub reporting: Reporting,
}

impl IngesterConfig {
    /// Reads the configuration; every bad variable is named.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `TRIBUTARY_KEY_TEMPLATE` | `raw/tenant={tenant}/dataset={dataset}/ingest_date={ingest_date}/{file}` |
    /// | `TRIBUTARY_RAW_PREFIX` | unset; when set, the key template must begin with it |
    /// | `TRIBUTARY_PART_SIZE_MIB` | 8 (5–64) |
    /// | `TRIBUTARY_PARTS_IN_FLIGHT` | 2 (1–16) |
    /// | `TRIBUTARY_LEASE_SECS` | 905 (the function's timeout + 5 s, below the visibility) |
    /// | `TRIBUTARY_VISIBILITY_SECS` | 960 (the ingest queue's visibility timeout) |
    /// | `TRIBUTARY_MAX_RECEIVES` | 5 (the queue's `maxReceiveCount`) |
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        let key_template = match env.get("TRIBUTARY_KEY_TEMPLATE") {
            None => KeyTemplate::default(),
            Some(text) => KeyTemplate::parse(&text).map_err(|e| EnvError::Invalid {
                name: "TRIBUTARY_KEY_TEMPLATE".into(),
                value: text.clone(),
                reason: e.to_string(),
            })?,
        };
        // The role may write under the raw prefix only (the template's IAM
        // scope): a template outside it would fail every file on AccessDenied.
        if let Some(prefix) = env.get("TRIBUTARY_RAW_PREFIX")
            && !key_template.fixed_prefix().starts_with(&prefix)
        {
            return Err(EnvError::Invalid {
                name: "TRIBUTARY_KEY_TEMPLATE".into(),
                value: env
                    .get("TRIBUTARY_KEY_TEMPLATE")
                    .unwrap_or_else(|| tributary::ingest::object_key::DEFAULT_TEMPLATE.to_owned()),
                reason: format!(
                    "keys must begin with TRIBUTARY_RAW_PREFIX {prefix:?} (the raw prefix the \
                     function may write under and the catalog trigger reads), but the \
                     template's fixed beginning is {:?}",
                    key_template.fixed_prefix()
                ),
            });
        }
        let part_mib: usize = env.number("TRIBUTARY_PART_SIZE_MIB", 8, 5..=64)?;
        let in_flight: usize = env.number("TRIBUTARY_PARTS_IN_FLIGHT", 2, 1..=16)?;
        let upload = UploadOptions::new(part_mib * 1024 * 1024, in_flight).map_err(|e| {
            EnvError::Invalid {
                name: "TRIBUTARY_PART_SIZE_MIB".into(),
                value: part_mib.to_string(),
                reason: e.to_string(),
            }
        })?;
        // Part buffers must fit in the function's memory with room to spare.
        let parts_mib = part_mib * (in_flight + 1);
        if let Some(memory) = env
            .get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .and_then(|m| m.trim().parse::<usize>().ok())
            && parts_mib * 2 > memory
        {
            return Err(EnvError::Invalid {
                name: "TRIBUTARY_PART_SIZE_MIB".into(),
                value: part_mib.to_string(),
                reason: format!(
                    "{in_flight} parts in flight + 1 of {part_mib} MiB need {parts_mib} MiB, \
                     more than half the function's {memory} MiB: lower the part size or \
                     TRIBUTARY_PARTS_IN_FLIGHT, or give the function more memory"
                ),
            });
        }
        Ok(IngesterConfig {
            settings: IngestSettings {
                key_template,
                upload,
                lease: Duration::seconds(env.number("TRIBUTARY_LEASE_SECS", 905, 60..=43_200)?),
                visibility: Duration::seconds(env.number(
                    "TRIBUTARY_VISIBILITY_SECS",
                    960,
                    30..=43_200,
                )?),
                max_receives: env.number("TRIBUTARY_MAX_RECEIVES", 5, 1..=1000)?,
            },
            registry_ttl: StdDuration::from_secs(env.number(
                "TRIBUTARY_REGISTRY_TTL_SECS",
                60,
                0..=3600,
            )?),
            reporting: Reporting::from_env(env, "ingester")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_bad_values() {
        let config = IngesterConfig::from_env(&Env::from_map(HashMap::new())).unwrap();
        assert_eq!(config.settings.upload.part_size(), 8 * 1024 * 1024);
        assert_eq!(config.settings.max_receives, 5);
        let env = Env::from_map(HashMap::from([(
            "TRIBUTARY_KEY_TEMPLATE".to_owned(),
            "raw/{nope}/{file}".to_owned(),
        )]));
        let error = IngesterConfig::from_env(&env).unwrap_err().to_string();
        assert!(
            error.contains("TRIBUTARY_KEY_TEMPLATE") && error.contains("nope"),
            "{error}"
        );
    }

    #[test]
    fn the_key_template_must_stay_under_the_raw_prefix() {
        let env = |pairs: &[(&str, &str)]| {
            Env::from_map(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<HashMap<_, _>>(),
            )
        };
        // The default template is under the default prefix.
        assert!(IngesterConfig::from_env(&env(&[("TRIBUTARY_RAW_PREFIX", "raw/")])).is_ok());
        assert!(
            IngesterConfig::from_env(&env(&[
                ("TRIBUTARY_RAW_PREFIX", "lake/raw/"),
                ("TRIBUTARY_KEY_TEMPLATE", "lake/raw/{tenant}/{file}"),
            ]))
            .is_ok()
        );
        for (prefix, template) in [
            ("raw/", "landing/{tenant}/{file}"),
            // A placeholder first: the key begins with whatever the tenant is.
            ("raw/", "{tenant}/{file}"),
            ("raw/acme/", "raw/{tenant}/{file}"),
        ] {
            let error = IngesterConfig::from_env(&env(&[
                ("TRIBUTARY_RAW_PREFIX", prefix),
                ("TRIBUTARY_KEY_TEMPLATE", template),
            ]))
            .unwrap_err()
            .to_string();
            assert!(
                error.contains("TRIBUTARY_KEY_TEMPLATE") && error.contains("TRIBUTARY_RAW_PREFIX"),
                "{prefix} {template}: {error}"
            );
        }
    }
}
