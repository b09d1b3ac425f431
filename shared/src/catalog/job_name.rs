//! Which Glue job (and, optionally, which crawler) a landed object starts:
//! the job is named by the key's `dataset=` segment (the default) or by the
//! object's parent folder (`key.split('/')[-2]`, the common convention), and
//! an explicit per-dataset override wins over either. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Glue's limit on job and crawler names.
pub const MAX_NAME_CHARS: usize = 255;

/// How a job name is derived from an object key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobNaming {
    /// The value of the key's `dataset=` segment (the object's lineage
    /// `dataset` when the key has none, as a custom key template may).
    #[default]
    Dataset,
    /// The key's second-to-last `/` segment: `raw/sales/2026/x.csv` → `2026`.
    ParentFolder,
}

impl JobNaming {
    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            JobNaming::Dataset => "dataset",
            JobNaming::ParentFolder => "parent-folder",
        }
    }
}

impl fmt::Display for JobNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JobNaming {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "dataset" => Ok(JobNaming::Dataset),
            "parent-folder" => Ok(JobNaming::ParentFolder),
            other => Err(format!(
                "{other:?} is not a job naming: use dataset or parent-folder"
            )),
        }
    }
}

/// Why no job (or crawler) name could be had for an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error("object key {key:?} has no dataset= segment and its metadata names no dataset")]
    NoDataset { key: String },
    #[error("object key {key:?} has no parent folder")]
    NoParentFolder { key: String },
    #[error("{what} {name:?} (for object key {key:?}) is not a valid Glue name: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        key: String,
        reason: String,
    },
}

/// Checks a Glue job or crawler name: 1–255 characters, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err("it is empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Err(format!(
            "it has {chars} characters, more than {MAX_NAME_CHARS}"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("it holds the control character {c:?}"));
    }
    Ok(())
}

/// The explicit `dataset → job name` map (`TRIBUTARY_JOB_OVERRIDES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOverrides(BTreeMap<String, String>);

impl JobOverrides {
    /// Parses `sales=sales-load,orders=orders-v2`: comma-separated
    /// `dataset=job` pairs, spaces around either trimmed, each dataset once,
    /// every job name valid. Empty text is no overrides.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (index, pair) in text.split(',').enumerate() {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((dataset, job)) = pair.split_once('=') else {
                return Err(format!("entry {} ({pair:?}) is not dataset=job", index + 1));
            };
            let (dataset, job) = (dataset.trim(), job.trim());
            if dataset.is_empty() {
                return Err(format!("entry {} ({pair:?}) has no dataset", index + 1));
            }
            check_name(job).map_err(|reason| {
                format!(
                    "entry {} ({pair:?}): job name {job:?} is invalid: {reason}",
                    index + 1
                )
            })?;
            if map.insert(dataset.to_owned(), job.to_owned()).is_some() {
                return Err(format!("dataset {dataset:?} is overridden twice"));
            }
        }
        Ok(JobOverrides(map))
    }

    /// The job named for `dataset`, if any.
    pub fn get(&self, dataset: &str) -> Option<&str> {
        self.0.get(dataset).map(String::as_str)
    }

    /// How many datasets are overridden.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no dataset is overridden.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The value of the first directory segment `NAME=VALUE` of `key` (the file
