//! One pass over a file: the received bytes are hashed and counted, their layers
//! undone, the decoded bytes handed to the sink and counted into records, and the
//! rule's bounds checked at the end.
//!
//! ```text
//! calling thread: source ─► ReceivedMeter ─► layer … layer ─► DecodedMeter ─► sink (uploader)
//!                          (size, max_bytes) (decrypt, gunzip)  (bomb guard)
//!                               │ copies                            │ copies
//! worker thread:                ▼                                   ▼
//!                            SHA-256                           row counter
//! ```
//!
//! Hashing and counting run on a second thread ([`super::worker`]) so that they
//! overlap decoding; the counter still sees the decoded stream, and its errors,
//! in order, so a verdict is the same as one thread reading the chain would give.
//!
//! The sink sees decoded bytes before the verdict is known: the caller completes
//! what it wrote (an S3 multipart upload) only when the report says `Accepted`,
//! which it can only say once every byte was read and every tag verified.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::mpsc::Receiver;

use super::checks::{self, Measured};
use super::count::{CountError, Header, RowStats};
use super::data_key::DataKey;
use super::layers::chain::{self, Decryption, Plan, StageGuard};
use super::layers::infer;
use super::meter::{Classified, DecodedGuard, DecodedMeter, ReceivedMeter, SinkFailure, classify};
use super::report::{REPORTED_HEADER_NAMES, Report, Verdict};
use super::spec::{Layer, ValidationSpec};
use super::worker::{self, Counted, Feeder, WorkerGone};
use crate::contract::unique::SpillError;
use crate::contract::{Contract, RowChecker};
use crate::failure::FailureKind;

/// Why the engine reached no verdict. A bad file is not an error: it gets a
/// [`Verdict::Rejected`] report.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The source failed (connection reset, timeout, file vanished): transient.
    #[error("reading the file failed: {0}")]
    Source(#[source] io::Error),
    /// The sink failed (upload error): transient.
    #[error("writing the decoded bytes failed: {0}")]
    Sink(#[source] io::Error),
    /// A layer needs a key and the rule has none: misconfigured.
    #[error("layer {layer} needs a decryption key, and none is configured")]
    MissingKey { layer: Layer },
    /// The rule cannot be applied as written (e.g. xml without a record element).
    #[error("the rule cannot be applied: {reason}")]
    BadRule { reason: String },
    /// The engine could not start its worker thread (out of threads or memory):
    /// transient, another attempt may have them.
    #[error("starting the engine's worker thread failed: {0}")]
    Thread(#[source] io::Error),
    /// The data contract's checks could not be finished here: its local
    /// scratch files (the uniqueness spill, the invalid records kept aside)
    /// failed, most likely a full `/tmp`, or the uniqueness index needs more
    /// memory than the rule gives it. Not the file's fault, and the same
    /// attempt would fail again. Misconfigured: `reason` says what ops
    /// change before they reprocess.
    #[error("{reason}, and reprocess (the file was not judged)")]
    Scratch { reason: String },
}

impl EngineError {
    /// Which kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self {
            EngineError::Source(_) | EngineError::Sink(_) | EngineError::Thread(_) => {
                FailureKind::Transient
            }
            EngineError::MissingKey { .. }
            | EngineError::BadRule { .. }
            | EngineError::Scratch { .. } => FailureKind::Misconfigured,
        }
    }
}

/// Validates one file read from `source`, writing its decoded bytes to `sink`.
///
/// `name` is the file's name or path (layers are inferred from its extensions
/// when the spec lists none); `key` decrypts encrypted layers.
pub fn validate<R: Read, W: Write>(
    source: R,
    name: &str,
    spec: &ValidationSpec,
    key: Option<&DataKey>,
    sink: W,
) -> Result<Report, EngineError> {
    validate_into(source, name, spec, key, sink, None)
}

/// [`validate`], writing each record the data contract finds invalid to
/// `invalid_records` as one JSON line (its line, record, offset, errors and
/// bytes as received): what the ingester keeps aside under `on_invalid:
/// quarantine_rows`. Without a contract nothing is written.
pub fn validate_keeping_invalid_records<R: Read, W: Write>(
    source: R,
    name: &str,
    spec: &ValidationSpec,
    key: Option<&DataKey>,
    sink: W,
    invalid_records: &mut (dyn Write + Send),
) -> Result<Report, EngineError> {
    validate_into(source, name, spec, key, sink, Some(invalid_records))
}

