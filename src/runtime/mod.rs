//! What every mapping shares: supervised instances, outlets (routing), root inputs,
//! collected outputs, run options and the run report.

pub(crate) mod cluster;
pub mod collect;
pub(crate) mod host;
pub mod inputs;
pub mod instance;
pub mod launch;
pub mod options;
pub mod outlet;
pub(crate) mod pool;
pub mod report;
pub mod termination;
pub(crate) mod wire;
