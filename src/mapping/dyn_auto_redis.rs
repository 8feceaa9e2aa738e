//! The `dyn_auto_redis` mapping: `dyn_redis` with a pool that grows and shrinks between
//! `--min-workers` and `-n`: the coordinator measures the load from the job's events and the
//! scaling policy of `dyn_auto_multi` (one module: `dispel4rs_actors::scaling`) sets how many
//! worker actors each worker process keeps.

use super::dyn_redis::run_job;
use super::{Mapping, MappingResult, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::inputs::{InputSource, RootInputs};
use crate::runtime::options::RunOptions;
use crate::runtime::pool::redis::coordinator::RedisArgs;
use crate::runtime::pool::Scaling;
use crate::runtime::report::DeadLetters;
use std::sync::Arc;

/// Enacts a pooled `plan` as a Redis job with between `--min-workers` and `plan.processes()`
/// workers.
pub(crate) fn run(
    plan: &Plan,
    source: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    redis: RedisArgs,
) -> Result<MappingResult, RunError> {
    let max = plan.processes();
    let scaling = Scaling::Auto {
        min: options.pool.min_workers.clamp(1, max.max(1)),
        max,
        interval: options.pool.scale_interval,
    };
    run_job(Mapping::DynAutoRedis, scaling, plan, source, inputs, options, collector, dead, redis)
}