fn validate_into<R: Read, W: Write>(
    source: R,
    name: &str,
    spec: &ValidationSpec,
    key: Option<&DataKey>,
    sink: W,
    invalid_records: Option<&mut (dyn Write + Send)>,
) -> Result<Report, EngineError> {
    let plan = match &spec.layers {
        Some(layers) => Plan::Explicit(layers.clone()),
        None => Plan::Inferred(infer::layers_from_name(name).0),
    };
    let planned = match &plan {
        Plan::Explicit(layers) | Plan::Inferred(layers) => layers.clone(),
    };
    if let Some(layer) = chain::missing_key(&planned, key) {
        return Err(EngineError::MissingKey { layer });
    }

    let contract = match &spec.contract {
        Some(written) => Some(Contract::compile(written).map_err(|problems| {
            EngineError::BadRule {
                reason: problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })?),
        None => None,
    };
    let checker = contract.as_ref().map(|contract| {
        let key_memory = usize::try_from(spec.limits.unique_memory_bytes).unwrap_or(usize::MAX);
        let checker = RowChecker::new(contract, spec.max_row_errors, key_memory);
        match invalid_records {
            Some(out) => checker.keep_invalid_records(out),
            None => checker,
        }
    });

    let (feeder, worker, counted) = worker::channel();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("tributary-engine".into())
            .spawn_scoped(scope, || worker.run(&spec.parse, &spec.limits, checker))
            .map_err(EngineError::Thread)?;
        let feeder = Rc::new(RefCell::new(feeder));
        let mut verdict = judge(
            source,
            plan,
            planned,
            spec,
            contract.as_ref(),
            key,
            sink,
            &feeder,
            &counted,
        )?;
        // Closing the channel lets the worker finish the hash.
        drop(feeder);
        let sha256 = match worker.join() {
            Ok(sha256) => sha256,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if !verdict.cut_at_max_bytes {
            verdict.report.received_sha256 = Some(sha256);
        }
        Ok(verdict.report)
    })
}

/// A report without its hash (the worker has it), and whether reading stopped
/// at `max_bytes` (then the hash is of a part and is left out).
struct Judged {
    report: Report,
    cut_at_max_bytes: bool,
}

/// The calling thread's part of [`validate`]: everything but the hash.
#[allow(clippy::too_many_arguments)]
fn judge<R: Read, W: Write>(
    source: R,
    plan: Plan,
    planned: Vec<Layer>,
    spec: &ValidationSpec,
    contract: Option<&Contract>,
    key: Option<&DataKey>,
    sink: W,
    feeder: &Rc<RefCell<Feeder>>,
    counted: &Receiver<Counted>,
) -> Result<Judged, EngineError> {
    let mut received = ReceivedMeter::new(source, spec.bounds.max_bytes, Rc::clone(feeder));
    let mut progress = Progress {
        layers: planned,
        decoded_bytes: 0,
        utf8_error_at: None,
    };
    let outcome = stream(
        &mut received,
        plan,
        spec,
        key,
        sink,
        feeder,
        counted,
        &mut progress,
    );
    let mut reasons = Vec::new();
    let mut stats = RowStats::default();
    match outcome {
        Ok(counted) => stats = counted,
        Err(CountError::Io(error)) if error.get_ref().is_some_and(|e| e.is::<SpillError>()) => {
            return Err(EngineError::Scratch {
                reason: error.to_string(),
            });
        }
        Err(CountError::Io(error)) => match classify(error) {
            Classified::Source(e) => return Err(EngineError::Source(e)),
            Classified::Sink(e) => return Err(EngineError::Sink(e)),
            Classified::Rejected(reason) => reasons.push(reason),
        },
        Err(CountError::Malformed {
            format,
            record: _,
            reason,
        }) => reasons.push(format!("{format}: {reason}")),
        Err(CountError::Misconfigured { format, reason }) => {
            return Err(EngineError::BadRule {
                reason: format!("{format}: {reason}"),
            });
        }
    }

    // Before the remaining checks: a file whose contract could not be
    // finished is not judged at all, whatever else it breaks.
    if let Some(reason) = stats
        .contract
        .as_ref()
        .and_then(|outcome| outcome.scratch_failure.clone())
    {
        return Err(EngineError::Scratch { reason });
    }

    // Read what the chain left: a rejected file still gets its full hash, and
    // bytes after the end of the last layer's data are an error of their own.
    if !received.over_limit() {
        match received.drain() {
            Ok(0) => {}
            Ok(left) => {
                if reasons.is_empty() {
                    reasons.push(format!(
                        "{left} unexpected bytes after the end of the {} data",
                        progress.layers.last().map_or("file", |l| l.name())
                    ));
                }
            }
            Err(error) => match classify(error) {
                Classified::Source(e) => return Err(EngineError::Source(e)),
                Classified::Sink(e) => return Err(EngineError::Sink(e)),
                Classified::Rejected(reason) => reasons.push(reason),
            },
        }
    }

    if received.over_limit() && reasons.is_empty() {
        // Never accept a file that was cut at max_bytes, whatever a layer did.
        reasons.push(received.breach_reason());
    }
    if reasons.is_empty() {
        reasons = checks::broken_bounds(
            &spec.bounds,
            &Measured {
                received_bytes: received.total(),
                decoded_bytes: progress.decoded_bytes,
                rows: stats.rows,
                header: stats.header.as_ref(),
                utf8_error_at: progress.utf8_error_at,
            },
        );
        if let (Some(contract), Some(outcome)) = (contract, &stats.contract) {
            reasons.extend(outcome.reasons(contract));
        }
    }

    // An error here means the worker panicked: joining it raises the panic.
    let _ = feeder.borrow_mut().flush_received();
    let received_bytes = received.total();
    let cut_at_max_bytes = received.over_limit();
    let report = Report {
        verdict: if reasons.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        },
        reasons,
        layers: progress.layers,
        received_bytes,
        received_sha256: None,
        decoded_bytes: progress.decoded_bytes,
        records: stats.records,
        rows: stats.rows,
        header: stats
            .header
            .as_ref()
            .map(|h| h.names(REPORTED_HEADER_NAMES)),
        header_columns: stats.header.as_ref().map(Header::len),
        invalid_rows: 0,
        row_errors: Vec::new(),
        row_errors_truncated: false,
        checks: Vec::new(),
    }
    .with_contract(stats.contract);
    Ok(Judged {
        report,
        cut_at_max_bytes,
    })
}

