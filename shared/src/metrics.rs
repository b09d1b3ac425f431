//! CloudWatch metrics in the Embedded Metric Format (EMF): a function adds what
//! one run did to a [`Metrics`] (files discovered, ingested, rejected, failed;
//! bytes; rows; ingest latency; SLA breaches), keyed by tenant and source, and
//! writes [`Metrics::emf_lines`] to stdout at the end of the run. CloudWatch
//! Logs turns each line into metric points: no API call, no added latency, and
//! nothing to fail in the function.
//!
//! The format is a small JSON document (one `_aws` block naming the namespace,
//! dimensions and units, then the values as top-level fields), so it is
//! written here with `serde_json` rather than through a metrics facade and a
//! global recorder: a run's metrics stay a plain value the caller owns, the
//! tests read them back, and the local back-ends can print the same figures.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The namespace used unless `TRIBUTARY_METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "tributary";

/// EMF takes at most 100 metrics in one document.
const MAX_METRICS_PER_LINE: usize = 100;

/// Dimension values are cut to this many characters (CloudWatch's limit is 1024).
const MAX_DIMENSION_CHARS: usize = 255;

/// Every metric tributary emits, with its unit. One name for one idea: these
/// are the names dashboards and alarms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// New file versions a poll claimed and sent to the ingester.
    FilesDiscovered,
    /// Files that landed in the raw bucket.
    FilesIngested,
    /// Files the validator rejected (bad content: never retried).
    FilesRejected,
    /// Files dead-lettered for a reason outside the file (misconfigured, or
    /// transient on their last receive).
    FilesFailed,
    /// Bytes of landed files as received from FTP.
    BytesReceived,
    /// Bytes of landed files once decrypted and decompressed.
    BytesIngested,
    /// Data rows of landed files.
    RowsIngested,
    /// From discovery by the poller to the file landing, in milliseconds.
    IngestLatency,
    /// Polls of a source that failed.
    PollsFailed,
    /// SLA windows whose file was not ingested by the deadline.
    SlaBreaches,
    /// Late files that arrived after their SLA breach.
    SlaRecoveries,
    /// Dead letters ops moved back to the ingest queue (dlq-redrive).
    FilesRedriven,
    /// Catalog job runs started.
    JobsStarted,
    /// Catalog job runs that could not be started (dead-lettered).
    JobsFailed,
}

impl Metric {
    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::FilesDiscovered => "FilesDiscovered",
            Metric::FilesIngested => "FilesIngested",
            Metric::FilesRejected => "FilesRejected",
            Metric::FilesFailed => "FilesFailed",
            Metric::BytesReceived => "BytesReceived",
            Metric::BytesIngested => "BytesIngested",
            Metric::RowsIngested => "RowsIngested",
            Metric::IngestLatency => "IngestLatency",
            Metric::PollsFailed => "PollsFailed",
            Metric::SlaBreaches => "SlaBreaches",
            Metric::SlaRecoveries => "SlaRecoveries",
            Metric::FilesRedriven => "FilesRedriven",
            Metric::JobsStarted => "JobsStarted",
            Metric::JobsFailed => "JobsFailed",
        }
    }

    /// The CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::BytesReceived | Metric::BytesIngested => "Bytes",
            Metric::IngestLatency => "Milliseconds",
            _ => "Count",
        }
    }

    /// Whether values are summed within a run (counts, bytes) or kept one by
    /// one (latencies: CloudWatch computes percentiles from the values).
    fn summed(self) -> bool {
        self != Metric::IngestLatency
    }
}

/// What the values of one dimension set are.
#[derive(Debug, Clone, Default, PartialEq)]
struct Values(BTreeMap<Metric, Vec<f64>>);

/// The metrics of one run, grouped by (tenant, source).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    namespace: String,
    function: String,
    by_source: BTreeMap<(String, String), Values>,
    /// Where [`Metrics::emit`] appends its lines instead of standard output
    /// (the demo, whose standard output is its summary).
    file: Option<std::path::PathBuf>,
}

impl Metrics {
    /// Empty metrics for `function` (a property on every line, not a dimension)
    /// in `namespace`.
    pub fn new(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        Metrics {
            namespace: namespace.into(),
            function: function.into(),
            by_source: BTreeMap::new(),
            file: None,
        }
    }

