//! The `simple` mapping: the whole plan on the calling thread, streaming depth-first.
//!
//! When an instance's output batch fills (or a root call ends and the batch is older than
//! the flush interval, or at end of stream) the batch is routed at once and processed by
//! the receiving instances inside the writer's call, recursively. So at any moment each
//! instance holds at most one partial batch per output port: memory stays flat however long
//! the stream (dispel4py's simple mapping held every stream in memory).
//!
//! End of stream follows the plan's topological order: once the roots are done, each
//! instance in turn flushes, runs `postprocess` (whose writes are processed downstream
//! right away) and is finished; every upstream instance of a PE comes before it.

use super::{Mapping, MappingResult, RunEnd, RunError};
use crate::abort::Abort;
use crate::plan::{CollectName, Plan};
use crate::runtime::collect::Collector;
use crate::runtime::inputs::RootInputs;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::options::RunOptions;
use crate::runtime::outlet::{Deliver, Outlet};
use crate::runtime::report::{peak_rss_bytes, DeadLetters};
use crate::sink::Sink;
use crate::value::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Slot {
    inst: Instance,
    outlet: Outlet,
}

struct Simple {
    slots: Vec<Option<Box<Slot>>>,
    collector: Collector,
    /// Time spent in nested deliveries, per level of the current delivery stack.
    nested: Vec<Duration>,
}

struct SimpleSink<'s> {
    exec: &'s mut Simple,
    outlet: &'s mut Outlet,
}

impl Sink for SimpleSink<'_> {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        self.outlet.dispatch(port, batch, self.exec)
    }
}

/// Waits out back-offs until the instance is ready again.
fn settle(inst: &mut Instance, mut flow: Flow, sink: &mut dyn Sink) -> Result<(), Abort> {
    while let Flow::Backoff(d) = flow {
        std::thread::sleep(d);
        flow = inst.resume(sink)?;
    }
    Ok(())
}

impl Simple {
    fn take(&mut self, global: usize) -> Result<Box<Slot>, Abort> {
        self.slots.get_mut(global).and_then(Option::take).ok_or_else(|| {
            Abort::internal(format!("instance {global} re-entered (the graph must be acyclic)"))
        })
    }

    /// Runs `f` on instance `global` with a sink routing its output, timing it.
    fn with_slot(
        &mut self,
        global: usize,
        f: impl FnOnce(&mut Instance, &mut SimpleSink<'_>) -> Result<(), Abort>,
    ) -> Result<(), Abort> {
        let mut slot = self.take(global)?;
        let span = slot.inst.span().clone();
        let _entered = span.enter();
        self.nested.push(Duration::ZERO);
        let start = Instant::now();
        let Slot { inst, outlet } = &mut *slot;
        let result = f(inst, &mut SimpleSink { exec: self, outlet });
        let elapsed = start.elapsed();
        let downstream = self.nested.pop().unwrap_or_default();
        // Its own time: what ran downstream inside its call is the downstream's.
        slot.inst.add_busy(elapsed.saturating_sub(downstream));
        if let Some(parent) = self.nested.last_mut() {
            *parent += elapsed;
        }
        self.slots[global] = Some(slot);
        result
    }

    /// Flushes every instance's partial batches, in topological order, so that nothing
    /// is left waiting.
    fn drain(&mut self) -> Result<(), Abort> {
        for g in 0..self.slots.len() {
            let pending = self.slots[g].as_mut().is_some_and(|s| !s.inst.buffers_mut().is_empty());
            if pending {
                self.with_slot(g, |inst, sink| inst.flush(sink))?;
            }
        }
        Ok(())
    }
}

impl Deliver for Simple {
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.with_slot(to, |inst, sink| {
            let flow = inst.process_batch(port, units, sink)?;
            settle(inst, flow, sink)
        })
    }

    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.collector
            .push(name, units)
            .map_err(|e| Abort::output(format!("cannot write collected outputs: {e}")))
    }
}

/// Enacts `plan` on this thread.
pub(crate) fn run(
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let started = Instant::now();
    let mut exec = Simple { slots: Vec::new(), collector, nested: Vec::new() };
    let mut flows = Vec::new();
    for (g, planned) in plan.instances().iter().enumerate() {
        let pe = &plan.pes()[planned.pe];
        let (inst, flow) = Instance::new(pe, planned.index, g, options, dead.clone());
        let outlet = Outlet::new(plan, planned.pe, planned.index, dead.clone()).traced(options);
        exec.slots.push(Some(Box::new(Slot { inst, outlet })));
        flows.push(flow);
    }
    for (g, flow) in flows.into_iter().enumerate() {
        if flow != Flow::Ready {
            exec.with_slot(g, |inst, sink| settle(inst, flow, sink)).map_err(RunError::Aborted)?;
        }
    }

    let mut last_flush = Instant::now();
    for (pe, calls) in inputs.iter() {
        let root = plan.pes()[pe].first();
        for i in 0..calls.len() {
            let input = calls.input(i);
            exec.with_slot(root, |inst, sink| {
                let flow = inst.call_root(input, sink)?;
                settle(inst, flow, sink)
            })
            .map_err(RunError::Aborted)?;
            if last_flush.elapsed() >= options.flush_interval {
                exec.drain().map_err(RunError::Aborted)?;
                last_flush = Instant::now();
            }
        }
    }
    exec.drain().map_err(RunError::Aborted)?;
    for g in 0..exec.slots.len() {
        exec.with_slot(g, |inst, sink| inst.finish(sink)).map_err(RunError::Aborted)?;
    }

    let stats = exec.slots.iter().map(|s| s.as_ref().map(|s| s.inst.final_stats())).collect();
    let outputs = Some(exec.collector.finish());
    let end = RunEnd {
        elapsed: started.elapsed(),
        tail: None,
        stats,
        outputs,
        peak_rss_bytes: peak_rss_bytes(),
        ..RunEnd::default()
    };
    MappingResult::assemble(Mapping::Simple, plan, end)
}
