//! The run report: per-instance counts and timings, restarts, dead letters, peak memory.
//! Printed as a table at the end of a run, and available as JSON (`--report FILE`).

use crate::runtime::log_limit::{Level, RateLimitedLog};
use crate::value::Value;
use dispel4rs_actors::scaling::ScalingDecision;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A data unit that could not be processed, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The PE.
    pub pe: Arc<str>,
    /// The instance index.
    pub instance: usize,
    /// The input port it arrived on (for roots: the root call's port).
    pub port: Arc<str>,
    /// The unit itself.
    pub unit: Value,
    /// The last error.
    pub error: String,
    /// Attempts made (0 when the instance had already been given up).
    pub attempts: u32,
}

impl DeadLetter {
    /// Reads a dead letter back from [`DeadLetter::to_value`]'s form.
    pub fn from_value(v: &Value) -> Option<DeadLetter> {
        Some(DeadLetter {
            pe: Arc::from(v.get("pe")?.as_str()?),
            instance: usize::try_from(v.get("instance")?.as_int()?).ok()?,
            port: Arc::from(v.get("port")?.as_str()?),
            unit: v.get("unit")?.clone(),
            error: v.get("error")?.as_str()?.to_owned(),
            attempts: u32::try_from(v.get("attempts")?.as_int()?).ok()?,
        })
    }

    /// The dead letter as a JSON object `{"pe", "instance", "port", "unit", "error", "attempts"}`.
    pub fn to_value(&self) -> Value {
        Value::map([
            ("pe", Value::from(&*self.pe)),
            ("instance", Value::from(self.instance)),
            ("port", Value::from(&*self.port)),
            ("unit", self.unit.clone()),
            ("error", Value::from(self.error.as_str())),
            ("attempts", Value::from(self.attempts)),
        ])
    }
}

/// Where dead letters go: an exact count, the first few kept for the report, and optionally
/// every one written to a JSON Lines file. Shared by all instances of a process. The log
/// shows the first few of each PE in full, then a count per PE at most once a second.
#[derive(Debug)]
pub struct DeadLetters {
    total: AtomicU64,
    keep: usize,
    kept: Mutex<Vec<DeadLetter>>,
    file: Option<Mutex<BufWriter<File>>>,
    log: RateLimitedLog,
}

/// Dead letters logged in full per PE before they are only counted.
const LOGGED_IN_FULL: u32 = 5;
/// Longest text of a unit in a log line.
const LOGGED_UNIT_CHARS: usize = 512;

impl DeadLetters {
    /// Keeps up to `keep` in memory; writes all to `file` if given.
    pub fn new(keep: usize, file: Option<&Path>) -> std::io::Result<Self> {
        let file = match file {
            Some(p) => Some(Mutex::new(BufWriter::new(File::create(p)?))),
            None => None,
        };
        Ok(DeadLetters {
            total: AtomicU64::new(0),
            keep,
            kept: Mutex::new(Vec::new()),
            file,
            log: RateLimitedLog::new("dead letters", LOGGED_IN_FULL),
        })
    }

    /// Records one dead letter (and logs it, at a bounded rate).
    pub fn record(&self, letter: DeadLetter) {
        self.log.event(&format!("PE {}", letter.pe), Level::Error, || {
            let mut unit = letter.unit.to_json();
            if unit.len() > LOGGED_UNIT_CHARS {
                let cut = (0..=LOGGED_UNIT_CHARS).rev().find(|i| unit.is_char_boundary(*i)).unwrap_or(0);
                unit = format!("{}… ({} bytes)", &unit[..cut], unit.len());
            }
            format!(
                "{}[{}].{}: dead letter after {} attempt(s): {} (unit: {unit})",
                letter.pe, letter.instance, letter.port, letter.attempts, letter.error
            )
        });
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(f, "{}", letter.to_value().to_json());
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < self.keep {
            kept.push(letter);
        }
    }

    /// Adds letters counted elsewhere (another process), keeping those given and writing
    /// them to the file, if any (a worker ships at most its own `keep` letters; `total`
    /// counts them all).
    pub fn merge(&self, total: u64, letters: Vec<DeadLetter>) {
        self.total.fetch_add(total, Ordering::Relaxed);
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            for l in &letters {
                let _ = writeln!(f, "{}", l.to_value().to_json());
            }
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        for l in letters {
            if kept.len() < self.keep {
                kept.push(l);
            }
        }
    }

