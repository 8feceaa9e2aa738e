//! Mappings: the ways a plan is enacted. One mapping per file; [`Mapping`] names them all,
//! including those not built yet (they say so plainly instead of falling back).

pub(crate) mod dyn_auto_multi;
#[cfg(feature = "redis")]
pub(crate) mod dyn_auto_redis;
pub(crate) mod dyn_multi;
#[cfg(feature = "redis")]
pub(crate) mod dyn_redis;
#[cfg(feature = "redis")]
pub(crate) mod hybrid_redis;
#[cfg(feature = "mpi")]
pub(crate) mod mpi;
pub(crate) mod multi;
pub(crate) mod simple;
#[cfg(feature = "zmq")]
pub mod zmq_multi;

use crate::abort::Abort;
use crate::plan::PlanError;
use crate::runtime::collect::CollectedOutputs;
use crate::runtime::inputs::InputError;
use crate::runtime::report::RunReport;
use std::fmt;

/// Every mapping dispel4rs knows, by its command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// One thread, streaming depth-first.
    Simple,
    /// One process, every PE instance a supervised actor.
    Multi,
    /// Several OS processes connected by ZMQ sockets.
    ZmqMulti,
    /// MPI ranks.
    Mpi,
    /// A pool of workers pulling tasks from a shared queue.
    DynMulti,
    /// As `dyn_multi`, with autoscaling.
    DynAutoMulti,
    /// Workers fed through Redis streams.
    DynRedis,
    /// As `dyn_redis`, with autoscaling.
    DynAutoRedis,
    /// Stateless PEs dynamic, stateful PEs pinned, through Redis.
    HybridRedis,
}

impl Mapping {
    /// All mappings, in the order `--help` lists them.
    pub const ALL: [Mapping; 9] = [
        Mapping::Simple,
        Mapping::Multi,
        Mapping::ZmqMulti,
        Mapping::Mpi,
        Mapping::DynMulti,
        Mapping::DynAutoMulti,
        Mapping::DynRedis,
        Mapping::DynAutoRedis,
        Mapping::HybridRedis,
    ];

    /// The command-line name (`simple`, `multi`, `zmq_multi`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Mapping::Simple => "simple",
            Mapping::Multi => "multi",
            Mapping::ZmqMulti => "zmq_multi",
            Mapping::Mpi => "mpi",
            Mapping::DynMulti => "dyn_multi",
            Mapping::DynAutoMulti => "dyn_auto_multi",
            Mapping::DynRedis => "dyn_redis",
            Mapping::DynAutoRedis => "dyn_auto_redis",
            Mapping::HybridRedis => "hybrid_redis",
        }
    }

    /// The mapping with this command-line name.
    pub fn from_name(name: &str) -> Option<Mapping> {
        Mapping::ALL.into_iter().find(|m| m.name() == name)
    }

    /// One line on what it does.
    pub fn description(self) -> &'static str {
        match self {
            Mapping::Simple => "one thread, streaming depth-first (development, small data)",
            Mapping::Multi => "one process, every PE instance a supervised actor, all cores",
            Mapping::ZmqMulti => "several OS processes (or hosts) connected by ZMQ sockets",
            Mapping::Mpi => "MPI ranks: mpirun -n N <workflow> mpi",
            Mapping::DynMulti => "a pool of workers pulling tasks from a shared queue (stateless PEs)",
            Mapping::DynAutoMulti => "dyn_multi with a pool that grows and shrinks with load",
            Mapping::DynRedis => "workers on any host fed through Redis streams (stateless PEs)",
            Mapping::DynAutoRedis => "dyn_redis with autoscaling",
            Mapping::HybridRedis => "stateless PEs dynamic, stateful PEs pinned, through Redis",
        }
    }

    /// True for the dynamic mappings: a pool of workers, any of which may run any unit of a
    /// stateless PE (their plan is [`crate::Plan::pooled`]).
    pub fn is_pooled(self) -> bool {
        matches!(self, Mapping::DynMulti | Mapping::DynAutoMulti | Mapping::DynRedis | Mapping::DynAutoRedis)
    }

    /// The plan this mapping enacts for `graph` with `options`, their per-PE tuning applied
    /// (`--numprocesses PE=N`, `--blocking PE`): [`crate::Plan::new`] for the fixed mappings,
    /// [`crate::Plan::pooled`] for the dynamic ones, [`crate::Plan::hybrid`] for
    /// `hybrid_redis`. Every process of a run makes its plan here.
    pub fn plan(
        self,
        graph: &crate::WorkflowGraph,
        options: &crate::RunOptions,
    ) -> Result<crate::Plan, RunError> {
        let graph = options.tuning.apply(graph)?;
        let plan = match self {
            Mapping::HybridRedis => crate::Plan::hybrid(&graph, options.processes)?,
            m if m.is_pooled() => crate::Plan::pooled(&graph, options.processes)?,
            _ => crate::Plan::new(&graph, options.processes)?,
        };
        Ok(plan)
    }

    /// `Ok` if this build can run the mapping, or why not.
    pub fn availability(self) -> Result<(), &'static str> {
        match self {
            Mapping::Simple | Mapping::Multi | Mapping::DynMulti | Mapping::DynAutoMulti => Ok(()),
            Mapping::ZmqMulti if cfg!(feature = "zmq") => Ok(()),
            Mapping::ZmqMulti => Err("not compiled in (build with the `zmq` feature)"),
            Mapping::Mpi if cfg!(feature = "mpi") => Ok(()),
            Mapping::Mpi => Err("not compiled in (build with the `mpi` feature)"),
            Mapping::DynRedis | Mapping::DynAutoRedis | Mapping::HybridRedis if cfg!(feature = "redis") => {
                Ok(())
            }
            Mapping::DynRedis | Mapping::DynAutoRedis | Mapping::HybridRedis => {
                Err("not compiled in (build with the `redis` feature)")
            }
        }
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The root inputs are wrong.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The mapping could not go on (a peer died, a channel closed).
    #[error("run aborted: {0}")]
    Aborted(Abort),
    /// A dynamic mapping was given a graph with a stateful PE.
    #[error(
        "mapping '{mapping}' runs stateless PEs only, and PE '{pe}' is stateful: {reason}. \
         Any worker may get any of its units, so its state would be split. \
         Use `multi` (or `zmq_multi`, `mpi`), which pin instances, or `hybrid_redis`, which pins stateful PEs"
    )]
    Stateful {
        /// The mapping.
        mapping: Mapping,
        /// The stateful PE.
        pe: String,
        /// Why it is stateful.
        reason: String,
    },
    /// Redis could not be reached or refused the credentials at the start of a run.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] dispel4rs_transports::redis::RedisError),
    /// A run could not start (a Redis job that exists already, a worker refused).
    #[error("{0}")]
    Startup(String),
    /// The mapping is not available in this build.
    #[error("mapping '{mapping}' is {reason}")]
    Unavailable {
        /// The mapping.
        mapping: Mapping,
        /// Why.
        reason: &'static str,
    },
    /// An option is out of range, clashes with another, or the run secret is unusable.
    #[error(transparent)]
    Options(#[from] crate::validate::OptionError),
    /// Provenance could not be recorded (`--provenance-pes` names an unknown PE, the
    /// document could not be written).
    #[error(transparent)]
    Provenance(#[from] crate::provenance::ProvenanceError),
}

impl RunError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RunError::Io { context: context.into(), source }
    }
}

