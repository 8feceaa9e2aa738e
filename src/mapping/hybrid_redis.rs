//! The `hybrid_redis` mapping: every graph, through Redis. Stateless PEs run on the shared
//! dynamic queue, as in `dyn_redis`; every instance of a stateful PE (a grouped input, or
//! declared stateful) gets the instance count of the fixed mappings ([`crate::Plan::hybrid`]),
//! is **pinned** to one worker process (the first worker of a process holds the pinned
//! instances it was given, several sharing a process when processes are fewer) and is fed
//! through a stream of its own, with the frozen groupings of every mapping. That worker
//! claims the tasks of its pinned instances first and, when they have none, takes stateless
//! tasks from the shared queue. End of stream is the engine's rule for both kinds of PE.

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

/// Enacts a hybrid `plan` as a Redis job with `plan.processes()` workers.
pub(crate) fn run(
    plan: &Plan,
    source: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    redis: RedisArgs,
) -> Result<MappingResult, RunError> {
    let scaling = Scaling::Fixed(plan.processes());
    run_job(Mapping::HybridRedis, scaling, plan, source, inputs, options, collector, dead, redis)
}
