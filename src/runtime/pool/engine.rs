//! What every worker and root of a dynamic run shares: the task queue, the end-of-stream
//! counts, the task sizes, the collector, the dead letters, and how the run ends or stops.
//!
//! Order of effects, the invariant the termination rule needs: the tasks a task writes are
//! counted (and queued) before that task is reported done, and the events a count change
//! causes are sent while the counts are locked. A worker that retires reports each instance
//! it leaves after what its `postprocess` wrote is queued, which also answers a request for
//! that `postprocess` made of it meanwhile.

use super::backend::{Backend, InstanceEnd, TaskDone, WorkerClock, WorkerMail};
use super::task::{Task, TaskCosts};
use super::worker::PeWorker;
use crate::abort::Abort;
use crate::plan::{CollectName, Plan};
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::options::RunOptions;
use crate::runtime::report::{DeadLetters, InstanceReport};
use crate::runtime::termination::{PeEvent, PeTermination};
use crate::value::Value;
use dispel4rs_actors::pool::{Pool, WorkerId};
use dispel4rs_transports::queue::{Claim, QueueClosed, TaskQueue};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The queue behind the engine: in memory for `dyn_multi`, Redis streams next.
pub(crate) type Queue = dyn TaskQueue<Task, Receipt = ()>;

/// How the run stands.
enum Outcome {
    Running,
    Ended,
    Aborted(Abort),
}

/// The shared state of a dynamic run. See the [module documentation](self).
pub(crate) struct Engine {
    pub plan: Arc<Plan>,
    pub options: RunOptions,
    pub queue: Arc<Queue>,
    pub costs: TaskCosts,
    pub dead: Arc<DeadLetters>,
    /// The pool's largest size (the `count` of pooled instances).
    pub max_workers: usize,
    termination: Mutex<PeTermination>,
    collector: Mutex<Option<Collector>>,
    pool: OnceLock<Arc<Pool<PeWorker<Engine>>>>,
    reports: Mutex<Vec<InstanceReport>>,
    units_per_worker: Mutex<BTreeMap<WorkerId, u64>>,
    clocks: Mutex<Vec<Arc<WorkerClock>>>,
    outcome: Mutex<Outcome>,
    ended: tokio::sync::Notify,
    started: Instant,
    last_unit_ns: AtomicU64,
    waited_ns: AtomicU64,
    buffers: (crossbeam_channel::Sender<Vec<Value>>, crossbeam_channel::Receiver<Vec<Value>>),
}

impl Engine {
    pub(crate) fn new(
        plan: Arc<Plan>,
        options: RunOptions,
        queue: Arc<Queue>,
        collector: Collector,
        dead: Arc<DeadLetters>,
        max_workers: usize,
    ) -> Engine {
        let costs = TaskCosts::new(plan.pes().len(), options.pool.task_target, options.batch_size);
        Engine {
            termination: Mutex::new(PeTermination::of_plan(&plan)),
            plan,
            options,
            queue,
            costs,
            dead,
            max_workers,
            collector: Mutex::new(Some(collector)),
            pool: OnceLock::new(),
            reports: Mutex::new(Vec::new()),
            units_per_worker: Mutex::new(BTreeMap::new()),
            clocks: Mutex::new(Vec::new()),
            outcome: Mutex::new(Outcome::Running),
            ended: tokio::sync::Notify::new(),
            started: Instant::now(),
            last_unit_ns: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
            buffers: crossbeam_channel::bounded(256),
        }
    }

    pub(crate) fn set_pool(&self, pool: Arc<Pool<PeWorker<Engine>>>) {
        let _ = self.pool.set(pool);
    }

    fn termination(&self) -> MutexGuard<'_, PeTermination> {
        self.termination.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- time ----------------------------------------------------------------------------

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// When the last data unit was processed, since the start.
    pub(crate) fn last_unit(&self) -> Duration {
        Duration::from_nanos(self.last_unit_ns.load(Ordering::Relaxed))
    }

    /// Busy time of every worker there has been, running tasks included.
    pub(crate) fn busy(&self) -> Duration {
        let now = self.now_ns();
        let clocks = self.clocks.lock().unwrap_or_else(|p| p.into_inner());
        Duration::from_nanos(clocks.iter().map(|c| c.busy_at(now)).sum())
    }

