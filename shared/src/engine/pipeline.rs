//! One pass over a file: the received bytes are hashed and counted, their layers
//! undone, the decoded bytes handed to the sink and counted into records, and the
//! rule's bounds checked at the end.
//!
//! ```text
//! source ─► ReceivedMeter ─► layer … layer ─► DecodedMeter ─► Tee ─► row counter
//!           (SHA-256, size)  (decrypt, gunzip) (bomb guard)     │
//!                                                               └─► sink (uploader)
//! ```
//!
//! The sink sees decoded bytes before the verdict is known: the caller completes
//! what it wrote (an S3 multipart upload) only when the report says `Accepted`,
//! which it can only say once every byte was read and every tag verified.

use std::io::{self, BufReader, Read, Write};
use std::rc::Rc;

use super::checks::{self, Measured};
use super::count::{self, CountError, RowStats};
use super::key::DataKey;
use super::layers::chain::{self, Decryption, Plan, StageGuard};
use super::layers::infer;
use super::meter::{Classified, DecodedGuard, DecodedMeter, ReceivedMeter, Tee, classify};
use super::report::{Report, Verdict};
use super::spec::{Layer, ValidationSpec};
use crate::failure::FailureKind;

/// Size of the buffer between the layer chain and the row counter.
const READ_BUFFER: usize = 256 * 1024;

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
}

impl EngineError {
    /// Which kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self {
            EngineError::Source(_) | EngineError::Sink(_) => FailureKind::Transient,
            EngineError::MissingKey { .. } | EngineError::BadRule { .. } => {
                FailureKind::Misconfigured
            }
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

    let mut received = ReceivedMeter::new(source, spec.bounds.max_bytes);
    let mut progress = Progress {
        layers: planned,
        decoded_bytes: 0,
        utf8_error_at: None,
    };
    let outcome = stream(&mut received, plan, spec, key, sink, &mut progress);

    let mut reasons = Vec::new();
    let mut stats = RowStats::default();
    match outcome {
        Ok(counted) => stats = counted,
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
                header: stats.header.as_deref(),
                utf8_error_at: progress.utf8_error_at,
            },
        );
    }

    let received_bytes = received.total();
    let received_sha256 = (!received.over_limit()).then(|| received.finish());
    Ok(Report {
        verdict: if reasons.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        },
        reasons,
        layers: progress.layers,
        received_bytes,
        received_sha256,
        decoded_bytes: progress.decoded_bytes,
        records: stats.records,
        rows: stats.rows,
        header: stats.header,
    })
}

/// What is known of a pass that may stop early.
struct Progress {
    layers: Vec<Layer>,
    decoded_bytes: u64,
    utf8_error_at: Option<u64>,
}

fn stream<R: Read, W: Write>(
    received: &mut ReceivedMeter<R>,
    plan: Plan,
    spec: &ValidationSpec,
    key: Option<&DataKey>,
    sink: W,
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

    let decoded = DecodedMeter::new(chain.reader, guard);
    let decoded_count = decoded.counter();
    let mut buffered = BufReader::with_capacity(READ_BUFFER, Tee::new(decoded, sink));
    let counted = count::count_rows(&mut buffered, &spec.parse, &spec.limits);
    progress.decoded_bytes = decoded_count.get();
    let stats = counted?;

    // The counter read to the end; what is left in the buffer is nothing.
    let (decoded, _sink) = buffered.into_inner().into_parts().map_err(CountError::Io)?;
    progress.utf8_error_at = decoded.utf8_error();
    Ok(stats)
}
