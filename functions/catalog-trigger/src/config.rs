//! The catalog trigger's configuration, from its environment (documented in
//! `docs/functions/catalog-trigger.md`).

use std::time::Duration;

use tributary::catalog::{CatalogSettings, CrawlerTemplate, JobNaming, JobOverrides};
use tributary::lambda::{Env, EnvError, Reporting};

/// How the catalog trigger works.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    pub settings: CatalogSettings,
    /// Kept free at the end of an invocation: no in-call wait runs into it.
    pub reserve: Duration,
    /// Alert digests and metrics (`TRIBUTARY_DIGEST_AFTER`, `TRIBUTARY_METRICS_NAMESPACE`).
    pub reporting: Reporting,
}

impl CatalogConfig {
    /// Reads the configuration; every bad variable is named.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `TRIBUTARY_BUCKET` | required: the raw bucket (events for others are ignored) |
    /// | `TRIBUTARY_RAW_PREFIX` | `raw/` |
    /// | `TRIBUTARY_JOB_NAMING` | `dataset` (or `parent-folder`) |
    /// | `TRIBUTARY_JOB_OVERRIDES` | none (`sales=sales-load,orders=orders-v2`) |
    /// | `TRIBUTARY_CRAWLER_TEMPLATE` | unset: no crawler (`tributary-{dataset}`) |
    /// | `TRIBUTARY_MAX_RECEIVES` | 5 (the catalog queue's `maxReceiveCount`) |
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        let invalid = |name: &str, value: String, reason: String| EnvError::Invalid {
            name: name.to_owned(),
            value,
            reason,
        };
        let mut settings =
            CatalogSettings::new(env.required("TRIBUTARY_BUCKET", "the raw bucket")?);
        if let Some(prefix) = env.get("TRIBUTARY_RAW_PREFIX") {
            settings.raw_prefix = prefix.trim().to_owned();
        }
        if let Some(naming) = env.get("TRIBUTARY_JOB_NAMING") {
            settings.naming = naming
                .parse::<JobNaming>()
                .map_err(|reason| invalid("TRIBUTARY_JOB_NAMING", naming.clone(), reason))?;
        }
        if let Some(text) = env.get("TRIBUTARY_JOB_OVERRIDES") {
            settings.overrides = JobOverrides::parse(&text)
                .map_err(|reason| invalid("TRIBUTARY_JOB_OVERRIDES", text.clone(), reason))?;
        }
        if let Some(text) = env.get("TRIBUTARY_CRAWLER_TEMPLATE") {
            settings.crawler =
                Some(CrawlerTemplate::parse(&text).map_err(|reason| {
                    invalid("TRIBUTARY_CRAWLER_TEMPLATE", text.clone(), reason)
                })?);
        }
        settings.max_receives = env.number("TRIBUTARY_MAX_RECEIVES", 5, 1..=1000)?;
        Ok(CatalogConfig {
            settings,
            reserve: Duration::from_secs(5),
            reporting: Reporting::from_env(env, "catalog-trigger")?,
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
    fn defaults_and_every_variable() {
        let config = CatalogConfig::from_env(&env(&[("TRIBUTARY_BUCKET", "raw")])).unwrap();
        let s = &config.settings;
        assert_eq!(
            (
                s.bucket.as_str(),
                s.raw_prefix.as_str(),
                s.naming,
                s.max_receives
            ),
            ("raw", "raw/", JobNaming::Dataset, 5)
        );
        assert!(s.overrides.is_empty() && s.crawler.is_none());

        let config = CatalogConfig::from_env(&env(&[
            ("TRIBUTARY_BUCKET", "raw"),
            ("TRIBUTARY_RAW_PREFIX", "landing/"),
            ("TRIBUTARY_JOB_NAMING", "parent-folder"),
            (
                "TRIBUTARY_JOB_OVERRIDES",
                "sales=sales-load,orders=orders-v2",
            ),
            ("TRIBUTARY_CRAWLER_TEMPLATE", "tributary-{dataset}"),
            ("TRIBUTARY_MAX_RECEIVES", "3"),
        ]))
        .unwrap();
        let s = &config.settings;
        assert_eq!(s.raw_prefix, "landing/");
        assert_eq!(s.naming, JobNaming::ParentFolder);
        assert_eq!(s.overrides.get("orders"), Some("orders-v2"));
        assert_eq!(
            s.crawler
                .as_ref()
                .unwrap()
                .render("k", "t", "sales")
                .unwrap(),
            "tributary-sales"
        );
        assert_eq!(s.max_receives, 3);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value, says) in [
            ("TRIBUTARY_JOB_NAMING", "folder", "parent-folder"),
            ("TRIBUTARY_JOB_OVERRIDES", "sales", "dataset=job"),
            ("TRIBUTARY_CRAWLER_TEMPLATE", "crawler", "{dataset}"),
            ("TRIBUTARY_MAX_RECEIVES", "0", "between"),
        ] {
            let error =
                CatalogConfig::from_env(&env(&[("TRIBUTARY_BUCKET", "raw"), (name, value)]))
                    .unwrap_err()
                    .to_string();
            assert!(error.contains(name) && error.contains(says), "{error}");
        }
        let error = CatalogConfig::from_env(&env(&[])).unwrap_err().to_string();
        assert!(error.contains("TRIBUTARY_BUCKET"), "{error}");
    }
}
