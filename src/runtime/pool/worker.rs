//! [`PeWorker`]: a worker actor of the dynamic pool, whatever the backend behind it. It claims
//! tasks and keeps one instance of each PE it has run, made from the PE's factory on first use
//! (`preprocess` runs then) and supervised exactly as in every other mapping (restarts,
//! retries, dead letters). What an instance writes goes through its outlet into the backend,
//! along every connection of the port. When a PE is drained the worker is told to run the
//! `postprocess` of its instance; when the pool shrinks it retires: it finishes its task, runs
//! the `postprocess` of every instance it holds, and goes.

use super::backend::{Backend, InstanceEnd, TaskDone, TaskSink, WorkerClock, WorkerMail};
use super::task::Task;
use crate::abort::Abort;
use crate::pe::InstanceInfo;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::outlet::Outlet;
use crate::runtime::report::{DeadLetters, InstanceReport};
use crate::sink::Sink;
use dispel4rs_actors::pool::{Step, Worker, WorkerId, WorkerSignals};
use dispel4rs_transports::queue::Claim;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle worker waits for a task before it looks again (it is woken at once by a
/// task, a message, or the end of the run: this only bounds a wait nobody interrupts).
const CLAIM_WAIT: Duration = Duration::from_millis(250);

struct Slot {
    inst: Instance,
    outlet: Outlet,
}

/// A worker of the dynamic pool. See the [module documentation](self).
pub(crate) struct PeWorker<B: Backend> {
    backend: Arc<B>,
    signals: WorkerSignals,
    /// The worker's number for the backend (unique in the run; the pool's id by default).
    id: WorkerId,
    /// This worker's instances by global id: its instance of each pooled PE it has run (the
    /// PE's one logical instance), and the pinned instances it holds.
    slots: BTreeMap<usize, Slot>,
    /// PEs whose `postprocess` this worker has run.
    served: Vec<bool>,
    clock: Arc<WorkerClock>,
    dead: Arc<DeadLetters>,
    local: B::Local,
}

/// Waits out back-offs until the instance is ready again (a worker has a thread of its own).
pub(crate) fn settle(inst: &mut Instance, mut flow: Flow, sink: &mut dyn Sink) -> Result<(), Abort> {
    while let Flow::Backoff(d) = flow {
        std::thread::sleep(d);
        flow = inst.resume(sink)?;
    }
    Ok(())
}

impl<B: Backend> PeWorker<B> {
    /// A worker numbered `id` for the backend.
    pub(crate) fn new(backend: Arc<B>, signals: WorkerSignals, id: WorkerId) -> Self {
        let n = backend.plan().pes().len();
        let clock = backend.clock();
        let dead = backend.dead_letters(id);
        PeWorker {
            backend,
            signals,
            id,
            slots: BTreeMap::new(),
            served: vec![false; n],
            clock,
            dead,
            local: B::Local::default(),
        }
    }

    /// A new instance (global id `global`) for this worker, its `preprocess` done. A pooled
    /// PE's instance is numbered by the worker; a pinned one keeps its own number.
    fn make_slot(&self, global: usize, fx: &mut B::Effects) -> Result<Slot, Abort> {
        let backend = &*self.backend;
        let plan = backend.plan();
        let placed = plan.instances()[global];
        let planned = &plan.pes()[placed.pe];
        let (index, count) = if plan.is_pinned(placed.pe) {
            (placed.index, planned.count())
        } else {
            (self.id, backend.max_workers())
        };
        let info = InstanceInfo { pe: planned.name.clone(), pe_id: planned.id, index, count, global };
        let (mut inst, flow) = Instance::with_info(planned, info, backend.options(), self.dead.clone());
        let mut outlet =
            Outlet::new(plan, placed.pe, placed.index, self.dead.clone()).traced(backend.options());
        if flow != Flow::Ready {
            let mut sink = TaskSink { backend, outlet: &mut outlet, effects: fx, admitted: false };
            settle(&mut inst, flow, &mut sink)?;
        }
        Ok(Slot { inst, outlet })
    }

    fn run_task(&mut self, task: Task, receipt: B::Receipt) {
        let Task { pe, instance, port, mut units } = task;
        let mut fx = B::Effects::default();
        if !self.slots.contains_key(&instance) {
            match self.make_slot(instance, &mut fx) {
                Ok(slot) => {
                    self.backend.instance_created(&mut fx, pe, self.id);
                    self.slots.insert(instance, slot);
                }
                Err(abort) => return self.backend.abort(abort),
            }
        }
        let backend = self.backend.clone();
        let Some(slot) = self.slots.get_mut(&instance) else { return };
        let span = slot.inst.span().clone();
        let _entered = span.enter();
        let n = units.len();
        self.clock.begin(backend.now_ns());
        let start = Instant::now();
        let result = {
            let Slot { inst, outlet } = slot;
            let mut sink = TaskSink { backend: &*backend, outlet, effects: &mut fx, admitted: false };
            inst.process_batch(port, &mut units, &mut sink)
                .and_then(|flow| settle(inst, flow, &mut sink))
                .and_then(|()| inst.flush(&mut sink))
        };
        let took = start.elapsed();
        slot.inst.add_busy(took);
        self.clock.end(took);
        backend.costs().record(pe, n, took);
        backend.touch();
        backend.recycle(units);
        match result {
            Ok(()) => {
                let done = TaskDone { pe, units: n as u64, took, worker: self.id, dead: &self.dead };
                backend.task_done(&mut self.local, receipt, done, fx);
            }
            Err(abort) => backend.abort(abort.context(slot.inst.info())),
        }
    }

    /// Runs the `postprocess` of this worker's instances of PE `pe`: the pooled one (made now
    /// if it has none, when it was asked anyway), or the pinned ones it holds (made now if no
    /// unit reached them); returns what they wrote and their counters.
    fn finish(&mut self, pe: usize) -> Result<(B::Effects, Vec<InstanceReport>), Abort> {
        let mut fx = B::Effects::default();
        let plan = self.backend.plan().clone();
        let globals: Vec<usize> = if plan.is_pinned(pe) {
            let mine = self.backend.pinned(self.id);
            plan.pes()[pe]
                .instances
                .clone()
                .filter(|g| mine.contains(g) || self.slots.contains_key(g))
                .collect()
        } else {
            vec![plan.pes()[pe].first()]
        };
        let mut reports = Vec::new();
        for global in globals {
            let slot = match self.slots.remove(&global) {
                Some(slot) => slot,
                None => self.make_slot(global, &mut fx)?,
            };
            let Slot { mut inst, mut outlet } = slot;
            let span = inst.span().clone();
            let _entered = span.enter();
            let start = Instant::now();
            let result = {
                let mut sink = TaskSink {
                    backend: &*self.backend,
                    outlet: &mut outlet,
                    effects: &mut fx,
                    admitted: false,
                };
                inst.finish(&mut sink)
            };
            inst.add_busy(start.elapsed());
            self.backend.touch();
            let info = inst.info();
            reports.push(InstanceReport {
                pe: info.pe.clone(),
                index: info.index,
                slot: self.id,
                stats: inst.final_stats(),
            });
            result.map_err(|a| a.context(info))?;
        }
        Ok((fx, reports))
    }

    /// Serves a request for the `postprocess` of PE `pe` (once).
    fn postprocess(&mut self, pe: usize) {
        if pe >= self.served.len() || self.served[pe] {
            return;
        }
        self.served[pe] = true;
        match self.finish(pe) {
            Ok((fx, reports)) => {
                let end = InstanceEnd { pe, worker: self.id, reports, dead: &self.dead };
                self.backend.postprocessed(&mut self.local, end, fx);
            }
            Err(abort) => self.backend.abort(abort),
        }
    }
}

impl<B: Backend> Worker for PeWorker<B> {
    type Message = WorkerMail;

    fn step(&mut self) -> Step {
        let signals = self.signals.clone();
        match self.backend.claim(&mut self.local, self.id, CLAIM_WAIT, &|| signals.has_mail()) {
            Claim::Task(task, receipt) => {
                self.run_task(task, receipt);
                Step::Continue
            }
            Claim::Interrupted => Step::Interrupted,
            Claim::TimedOut => Step::Continue,
            Claim::Closed => Step::Stop,
        }
    }

    fn handle(&mut self, mail: WorkerMail) -> Step {
        match mail {
            WorkerMail::Postprocess(pe) => self.postprocess(pe),
        }
        if self.backend.is_over() {
            Step::Stop
        } else {
            Step::Continue
        }
    }

    fn retire(&mut self) {
        let plan = self.backend.plan().clone();
        let mut held: Vec<usize> = self.slots.keys().map(|g| plan.instances()[*g].pe).collect();
        held.dedup();
        for pe in held {
            if self.served[pe] {
                continue;
            }
            self.served[pe] = true;
            // What the PE's instance holds is written now; the bookkeeping no longer waits for
            // this worker (and if it had asked it for this postprocess, this answers it).
            match self.finish(pe) {
                Ok((fx, reports)) => {
                    let end = InstanceEnd { pe, worker: self.id, reports, dead: &self.dead };
                    self.backend.left(&mut self.local, end, fx);
                }
                Err(abort) => self.backend.abort(abort),
            }
        }
    }
}