    /// Time roots have waited for room in the queue.
    pub(crate) fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }

    // ---- tasks -------------------------------------------------------------------------------

    /// Queues `units` for input `port` of PE `pe`, cut into tasks of the PE's size; leaves
    /// `units` empty. A root's tasks (`admitted`) wait for room in the queue; a worker's are
    /// always taken.
    fn queue_units(
        &self,
        pe: usize,
        port: usize,
        units: &mut Vec<Value>,
        admitted: bool,
    ) -> Result<(), Abort> {
        if units.is_empty() {
            return Ok(());
        }
        let instance = self.plan.pes()[pe].first();
        let size = self.costs.task_units(pe);
        let tasks = units.len().div_ceil(size);
        self.termination().pushed(pe, tasks as u64);
        let stopping = |_: QueueClosed| Abort::stopping("the task queue is closed (the run is stopping)");
        if tasks == 1 {
            let whole = std::mem::replace(units, Backend::buffer(self));
            return self.enqueue(Task { pe, instance, port, units: whole }, admitted).map_err(stopping);
        }
        let mut rest = std::mem::take(units);
        while !rest.is_empty() {
            let tail = if rest.len() > size { rest.split_off(size) } else { Vec::new() };
            let chunk = std::mem::replace(&mut rest, tail);
            self.enqueue(Task { pe, instance, port, units: chunk }, admitted).map_err(stopping)?;
        }
        *units = Backend::buffer(self);
        Ok(())
    }

    fn enqueue(&self, task: Task, admitted: bool) -> Result<(), QueueClosed> {
        let (lane, weight) = (task.pe, task.units.len() as u64);
        if admitted {
            let waited = self.queue.push_admitted(lane, weight, task)?;
            if !waited.is_zero() {
                self.waited_ns.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
            }
            Ok(())
        } else {
            self.queue.push(lane, weight, task)
        }
    }

    /// The work waiting in the queue, at the measured cost of each PE's units.
    pub(crate) fn backlog(&self) -> (Duration, u64) {
        let backlog = self.queue.backlog();
        let fallback = self.costs.max_cost().unwrap_or(0.0);
        let ns: f64 = backlog
            .lanes
            .iter()
            .enumerate()
            .map(|(pe, units)| *units as f64 * self.costs.cost(pe).unwrap_or(fallback))
            .sum();
        (Duration::from_nanos(ns as u64), backlog.tasks)
    }

    /// Hands units written on an unconnected output to the collector.
    fn collect_units(&self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        let mut guard = self.collector.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(c) => {
                c.push(name, units).map_err(|e| Abort::output(format!("cannot write collected outputs: {e}")))
            }
            None => {
                units.clear();
                Err(Abort::stopping("the collector has finished (the run is stopping)"))
            }
        }
    }

    /// Finishes collection (once, at the end).
    pub(crate) fn finish_collect(&self) -> Option<std::io::Result<CollectedOutputs>> {
        self.collector.lock().unwrap_or_else(|p| p.into_inner()).take().map(Collector::finish)
    }

    // ---- end of stream ---------------------------------------------------------------------

    /// Applies `f` to the counts and acts on the events it returns, the counts locked.
    fn count(&self, f: impl FnOnce(&mut PeTermination) -> Vec<PeEvent>) {
        let mut t = self.termination();
        let events = f(&mut t);
        self.dispatch(events);
    }

    /// Acts on events; called with the counts locked.
    fn dispatch(&self, events: Vec<PeEvent>) {
        for event in events {
            match event {
                PeEvent::Postprocess { pe, workers } => {
                    let Some(pool) = self.pool.get() else { continue };
                    for w in workers {
                        // A worker that has gone served this itself on its way out.
                        pool.send(w, WorkerMail::Postprocess(pe));
                    }
                }
                PeEvent::PostprocessAnywhere { pe } => {
                    // The oldest active worker first: the pool never retires it (it retires the
                    // newest, and keeps at least one).
                    let sent = self.pool.get().is_some_and(|pool| {
                        pool.active().into_iter().any(|w| pool.send(w, WorkerMail::Postprocess(pe)))
                    });
                    if !sent {
                        self.stop(Abort::internal(format!(
                            "no worker is left to run the postprocess of {}",
                            self.plan.pes()[pe].name
                        )));
                    }
                }
                PeEvent::RunEnded => self.end(),
            }
        }
    }

    // ---- the run's outcome -------------------------------------------------------------------

    fn end(&self) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*outcome, Outcome::Running) {
            *outcome = Outcome::Ended;
            self.ended.notify_one();
        }
    }

    /// Stops the run: the first abort wins; the queue closes, so every worker and root stops.
    fn stop(&self, why: Abort) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*outcome, Outcome::Running) {
            tracing::error!("run aborted ({}): {why}", why.reason());
            *outcome = Outcome::Aborted(why);
            drop(outcome);
            self.queue.close();
            self.ended.notify_one();
        }
    }

    /// Waits until the run has ended (`Ok`) or been aborted (`Err`).
    pub(crate) async fn wait(&self) -> Result<(), Abort> {
        loop {
            let notified = self.ended.notified();
            match &*self.outcome.lock().unwrap_or_else(|p| p.into_inner()) {
                Outcome::Running => {}
                Outcome::Ended => return Ok(()),
                Outcome::Aborted(a) => return Err(a.clone()),
            }
            notified.await;
        }
    }

    // ---- the report ------------------------------------------------------------------------

    /// Records the counters of an instance that has finished.
    fn report(&self, instance: InstanceReport) {
        self.reports.lock().unwrap_or_else(|p| p.into_inner()).push(instance);
    }

    /// Records units processed by worker `worker`.
    fn count_units(&self, worker: WorkerId, units: u64) {
        *self.units_per_worker.lock().unwrap_or_else(|p| p.into_inner()).entry(worker).or_default() += units;
    }

    /// The instances' counters, in plan order then worker order.
    pub(crate) fn instance_reports(&self) -> Vec<InstanceReport> {
        let mut reports = std::mem::take(&mut *self.reports.lock().unwrap_or_else(|p| p.into_inner()));
        let order = |name: &str| self.plan.pe_index(name).unwrap_or(usize::MAX);
        reports.sort_by_key(|a| (order(&a.pe), a.index));
        reports
    }

    /// Units processed per worker.
    pub(crate) fn units_per_worker(&self) -> Vec<(WorkerId, u64)> {
        self.units_per_worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(w, n)| (*w, *n))
            .collect()
    }
}

