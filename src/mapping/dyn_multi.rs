//! The `dyn_multi` mapping: one process, a fixed pool of `-n` worker actors (each on a thread
//! of its own) pulling tasks of stateless PEs from a shared in-memory queue; roots on threads
//! of their own. The dynamic engine (`runtime::pool`) does the work.

use super::{Mapping, MappingResult, RunError};
use crate::plan::Plan;
use crate::runtime::collect::Collector;
use crate::runtime::inputs::RootInputs;
use crate::runtime::options::RunOptions;
use crate::runtime::pool::{self, Scaling};
use crate::runtime::report::DeadLetters;
use std::sync::Arc;

/// Enacts a pooled `plan` with `plan.processes()` workers.
pub(crate) fn run(
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let scaling = Scaling::Fixed(plan.processes());
    pool::run(Mapping::DynMulti, plan, inputs, options, collector, dead, scaling)
}
