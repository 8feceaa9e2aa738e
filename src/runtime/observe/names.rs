//! The names of the metrics a run records, in one table (README.md, section "Seeing a run",
//! lists the same; a test checks the two agree). Names and labels follow the Prometheus
//! conventions: a `dispel4rs_` prefix, base units (seconds), `_total` on counters.
//!
//! Labels: `pe` (the PE's name), `instance` (its instance index; under the dynamic mappings the
//! worker that holds the instance), `process` (the process it runs in: 0 for the coordinator or
//! the only process, the rank under `zmq_multi`/`mpi`, the worker process's number under the
//! Redis mappings).

/// The kind of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only grows.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// One metric: name, kind, labels, and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricName {
    /// The Prometheus name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its labels.
    pub labels: &'static str,
    /// What it counts.
    pub help: &'static str,
}

/// Data units delivered to an instance (root calls included).
pub const UNITS_IN: &str = "dispel4rs_units_in_total";
/// Data units an instance has written (counted as its batches leave).
pub const UNITS_OUT: &str = "dispel4rs_units_out_total";
/// Time to process one batch.
pub const PROCESS_SECONDS: &str = "dispel4rs_process_seconds";
/// Restarts of an instance from its factory.
pub const RESTARTS: &str = "dispel4rs_restarts_total";
/// Failed attempts (errors and panics).
pub const FAILURES: &str = "dispel4rs_failures_total";
/// Units an instance dead-lettered.
pub const DEAD_LETTERS: &str = "dispel4rs_dead_letters_total";
/// Batches waiting for an instance.
pub const MAILBOX_BATCHES: &str = "dispel4rs_mailbox_batches";
/// Units queued for a PE (dynamic mappings).
pub const QUEUE_UNITS: &str = "dispel4rs_queue_units";
/// Workers in the pool (dynamic mappings).
pub const POOL_WORKERS: &str = "dispel4rs_pool_workers";
/// Seconds since the run started.
pub const ELAPSED_SECONDS: &str = "dispel4rs_elapsed_seconds";

/// Every metric, in the README's order.
pub const METRICS: [MetricName; 10] = [
    MetricName {
        name: UNITS_IN,
        kind: Kind::Counter,
        labels: "pe, instance, process",
        help:
            "Data units delivered to the instance (each root call counts one), as each batch is handed over.",
    },
    MetricName {
        name: UNITS_OUT,
        kind: Kind::Counter,
        labels: "pe, instance, process",
        help: "Data units the instance wrote, as each batch leaves it.",
    },
    MetricName {
        name: PROCESS_SECONDS,
        kind: Kind::Histogram,
        labels: "pe, instance, process",
        help: "Time the instance took to process one batch of data units (or one root call): one \
               observation per batch, taken at each sample at the middle of its R10 bucket \
               (bucket counts and _count exact, _sum within about 12 %).",
    },
    MetricName {
        name: RESTARTS,
        kind: Kind::Counter,
        labels: "pe, instance, process",
        help: "Restarts of the instance from its PE's factory after a failure.",
    },
    MetricName {
        name: FAILURES,
        kind: Kind::Counter,
        labels: "pe, instance, process",
        help: "Failed attempts of the instance (errors and panics in PE code).",
    },
    MetricName {
        name: DEAD_LETTERS,
        kind: Kind::Counter,
        labels: "pe, instance, process",
        help: "Data units the instance dead-lettered.",
    },
    MetricName {
        name: MAILBOX_BATCHES,
        kind: Kind::Gauge,
        labels: "pe, instance, process",
        help: "Batches sent to the instance and not yet processed (fixed mappings).",
    },
    MetricName {
        name: QUEUE_UNITS,
        kind: Kind::Gauge,
        labels: "pe",
        help: "Data units queued for the PE and not yet processed (dynamic mappings).",
    },
    MetricName {
        name: POOL_WORKERS,
        kind: Kind::Gauge,
        labels: "",
        help: "Workers in the pool (dynamic mappings).",
    },
    MetricName {
        name: ELAPSED_SECONDS,
        kind: Kind::Gauge,
        labels: "",
        help: "Seconds since the run started.",
    },
];

/// Describes every metric to the installed recorder (`# HELP` and `# TYPE` lines).
pub(crate) fn describe() {
    for m in METRICS {
        let unit = if m.name.contains("seconds") { Some(metrics::Unit::Seconds) } else { None };
        metrics::with_recorder(|r| {
            let key = metrics::KeyName::from_const_str(m.name);
            let help = metrics::SharedString::const_str(m.help);
            match m.kind {
                Kind::Counter => r.describe_counter(key, unit, help),
                Kind::Gauge => r.describe_gauge(key, unit, help),
                Kind::Histogram => r.describe_histogram(key, unit, help),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_named_alike_and_listed_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for m in METRICS {
            assert!(m.name.starts_with("dispel4rs_"), "{}", m.name);
            assert_eq!(m.kind == Kind::Counter, m.name.ends_with("_total"), "{}", m.name);
            assert!(readme.contains(&format!("`{}`", m.name)), "README.md does not list {}", m.name);
        }
    }
}
