//! [`InstanceProbe`]: what one PE instance records while it runs, once per batch: its counters,
//! its time per unit and per batch as atomics (read by the sampler, the progress line and the end of the
//! run), and its counters through the `metrics` facade (to whatever recorder is installed:
//! the Prometheus one with `--metrics`, none otherwise). Its batch times reach the facade's
//! histogram from the sampler ([`InstanceProbe::publish_batch_times`]), off the data path. Only a run that is observed has probes;
//! an instance without one records nothing beyond its own counters.

use super::histogram::AtomicUnitTimes;
use super::names;
use crate::pe::InstanceInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `metrics` handles of one instance (no-ops without a recorder): of an instance of this
/// process ([`InstanceProbe`]) or of another process, mirrored from its samples.
pub(super) struct Handles {
    pub(super) units_in: metrics::Counter,
    pub(super) units_out: metrics::Counter,
    pub(super) restarts: metrics::Counter,
    pub(super) failures: metrics::Counter,
    pub(super) dead_letters: metrics::Counter,
    pub(super) process_seconds: metrics::Histogram,
}

impl Handles {
    pub(super) fn new(pe: &str, instance: impl ToString, process: u32) -> Handles {
        let labels =
            || [("pe", pe.to_owned()), ("instance", instance.to_string()), ("process", process.to_string())];
        Handles {
            units_in: metrics::counter!(names::UNITS_IN, &labels()),
            units_out: metrics::counter!(names::UNITS_OUT, &labels()),
            restarts: metrics::counter!(names::RESTARTS, &labels()),
            failures: metrics::counter!(names::FAILURES, &labels()),
            dead_letters: metrics::counter!(names::DEAD_LETTERS, &labels()),
            process_seconds: metrics::histogram!(names::PROCESS_SECONDS, &labels()),
        }
    }
}

/// The live record of one PE instance. See the [module documentation](self).
pub struct InstanceProbe {
    pe: Arc<str>,
    index: usize,
    global: usize,
    /// The observatory's start: times below are nanoseconds since then.
    origin: Instant,
    created_ns: u64,
    units_in: AtomicU64,
    units_out: AtomicU64,
    busy_ns: AtomicU64,
    /// When the batch being processed started (ns since `origin`, + 1); 0 between batches.
    since_ns: AtomicU64,
    restarts: AtomicU64,
    failures: AtomicU64,
    dead_letters: AtomicU64,
    /// Time per unit (each batch counts once per unit, at its mean).
    times: AtomicUnitTimes,
    /// Time per batch (what `dispel4rs_process_seconds` observes).
    batches: AtomicUnitTimes,
    /// The batch times handed to the facade's histogram so far.
    published: Mutex<super::histogram::UnitTimes>,
    handles: Handles,
}

/// The counters of an instance at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub units_in: u64,
    pub units_out: u64,
    /// Busy time so far, the batch being processed included.
    pub busy_ns: u64,
    pub restarts: u64,
    pub failures: u64,
    pub dead_letters: u64,
}

impl InstanceProbe {
    /// The probe of instance `info` in process `process`, timed from `origin`.
    pub(crate) fn new(info: &InstanceInfo, process: u32, origin: Instant) -> InstanceProbe {
        InstanceProbe {
            pe: info.pe.clone(),
            index: info.index,
            global: info.global,
            origin,
            created_ns: origin.elapsed().as_nanos() as u64,
            units_in: AtomicU64::new(0),
            units_out: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            since_ns: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            times: AtomicUnitTimes::default(),
            batches: AtomicUnitTimes::default(),
            published: Mutex::new(super::histogram::UnitTimes::default()),
            handles: Handles::new(&info.pe, info.index, process),
        }
    }

    /// The PE's name.
    pub fn pe(&self) -> &Arc<str> {
        &self.pe
    }

    /// The instance's index (under the dynamic mappings, its worker's number).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The instance's global id in the plan (for a pooled PE, the PE's one logical instance).
    pub fn global(&self) -> usize {
        self.global
    }

    /// When it was made, since the observatory started.
    pub(crate) fn created(&self) -> Duration {
        Duration::from_nanos(self.created_ns)
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// `units` more were handed over and a batch (or a root call) begins.
    #[inline]
    pub(crate) fn begin(&self, units: u64) {
        if units > 0 {
            self.units_in.fetch_add(units, Ordering::Relaxed);
            self.handles.units_in.increment(units);
        }
        self.since_ns.store(self.now_ns() + 1, Ordering::Relaxed);
    }

    /// The mapping measured `took` in the instance's own code, over `units` units handed over
    /// since the last call; `busy` is the instance's busy time in all.
    #[inline]
    pub(crate) fn end(&self, units: u64, took: Duration, busy: Duration) {
        self.since_ns.store(0, Ordering::Relaxed);
        self.busy_ns.store(busy.as_nanos() as u64, Ordering::Relaxed);
        if units > 0 {
            let total = took.as_nanos() as u64;
            self.times.record(total, units);
            self.batches.record(total, 1);
        }
    }

    /// Hands the batch times recorded since the last call to the facade's histogram (the
    /// sampler calls it; see [`super::replay_new`]).
    pub(crate) fn publish_batch_times(&self) {
        let now = self.batches.snapshot();
        let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        super::replay_new(&self.handles.process_seconds, &published, &now, u64::MAX);
        *published = now;
    }

    /// A batch of `units` left the instance.
    #[inline]
    pub(crate) fn sent(&self, units: u64) {
        self.units_out.fetch_add(units, Ordering::Relaxed);
        self.handles.units_out.increment(units);
    }

    /// The instance was restarted.
    #[cold]
    pub(crate) fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.handles.restarts.increment(1);
    }

    /// An attempt failed.
    #[cold]
    pub(crate) fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.handles.failures.increment(1);
    }

    /// A unit was dead-lettered.
    #[cold]
    pub(crate) fn dead_lettered(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.handles.dead_letters.increment(1);
    }

    /// Its counters now.
    pub(crate) fn counts(&self) -> Counts {
        let since = self.since_ns.load(Ordering::Relaxed);
        let running = if since == 0 { 0 } else { self.now_ns().saturating_sub(since - 1) };
        Counts {
            units_in: self.units_in.load(Ordering::Relaxed),
            units_out: self.units_out.load(Ordering::Relaxed),
            busy_ns: self.busy_ns.load(Ordering::Relaxed) + running,
            restarts: self.restarts.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
        }
    }

    /// Its process times so far.
    pub(crate) fn times(&self) -> super::histogram::UnitTimes {
        self.times.snapshot()
    }

    /// Its batch times so far.
    pub(crate) fn batch_times(&self) -> super::histogram::UnitTimes {
        self.batches.snapshot()
    }

    /// Batches timed so far (cheap: tells whether [`InstanceProbe::batch_times`] changed).
    pub(crate) fn timed_batches(&self) -> u64 {
        self.batches.units()
    }
}

impl std::fmt::Debug for InstanceProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstanceProbe({}[{}])", self.pe, self.index)
    }
}