impl Backend for Engine {
    type Receipt = ();
    type Effects = ();
    type Local = ();

    fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    fn options(&self) -> &RunOptions {
        &self.options
    }

    fn costs(&self) -> &TaskCosts {
        &self.costs
    }

    fn max_workers(&self) -> usize {
        self.max_workers
    }

    fn dead_letters(&self, _: WorkerId) -> Arc<DeadLetters> {
        self.dead.clone()
    }

    fn clock(&self) -> Arc<WorkerClock> {
        let clock = Arc::new(WorkerClock::default());
        self.clocks.lock().unwrap_or_else(|p| p.into_inner()).push(clock.clone());
        clock
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn touch(&self) {
        self.last_unit_ns.fetch_max(self.now_ns(), Ordering::Relaxed);
    }

    fn buffer(&self) -> Vec<Value> {
        self.buffers.1.try_recv().unwrap_or_default()
    }

    fn recycle(&self, mut units: Vec<Value>) {
        if units.capacity() >= self.options.batch_size / 2 {
            units.clear();
            let _ = self.buffers.0.try_send(units);
        }
    }

    fn claim(
        &self,
        _: &mut (),
        _: WorkerId,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Claim<Task, ()> {
        self.queue.claim(timeout, interrupted)
    }

    fn push(
        &self,
        _: &mut (),
        to: usize,
        port: usize,
        units: &mut Vec<Value>,
        admitted: bool,
    ) -> Result<(), Abort> {
        let pe = self.plan.instances()[to].pe;
        self.queue_units(pe, port, units, admitted)
    }

    fn collect(&self, _: &mut (), name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.collect_units(name, units)
    }

    fn instance_created(&self, _: &mut (), pe: usize, worker: WorkerId) {
        self.termination().instance_created(pe, worker);
    }

    fn task_done(&self, _: &mut (), (): (), done: TaskDone<'_>, (): ()) {
        self.count_units(done.worker, done.units);
        self.count(|t| t.done(done.pe));
    }

    fn postprocessed(&self, _: &mut (), end: InstanceEnd<'_>, (): ()) {
        end.reports.into_iter().for_each(|r| self.report(r));
        self.count(|t| t.postprocessed(end.pe, end.worker));
    }

    fn left(&self, _: &mut (), end: InstanceEnd<'_>, (): ()) {
        end.reports.into_iter().for_each(|r| self.report(r));
        self.count(|t| t.worker_left(end.pe, end.worker));
    }

    fn root_ended(&self, pe: usize, (): (), report: InstanceReport) {
        self.report(report);
        self.count(|t| t.root_ended(pe));
    }

    fn abort(&self, why: Abort) {
        self.stop(why);
    }

    fn is_over(&self) -> bool {
        !matches!(*self.outcome.lock().unwrap_or_else(|p| p.into_inner()), Outcome::Running)
    }
}
