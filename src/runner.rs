//! [`Runner`]: run a graph from Rust code (the command line is a thin layer over it).
//!
//! ```
//! use dispel4rs::{Iterative, Mapping, PeError, Producer, Runner, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("double");
//! let mut n = 0;
//! let src = g.add(Producer::new("src", move |_, o| { n += 1; o.write("output", n) })).unwrap();
//! let dbl = g.add(Iterative::new("double", |x: Value| Ok::<_, PeError>(x.try_int()? * 2))).unwrap();
//! g.connect(src, "output", dbl, "input").unwrap();
//! let result = Runner::new(&g).mapping(Mapping::Simple).iterations(3).run().unwrap();
//! assert_eq!(result.outputs.get("double", "output").unwrap(), &[Value::Int(2), Value::Int(4), Value::Int(6)]);
//! ```

use crate::graph::WorkflowGraph;
use crate::mapping::{dyn_auto_multi, dyn_multi, multi, simple, Mapping, RunError};
use crate::plan::Plan;
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::inputs::{InputSource, RootInputs};
use crate::runtime::observe::Observatory;
use crate::runtime::options::RunOptions;
use crate::runtime::report::{DeadLetters, RunReport};
use crate::runtime::staged::StagedFile;
use crate::Abort;
use std::path::PathBuf;
use std::sync::Arc;

/// The outcome of a run.
#[derive(Debug)]
pub struct RunResult {
    /// What unconnected outputs collected.
    pub outputs: CollectedOutputs,
    /// Counts, timings, restarts, dead letters.
    pub report: RunReport,
    /// Which part this process played.
    pub role: Role,
    /// The provenance document written (`--provenance`): its record counts.
    pub provenance: Option<crate::provenance::prov_json::DocumentCounts>,
}

/// The part a process plays in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It ran the whole run, or coordinated it: it has the outputs and the full report.
    Coordinator,
    /// One worker of a multi-process run (an MPI rank other than 0): outputs and report are
    /// the coordinator's.
    Worker {
        /// Its rank.
        rank: usize,
    },
}

/// Runs a graph with a mapping. See the [module documentation](self).
pub struct Runner<'g> {
    graph: &'g WorkflowGraph,
    mapping: Mapping,
    options: RunOptions,
    inputs: InputSource,
    output_file: Option<PathBuf>,
    redis_url: Option<String>,
    job: Option<String>,
}

impl<'g> Runner<'g> {
    /// `simple`, `-n 1`, `-i 1`, outputs kept in memory.
    pub fn new(graph: &'g WorkflowGraph) -> Self {
        Runner {
            graph,
            mapping: Mapping::Simple,
            options: RunOptions::default(),
            inputs: InputSource::Iterations(1),
            output_file: None,
            redis_url: None,
            job: None,
        }
    }

    /// The mapping to use.
    pub fn mapping(mut self, mapping: Mapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// `-n`.
    pub fn processes(mut self, n: usize) -> Self {
        self.options.processes = n;
        self
    }

    /// `-i`.
    pub fn iterations(mut self, n: u64) -> Self {
        self.inputs = InputSource::Iterations(n);
        self
    }

    /// `-d`: JSON root inputs.
    pub fn data(mut self, json: impl Into<String>) -> Self {
        self.inputs = InputSource::Json { text: json.into(), source_name: "-d".into() };
        self
    }

    /// Root inputs.
    pub fn inputs(mut self, inputs: InputSource) -> Self {
        self.inputs = inputs;
        self
    }

    /// All options at once.
    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Changes options in place.
    pub fn configure(mut self, f: impl FnOnce(&mut RunOptions)) -> Self {
        f(&mut self.options);
        self
    }

    /// `-o FILE`: stream collected outputs to a JSON Lines file instead of memory.
    pub fn output_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.output_file = Some(path.into());
        self
    }

