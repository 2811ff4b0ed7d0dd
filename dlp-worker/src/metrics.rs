//! Process-wide Prometheus metrics, served by `serve`'s API at `/metrics` (OpenMetrics text).
//! Every run in the process (scheduled sweeps, listeners, scans started over the API) adds to
//! them; they count since the process started.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

/// One label: (name, value).
type Label = Vec<(String, String)>;

/// The metrics of this process.
pub struct Metrics {
    /// Objects scanned whole.
    pub objects: Counter,
    /// Bytes scanned (after extraction: what the detectors saw).
    pub bytes: Counter,
    /// Findings, by info type.
    pub findings: Family<Label, Counter>,
    /// Objects or members skipped, by reason (`encrypted`, `too_large`, …).
    pub skipped: Family<Label, Counter>,
    /// Errors, by reason: `scan` (an object could not be read or scanned), `listing` (a
    /// target could not be listed), `record` (scanned but not recorded), `action` (a policy
    /// action failed), `receive` (a queue could not be read).
    pub errors: Family<Label, Counter>,
    /// Queue messages and pushes, by outcome: `scanned`, `ignored` (nothing to scan),
    /// `retried` (left to be delivered again), `dead_lettered`.
    pub messages: Family<Label, Counter>,
    /// Runs, by command (`scan`, `sweep`, `listen`).
    pub runs: Family<Label, Counter>,
    /// Seconds from the start of an object's scan (its download included) to its end.
    pub scan_seconds: Histogram,
    /// Seconds a queue message waited between being sent and being received.
    pub queue_lag_seconds: Histogram,
    registry: Registry,
}

fn label(name: &str, value: &str) -> Label {
    vec![(name.to_string(), value.to_string())]
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("dlp");
        let objects = Counter::default();
        let bytes = Counter::default();
        let findings = Family::<Label, Counter>::default();
        let skipped = Family::<Label, Counter>::default();
        let errors = Family::<Label, Counter>::default();
        let messages = Family::<Label, Counter>::default();
        let runs = Family::<Label, Counter>::default();
        // 1 ms to ~9 min; 10 ms to ~1.5 h.
        let scan_seconds = Histogram::new(exponential_buckets(0.001, 2.5, 15));
        let queue_lag_seconds = Histogram::new(exponential_buckets(0.01, 2.5, 15));
        registry.register("objects_scanned", "Objects scanned whole", objects.clone());
        registry.register("bytes_scanned", "Bytes scanned (after extraction)", bytes.clone());
        registry.register("findings", "Findings, by info type", findings.clone());
        registry.register(
            "objects_skipped",
            "Objects or archive members skipped, by reason",
            skipped.clone(),
        );
        registry.register("errors", "Errors, by reason", errors.clone());
        registry.register("messages", "Queue messages and pushes, by outcome", messages.clone());
        registry.register("runs", "Runs started, by command", runs.clone());
        registry.register(
            "object_scan_duration_seconds",
            "Time from the start of an object's scan (download included) to its end",
            scan_seconds.clone(),
        );
        registry.register(
            "queue_lag_seconds",
            "Time a queue message waited between being sent and being received",
            queue_lag_seconds.clone(),
        );
        Metrics {
            objects,
            bytes,
            findings,
            skipped,
            errors,
            messages,
            runs,
            scan_seconds,
            queue_lag_seconds,
            registry,
        }
    }

    /// Counts `n` findings of `info_type`.
    pub fn findings_of(&self, info_type: &str, n: u64) {
        self.findings.get_or_create(&label("info_type", info_type)).inc_by(n);
    }

    /// Counts a skip for `reason`.
    pub fn skip(&self, reason: &str) {
        self.skipped.get_or_create(&label("reason", reason)).inc();
    }

    /// Counts `n` errors for `reason`.
    pub fn error(&self, reason: &str, n: u64) {
        if n > 0 {
            self.errors.get_or_create(&label("reason", reason)).inc_by(n);
        }
    }

    /// Counts a message (or push) with this outcome.
    pub fn message(&self, outcome: &str) {
        self.messages.get_or_create(&label("outcome", outcome)).inc();
    }

    /// Counts a run of `command`.
    pub fn run(&self, command: &str) {
        self.runs.get_or_create(&label("command", command)).inc();
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let m = Metrics::new();
        m.objects.inc_by(3);
        m.findings_of("EMAIL_ADDRESS", 1);
        m.findings_of("EMAIL_ADDRESS", 1);
        m.error("scan", 1);
        m.error("record", 0);
        m.scan_seconds.observe(0.02);
        let text = m.render();
        assert!(text.contains("dlp_objects_scanned_total 3\n"), "{text}");
        assert!(text.contains("dlp_findings_total{info_type=\"EMAIL_ADDRESS\"} 2\n"), "{text}");
        assert!(text.contains("dlp_errors_total{reason=\"scan\"} 1\n"), "{text}");
        assert!(!text.contains("reason=\"record\""), "{text}");
        assert!(text.contains("dlp_object_scan_duration_seconds_count 1\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
