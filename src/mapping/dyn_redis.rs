//! The `dyn_redis` mapping: the dynamic engine with its tasks in Redis streams, its worker
//! actors in worker processes on any host that reaches the server (started here with
//! `--spawn`, or by hand with `--join JOB`). A fixed pool of `-n` workers; the coordinator
//! runs the roots and collects. See `runtime::pool::redis`.

use super::{Mapping, MappingResult, RunEnd, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::inputs::{InputSource, RootInputs};
use crate::runtime::options::RunOptions;
use crate::runtime::pool::redis::coordinator::{self, RedisArgs};
use crate::runtime::pool::{refuse_stateful, Scaling};
use crate::runtime::report::{peak_rss_bytes, DeadLetters};
use std::sync::Arc;
use std::time::Instant;

/// Enacts a pooled `plan` as a Redis job with `plan.processes()` workers.
pub(crate) fn run(
    plan: &Plan,
    source: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    redis: RedisArgs,
) -> Result<MappingResult, RunError> {
    run_job(
        Mapping::DynRedis,
        Scaling::Fixed(plan.processes()),
        plan,
        source,
        inputs,
        options,
        collector,
        dead,
        redis,
    )
}

/// The Redis job of `mapping` with `scaling`; shared with `dyn_auto_redis`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_job(
    mapping: Mapping,
    scaling: Scaling,
    plan: &Plan,
    source: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    redis: RedisArgs,
) -> Result<MappingResult, RunError> {
    if !plan.is_hybrid() {
        refuse_stateful(mapping, plan)?;
    }
    let started = Instant::now();
    let outcome = coordinator::run(mapping, plan, source, inputs, options, collector, dead, scaling, redis)?;
    let end = RunEnd {
        elapsed: started.elapsed(),
        tail: outcome.tail,
        stats: Vec::new(),
        instances: Some(outcome.instances),
        outputs: outcome.outputs,
        peak_rss_bytes: outcome.process_peaks.iter().map(|(_, b)| *b).max().or_else(peak_rss_bytes),
        process_peaks: outcome.process_peaks,
        pool: Some(outcome.pool),
    };
    let rejected = outcome.rejected;
    let mut result = MappingResult::assemble(mapping, plan, end)?;
    result.report.rejected_frames = rejected;
    Ok(result)
}