    /// The same metrics, emitted by appending to `path` rather than to
    /// standard output.
    pub fn to_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Adds `value` of `metric` for `tenant`/`source` (`-` when a metric has
    /// no source, such as a rule's SLA breach without one).
    pub fn add(&mut self, tenant: &str, source: &str, metric: Metric, value: f64) {
        let values = self
            .by_source
            .entry((dimension(tenant), dimension(source)))
            .or_default();
        let entry = values.0.entry(metric).or_default();
        match entry.first_mut() {
            Some(sum) if metric.summed() => *sum += value,
            _ => entry.push(value),
        }
    }

    /// Adds one to a count.
    pub fn count(&mut self, tenant: &str, source: &str, metric: Metric) {
        self.add(tenant, source, metric, 1.0);
    }

    /// The sum of `metric` over every source (what tests and summaries read).
    pub fn total(&self, metric: Metric) -> f64 {
        self.by_source
            .values()
            .filter_map(|v| v.0.get(&metric))
            .flatten()
            .sum()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }

    /// One EMF JSON document per (tenant, source), stamped `at`, each metric
    /// declared with its unit under the dimension set `[tenant, source]` and
    /// the roll-up `[tenant]`.
    pub fn emf_lines(&self, at: DateTime<Utc>) -> Vec<String> {
        let mut lines = Vec::new();
        for ((tenant, source), values) in &self.by_source {
            let metrics: Vec<_> = values.0.iter().collect();
            for chunk in metrics.chunks(MAX_METRICS_PER_LINE) {
                let mut doc = Map::new();
                let declared: Vec<Value> = chunk
                    .iter()
                    .map(|(m, _)| json!({"Name": m.name(), "Unit": m.unit()}))
                    .collect();
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": at.timestamp_millis(),
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [["tenant", "source"], ["tenant"]],
                            "Metrics": declared,
                        }],
                    }),
                );
                doc.insert("tenant".into(), Value::from(tenant.as_str()));
                doc.insert("source".into(), Value::from(source.as_str()));
                doc.insert("function".into(), Value::from(self.function.as_str()));
                for (metric, v) in chunk {
                    let value = match v.as_slice() {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    doc.insert(metric.name().into(), value);
                }
                lines.push(Value::Object(doc).to_string());
            }
        }
        lines
    }

    /// Writes [`Metrics::emf_lines`] to stdout, one line each (what CloudWatch
    /// Logs reads in Lambda).
    pub fn emit(&self, at: DateTime<Utc>) {
        use std::io::Write;
        let lines = self.emf_lines(at);
        if lines.is_empty() {
            return;
        }
        if let Some(path) = &self.file {
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(format!("{}\n", lines.join("\n")).as_bytes()));
            if let Err(error) = appended {
                tracing::warn!(path = %path.display(), %error, "Metrics not written.");
            }
            return;
        }
        let mut out = std::io::stdout().lock();
        for line in lines {
            // A closed stdout loses metrics, never the run.
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

/// One EMF line read back: what CloudWatch makes of it (the tests of every
/// function check their lines through this, and a summary can print them).
#[derive(Debug, Clone, PartialEq)]
pub struct EmfLine {
    pub namespace: String,
    /// The dimension sets, e.g. `[["tenant", "source"], ["tenant"]]`.
    pub dimensions: Vec<Vec<String>>,
    pub tenant: String,
    pub source: String,
    pub function: String,
    pub timestamp_millis: i64,
    /// Each declared metric's unit and value (a number, or an array of them).
    pub metrics: BTreeMap<String, (String, Value)>,
}

impl EmfLine {
    /// Reads one line; `None` when it is not an EMF document as written by
    /// [`Metrics::emf_lines`] (one directive, every declared metric with a
    /// numeric value, the dimensions present as strings).
    pub fn read(line: &str) -> Option<EmfLine> {
        let doc: Value = serde_json::from_str(line).ok()?;
        let aws = doc.get("_aws")?;
        let [directive] = aws.get("CloudWatchMetrics")?.as_array()?.as_slice() else {
            return None;
        };
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let dimensions = directive
            .get("Dimensions")?
            .as_array()?
            .iter()
            .map(strings)
            .collect::<Option<Vec<_>>>()?;
        let mut metrics = BTreeMap::new();
        for declared in directive.get("Metrics")?.as_array()? {
            let name = declared.get("Name")?.as_str()?;
            let unit = declared.get("Unit")?.as_str()?;
            let value = doc.get(name)?;
            let numeric = value.is_number()
                || value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_number));
            if !numeric {
                return None;
            }
            metrics.insert(name.to_owned(), (unit.to_owned(), value.clone()));
        }
        let text = |k: &str| doc.get(k)?.as_str().map(str::to_owned);
        Some(EmfLine {
            namespace: directive.get("Namespace")?.as_str()?.to_owned(),
            dimensions,
            tenant: text("tenant")?,
            source: text("source")?,
            function: text("function")?,
            timestamp_millis: aws.get("Timestamp")?.as_i64()?,
            metrics,
        })
    }

    /// The value of `metric` as one number (`None`: not in this line, or a
    /// list of values).
    pub fn value(&self, metric: Metric) -> Option<f64> {
        self.metrics.get(metric.name())?.1.as_f64()
    }
}