    /// Observes the run with `observatory`: every instance records live metrics (to the
    /// installed `metrics` recorder, if any) and timelines, sampled every
    /// `observatory.interval()`, workers of a multi-process run included. Call
    /// [`Observatory::finish`] with the run's report afterwards for the timelines.
    ///
    /// ```
    /// use dispel4rs::runtime::observe::Observatory;
    /// use dispel4rs::{Producer, Runner, WorkflowGraph};
    /// use std::time::Duration;
    /// let mut g = WorkflowGraph::new("one");
    /// g.add(Producer::new("numbers", |_, out| out.write("output", 1))).unwrap();
    /// let observatory = Observatory::new(Duration::from_millis(100));
    /// let result = Runner::new(&g).iterations(3).observe(observatory.clone()).run().unwrap();
    /// let seen = observatory.finish(&result.report);
    /// assert_eq!(seen.instances[0].points.last().unwrap().units_in, 3);
    /// ```
    pub fn observe(mut self, observatory: Arc<Observatory>) -> Self {
        self.options.observe.enabled = true;
        self.options.observe.sample_interval = observatory.interval();
        self.options.observe.live = Some(observatory);
        self
    }

    /// The Redis mappings: the server (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://` for TLS). Without it, `REDIS_URL`; without that, a private `redis-server`
    /// for the run.
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// The Redis mappings: the job's id (default: random). Workers join with `--join ID`.
    pub fn job(mut self, id: impl Into<String>) -> Self {
        self.job = Some(id.into());
        self
    }

    #[cfg(feature = "redis")]
    fn redis_args(&self) -> Result<crate::runtime::pool::redis::coordinator::RedisArgs, RunError> {
        let url = dispel4rs_transports::redis::RedisUrl::from_arg_or_env(self.redis_url.as_deref())?;
        Ok(crate::runtime::pool::redis::coordinator::RedisArgs {
            url,
            job: self.job.clone(),
            spawn: self.options.cluster.spawn,
        })
    }

    /// The plan this runner would enact (for a dynamic mapping, [`Plan::pooled`]: `-n` is
    /// the number of workers).
    pub fn plan(&self) -> Result<Plan, RunError> {
        self.mapping.plan(self.graph, &self.options)
    }

    /// The mapping chosen.
    pub fn mapping_kind(&self) -> Mapping {
        self.mapping
    }

    /// Runs to the end of every stream.
    ///
    /// Under `mpi` every rank calls this; `-n` (if not 0) must match the number of ranks,
    /// and a failure on any rank prints why and aborts the whole MPI job (one rank cannot
    /// finalise MPI alone).
    pub fn run(mut self) -> Result<RunResult, RunError> {
        if let Err(reason) = self.mapping.availability() {
            return Err(RunError::Unavailable { mapping: self.mapping, reason });
        }
        dispel4rs_actors::supervision::quiet_supervised_panics();
        #[cfg(feature = "mpi")]
        if self.mapping == Mapping::Mpi {
            return self.run_mpi();
        }
        self.options.validate()?;
        let prepared = self.prepare(false)?;
        let started_us = crate::provenance::time::Clock::new().now_micros();
        if let Some(p) = &mut self.options.provenance {
            p.prepare(&prepared.plan, false)?;
        }
        let observatory = self.options.observe.observatory().cloned();
        if let Some(o) = &observatory {
            o.start(None);
        }
        let result = self.run_prepared(prepared, started_us);
        if let Some(o) = &observatory {
            o.stop();
        }
        result
    }