    /// How many were recorded.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Takes the letters kept in memory (a worker of a Redis job ships them with the task
    /// that made them).
    pub fn take_kept(&self) -> Vec<DeadLetter> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The letters kept in memory.
    pub fn kept(&self) -> Vec<DeadLetter> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Flushes the file, if any (and logs the counts of dead letters not logged one by one).
    pub fn flush(&self) -> std::io::Result<()> {
        self.log.flush();
        match &self.file {
            Some(f) => f.lock().unwrap_or_else(|p| p.into_inner()).flush(),
            None => Ok(()),
        }
    }
}

/// Counters of one instance.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceStats {
    /// Data units delivered to it (root calls included).
    pub units_in: u64,
    /// Data units it wrote.
    pub units_out: u64,
    /// Time spent in its own PE code (excluding downstream work under `simple`).
    pub busy: Duration,
    /// Restarts from its factory.
    pub restarts: u64,
    /// Failed attempts (errors and panics).
    pub failures: u64,
    /// Units it dead-lettered.
    pub dead_letters: u64,
    /// Why it was given up, if it was.
    pub gave_up: Option<String>,
    /// The error of `postprocess`, if it failed.
    pub postprocess_error: Option<String>,
    /// Its process time per unit, when the run was observed (see `runtime::observe`).
    #[serde(default)]
    pub process_times: Option<crate::runtime::observe::histogram::UnitTimes>,
}

/// One instance's line in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceReport {
    /// PE name.
    pub pe: Arc<str>,
    /// Instance index.
    pub index: usize,
    /// Slot it ran on.
    pub slot: usize,
    /// Its counters.
    pub stats: InstanceStats,
}

/// What happened in a run.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// The mapping's name.
    pub mapping: String,
    /// The graph's name.
    pub graph: String,
    /// `-n`.
    pub processes: usize,
    /// Wall time from start to end.
    pub elapsed: Duration,
    /// Time from the last data unit processed to the end of the run.
    pub tail: Option<Duration>,
    /// Per instance, in plan order.
    pub instances: Vec<InstanceReport>,
    /// Exact number of dead letters.
    pub dead_letters_total: u64,
    /// The first dead letters.
    pub dead_letters: Vec<DeadLetter>,
    /// Data units collected from unconnected outputs.
    pub outputs: u64,
    /// Peak resident memory of this process (and its workers, where known), in bytes: the
    /// largest of [`RunReport::process_peaks`] in a multi-process run.
    pub peak_rss_bytes: Option<u64>,
    /// Each process's peak resident memory (its high-water mark, Linux `VmHWM`), by name,
    /// in a multi-process run; empty otherwise.
    pub process_peaks: Vec<(String, u64)>,
    /// Frames from outside the run (malformed, or failing authentication) that the processes
    /// of a multi-process run dropped.
    pub rejected_frames: u64,
    /// The worker pool of a dynamic mapping.
    pub pool: Option<PoolReport>,
    /// What to try where a PE was busy for more than its share of a slot it shares (one
    /// line each, naming the PE, the slot and the options).
    pub suggestions: Vec<String>,
}

/// How the worker pool of a dynamic run moved, and why.
#[derive(Clone, Debug, Default)]
pub struct PoolReport {
    /// The pool's bounds (equal for a fixed pool).
    pub min_workers: usize,
    /// The most workers allowed (`-n`).
    pub max_workers: usize,
    /// `(time since the start, active workers)` at the start and at every change.
    pub timeline: Vec<(Duration, usize)>,
    /// Every scaling decision, with the figures it was based on.
    pub decisions: Vec<ScalingDecision>,
    /// The integral of the pool's size over the run.
    pub worker_seconds: f64,
    /// Data units each worker processed, by worker id.
    pub units_per_worker: Vec<(usize, u64)>,
}

impl PoolReport {
    /// The smallest, largest and time-weighted mean size over a run of `elapsed`.
    pub fn size_stats(&self, elapsed: Duration) -> (usize, usize, f64) {
        // The first entry is the empty pool before the first worker started.
        let sizes = self.timeline.iter().skip(1).map(|(_, n)| *n);
        let min = sizes.clone().min().unwrap_or(0);
        let max = sizes.max().unwrap_or(0);
        let mean = if elapsed.is_zero() { 0.0 } else { self.worker_seconds / elapsed.as_secs_f64() };
        (min, max, mean)
    }

