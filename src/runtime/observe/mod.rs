//! Seeing a run while it runs: live metrics, timelines, the progress line, the Prometheus
//! endpoint. Everything starts from one [`Observatory`] per process of an observed run.
//!
//! | file | concept |
//! |---|---|
//! | `names.rs` | the metric names, kinds, labels and meanings (one table) |
//! | `histogram.rs` | [`histogram::UnitTimes`]: process time per unit in R10 buckets |
//! | `probe.rs` | [`probe::InstanceProbe`]: what one instance records, per batch |
//! | `series.rs` | [`series::Series`]: a bounded timeline |
//! | `sample.rs` | [`sample::ProcessSample`]: what a process reports every `--sample-ms` |
//! | `prometheus.rs` | `--metrics HOST:PORT`: the exporter and its HTTP listener |
//! | `progress.rs` | the progress line on a terminal |
//!
//! # What it costs, and when
//!
//! A run is observed when it asks ([`RunOptions::observe`](crate::RunOptions) `.enabled`: the
//! command line sets it for `--metrics`, an HTML or CSV report, or a progress line on a
//! terminal). Then every instance gets a probe and records, **once per batch** (never per
//! unit): units in and out (atomics, and counters of the `metrics` facade), its busy time,
//! the batch's time into its histograms (atomics); the sampler hands the new batch times to
//! the facade's `dispel4rs_process_seconds` at each sample, off the data path. A run that is not observed has no probes: the
//! data path tests one `Option` per batch. The cost when observed is measured by
//! `scripts/metrics_overhead.sh` (`pipeline`, N = 10 M, `multi -n 2`, with and without
//! `--metrics`, alternating; README.md, "Seeing a run", gives the ratio).
//!
//! # Several processes
//!
//! Every process of a run has its own observatory. A worker's sampler sends its
//! [`sample::ProcessSample`] to the coordinator every `--sample-ms` (`zmq_multi`, `mpi`: a
//! frame; Redis mappings: an event); the coordinator keeps the timelines of every instance
//! of the run and mirrors the workers' counters into its own recorder with their `process`
//! label, so **one endpoint, the coordinator's, serves the whole run**. The final counts and
//! process times come with the instances' final reports, exact.

pub mod histogram;
pub mod names;
pub mod probe;
pub mod progress;
pub mod prometheus;
pub mod sample;
pub mod series;

use crate::pe::InstanceInfo;
use crate::runtime::report::RunReport;
use histogram::{bucket_midpoint_s, UnitTimes};
use probe::InstanceProbe;
use sample::{InstanceSample, ProcessSample};
use series::Series;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Whether and how a run is observed. Sent to every worker with the other options, except the
/// observatory itself, which each process makes for its own.
#[derive(Clone, Serialize, Deserialize)]
pub struct ObserveOptions {
    /// Record live metrics and timelines (see the [module documentation](self)).
    pub enabled: bool,
    /// How often the timelines are sampled (and workers report to the coordinator).
    pub sample_interval: Duration,
    /// This process's observatory, set by [`crate::Runner::observe`].
    #[serde(skip)]
    pub(crate) live: Option<Arc<Observatory>>,
}

use serde::{Deserialize, Serialize};

impl Default for ObserveOptions {
    fn default() -> Self {
        ObserveOptions { enabled: false, sample_interval: Duration::from_millis(100), live: None }
    }
}

impl std::fmt::Debug for ObserveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserveOptions")
            .field("enabled", &self.enabled)
            .field("sample_interval", &self.sample_interval)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl ObserveOptions {
    /// This process's observatory, if the run is observed here.
    pub fn observatory(&self) -> Option<&Arc<Observatory>> {
        self.live.as_ref()
    }
}

/// One point of an instance's timeline: its cumulative counters at time `t`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Seconds since the run started.
    pub t: f64,
    /// Data units handed to it so far.
    pub units_in: u64,
    /// Data units that left it so far.
    pub units_out: u64,
    /// Seconds spent in its code so far.
    pub busy_s: f64,
    /// Batches waiting for it at `t`.
    pub mailbox: u64,
}

/// The timeline of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSeries {
    /// The PE.
    pub pe: Arc<str>,
    /// The instance's index (its worker under the dynamic mappings).
    pub index: usize,
    /// The process it ran in.
    pub process: u32,
    /// Its points, in time order; the last one holds its final counts.
    pub points: Vec<Point>,
}

/// The timeline of one PE's queue (dynamic mappings): `(seconds, units queued)`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSeries {
    /// The PE.
    pub pe: Arc<str>,
    /// Its points.
    pub points: Vec<(f64, u64)>,
}