    fn run_prepared(&self, prepared: Prepared, started_us: i64) -> Result<RunResult, RunError> {
        let Prepared { plan, inputs, collector, dead, files } = prepared;
        warn_placement(&plan);
        let result = match self.mapping {
            Mapping::Simple => simple::run(&plan, &inputs, &self.options, collector, dead.clone())?,
            Mapping::Multi => multi::run(&plan, &inputs, &self.options, collector, dead.clone())?,
            Mapping::DynMulti => dyn_multi::run(&plan, &inputs, &self.options, collector, dead.clone())?,
            Mapping::DynAutoMulti => {
                dyn_auto_multi::run(&plan, &inputs, &self.options, collector, dead.clone())?
            }
            #[cfg(feature = "redis")]
            m @ (Mapping::DynRedis | Mapping::DynAutoRedis | Mapping::HybridRedis) => {
                use crate::mapping::{dyn_auto_redis, dyn_redis, hybrid_redis};
                let run = match m {
                    Mapping::DynRedis => dyn_redis::run,
                    Mapping::DynAutoRedis => dyn_auto_redis::run,
                    _ => hybrid_redis::run,
                };
                let redis = self.redis_args()?;
                run(&plan, &self.inputs, &inputs, &self.options, collector, dead.clone(), redis)?
            }
            #[cfg(feature = "zmq")]
            Mapping::ZmqMulti => crate::mapping::zmq_multi::run_coordinator(
                &plan,
                &self.inputs,
                &inputs,
                &self.options,
                collector,
                dead.clone(),
            )?,
            other => return Err(RunError::Unavailable { mapping: other, reason: "not built yet" }),
        };
        let provenance = self.write_provenance(&plan, started_us)?;
        finish(result, &dead, files).map(|r| RunResult { provenance, ..r })
    }

    /// The coordinator's end of a run with `--provenance`: the merged document.
    fn write_provenance(
        &self,
        plan: &Plan,
        started_us: i64,
    ) -> Result<Option<crate::provenance::prov_json::DocumentCounts>, RunError> {
        let Some(p) = &self.options.provenance else { return Ok(None) };
        let counts = crate::provenance::write_run_document(
            &self.options,
            p,
            plan,
            self.mapping,
            &self.inputs,
            started_us,
        )?;
        Ok(Some(counts))
    }

    #[cfg(feature = "mpi")]
    fn run_mpi(mut self) -> Result<RunResult, RunError> {
        self.options.validate()?;
        let world = crate::mapping::mpi::init(&self.options)?;
        let rank = world.rank;
        // Rank 0 observes the run; the others send it their samples (`runtime::cluster`).
        let observatory = match rank {
            0 => self.options.observe.observatory().cloned(),
            _ => {
                self.options.observe.live = None;
                None
            }
        };
        if let Some(o) = &observatory {
            o.start(None);
        }
        let result = self.run_mpi_ranks(world);
        if let Some(o) = &observatory {
            o.stop();
        }
        result
    }

    #[cfg(feature = "mpi")]
    fn run_mpi_ranks(mut self, world: crate::mapping::mpi::World) -> Result<RunResult, RunError> {
        let (rank, size) = (world.rank, world.size);
        let prepared = match self.options.processes {
            0 => {
                self.options.processes = size;
                self.prepare(rank != 0)
            }
            n if n != size => {
                Err(RunError::Plan(crate::plan::PlanError::RankMismatch { asked: n, ranks: size }))
            }
            _ => self.prepare(rank != 0),
        };
        let started_us = crate::provenance::time::Clock::new().now_micros();
        let prepared = prepared.and_then(|p| {
            if let Some(prov) = &mut self.options.provenance {
                // Every rank names the same parts directory; rank 0 clears what an earlier
                // run may have left there.
                prov.prepare(&p.plan, true)?;
                if rank == 0 {
                    let _ = std::fs::remove_dir_all(&prov.parts_dir);
                }
            }
            Ok(p)
        });
        let Prepared { plan, inputs, collector, dead, files } = match prepared {
            Ok(p) => p,
            // The same command line on every rank gives the same plan or input error
            // everywhere: every rank finalises MPI and reports it.
            Err(
                e @ (RunError::Plan(_) | RunError::Input(_) | RunError::Options(_) | RunError::Provenance(_)),
            ) => {
                drop(world);
                return Err(e);
            }
            // Anything else may hit this rank only: the whole job must stop.
            Err(e) => {
                eprintln!("error: mpi rank {rank} of {size}: {e}");
                let code = if matches!(e, RunError::Io { .. }) { 2 } else { 1 };
                world.abort(code);
            }
        };
        if rank == 0 {
            warn_placement(&plan);
        }
        match crate::mapping::mpi::run(world, &plan, &inputs, &self.options, Some(collector), dead.clone())? {
            Some(result) => {
                let provenance = self.write_provenance(&plan, started_us)?;
                finish(result, &dead, files).map(|r| RunResult { provenance, ..r })
            }
            None => {
                let report = RunReport { mapping: Mapping::Mpi.name().into(), ..RunReport::default() };
                Ok(RunResult {
                    outputs: CollectedOutputs::default(),
                    report,
                    role: Role::Worker { rank },
                    provenance: None,
                })
            }
        }
    }

