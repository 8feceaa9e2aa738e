//! The roots of a dynamic run: each on a thread of its own (as in `multi`), calling its PE
//! once per input and turning what it writes into tasks. Its tasks are *admitted*: a root
//! waits while the queue is full, so a fast source runs at the pool's pace and memory stays
//! bounded.

use super::engine::{Engine, TaskSink};
use crate::abort::{Abort, AbortReason};
use crate::runtime::inputs::RootInputs;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::outlet::Outlet;
use crate::runtime::report::InstanceReport;
use crate::sink::Sink;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

fn settle(inst: &mut Instance, mut flow: Flow, sink: &mut dyn Sink) -> Result<(), Abort> {
    while let Flow::Backoff(d) = flow {
        std::thread::sleep(d);
        flow = inst.resume(sink)?;
    }
    Ok(())
}

/// Runs root PE `pe`'s calls to the end, then its `postprocess`.
fn run_root(engine: &Engine, inputs: &RootInputs, pe: usize) -> Result<(), Abort> {
    let planned = &engine.plan.pes()[pe];
    let (mut inst, flow) = Instance::new(planned, 0, planned.first(), &engine.options, engine.dead.clone());
    let mut outlet = Outlet::new(&engine.plan, pe, 0, engine.dead.clone());
    let span = inst.span().clone();
    let _entered = span.enter();
    let mut sink = TaskSink { engine, outlet: &mut outlet, admitted: true };
    let result = (|| {
        settle(&mut inst, flow, &mut sink)?;
        if let Some(calls) = inputs.calls_of(pe) {
            let mut last_flush = Instant::now();
            for i in 0..calls.len() {
                if engine.is_over() {
                    return Ok(());
                }
                let start = Instant::now();
                let flow = inst.call_root(calls.input(i), &mut sink)?;
                settle(&mut inst, flow, &mut sink)?;
                if last_flush.elapsed() >= engine.options.flush_interval {
                    inst.flush(&mut sink)?;
                    last_flush = Instant::now();
                }
                inst.add_busy(start.elapsed());
                engine.touch();
            }
        }
        inst.finish(&mut sink)
    })();
    engine.report(InstanceReport {
        pe: inst.info().pe.clone(),
        index: 0,
        slot: 0,
        stats: inst.final_stats(),
    });
    result.map_err(|a| a.context(inst.info()))
}

/// Starts a thread per root of the plan.
pub(crate) fn spawn(engine: &Arc<Engine>, inputs: &RootInputs) -> Result<Vec<JoinHandle<()>>, Abort> {
    let mut threads = Vec::new();
    for pe in engine.plan.roots() {
        let (engine, inputs) = (engine.clone(), inputs.clone());
        let name = format!("d4r-root-{}", engine.plan.pes()[pe].name);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || match run_root(&engine, &inputs, pe) {
                Ok(()) => engine.root_ended(pe),
                Err(abort) => engine.abort(abort),
            })
            .map_err(|e| {
                Abort::new(AbortReason::Transport, format!("cannot start a thread for a root: {e}"))
            })?;
        threads.push(thread);
    }
    Ok(threads)
}
