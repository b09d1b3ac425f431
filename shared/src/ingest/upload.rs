//! One file, validated and uploaded in one pass: [`validate_and_upload`].
//!
//! ```text
//!  async source ─pump─► chunks ─► ChannelReader ─► engine::validate ─► PartSink
//!  (FTP download)       (bounded)   (spawn_blocking)                     │ full parts
//!                                                                       ▼ (bounded)
//!                                   ObjectStore ◄── uploader (≤ in_flight parts at once)
//! ```
//!
//! The engine is synchronous and runs on a blocking thread; the source and the
//! store are driven by the calling task, so neither needs to be `'static` (an
//! FTP download borrows its pooled client). Nothing becomes visible unless the
//! report is `Accepted` and every part was stored: a file smaller than one part
//! is a single `put` after the verdict; a larger one is a multipart upload
//! completed after the verdict and aborted on any rejection or error.
//!
//! Memory: at most `in_flight + 1` part buffers (see [`super::bridge`]), plus
//! [`CHUNKS_QUEUED`](super::bridge::CHUNKS_QUEUED) source chunks and the engine's
//! own buffers.
//!
//! Metadata: a multipart upload's metadata is fixed when it starts (S3's
//! `CreateMultipartUpload`), before the engine's figures exist, so a multipart
//! object carries the lineage known up front; a single put carries the figures
//! too. The ledger records the figures for every file.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::bridge::{CHUNKS_QUEUED, ChannelReader, Part, PartSink, Tail, Tokens, pump};
use super::lineage::Lineage;
use super::quarantine;
use crate::contract::InvalidAction;
use crate::contract::unique::SpillError;
use crate::engine::data_key::DataKey;
use crate::engine::spec::ValidationSpec;
use crate::engine::{EngineError, Report, validate, validate_keeping_invalid_records};
use crate::failure::FailureKind;
use crate::ports::ledger::Outcome;
use crate::ports::object_store::{
    CompletedPart, MAX_PART_BYTES, MIN_PART_BYTES, MultipartUpload, ObjectStore, ObjectStoreError,
};

/// How parts are cut and how many are uploaded at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOptions {
    part_size: usize,
    in_flight: usize,
}

/// The most parts in flight an ingestion may ask for.
pub const MAX_IN_FLIGHT: usize = 16;

/// Why upload options are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadOptionsError {
    #[error("part size {0} is outside {MIN_PART_BYTES}..={MAX_PART_BYTES} bytes")]
    PartSize(usize),
    #[error("parts in flight {0} is outside 1..={MAX_IN_FLIGHT}")]
    InFlight(usize),
}

impl UploadOptionsError {
    /// Bad options are configuration.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

impl Default for UploadOptions {
    /// 8 MiB parts, 2 in flight: at most 24 MiB of parts per file.
    fn default() -> Self {
        UploadOptions {
            part_size: 8 * 1024 * 1024,
            in_flight: 2,
        }
    }
}

impl UploadOptions {
    /// Parts of `part_size` bytes (at least S3's 5 MiB minimum), `in_flight`
    /// uploaded at once. Memory for parts is at most `part_size × (in_flight + 1)`.
    pub fn new(part_size: usize, in_flight: usize) -> Result<Self, UploadOptionsError> {
        if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&part_size) {
            return Err(UploadOptionsError::PartSize(part_size));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&in_flight) {
            return Err(UploadOptionsError::InFlight(in_flight));
        }
        Ok(UploadOptions {
            part_size,
            in_flight,
        })
    }

    pub fn part_size(&self) -> usize {
        self.part_size
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

/// The file to validate: what the engine needs besides its bytes.
#[derive(Debug, Clone)]
pub struct FileToIngest {
    /// The file's path or name (layers are inferred from it when the spec has none).
    pub name: String,
    pub spec: ValidationSpec,
    pub key: Option<DataKey>,
}

/// Where and how it lands.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The object key (see [`super::object_key`]).
    pub object_key: &'a str,
    pub lineage: &'a Lineage,
    pub options: UploadOptions,
}

/// A file that landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub object_key: String,
    /// Parts of the multipart upload; 0 for a single put.
    pub parts: u32,
    /// The most part buffers held at once (at most `in_flight + 1`).
    pub peak_parts_held: usize,
    pub report: Report,
}

/// Where a file read to a verdict ended: landed at its key, or rejected. What
/// the ledger records of it is [`Landing::outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// Accepted and visible at its key.
    Landed(Landed),
    /// Rejected: nothing is visible and no upload is left.
    Rejected(Report),
}

impl Landing {
    /// The engine's report of the file.
    pub fn report(&self) -> &Report {
        match self {
            Landing::Landed(landed) => &landed.report,
            Landing::Rejected(report) => report,
        }
    }

    /// Whether the file has a quarantine report: it was rejected, or it landed
    /// with rows its contract found invalid.
    pub fn needs_report(&self) -> bool {
        match self {
            Landing::Landed(landed) => landed.report.invalid_rows > 0,
            Landing::Rejected(_) => true,
        }
    }

