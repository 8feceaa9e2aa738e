//! [`Backend`]: what a pooled run's workers and roots run against — where tasks come from,
//! where what an instance writes goes, and the end-of-stream bookkeeping. The in-memory
//! engine (`engine.rs`) applies every effect at once; the Redis job buffers a task's effects
//! and commits them in one atomic step with the task's acknowledgement, so a worker that dies
//! mid-task leaves nothing behind.

use super::task::{Task, TaskCosts};
use crate::abort::Abort;
use crate::plan::{CollectName, Plan};
use crate::runtime::options::RunOptions;
use crate::runtime::outlet::{Deliver, Outlet};
use crate::runtime::report::{DeadLetters, InstanceReport};
use crate::sink::Sink;
use crate::value::Value;
use dispel4rs_actors::pool::WorkerId;
use dispel4rs_transports::queue::Claim;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Busy time of one worker, readable while it works (for the scaler).
#[derive(Default)]
pub(crate) struct WorkerClock {
    /// Time spent in finished tasks, ns.
    busy_ns: AtomicU64,
    /// When the current task started (ns on the backend's clock, + 1), 0 when idle.
    since_ns: AtomicU64,
}

impl WorkerClock {
    pub(crate) fn begin(&self, now_ns: u64) {
        self.since_ns.store(now_ns + 1, Ordering::Release);
    }

    pub(crate) fn end(&self, took: Duration) {
        self.busy_ns.fetch_add(took.as_nanos() as u64, Ordering::AcqRel);
        self.since_ns.store(0, Ordering::Release);
    }

    /// Busy time so far, the current task included, at `now_ns`.
    pub(crate) fn busy_at(&self, now_ns: u64) -> u64 {
        let since = self.since_ns.load(Ordering::Acquire);
        let running = if since == 0 { 0 } else { now_ns.saturating_sub(since - 1) };
        self.busy_ns.load(Ordering::Acquire) + running
    }
}

/// What a worker is told.
pub(crate) enum WorkerMail {
    /// Run the `postprocess` of your instance of this PE (making one if you have none).
    Postprocess(usize),
}

/// A finished task, as a worker reports it.
pub(crate) struct TaskDone<'a> {
    /// Plan index of its PE.
    pub pe: usize,
    /// Units it held.
    pub units: u64,
    /// How long it ran.
    pub took: Duration,
    /// The worker.
    pub worker: WorkerId,
    /// Where the worker's instances record dead letters.
    pub dead: &'a DeadLetters,
}

/// The end of one worker's instance of a PE (its `postprocess` has run).
pub(crate) struct InstanceEnd<'a> {
    /// Plan index of the PE.
    pub pe: usize,
    /// The worker.
    pub worker: WorkerId,
    /// The counters of the worker's instances of the PE (one, or the pinned ones it holds).
    pub reports: Vec<InstanceReport>,
    /// Where the worker's instances record dead letters.
    pub dead: &'a DeadLetters,
}

/// See the [module documentation](self).
pub(crate) trait Backend: Send + Sync + 'static {
    /// How a claimed task is acknowledged.
    type Receipt: Send + Unpin;
    /// What one task (or one `postprocess`) has written, until it is done.
    type Effects: Default + Send + Unpin;
    /// What one worker keeps of its own (a connection), made on first use.
    type Local: Default + Send + Unpin;

    fn plan(&self) -> &Arc<Plan>;
    fn options(&self) -> &RunOptions;
    fn costs(&self) -> &TaskCosts;
    /// The pool's largest size (the `count` of pooled instances).
    fn max_workers(&self) -> usize;
    /// Where the instances of worker `worker` record their dead letters.
    fn dead_letters(&self, worker: WorkerId) -> Arc<DeadLetters>;
    /// A clock for a new worker's busy time.
    fn clock(&self) -> Arc<WorkerClock>;
    /// Now, on the clock of [`WorkerClock::begin`].
    fn now_ns(&self) -> u64;
    /// A data unit was just processed.
    fn touch(&self);
    /// The pinned instances (global ids) worker `worker` holds, if the backend pins some.
    fn pinned(&self, _worker: WorkerId) -> Vec<usize> {
        Vec::new()
    }
    /// An empty buffer for a batch.
    fn buffer(&self) -> Vec<Value> {
        Vec::new()
    }
    /// Gives an emptied buffer back.
    fn recycle(&self, _units: Vec<Value>) {}

    /// The next task, waiting up to `timeout` unless `interrupted()` says so.
    fn claim(
        &self,
        local: &mut Self::Local,
        worker: WorkerId,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Claim<Task, Self::Receipt>;
    /// Units written for input `port` of the instance with global id `to` (for a pooled PE
    /// its one logical instance); leaves `units` empty. `admitted`: a root's, which waits for
    /// room in the queue.
    fn push(
        &self,
        fx: &mut Self::Effects,
        to: usize,
        port: usize,
        units: &mut Vec<Value>,
        admitted: bool,
    ) -> Result<(), Abort>;
    /// Units written on an unconnected output; leaves `units` empty.
    fn collect(
        &self,
        fx: &mut Self::Effects,
        name: &CollectName,
        units: &mut Vec<Value>,
    ) -> Result<(), Abort>;
    /// Worker `worker` made an instance of PE `pe` (while running a task of it).
    fn instance_created(&self, fx: &mut Self::Effects, pe: usize, worker: WorkerId);
    /// A task is done: what it was and did.
    fn task_done(
        &self,
        local: &mut Self::Local,
        receipt: Self::Receipt,
        done: TaskDone<'_>,
        fx: Self::Effects,
    );
    /// A worker ran the `postprocess` of its instance of a PE, as asked.
    fn postprocessed(&self, local: &mut Self::Local, end: InstanceEnd<'_>, fx: Self::Effects);
    /// A worker leaves (it retires) after running the `postprocess` of its instance of a PE.
    fn left(&self, local: &mut Self::Local, end: InstanceEnd<'_>, fx: Self::Effects);
    /// Root PE `pe` has made its calls and run its `postprocess`.
    fn root_ended(&self, pe: usize, fx: Self::Effects, report: InstanceReport);
    /// Stops the run.
    fn abort(&self, why: Abort);
    /// True once the run has ended or been aborted.
    fn is_over(&self) -> bool;
}

/// The sink of a pooled instance (a worker's or a root's): what it writes goes through its
/// outlet (so along every connection of the port) into the backend.
pub(crate) struct TaskSink<'a, B: Backend> {
    pub backend: &'a B,
    pub outlet: &'a mut Outlet,
    pub effects: &'a mut B::Effects,
    /// Roots' tasks wait for room in the queue.
    pub admitted: bool,
}

struct Deliverer<'a, B: Backend> {
    backend: &'a B,
    effects: &'a mut B::Effects,
    admitted: bool,
}

impl<B: Backend> Sink for TaskSink<'_, B> {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        let mut to = Deliverer { backend: self.backend, effects: self.effects, admitted: self.admitted };
        self.outlet.dispatch(port, batch, &mut to)
    }
}

impl<B: Backend> Deliver for Deliverer<'_, B> {
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.backend.push(self.effects, to, port, units, self.admitted)
    }

    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.backend.collect(self.effects, name, units)
    }
}