/// What an observed run recorded over time, for the run report's charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// The sampling interval.
    pub interval: Duration,
    /// The run's length (the report's).
    pub elapsed: Duration,
    /// Every instance, in the report's order.
    pub instances: Vec<InstanceSeries>,
    /// The queues of a dynamic run, by PE.
    pub queues: Vec<QueueSeries>,
}

/// Live totals of one PE (for the progress line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeTotals {
    /// Units handed to its instances.
    pub units_in: u64,
    /// Units its instances wrote.
    pub units_out: u64,
    /// Units dead-lettered by its instances.
    pub dead_letters: u64,
}

/// A reading of this process's state, taken by the sampler. Gauges may take the locks of what
/// they read: they are called with no lock of the observatory held.
type Gauge<T> = Box<dyn Fn() -> T + Send + Sync>;

/// Where the gauges of this process come from (shared, so that they can be called outside the
/// lock).
#[derive(Clone, Default)]
struct Watchers {
    /// Batches waiting for instance `global`.
    mailboxes: HashMap<usize, Arc<Gauge<u64>>>,
    /// Units queued per PE.
    queue: Option<Arc<Gauge<Vec<u64>>>>,
    pool: Option<Arc<Gauge<usize>>>,
}

/// Most new batches of one bucket replayed into the recorder per sample (a worker's batches
/// per sample interval are far fewer; this only bounds a hostile or broken sample).
const MAX_REPLAYED: u64 = 100_000;

/// The metrics of an instance of another process, mirrored into this process's recorder.
struct Mirror {
    handles: probe::Handles,
    batch_times: UnitTimes,
}

impl Mirror {
    fn new(pe: &str, index: u64, process: u32) -> Mirror {
        Mirror { handles: probe::Handles::new(pe, index, process), batch_times: UnitTimes::default() }
    }

    fn update(&mut self, s: &InstanceSample) {
        let h = &self.handles;
        h.units_in.absolute(s.units_in);
        h.units_out.absolute(s.units_out);
        h.restarts.absolute(s.restarts);
        h.failures.absolute(s.failures);
        h.dead_letters.absolute(s.dead_letters);
        if let Some(times) = &s.batch_times {
            replay_new(&h.process_seconds, &self.batch_times, times, MAX_REPLAYED);
            self.batch_times = times.clone();
        }
    }
}

/// Records into `histogram` what `now` holds beyond `before` (two snapshots of one instance's
/// batch times), each new batch at the middle of its bucket: the Prometheus buckets are
/// bounds of ours, so their counts come out exact (their sum, approximate). At most `cap` new
/// batches per bucket (a bound for samples from another process).
pub(crate) fn replay_new(histogram: &metrics::Histogram, before: &UnitTimes, now: &UnitTimes, cap: u64) {
    let before: HashMap<u16, u64> = before.buckets.iter().copied().collect();
    for &(b, n) in &now.buckets {
        let new = n.saturating_sub(before.get(&b).copied().unwrap_or(0)).min(cap);
        if new > 0 {
            histogram.record_many(bucket_midpoint_s(b as usize), new as usize);
        }
    }
}

/// An instance's timeline while the run goes on.
struct Tracked {
    process: u32,
    points: Series<Point>,
}

/// The timeline of one PE's queue while the run goes on: `(seconds, units queued)`.
type QueuePoints = Series<(f64, u64)>;

/// What the observatory has gathered (timelines, other processes' latest samples).
#[derive(Default)]
struct Store {
    series: BTreeMap<(Arc<str>, usize), Tracked>,
    queues: BTreeMap<usize, (Arc<str>, QueuePoints)>,
    /// The latest sample of every instance of another process, and its mirror.
    remote: BTreeMap<(u32, String, u64), (InstanceSample, Mirror)>,
    /// The PEs' names, for the queues (plan order).
    queue_names: Vec<Arc<str>>,
    pool: Option<u64>,
    finished: bool,
}

struct Sampler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Where a worker's samples go (to its coordinator).
pub(crate) type Outbound = Box<dyn Fn(ProcessSample) + Send>;

/// The live side of an observed run in one process. See the [module documentation](self).
pub struct Observatory {
    origin: Instant,
    interval: Duration,
    process: u32,
    probes: Mutex<Vec<Arc<InstanceProbe>>>,
    watchers: Mutex<Watchers>,
    store: Mutex<Store>,
    sampler: Mutex<Option<Sampler>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Observatory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observatory(process {}, {} probe(s))", self.process, lock(&self.probes).len())
    }
}

impl Observatory {
    /// The observatory of the coordinator (or the only process) of a run, sampling every
    /// `interval`. The metrics are described to the recorder installed now, if any.
    pub fn new(interval: Duration) -> Arc<Observatory> {
        Observatory::for_process(0, interval)
    }

