//! The roots of a dynamic run: each on a thread of its own (as in `multi`), calling its PE
//! once per input and turning what it writes into tasks. Its tasks are *admitted*: a root
//! waits while the queue is full, so a fast source runs at the pool's pace and memory stays
//! bounded.

use super::backend::{Backend, TaskSink};
use super::worker::settle;
use crate::abort::{Abort, AbortReason};
use crate::runtime::inputs::RootInputs;
use crate::runtime::instance::Instance;
use crate::runtime::outlet::Outlet;
use crate::runtime::report::InstanceReport;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Runs root PE `pe`'s calls to the end, then its `postprocess`.
fn run_root<B: Backend>(backend: &B, inputs: &RootInputs, pe: usize) -> Result<(), Abort> {
    let planned = &backend.plan().pes()[pe];
    let dead = backend.dead_letters(0);
    let (mut inst, flow) = Instance::new(planned, 0, planned.first(), backend.options(), dead.clone());
    let mut outlet = Outlet::new(backend.plan(), pe, 0, dead).traced(backend.options());
    let span = inst.span().clone();
    let _entered = span.enter();
    let mut fx = B::Effects::default();
    let mut sink = TaskSink { backend, outlet: &mut outlet, effects: &mut fx, admitted: true };
    let result = (|| {
        settle(&mut inst, flow, &mut sink)?;
        if let Some(calls) = inputs.calls_of(pe) {
            let mut last_flush = Instant::now();
            for i in 0..calls.len() {
                if backend.is_over() {
                    return Ok(());
                }
                let start = Instant::now();
                let flow = inst.call_root(calls.input(i), &mut sink)?;
                settle(&mut inst, flow, &mut sink)?;
                if last_flush.elapsed() >= backend.options().flush_interval {
                    inst.flush(&mut sink)?;
                    last_flush = Instant::now();
                }
                inst.add_busy(start.elapsed());
                backend.touch();
            }
        }
        inst.finish(&mut sink)
    })();
    let report = InstanceReport { pe: inst.info().pe.clone(), index: 0, slot: 0, stats: inst.final_stats() };
    result.map_err(|a| a.context(inst.info()))?;
    backend.root_ended(pe, fx, report);
    Ok(())
}

/// Starts a thread per root of the plan.
pub(crate) fn spawn<B: Backend>(backend: &Arc<B>, inputs: &RootInputs) -> Result<Vec<JoinHandle<()>>, Abort> {
    let mut threads = Vec::new();
    for pe in backend.plan().roots() {
        let (backend, inputs) = (backend.clone(), inputs.clone());
        let name = format!("d4r-root-{}", backend.plan().pes()[pe].name);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                if let Err(abort) = run_root(&*backend, &inputs, pe) {
                    backend.abort(abort);
                }
            })
            .map_err(|e| {
                Abort::new(AbortReason::Transport, format!("cannot start a thread for a root: {e}"))
            })?;
        threads.push(thread);
    }
    Ok(threads)
}