/// name is not a directory and is never read), `None` when absent or empty.
pub fn segment<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    let (dirs, _file) = key.rsplit_once('/')?;
    dirs.split('/')
        .find_map(|s| s.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

/// The key's parent folder (`key.split('/')[-2]`), `None` when the key has
/// no folder or it is empty (`a//b`).
pub fn parent_folder(key: &str) -> Option<&str> {
    let (dirs, _file) = key.rsplit_once('/')?;
    let parent = dirs.rsplit('/').next().unwrap_or(dirs);
    (!parent.is_empty()).then_some(parent)
}

/// The job for the object at `key` whose dataset is `dataset` (from the
/// key's `dataset=` segment, else its lineage; see [`JobNaming::Dataset`]):
/// the override for the dataset if there is one, else the name `naming` derives.
pub fn job_name(
    key: &str,
    dataset: Option<&str>,
    naming: JobNaming,
    overrides: &JobOverrides,
) -> Result<String, NamingError> {
    let overridden = dataset.and_then(|d| overrides.get(d));
    let name = match (overridden, naming) {
        (Some(job), _) => job.to_owned(),
        (None, JobNaming::Dataset) => dataset
            .ok_or_else(|| NamingError::NoDataset {
                key: key.to_owned(),
            })?
            .to_owned(),
        (None, JobNaming::ParentFolder) => parent_folder(key)
            .ok_or_else(|| NamingError::NoParentFolder {
                key: key.to_owned(),
            })?
            .to_owned(),
    };
    check_name(&name).map_err(|reason| NamingError::InvalidName {
        what: "job name",
        name: name.clone(),
        key: key.to_owned(),
        reason,
    })?;
    Ok(name)
}

/// A crawler name template (`TRIBUTARY_CRAWLER_TEMPLATE`), such as
/// `tributary-{dataset}`: `{dataset}` and `{tenant}` are replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlerTemplate(String);

impl CrawlerTemplate {
    /// Parses a template: it must name `{dataset}` (one crawler per dataset)
    /// and use no other placeholder.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if !text.contains("{dataset}") {
            return Err("a crawler template names {dataset} (one crawler per dataset)".into());
        }
        let rest = text.replace("{dataset}", "").replace("{tenant}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err("only {dataset} and {tenant} may be used".into());
        }
        Ok(CrawlerTemplate(text.to_owned()))
    }

    /// The crawler for `dataset` of `tenant`, checked as a Glue name.
    pub fn render(&self, key: &str, tenant: &str, dataset: &str) -> Result<String, NamingError> {
        let name = self
            .0
            .replace("{dataset}", dataset)
            .replace("{tenant}", tenant);
        check_name(&name).map_err(|reason| NamingError::InvalidName {
            what: "crawler name",
            name: name.clone(),
            key: key.to_owned(),
            reason,
        })?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "raw/tenant=acme-retail/dataset=daily-sales/ingest_date=2026-11-21/sales 2026-11-21.csv";

    fn none() -> JobOverrides {
        JobOverrides::default()
    }

    #[test]
    fn segments_are_read_from_folders_only() {
        assert_eq!(segment(KEY, "dataset"), Some("daily-sales"));
        assert_eq!(segment(KEY, "tenant"), Some("acme-retail"));
        assert_eq!(segment(KEY, "ingest_date"), Some("2026-11-21"));
        assert_eq!(segment(KEY, "data"), None, "a prefix of a name is not it");
        assert_eq!(segment("raw/x/dataset=sales.csv", "dataset"), None);
        assert_eq!(segment("raw/dataset=/x.csv", "dataset"), None);
        assert_eq!(segment("dataset=a", "dataset"), None);
        assert_eq!(
            segment("raw/dataset=a/dataset=b/x", "dataset"),
            Some("a"),
            "the first one"
        );
    }

    #[test]
    fn the_dataset_names_the_job_by_default() {
        let dataset = segment(KEY, "dataset");
        assert_eq!(
            job_name(KEY, dataset, JobNaming::Dataset, &none()).unwrap(),
            "daily-sales"
        );
        // A key without the segment: the lineage's dataset, else misconfigured.
        let key = "landing/acme/x.csv";
        assert_eq!(
            job_name(key, Some("orders"), JobNaming::Dataset, &none()).unwrap(),
            "orders"
        );
        let err = job_name(key, None, JobNaming::Dataset, &none()).unwrap_err();
        assert_eq!(err, NamingError::NoDataset { key: key.into() });
        assert!(err.to_string().contains(key), "{err}");
    }

    #[test]
    fn the_parent_folder_names_the_job_as_an_option() {
        assert_eq!(
            job_name(KEY, None, JobNaming::ParentFolder, &none()).unwrap(),
            "ingest_date=2026-11-21"
        );
        assert_eq!(
            job_name("raw/sales/x.csv", None, JobNaming::ParentFolder, &none()).unwrap(),
            "sales"
        );
        for key in ["x.csv", "raw//x.csv", "/x.csv"] {
            let err = job_name(key, None, JobNaming::ParentFolder, &none()).unwrap_err();
            assert_eq!(err, NamingError::NoParentFolder { key: key.into() });
        }
    }

    #[test]
    fn an_override_wins_in_either_naming() {
        let overrides = JobOverrides::parse("daily-sales=sales-load, orders = orders-v2").unwrap();
        assert_eq!(overrides.len(), 2);
        for naming in [JobNaming::Dataset, JobNaming::ParentFolder] {
            assert_eq!(
                job_name(KEY, Some("daily-sales"), naming, &overrides).unwrap(),
                "sales-load"
            );
        }
        assert_eq!(
            job_name(
                "raw/dataset=stock/x",
                Some("stock"),
                JobNaming::Dataset,
                &overrides
            )
            .unwrap(),
            "stock"
        );
    }

    #[test]
    fn override_text_errors_say_which_entry() {
        assert!(JobOverrides::parse("").unwrap().is_empty());
        assert!(JobOverrides::parse(" , ").unwrap().is_empty());
        let err = JobOverrides::parse("a=b,sales").unwrap_err();
        assert!(
            err.contains("entry 2") && err.contains("dataset=job"),
            "{err}"
        );
        let err = JobOverrides::parse("=job").unwrap_err();
        assert!(err.contains("no dataset"), "{err}");
        let err = JobOverrides::parse("a=").unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let err = JobOverrides::parse("a=x,a=y").unwrap_err();
        assert!(err.contains("twice"), "{err}");
        let err = JobOverrides::parse(&format!("a={}", "j".repeat(256))).unwrap_err();
        assert!(err.contains("256 characters"), "{err}");
    }

    #[test]
    fn names_glue_refuses_are_misconfigured_before_glue_is_called() {
        assert!(check_name(&"j".repeat(255)).is_ok());
        assert!(
            check_name(&"é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        assert!(check_name(&"j".repeat(256)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").unwrap_err().contains("control"));
        let key = "raw/dataset=a\u{7}b/x.csv";
        let err = job_name(key, segment(key, "dataset"), JobNaming::Dataset, &none()).unwrap_err();
        assert!(
            matches!(
                &err,
                NamingError::InvalidName {
                    what: "job name",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn crawler_templates_name_one_crawler_per_dataset() {
        let t = CrawlerTemplate::parse("tributary-{tenant}-{dataset}").unwrap();
        assert_eq!(
            t.render(KEY, "acme", "sales").unwrap(),
            "tributary-acme-sales"
        );
        assert!(CrawlerTemplate::parse("tributary").is_err());
        assert!(CrawlerTemplate::parse("t-{dataset}-{date}").is_err());
        let t = CrawlerTemplate::parse("{dataset}").unwrap();
        assert!(t.render(KEY, "acme", &"d".repeat(300)).is_err());
    }
}
