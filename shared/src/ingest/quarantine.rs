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
//!
//! Under `quarantine_rows`, the invalid records themselves go beside the
//! report, at `….invalid.jsonl`: one JSON line per record, with its line,
//! record number, offset, errors and its bytes as received (`text`, or
//! `base64` when they are not UTF-8). The engine writes them to a local
//! temporary file as it streams; they are uploaded from there a part at a
//! time, so memory stays bounded however many there are.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use serde::Serialize;

use super::lineage::Lineage;
use crate::engine::Report;
use crate::ports::object_store::{Metadata, ObjectStore, ObjectStoreError};

/// The prefix that replaces `raw/` for quarantine objects.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

/// The key of the report of the file whose raw key is `object_key`.
pub fn report_key(object_key: &str) -> String {
    let rest = object_key.strip_prefix("raw/").unwrap_or(object_key);
    format!("{QUARANTINE_PREFIX}{rest}.report.json")
}

/// The key of the invalid records kept aside from the file bound for `object_key`.
pub fn invalid_records_key(object_key: &str) -> String {
    let rest = object_key.strip_prefix("raw/").unwrap_or(object_key);
    format!("{QUARANTINE_PREFIX}{rest}.invalid.jsonl")
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
    /// Where the invalid records are (`quarantine_rows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid_records_key: Option<&'a str>,
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
    invalid_records_key: Option<&str>,
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
        invalid_records_key,
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

/// Uploads the invalid records the engine wrote to `records` (a local
/// temporary file) to [`invalid_records_key`], `part_size` bytes at a time;
/// returns the key.
pub async fn write_invalid_records<S: ObjectStore>(
    store: &S,
    object_key: &str,
    metadata: &Metadata,
    records: File,
    part_size: usize,
) -> Result<String, ObjectStoreError> {
    let key = invalid_records_key(object_key);
    let local = |e: std::io::Error| ObjectStoreError::Unavailable {
        op: "read the invalid records kept in",
        key: key.clone(),
        source: Box::new(e),
    };
    let mut reader = Chunks {
        file: records,
        part_size,
    };
    reader.rewind().await.map_err(local)?;
    let first = reader.next().await.map_err(local)?;
    if first.len() < part_size {
        store.put(&key, first, metadata).await?;
        return Ok(key);
    }
    let upload = store.start_upload(&key, metadata).await?;
    let result = async {
        let mut parts = Vec::new();
        let mut body = first;
        let mut number = 1;
        loop {
            parts.push(store.put_part(&upload, number, body).await?);
            body = reader.next().await.map_err(local)?;
            if body.is_empty() {
                break;
            }
            number += 1;
        }
        store.complete_upload(&upload, &parts).await
    }
    .await;
    if let Err(error) = result {
        // The lifecycle rule removes an upload an abort could not.
        let _ = store.abort_upload(&upload).await;
        return Err(error);
    }
    Ok(key)
}

/// A local file read a part at a time on a blocking thread.
struct Chunks {
    file: File,
    part_size: usize,
}

impl Chunks {
    async fn rewind(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0)).map(|_| ())
    }

    /// The next `part_size` bytes (fewer at the end, none after it).
    async fn next(&mut self) -> std::io::Result<Vec<u8>> {
        let file = self.file.try_clone()?;
        let size = self.part_size;
        tokio::task::spawn_blocking(move || {
            let mut body = Vec::with_capacity(size);
            file.take(size as u64).read_to_end(&mut body)?;
            Ok(body)
        })
        .await
        .map_err(std::io::Error::other)?
    }
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
        assert_eq!(
            invalid_records_key("raw/tenant=acme/sales.csv"),
            "quarantine/tenant=acme/sales.csv.invalid.jsonl"
        );
    }
}