    /// What the ledger records of a file read to a verdict: the figures and
    /// key of a landed file, the reasons (joined) of a rejected one, and the
    /// key of its quarantine report when it has one.
    pub fn outcome(&self, report_key: Option<String>) -> Outcome {
        match self {
            Landing::Landed(Landed {
                object_key, report, ..
            }) => Outcome::Ingested {
                sha256: report.sha256_hex().unwrap_or_default(),
                bytes_in: report.received_bytes,
                bytes_out: report.decoded_bytes,
                rows: report.rows,
                s3_key: object_key.clone(),
                invalid_rows: report.invalid_rows,
                report_key,
            },
            Landing::Rejected(report) => Outcome::Rejected {
                sha256: report.sha256_hex(),
                bytes_in: report.received_bytes,
                reason: report.reasons.join("; "),
                report_key,
            },
        }
    }
}

/// Why a file reached no outcome. Nothing was made visible.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The engine failed: the source (transient) or the rule (misconfigured).
    #[error("validating {name}: {source}")]
    Engine {
        name: String,
        #[source]
        source: EngineError,
    },
    /// The object store failed; its kind says whether a retry may help.
    #[error("uploading {name} to {object_key}: {source}")]
    Store {
        name: String,
        object_key: String,
        #[source]
        source: ObjectStoreError,
    },
    /// The engine's thread panicked or was cancelled: a bug, not the file.
    #[error("validating {name}: the engine's task failed: {reason}")]
    EngineTask { name: String, reason: String },
}