    /// Plan, root inputs, collector (a worker writes no output file) and dead letters.
    fn prepare(&self, worker: bool) -> Result<Prepared, RunError> {
        let plan = self.plan()?;
        let inputs = RootInputs::resolve(&plan, &self.inputs)?;
        for root in &inputs.unnamed_roots {
            tracing::warn!("root '{root}' has no input in -d/-f: it will not be called");
        }
        // Both files are staged: written beside their target and put in place when the run
        // has ended (an input named as an output is read intact; an aborted run leaves the
        // previous files).
        let output = if worker { None } else { self.output_file.as_deref().map(StagedFile::new) };
        let dead_file = self.options.dead_letter_file.as_deref().map(StagedFile::new);
        let collector = match &output {
            Some(staged) => Collector::json_lines(staged.path()).map_err(|e| {
                RunError::io(format!("cannot create output file {}", staged.target().display()), e)
            })?,
            None => Collector::memory(),
        }
        .traced(self.options.provenance.is_some());
        let dead = Arc::new(
            DeadLetters::new(self.options.dead_letters_kept, dead_file.as_ref().map(StagedFile::path))
                .map_err(|e| {
                    let name =
                        dead_file.as_ref().map_or_else(String::new, |f| format!(" {}", f.target().display()));
                    RunError::io(format!("cannot create the dead-letter file{name}"), e)
                })?,
        );
        Ok(Prepared { plan, inputs, collector, dead, files: OutputFiles { output, dead: dead_file } })
    }
}

struct Prepared {
    plan: Plan,
    inputs: RootInputs,
    collector: Collector,
    dead: Arc<DeadLetters>,
    files: OutputFiles,
}

/// The staged output files of a run (removed unless the run ends).
struct OutputFiles {
    output: Option<StagedFile>,
    dead: Option<StagedFile>,
}

fn output_failed(what: &str, path: &std::path::Path, e: std::io::Error) -> RunError {
    RunError::Aborted(Abort::output(format!("cannot write {what} {}: {e}", path.display())))
}

/// Adds the dead letters to a mapping's result and puts the output files in place.
/// Logs what [`crate::runtime::advice::plan_warnings`] finds.
fn warn_placement(plan: &Plan) {
    for w in crate::runtime::advice::plan_warnings(plan) {
        tracing::warn!("{w}");
    }
}

fn finish(
    result: crate::mapping::MappingResult,
    dead: &DeadLetters,
    files: OutputFiles,
) -> Result<RunResult, RunError> {
    let OutputFiles { output, dead: dead_file } = files;
    if let Some(f) = &dead_file {
        dead.flush().map_err(|e| output_failed("the dead-letter file", f.target(), e))?;
    } else {
        dead.flush().map_err(|e| RunError::Aborted(Abort::output(format!("dead letters: {e}"))))?;
    }
    let mut outputs = result.outputs;
    if let Some(f) = output {
        let target = f.target().to_owned();
        f.commit().map_err(|e| output_failed("output file", &target, e))?;
        outputs.file = Some(target);
    }
    if let Some(f) = dead_file {
        let target = f.target().to_owned();
        f.commit().map_err(|e| output_failed("the dead-letter file", &target, e))?;
    }
    let mut report = result.report;
    for s in &report.suggestions {
        tracing::warn!("{s}");
    }
    report.dead_letters_total = dead.total();
    report.dead_letters = dead.kept();
    Ok(RunResult { outputs, report, role: Role::Coordinator, provenance: None })
}
