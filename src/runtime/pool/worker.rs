//! [`PeWorker`]: a worker actor of the dynamic pool. It claims tasks from the shared queue
//! and keeps one instance of each PE it has run, made from the PE's factory on first use
//! (`preprocess` runs then) and supervised exactly as in every other mapping (restarts,
//! retries, dead letters). What an instance writes becomes new tasks, along every connection
//! of the port. When a PE is drained the worker is told to run the `postprocess` of its
//! instance; when the pool shrinks it retires: it finishes its task, runs the `postprocess` of
//! every instance it holds, and goes.

use super::engine::{Engine, TaskSink, WorkerClock, WorkerMail};
use super::task::Task;
use crate::abort::Abort;
use crate::pe::InstanceInfo;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::outlet::Outlet;
use crate::runtime::report::InstanceReport;
use crate::sink::Sink;
use dispel4rs_actors::pool::{Step, Worker, WorkerSignals};
use dispel4rs_transports::queue::Claim;
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
pub(crate) struct PeWorker {
    engine: Arc<Engine>,
    signals: WorkerSignals,
    /// This worker's instance of each PE (by plan index), once it has run one of its tasks.
    slots: Vec<Option<Slot>>,
    /// PEs whose `postprocess` this worker has run.
    served: Vec<bool>,
    clock: Arc<WorkerClock>,
}

/// Waits out back-offs until the instance is ready again (a worker has a thread of its own).
fn settle(inst: &mut Instance, mut flow: Flow, sink: &mut dyn Sink) -> Result<(), Abort> {
    while let Flow::Backoff(d) = flow {
        std::thread::sleep(d);
        flow = inst.resume(sink)?;
    }
    Ok(())
}

impl PeWorker {
    pub(crate) fn new(engine: Arc<Engine>, signals: WorkerSignals) -> Self {
        let n = engine.plan.pes().len();
        let clock = engine.clock();
        PeWorker { engine, signals, slots: (0..n).map(|_| None).collect(), served: vec![false; n], clock }
    }

    fn id(&self) -> usize {
        self.signals.id()
    }

    /// A new instance of PE `pe` for this worker, its `preprocess` done.
    fn make_slot(&self, pe: usize) -> Result<Slot, Abort> {
        let engine = &*self.engine;
        let planned = &engine.plan.pes()[pe];
        let info = InstanceInfo {
            pe: planned.name.clone(),
            pe_id: planned.id,
            index: self.id(),
            count: engine.max_workers,
            global: planned.first(),
        };
        let (mut inst, flow) = Instance::with_info(planned, info, &engine.options, engine.dead.clone());
        let mut outlet = Outlet::new(&engine.plan, pe, 0, engine.dead.clone());
        if flow != Flow::Ready {
            let mut sink = TaskSink { engine, outlet: &mut outlet, admitted: false };
            settle(&mut inst, flow, &mut sink)?;
        }
        Ok(Slot { inst, outlet })
    }

    fn run_task(&mut self, task: Task) {
        let Task { pe, port, mut units } = task;
        if self.slots[pe].is_none() {
            match self.make_slot(pe) {
                Ok(slot) => {
                    self.engine.instance_created(pe, self.id());
                    self.slots[pe] = Some(slot);
                }
                Err(abort) => return self.engine.abort(abort),
            }
        }
        let engine = self.engine.clone();
        let id = self.id();
        let Some(slot) = self.slots[pe].as_mut() else { return };
        let span = slot.inst.span().clone();
        let _entered = span.enter();
        let n = units.len();
        self.clock.begin(&engine);
        let start = Instant::now();
        let result = {
            let Slot { inst, outlet } = slot;
            let mut sink = TaskSink { engine: &engine, outlet, admitted: false };
            inst.process_batch(port, &mut units, &mut sink)
                .and_then(|flow| settle(inst, flow, &mut sink))
                .and_then(|()| inst.flush(&mut sink))
        };
        let took = start.elapsed();
        slot.inst.add_busy(took);
        self.clock.end(took);
        engine.costs.record(pe, n, took);
        engine.touch();
        engine.count_units(id, n as u64);
        engine.recycle(units);
        match result {
            Ok(()) => engine.done(pe),
            Err(abort) => engine.abort(abort.context(slot.inst.info())),
        }
    }

    /// Runs the `postprocess` of this worker's instance of PE `pe` (made now if it has none)
    /// and records its counters.
    fn finish(&mut self, pe: usize) -> Result<(), Abort> {
        let slot = match self.slots[pe].take() {
            Some(slot) => slot,
            None => self.make_slot(pe)?,
        };
        let Slot { mut inst, mut outlet } = slot;
        let span = inst.span().clone();
        let _entered = span.enter();
        let start = Instant::now();
        let result = {
            let mut sink = TaskSink { engine: &self.engine, outlet: &mut outlet, admitted: false };
            inst.finish(&mut sink)
        };
        inst.add_busy(start.elapsed());
        self.engine.touch();
        let info = inst.info();
        self.engine.report(InstanceReport {
            pe: info.pe.clone(),
            index: info.index,
            slot: self.id(),
            stats: inst.final_stats(),
        });
        result.map_err(|a| a.context(info))
    }

    /// Serves a request for the `postprocess` of PE `pe` (once).
    fn postprocess(&mut self, pe: usize) {
        if pe >= self.served.len() || self.served[pe] {
            return;
        }
        self.served[pe] = true;
        match self.finish(pe) {
            Ok(()) => self.engine.postprocessed(pe),
            Err(abort) => self.engine.abort(abort),
        }
    }
}

impl Worker for PeWorker {
    type Message = WorkerMail;

    fn step(&mut self) -> Step {
        let signals = self.signals.clone();
        match self.engine.queue.claim(CLAIM_WAIT, &|| signals.has_mail()) {
            Claim::Task(task, ()) => {
                self.run_task(task);
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
        if self.engine.is_over() {
            Step::Stop
        } else {
            Step::Continue
        }
    }

    fn retire(&mut self) {
        let id = self.id();
        for pe in 0..self.slots.len() {
            if self.slots[pe].is_none() || self.served[pe] {
                continue;
            }
            if self.engine.retire_instance(pe, id) {
                // The PE still runs: this postprocess counts as one of its tasks.
                self.served[pe] = true;
                match self.finish(pe) {
                    Ok(()) => self.engine.done(pe),
                    Err(abort) => self.engine.abort(abort),
                }
            } else {
                // Drained already: this worker was asked for its postprocess; serve it now.
                self.postprocess(pe);
            }
        }
    }
}