    /// The observatory of process `process` of a run.
    pub(crate) fn for_process(process: u32, interval: Duration) -> Arc<Observatory> {
        names::describe();
        Arc::new(Observatory {
            origin: Instant::now(),
            interval: interval.max(Duration::from_millis(1)),
            process,
            probes: Mutex::new(Vec::new()),
            watchers: Mutex::new(Watchers::default()),
            store: Mutex::new(Store::default()),
            sampler: Mutex::new(None),
        })
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Time since it was made.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// A probe for a new instance.
    pub(crate) fn probe(&self, info: &InstanceInfo) -> Arc<InstanceProbe> {
        let probe = Arc::new(InstanceProbe::new(info, self.process, self.origin));
        lock(&self.probes).push(probe.clone());
        probe
    }

    /// Reads the batches waiting for instance `global` with `gauge`.
    pub(crate) fn watch_mailbox(&self, global: usize, gauge: Gauge<u64>) {
        lock(&self.watchers).mailboxes.insert(global, Arc::new(gauge));
    }

    /// Reads the units queued per PE (named `pes`, in plan order) with `gauge`.
    pub(crate) fn watch_queue(&self, pes: Vec<Arc<str>>, gauge: Gauge<Vec<u64>>) {
        lock(&self.store).queue_names = pes;
        lock(&self.watchers).queue = Some(Arc::new(gauge));
    }

    /// Reads the pool's size with `gauge`.
    pub(crate) fn watch_pool(&self, gauge: Gauge<usize>) {
        lock(&self.watchers).pool = Some(Arc::new(gauge));
    }

    /// This process's instances, queues and pool now.
    pub(crate) fn sample(&self, last_times: &mut HashMap<(Arc<str>, usize), u64>) -> ProcessSample {
        let probes = lock(&self.probes).clone();
        let watchers = lock(&self.watchers).clone();
        let instances = probes
            .iter()
            .map(|p| {
                let c = p.counts();
                let timed = p.timed_batches();
                let key = (p.pe().clone(), p.index());
                let changed = last_times.get(&key) != Some(&timed);
                if changed {
                    last_times.insert(key, timed);
                    p.publish_batch_times();
                }
                InstanceSample {
                    pe: p.pe().to_string(),
                    index: p.index() as u64,
                    units_in: c.units_in,
                    units_out: c.units_out,
                    busy_ns: c.busy_ns,
                    restarts: c.restarts,
                    failures: c.failures,
                    dead_letters: c.dead_letters,
                    mailbox: watchers.mailboxes.get(&p.global()).map_or(0, |g| g()),
                    batch_times: changed.then(|| p.batch_times()),
                }
            })
            .collect();
        let queues = watchers.queue.as_ref().map(|g| g()).unwrap_or_default();
        let pool = watchers.pool.as_ref().map(|g| g() as u64);
        ProcessSample { instances, queues, pool }
    }

    /// Starts sampling every interval: into this observatory (the coordinator), or to
    /// `outbound` (a worker, whose samples go to its coordinator).
    pub(crate) fn start(self: &Arc<Self>, outbound: Option<Outbound>) {
        let mut sampler = lock(&self.sampler);
        if sampler.is_some() {
            return;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let obs = self.clone();
        let thread = std::thread::Builder::new().name("d4r-sampler".into()).spawn(move || {
            let mut last_times = HashMap::new();
            loop {
                match stopped.recv_timeout(obs.interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let sample = obs.sample(&mut last_times);
                match &outbound {
                    Some(send) => send(sample),
                    None => obs.ingest(obs.process, sample),
                }
            }
        });
        match thread {
            Ok(thread) => *sampler = Some(Sampler { stop, thread }),
            Err(e) => tracing::warn!("cannot start the sampler thread (no timelines for this run): {e}"),
        }
    }

    /// Stops sampling (waits for the sampler's last sample).
    pub(crate) fn stop(&self) {
        if let Some(s) = lock(&self.sampler).take() {
            let _ = s.stop.send(());
            let _ = s.thread.join();
        }
    }

    /// Takes in a sample of process `process` (this one's, or a worker's).
    pub(crate) fn ingest(&self, process: u32, sample: ProcessSample) {
        let t = self.origin.elapsed().as_secs_f64();
        let interval = self.interval.as_secs_f64();
        let created: HashMap<(Arc<str>, usize), f64> = if process == self.process {
            lock(&self.probes)
                .iter()
                .map(|p| ((p.pe().clone(), p.index()), p.created().as_secs_f64()))
                .collect()
        } else {
            HashMap::new()
        };
        let mut store = lock(&self.store);
        if store.finished {
            return;
        }
        for s in &sample.instances {
            let key: (Arc<str>, usize) = (Arc::from(s.pe.as_str()), s.index as usize);
            let start = created.get(&key).copied().unwrap_or((t - interval).max(0.0));
            let tracked = store.series.entry(key).or_insert_with(|| {
                let mut points = Series::default();
                points.push_always(Point { t: start.min(t), ..Point::default() });
                Tracked { process, points }
            });
            tracked.points.push(Point {
                t,
                units_in: s.units_in,
                units_out: s.units_out,
                busy_s: s.busy_ns as f64 / 1e9,
                mailbox: s.mailbox,
            });
            let labels =
                [("pe", s.pe.clone()), ("instance", s.index.to_string()), ("process", process.to_string())];
            metrics::gauge!(names::MAILBOX_BATCHES, &labels).set(s.mailbox as f64);
            if process != self.process {
                let remote = store
                    .remote
                    .entry((process, s.pe.clone(), s.index))
                    .or_insert_with(|| (s.clone(), Mirror::new(&s.pe, s.index, process)));
                remote.1.update(s);
                remote.0 = InstanceSample { batch_times: None, ..s.clone() };
            }
        }
        if !sample.queues.is_empty() {
            for (pe, units) in sample.queues.iter().enumerate() {
                let name =
                    store.queue_names.get(pe).cloned().unwrap_or_else(|| Arc::from(format!("pe {pe}")));
                metrics::gauge!(names::QUEUE_UNITS, "pe" => name.to_string()).set(*units as f64);
                store.queues.entry(pe).or_insert_with(|| (name, Series::default())).1.push((t, *units));
            }
        }
        if let Some(pool) = sample.pool {
            store.pool = Some(pool);
            metrics::gauge!(names::POOL_WORKERS).set(pool as f64);
        }
        metrics::gauge!(names::ELAPSED_SECONDS).set(t);
    }

    /// The workers in the pool now, if the run has one.
    pub fn pool_size(&self) -> Option<u64> {
        let watched = lock(&self.watchers).pool.clone();
        match watched {
            Some(g) => Some(g() as u64),
            None => lock(&self.store).pool,
        }
    }

    /// Live totals per PE over every process (local instances now, others as of their last
    /// sample).
    pub fn totals(&self) -> BTreeMap<String, PeTotals> {
        let mut out: BTreeMap<String, PeTotals> = BTreeMap::new();
        for p in lock(&self.probes).iter() {
            let c = p.counts();
            let t = out.entry(p.pe().to_string()).or_default();
            t.units_in += c.units_in;
            t.units_out += c.units_out;
            t.dead_letters += c.dead_letters;
        }
        for ((_, pe, _), (s, _)) in lock(&self.store).remote.iter() {
            let t = out.entry(pe.clone()).or_default();
            t.units_in += s.units_in;
            t.units_out += s.units_out;
            t.dead_letters += s.dead_letters;
        }
        out
    }

    /// Ends the observation of the run `report` describes: stops sampling, closes every
    /// timeline with the instance's final counts, and hands the timelines over. Samples that
    /// arrive later are ignored.
    pub fn finish(&self, report: &RunReport) -> Observation {
        self.stop();
        let last = self.sample(&mut HashMap::new());
        self.ingest(self.process, last);
        // What the gauges captured (engines, queues) is not needed any more.
        *lock(&self.watchers) = Watchers::default();
        let mut store = lock(&self.store);
        store.finished = true;
        let end = report.elapsed.as_secs_f64();
        let mut series = std::mem::take(&mut store.series);
        let mut instances = Vec::new();
        for i in &report.instances {
            let key = (i.pe.clone(), i.index);
            let mut tracked = series.remove(&key).unwrap_or_else(|| {
                let mut points = Series::default();
                points.push_always(Point::default());
                Tracked { process: self.process, points }
            });
            let t = tracked.points.last().map_or(end, |p| p.t.max(end));
            tracked.points.push_always(Point {
                t,
                units_in: i.stats.units_in,
                units_out: i.stats.units_out,
                busy_s: i.stats.busy.as_secs_f64(),
                mailbox: 0,
            });
            instances.push(InstanceSeries {
                pe: i.pe.clone(),
                index: i.index,
                process: tracked.process,
                points: tracked.points.into_points(),
            });
        }
        // Instances the report does not list (a run that stopped early).
        for ((pe, index), tracked) in series {
            instances.push(InstanceSeries {
                pe,
                index,
                process: tracked.process,
                points: tracked.points.into_points(),
            });
        }
        let queues = std::mem::take(&mut store.queues)
            .into_values()
            .map(|(pe, s)| QueueSeries { pe, points: s.into_points() })
            .collect();
        Observation { interval: self.interval, elapsed: report.elapsed, instances, queues }
    }
}

#[cfg(test)]
mod tests;