    fn to_value(&self, elapsed: Duration) -> Vec<(&'static str, Value)> {
        let (min, max, mean) = self.size_stats(elapsed);
        let timeline = self
            .timeline
            .iter()
            .map(|(t, n)| Value::List(vec![Value::Float(t.as_secs_f64()), Value::from(*n)]))
            .collect();
        let decisions = self
            .decisions
            .iter()
            .map(|d| {
                Value::map([
                    ("t_s", Value::Float(d.at.as_secs_f64())),
                    ("from", Value::from(d.from)),
                    ("to", Value::from(d.to)),
                    ("reason", Value::from(d.reason.name())),
                    ("demand_workers", Value::Float(d.demand)),
                    ("utilisation", Value::Float(d.utilisation)),
                    ("backlog_s", Value::Float(d.backlog_s)),
                ])
            })
            .collect();
        let units = Value::Map(
            self.units_per_worker.iter().map(|(w, n)| (w.to_string(), Value::Int(*n as i64))).collect(),
        );
        vec![
            ("pool_min", Value::from(min)),
            ("pool_max", Value::from(max)),
            ("pool_mean", Value::Float(mean)),
            ("pool_bounds", Value::List(vec![Value::from(self.min_workers), Value::from(self.max_workers)])),
            ("pool_timeline", Value::List(timeline)),
            ("scaling_decisions", Value::List(decisions)),
            ("worker_seconds", Value::Float(self.worker_seconds)),
            ("units_per_worker", units),
        ]
    }
}

impl RunReport {
    /// A report from per-instance counters (by global id; `None` for an instance that never
    /// reported, e.g. after an abort). Dead letters are filled in by the runner.
    pub fn from_stats(
        mapping: &str,
        plan: &crate::plan::Plan,
        elapsed: Duration,
        tail: Option<Duration>,
        stats: Vec<Option<InstanceStats>>,
        outputs: u64,
        peak_rss_bytes: Option<u64>,
    ) -> RunReport {
        let instances = plan
            .instances()
            .iter()
            .zip(stats)
            .map(|(placed, s)| InstanceReport {
                pe: plan.pes()[placed.pe].name.clone(),
                index: placed.index,
                slot: placed.slot,
                stats: s.unwrap_or_default(),
            })
            .collect();
        RunReport {
            mapping: mapping.to_owned(),
            graph: plan.graph_name().to_owned(),
            processes: plan.processes(),
            elapsed,
            tail,
            instances,
            dead_letters_total: 0,
            dead_letters: Vec::new(),
            outputs,
            peak_rss_bytes,
            process_peaks: Vec::new(),
            pool: None,
            suggestions: Vec::new(),
            rejected_frames: 0,
        }
    }

    /// Total restarts.
    pub fn restarts(&self) -> u64 {
        self.instances.iter().map(|i| i.stats.restarts).sum()
    }

    /// True if anything went wrong that the exit status must show: dead letters, an instance
    /// given up, or a failed `postprocess`.
    pub fn has_failures(&self) -> bool {
        self.dead_letters_total > 0
            || self.instances.iter().any(|i| i.stats.gave_up.is_some() || i.stats.postprocess_error.is_some())
    }

