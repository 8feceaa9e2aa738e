//! The `dyn_auto_multi` mapping: `dyn_multi` with a pool that grows and shrinks between
//! `--min-workers` and `-n` by spawning and retiring worker actors, as the scaling policy
//! (`dispel4rs_actors::scaling`) decides from the measured load every `--scale-interval-ms`.

use super::{Mapping, MappingResult, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::inputs::RootInputs;
use crate::runtime::options::RunOptions;
use crate::runtime::pool::{self, Scaling};
use crate::runtime::report::DeadLetters;
use std::sync::Arc;

/// Enacts a pooled `plan` with between `--min-workers` and `plan.processes()` workers.
pub(crate) fn run(
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let max = plan.processes();
    let scaling = Scaling::Auto {
        min: options.pool.min_workers.clamp(1, max.max(1)),
        max,
        interval: options.pool.scale_interval,
    };
    pool::run(Mapping::DynAutoMulti, plan, inputs, options, collector, dead, scaling)
}