impl IngestError {
    /// Which kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self {
            IngestError::Engine { source, .. } => source.kind(),
            IngestError::Store { source, .. } => source.kind(),
            IngestError::EngineTask { .. } => FailureKind::Misconfigured,
        }
    }

    /// The store's error, when the store failed.
    pub fn store_error(&self) -> Option<&ObjectStoreError> {
        match self {
            IngestError::Store { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the uploader stored, or where it failed.
struct Uploaded {
    upload: Option<MultipartUpload>,
    parts: Vec<CompletedPart>,
    error: Option<ObjectStoreError>,
}

/// Validates `source` and uploads its decoded bytes to `dest.object_key`, making
/// them visible only if the file is accepted (see the module docs). A rejected
/// file, and an accepted one with invalid rows, get their report under the
/// quarantine prefix ([`quarantine::report_key`]) before this returns (and,
/// for an accepted file, before it becomes visible).
///
/// `Ok` means a verdict was reached and acted on; `Err` means none was and
/// whatever was uploaded has been aborted (an abort that fails too is logged;
/// the upload is then left to the bucket's lifecycle rule).
pub async fn validate_and_upload<R, S>(
    source: R,
    file: FileToIngest,
    store: &S,
    dest: Destination<'_>,
) -> Result<Landing, IngestError>
where
    R: AsyncRead + Unpin,
    S: ObjectStore,
{
    let name = file.name.clone();
    let store_error = |source| IngestError::Store {
        name: name.clone(),
        object_key: dest.object_key.to_owned(),
        source,
    };
    let start_metadata = dest.lineage.metadata(None);
    let (chunk_tx, chunk_rx) = mpsc::channel(CHUNKS_QUEUED);
    let (part_tx, part_rx) = mpsc::channel(1);
    let (tokens, token_rx, gauge) = Tokens::new(dest.options.in_flight + 1);

    let part_size = dest.options.part_size;
    let engine_gauge = Arc::clone(&gauge);
    let keeps_invalid = file
        .spec
        .contract
        .as_ref()
        .is_some_and(|c| c.on_invalid.action == InvalidAction::QuarantineRows);
    let engine = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader::new(chunk_rx);
        let mut sink = PartSink::new(part_size, part_tx, token_rx, engine_gauge);
        let (result, kept) = if keeps_invalid {
            // Invalid records wait on local disk (Lambda's /tmp) for the verdict.
            match tempfile::tempfile() {
                Ok(mut kept) => {
                    let mut out = std::io::BufWriter::new(&mut kept);
                    let result = validate_keeping_invalid_records(
                        reader,
                        &file.name,
                        &file.spec,
                        file.key.as_ref(),
                        &mut sink,
                        &mut out,
                    );
                    drop(out);
                    (result, Some(kept))
                }
                // No room in /tmp: the file is not judged (misconfigured).
                Err(error) => (
                    Err(EngineError::Scratch {
                        reason: SpillError::Disk(error).to_string(),
                    }),
                    None,
                ),
            }
        } else {
            let result = validate(reader, &file.name, &file.spec, file.key.as_ref(), &mut sink);
            (result, None)
        };
        (result, sink.into_tail(), kept)
    });

    let upload = upload_parts(
        store,
        dest.object_key,
        &start_metadata,
        part_rx,
        &tokens,
        dest.options.in_flight,
    );
    let ((), uploaded, joined) = tokio::join!(pump(source, chunk_tx), upload, engine);

    let abort = |upload: Option<MultipartUpload>| async move {
        if let Some(upload) = upload
            && let Err(error) = store.abort_upload(&upload).await
        {
            warn!(key = %upload.key, upload_id = %upload.upload_id, %error,
                "Aborting the upload failed; the lifecycle rule will remove it.");
        }
    };

    let (result, tail, kept) = match joined {
        Ok(done) => done,
        Err(error) => {
            abort(uploaded.upload).await;
            return Err(IngestError::EngineTask {
                name: name.clone(),
                reason: error.to_string(),
            });
        }
    };
    let Tail {
        body,
        holds_token,
        parts_sent,
    } = tail;
    if holds_token {
        gauge.release();
    }
    if let Some(error) = uploaded.error {
        abort(uploaded.upload).await;
        return Err(store_error(error));
    }
    let report = match result {
        Ok(report) => report,
        Err(source) => {
            abort(uploaded.upload).await;
            return Err(IngestError::Engine {
                name: name.clone(),
                source,
            });
        }
    };
    if !report.accepted() {
        debug!(file = %name, reasons = ?report.reasons, "Rejected; nothing lands.");
        abort(uploaded.upload).await;
        quarantine::write_report(store, dest.object_key, dest.lineage, &report, None)
            .await
            .map_err(store_error)?;
        return Ok(Landing::Rejected(report));
    }
    if report.invalid_rows > 0 {
        // Accepted with invalid rows (quarantine_rows): the records and the
        // report are written before the file becomes visible, so a landed
        // file always has them.
        let kept = async {
            let records = match kept {
                Some(records) => Some(
                    quarantine::write_invalid_records(
                        store,
                        dest.object_key,
                        &dest.lineage.metadata(Some(&report)),
                        records,
                        part_size,
                    )
                    .await?,
                ),
                None => None,
            };
            quarantine::write_report(
                store,
                dest.object_key,
                dest.lineage,
                &report,
                records.as_deref(),
            )
            .await
        };
        if let Err(error) = kept.await {
            abort(uploaded.upload).await;
            return Err(store_error(error));
        }
    }

    let Some(upload) = uploaded.upload else {
        let metadata = dest.lineage.metadata(Some(&report));
        store
            .put(dest.object_key, body, &metadata)
            .await
            .map_err(store_error)?;
        return Ok(Landing::Landed(Landed {
            object_key: dest.object_key.to_owned(),
            parts: 0,
            peak_parts_held: gauge.peak(),
            report,
        }));
    };
    let mut parts = uploaded.parts;
    let last = parts_sent + 1;
    let finished = async {
        parts.push(store.put_part(&upload, last, body).await?);
        parts.sort_by_key(|p| p.number);
        store.complete_upload(&upload, &parts).await
    };
    if let Err(error) = finished.await {
        abort(Some(upload)).await;
        return Err(store_error(error));
    }
    Ok(Landing::Landed(Landed {
        object_key: dest.object_key.to_owned(),
        parts: last,
        peak_parts_held: gauge.peak(),
        report,
    }))
}

/// Stores the full parts the sink sends, at most `in_flight` at once, starting
/// the multipart upload with the first. On the first error it stops taking
/// parts (the sink's next part then fails) and waits for the parts in flight.
async fn upload_parts<S: ObjectStore>(
    store: &S,
    key: &str,
    metadata: &crate::ports::object_store::Metadata,
    mut parts: mpsc::Receiver<Part>,
    tokens: &Tokens,
    in_flight: usize,
) -> Uploaded {
    let mut done = Uploaded {
        upload: None,
        parts: Vec::new(),
        error: None,
    };
    let mut running = FuturesUnordered::new();
    let mut open = true;
    while open || !running.is_empty() {
        let can_take = open && done.error.is_none() && running.len() < in_flight;
        tokio::select! {
            part = parts.recv(), if can_take => {
                let Some(Part { number, body }) = part else {
                    open = false;
                    continue;
                };
                if done.upload.is_none() {
                    match store.start_upload(key, metadata).await {
                        Ok(upload) => done.upload = Some(upload),
                        Err(error) => {
                            tokens.give_back();
                            done.error = Some(error);
                            parts.close();
                            open = false;
                            continue;
                        }
                    }
                }
                if let Some(upload) = &done.upload {
                    let upload = upload.clone();
                    running.push(async move { store.put_part(&upload, number, body).await });
                }
            }
            Some(stored) = running.next(), if !running.is_empty() => {
                tokens.give_back();
                match stored {
                    Ok(part) => done.parts.push(part),
                    Err(error) => {
                        if done.error.is_none() {
                            done.error = Some(error);
                        }
                        parts.close();
                        open = false;
                    }
                }
            }
            else => break,
        }
    }
    // Parts the sink queued after the channel closed are dropped here.
    while let Ok(Part { .. }) = parts.try_recv() {
        tokens.give_back();
    }
    done
}