    /// The report as a terminal table.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "run of '{}' with mapping {} (-n {}): {:.3} s{}{}",
            self.graph,
            self.mapping,
            self.processes,
            self.elapsed.as_secs_f64(),
            self.tail.map(|t| format!(", tail {:.1} ms", t.as_secs_f64() * 1e3)).unwrap_or_default(),
            self.peak_rss_bytes.map(|b| format!(", peak RSS {:.1} MB", b as f64 / 1e6)).unwrap_or_default(),
        );
        if self.process_peaks.len() > 1 {
            let peaks: Vec<String> =
                self.process_peaks.iter().map(|(p, b)| format!("{p} {:.1} MB", *b as f64 / 1e6)).collect();
            let _ = writeln!(out, "  peak RSS per process: {}", peaks.join(", "));
        }
        let _ = writeln!(
            out,
            "  {:<28} {:>4} {:>12} {:>12} {:>10} {:>8} {:>8}",
            "instance", "slot", "in", "out", "busy ms", "restart", "dead"
        );
        for i in &self.instances {
            let _ = writeln!(
                out,
                "  {:<28} {:>4} {:>12} {:>12} {:>10.1} {:>8} {:>8}",
                format!("{}[{}]", i.pe, i.index),
                i.slot,
                i.stats.units_in,
                i.stats.units_out,
                i.stats.busy.as_secs_f64() * 1e3,
                i.stats.restarts,
                i.stats.dead_letters
            );
            if let Some(r) = &i.stats.gave_up {
                let _ = writeln!(out, "    given up: {r}");
            }
            if let Some(e) = &i.stats.postprocess_error {
                let _ = writeln!(out, "    postprocess failed: {e}");
            }
        }
        if let Some(pool) = &self.pool {
            let (min, max, mean) = pool.size_stats(self.elapsed);
            let _ = writeln!(
                out,
                "  pool: {min}..{max} workers (mean {mean:.1}), {:.2} worker-seconds, {} scaling decision(s)",
                pool.worker_seconds,
                pool.decisions.len()
            );
        }
        if self.rejected_frames > 0 {
            let _ = writeln!(
                out,
                "  {} frame(s) from outside the run rejected (malformed, or not made with the run's secret)",
                self.rejected_frames
            );
        }
        if self.dead_letters_total > 0 {
            let _ = writeln!(out, "  {} dead letter(s); first ones:", self.dead_letters_total);
            for d in self.dead_letters.iter().take(5) {
                let _ =
                    writeln!(out, "    {}[{}].{}: {} (unit {})", d.pe, d.instance, d.port, d.error, d.unit);
            }
        }
        out
    }

    /// The report as JSON.
    pub fn to_value(&self) -> Value {
        let instances = self
            .instances
            .iter()
            .map(|i| {
                Value::map([
                    ("pe", Value::from(&*i.pe)),
                    ("index", Value::from(i.index)),
                    ("slot", Value::from(i.slot)),
                    ("units_in", Value::Int(i.stats.units_in as i64)),
                    ("units_out", Value::Int(i.stats.units_out as i64)),
                    ("busy_s", Value::Float(i.stats.busy.as_secs_f64())),
                    ("restarts", Value::Int(i.stats.restarts as i64)),
                    ("failures", Value::Int(i.stats.failures as i64)),
                    ("dead_letters", Value::Int(i.stats.dead_letters as i64)),
                    ("gave_up", Value::from(i.stats.gave_up.clone())),
                    ("postprocess_error", Value::from(i.stats.postprocess_error.clone())),
                ])
            })
            .collect::<Vec<_>>();
        let mut report = Value::map([
            ("mapping", Value::from(self.mapping.as_str())),
            ("graph", Value::from(self.graph.as_str())),
            ("processes", Value::from(self.processes)),
            ("elapsed_s", Value::Float(self.elapsed.as_secs_f64())),
            ("tail_s", Value::from(self.tail.map(|t| t.as_secs_f64()))),
            ("outputs", Value::Int(self.outputs as i64)),
            ("peak_rss_bytes", Value::from(self.peak_rss_bytes.map(|b| b as i64))),
            ("restarts", Value::Int(self.restarts() as i64)),
            ("dead_letters_total", Value::Int(self.dead_letters_total as i64)),
            ("dead_letters", Value::List(self.dead_letters.iter().map(DeadLetter::to_value).collect())),
            ("instances", Value::List(instances)),
            ("rejected_frames", Value::Int(self.rejected_frames as i64)),
        ]);
        if let (false, Value::Map(entries)) = (self.suggestions.is_empty(), &mut report) {
            let lines = self.suggestions.iter().map(|s| Value::from(s.as_str())).collect();
            entries.insert("suggestions".to_owned(), Value::List(lines));
        }
        if let (false, Value::Map(entries)) = (self.process_peaks.is_empty(), &mut report) {
            let peaks = self.process_peaks.iter().map(|(p, b)| (p.as_str(), Value::Int(*b as i64)));
            entries.insert("process_peak_rss_bytes".to_owned(), Value::map(peaks));
        }
        if let (Some(pool), Value::Map(entries)) = (&self.pool, &mut report) {
            for (k, v) in pool.to_value(self.elapsed) {
                entries.insert(k.to_owned(), v);
            }
        }
        report
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
