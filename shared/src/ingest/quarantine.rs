//! The quarantine prefix, beside the raw layer in the same bucket: the
//! machine-readable report of every rejected file, and of an accepted file
//! whose contract found invalid rows (`on_invalid: quarantine_rows`).
//!
//! A file landing at `raw/tenant=…/dataset=…/ingest_date=…/f.csv` has its
//! report at `quarantine/tenant=…/dataset=…/ingest_date=…/f.csv.report.json`
//! (a key template that does not start with `raw/` gets `quarantine/` in
//! front). The report holds the engine's [`Report`] (verdict, reasons, counts
//! per column and check, the first row errors with their values) and where the
//! file came from. Row values are tenant data: they are in this object, which
//! the bucket protects like the raw layer, and never in logs or alerts.

use serde::Serialize;

use super::lineage::Lineage;
use crate::engine::Report;
use crate::ports::object_store::{ObjectStore, ObjectStoreError};

/// The prefix that replaces `raw/` for quarantine objects.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

/// The key of the report of the file whose raw key is `object_key`.
pub fn report_key(object_key: &str) -> String {
    let rest = object_key.strip_prefix("raw/").unwrap_or(object_key);
    format!("{QUARANTINE_PREFIX}{rest}.report.json")
}

/// What the report object holds: the file, then the engine's report.
#[derive(Debug, Serialize)]
struct QuarantineReport<'a> {
    tenant: &'a str,
    dataset: &'a str,
    source: &'a str,
    source_path: &'a str,
    rule: &'a str,
    registry_version: &'a str,
    /// Where the file lands (accepted) or would have landed (rejected).
    object_key: &'a str,
    checked_at: String,
    #[serde(flatten)]
    report: &'a Report,
}

/// Writes the report of the file bound for `object_key`; returns its key.
pub async fn write_report<S: ObjectStore>(
    store: &S,
    object_key: &str,
    lineage: &Lineage,
    report: &Report,
) -> Result<String, ObjectStoreError> {
    let key = report_key(object_key);
    let body = QuarantineReport {
        tenant: &lineage.tenant,
        dataset: &lineage.dataset,
        source: &lineage.source_id,
        source_path: &lineage.source_path,
        rule: &lineage.rule_id,
        registry_version: &lineage.registry_version,
        object_key,
        checked_at: lineage.ingested_at.to_rfc3339(),
        report,
    };
    // A report is a few kilobytes (at most max_row_errors errors of 64
    // characters each): one put.
    let json = serde_json::to_vec_pretty(&body).map_err(|e| ObjectStoreError::Corrupt {
        key: key.clone(),
        reason: format!("the report cannot be written as JSON: {e}"),
    })?;
    store
        .put(&key, json, &lineage.metadata(Some(report)))
        .await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_sits_under_the_quarantine_prefix() {
        assert_eq!(
            report_key("raw/tenant=acme/dataset=sales/ingest_date=2026-12-07/sales.csv.gz"),
            "quarantine/tenant=acme/dataset=sales/ingest_date=2026-12-07/sales.csv.gz.report.json"
        );
        assert_eq!(
            report_key("lake/acme/sales.csv"),
            "quarantine/lake/acme/sales.csv.report.json"
        );
    }
}