/// What a mapping hands back.
pub(crate) struct MappingResult {
    pub outputs: CollectedOutputs,
    pub report: RunReport,
}

/// How a mapping's run ended, before the report is assembled (see [`MappingResult::assemble`]).
#[derive(Default)]
pub(crate) struct RunEnd {
    /// How long the run took.
    pub elapsed: std::time::Duration,
    /// From the last data unit processed to the end, where the mapping measures it.
    pub tail: Option<std::time::Duration>,
    /// Every instance's counters, by global id (`None`: it never reported).
    pub stats: Vec<Option<crate::runtime::report::InstanceStats>>,
    /// Instead of `stats`, the instances as they ran, where they are not the plan's (the
    /// dynamic mappings make one per PE and worker).
    pub instances: Option<Vec<crate::runtime::report::InstanceReport>>,
    /// The worker pool of a dynamic mapping.
    pub pool: Option<crate::runtime::report::PoolReport>,
    /// What the collector gathered (`None`: it was not finished, e.g. on a worker).
    pub outputs: Option<std::io::Result<CollectedOutputs>>,
    /// The peak resident memory of the run's processes, where known.
    pub peak_rss_bytes: Option<u64>,
    /// Each process's peak resident memory, by name (multi-process runs).
    pub process_peaks: Vec<(String, u64)>,
}

impl MappingResult {
    /// The one place where a mapping's result and report are assembled (every mapping ends
    /// here; dead letters are added by the runner).
    pub(crate) fn assemble(
        mapping: Mapping,
        plan: &crate::plan::Plan,
        end: RunEnd,
    ) -> Result<MappingResult, RunError> {
        let outputs = end
            .outputs
            .unwrap_or_else(|| Ok(CollectedOutputs::default()))
            .map_err(|e| RunError::Aborted(Abort::output(format!("cannot write collected outputs: {e}"))))?;
        let mut report = RunReport::from_stats(
            mapping.name(),
            plan,
            end.elapsed,
            end.tail,
            end.stats,
            outputs.total,
            end.peak_rss_bytes,
        );
        if let Some(instances) = end.instances {
            report.instances = instances;
        }
        report.pool = end.pool;
        report.process_peaks = end.process_peaks;
        if mapping != Mapping::Simple {
            report.suggestions = crate::runtime::advice::busy_suggestions(plan, &report);
        }
        Ok(MappingResult { outputs, report })
    }
}