/// What is known of a pass that may stop early.
struct Progress {
    layers: Vec<Layer>,
    decoded_bytes: u64,
    utf8_error_at: Option<u64>,
}

#[allow(clippy::too_many_arguments)]
fn stream<R: Read, W: Write>(
    received: &mut ReceivedMeter<R>,
    plan: Plan,
    spec: &ValidationSpec,
    key: Option<&DataKey>,
    mut sink: W,
    feeder: &Rc<RefCell<Feeder>>,
    counted: &Receiver<Counted>,
    progress: &mut Progress,
) -> Result<RowStats, CountError> {
    let received_count = received.counter();
    let decryption = Decryption {
        key,
        associated_data: &spec.associated_data,
    };
    let guard = DecodedGuard {
        limits: spec.limits,
        max_decoded_bytes: spec.bounds.max_decoded_bytes,
        require_utf8: spec.bounds.require_utf8,
    };
    let stages = StageGuard {
        received: Rc::clone(&received_count),
        limits: spec.limits,
        ratio_applies: guard.ratio_applies(),
    };
    let chain =
        chain::build(Box::new(received), plan, &decryption, &stages).map_err(CountError::Io)?;
    progress.layers = chain.layers;

    let mut decoded = DecodedMeter::new(chain.reader, guard);
    if decode(&mut decoded, &mut sink, feeder).is_err() {
        return Err(worker_gone());
    }
    let Ok(Counted {
        result,
        decoded_bytes,
    }) = counted.recv()
    else {
        return Err(worker_gone());
    };
    progress.decoded_bytes = decoded_bytes;
    let stats = result?;

    // The counter read to the end: the sink has had every byte.
    sink.flush()
        .map_err(|e| CountError::Io(io::Error::new(e.kind(), SinkFailure(e))))?;
    progress.utf8_error_at = decoded.utf8_error();
    Ok(stats)
}

/// Reads the decoded stream a buffer at a time, writes each to the sink and
/// sends it to the counter; a read or sink error is sent in its place. Stops at
/// the end, at the first error, or when the counter needs no more.
fn decode<R: Read, W: Write>(
    decoded: &mut R,
    sink: &mut W,
    feeder: &Rc<RefCell<Feeder>>,
) -> Result<(), WorkerGone> {
    loop {
        if feeder.borrow().counting_done() {
            return Ok(());
        }
        let mut chunk = feeder.borrow().buffer();
        let mut filled = 0;
        let mut ended = false;
        let mut failure = None;
        while let Some(space) = chunk.get_mut(filled..).filter(|s| !s.is_empty()) {
            match decoded.read(space) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        chunk.truncate(filled);
        if !chunk.is_empty() {
            if let Err(e) = sink.write_all(&chunk) {
                let failure = io::Error::new(e.kind(), SinkFailure(e));
                return feeder.borrow_mut().decoded_failed(failure);
            }
            feeder.borrow_mut().decoded(chunk)?;
        }
        if let Some(failure) = failure {
            return feeder.borrow_mut().decoded_failed(failure);
        }
        if ended {
            return feeder.borrow_mut().decoded_end();
        }
    }
}

/// The worker thread is gone (it panicked): an error that never reaches a
/// report, because joining the worker raises its panic first.
fn worker_gone() -> CountError {
    CountError::Io(io::Error::other(WorkerGone))
}