/// A dimension value CloudWatch accepts: non-empty, bounded, no control
/// characters (tenant and source ids are already safe; this guards the rest).
fn dimension(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DIMENSION_CHARS)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-11-22T06:00:00Z".parse().unwrap()
    }

    #[test]
    fn counts_sum_per_source_and_latencies_stay_values() {
        let mut m = Metrics::new("tributary", "ingester");
        m.count("acme", "acme-ftp", Metric::FilesIngested);
        m.count("acme", "acme-ftp", Metric::FilesIngested);
        m.add("acme", "acme-ftp", Metric::BytesReceived, 100.0);
        m.add("acme", "acme-ftp", Metric::IngestLatency, 1500.0);
        m.add("acme", "acme-ftp", Metric::IngestLatency, 2500.0);
        m.count("globex", "globex-sftp", Metric::FilesRejected);

        let lines = m.emf_lines(at());
        assert_eq!(lines.len(), 2, "one document per tenant and source");
        let acme: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(acme["tenant"], "acme");
        assert_eq!(acme["source"], "acme-ftp");
        assert_eq!(acme["function"], "ingester");
        assert_eq!(acme["FilesIngested"], 2.0);
        assert_eq!(acme["BytesReceived"], 100.0);
        assert_eq!(acme["IngestLatency"], json!([1500.0, 2500.0]));
        let directive = &acme["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "tributary");
        assert_eq!(
            directive["Dimensions"],
            json!([["tenant", "source"], ["tenant"]])
        );
        assert_eq!(acme["_aws"]["Timestamp"], at().timestamp_millis());
        let units: BTreeMap<String, String> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_owned(),
                    m["Unit"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(units["BytesReceived"], "Bytes");
        assert_eq!(units["IngestLatency"], "Milliseconds");
        assert_eq!(units["FilesIngested"], "Count");
        // Every declared metric has its value in the document.
        for name in units.keys() {
            assert!(acme.get(name).is_some(), "{name} declared without a value");
        }
        assert_eq!(m.total(Metric::FilesIngested), 2.0);
        assert_eq!(m.total(Metric::FilesRejected), 1.0);
    }

    #[test]
    fn lines_read_back_as_written_and_other_json_is_not_a_line() {
        let mut m = Metrics::new("ns", "poller");
        m.add("acme", "acme-ftp", Metric::FilesDiscovered, 3.0);
        m.add("acme", "acme-ftp", Metric::IngestLatency, 10.0);
        m.add("acme", "acme-ftp", Metric::IngestLatency, 20.0);
        let lines = m.emf_lines(at());
        let line = EmfLine::read(&lines[0]).unwrap();
        assert_eq!(line.namespace, "ns");
        assert_eq!(line.function, "poller");
        assert_eq!(
            (line.tenant.as_str(), line.source.as_str()),
            ("acme", "acme-ftp")
        );
        assert_eq!(line.dimensions, [vec!["tenant", "source"], vec!["tenant"]]);
        assert_eq!(line.timestamp_millis, at().timestamp_millis());
        assert_eq!(line.value(Metric::FilesDiscovered), Some(3.0));
        assert_eq!(line.value(Metric::IngestLatency), None, "a list");
        assert_eq!(
            line.metrics["IngestLatency"],
            ("Milliseconds".to_owned(), json!([10.0, 20.0]))
        );
        // A declared metric without its value, or no directive: not a line.
        let mut doc: Value = serde_json::from_str(&lines[0]).unwrap();
        doc.as_object_mut().unwrap().remove("FilesDiscovered");
        assert_eq!(EmfLine::read(&doc.to_string()), None);
        assert_eq!(EmfLine::read(r#"{"tenant":"acme"}"#), None);
        assert_eq!(EmfLine::read("not json"), None);
    }

    #[test]
    fn nothing_added_writes_nothing_and_odd_dimensions_are_made_safe() {
        let m = Metrics::new("tributary", "poller");
        assert!(m.is_empty() && m.emf_lines(at()).is_empty());

        let mut m = Metrics::new("tributary", "sla-monitor");
        m.count("", "a\u{0}b", Metric::SlaBreaches);
        let doc: Value = serde_json::from_str(&m.emf_lines(at())[0]).unwrap();
        assert_eq!(
            (doc["tenant"].as_str(), doc["source"].as_str()),
            (Some("-"), Some("ab"))
        );
    }
}
