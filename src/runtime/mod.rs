//! What every mapping shares: supervised instances, outlets (routing), root inputs,
//! collected outputs, run options, the run report, and what observes a run while it runs.

pub(crate) mod advice;
pub(crate) mod cluster;
pub mod collect;
pub(crate) mod guard;
pub(crate) mod host;
pub mod inputs;
pub mod instance;
#[cfg(feature = "zmq")]
pub(crate) mod join;
pub mod launch;
#[cfg(feature = "mpi")]
pub(crate) mod line_prefix;
pub(crate) mod log_limit;
pub mod observe;
pub mod options;
pub mod outlet;
pub(crate) mod pool;
pub mod report;
pub(crate) mod secret;
pub(crate) mod staged;
pub mod termination;
pub(crate) mod wire;
