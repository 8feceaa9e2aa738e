//! The command line every workflow binary shares. A workflow's `main` builds its graph and
//! hands it over, so the same binary runs under every mapping:
//!
//! ```no_run
//! use dispel4rs::{GraphError, WorkflowGraph};
//! fn graph() -> Result<WorkflowGraph, GraphError> {
//!     let g = WorkflowGraph::new("mine");
//!     // ... add and connect PEs ...
//!     Ok(g)
//! }
//! fn main() {
//!     dispel4rs::cli::main(graph())
//! }
//! ```
//!
//! `<workflow> <mapping> [-n N] [-i N | -d JSON | -f FILE] [-o FILE] [--graph dot|mermaid|svg]
//! [--plan] [--report FILE.json|FILE.html] [--report-csv DIR] [--metrics HOST:PORT]`
//!
//! Exit status: 0 success; 1 the run failed (data dead-lettered, an instance given up, a
//! `postprocess` failed, a mapping aborted); 2 bad input (options, JSON, graph, plan);
//! 3 the mapping is not available in this build.

use crate::graph::WorkflowGraph;
use crate::mapping::{Mapping, RunError};
use crate::runner::{RunResult, Runner};
use crate::runtime::inputs::InputSource;
use crate::runtime::options::RunOptions;
use crate::validate;
use clap::builder::PossibleValue;
use clap::{Parser, ValueEnum};
use std::ffi::OsString;
use std::fmt::Display;
use std::path::PathBuf;
use std::time::Duration;

/// Exit status: the run failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad input.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit status: the mapping is not available in this build.
pub const EXIT_UNAVAILABLE: i32 = 3;

impl ValueEnum for Mapping {
    fn value_variants<'a>() -> &'a [Self] {
        &Mapping::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self.availability() {
            Ok(()) => self.description().to_owned(),
            Err(why) => format!("{} [{why}]", self.description()),
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

/// Picture formats for `--graph` (of the abstract graph, or with `--plan` of the plan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
    /// A standalone SVG picture.
    Svg,
}

/// The defaults of every option: [`RunOptions::default`], the one place they are set.
fn defaults() -> RunOptions {
    RunOptions::default()
}

/// The options of a workflow binary.
#[derive(Debug, Parser)]
#[command(
    about = "Run this dispel4rs workflow with the chosen mapping.",
    after_help = "Roots run -i times (default 1) unless -d/-f give their input: a JSON object keyed by root PE \
                  name, whose value is a number of calls or a list of objects (one call per object). \
                  -f wins over -d, which wins over -i.\n\
                  `<workflow> --trace FILE [ID]` prints the provenance chain of output ID (without ID: lists the outputs).\n\
                  Exit status: 0 success, 1 run failed (dead letters, given-up instance, failed postprocess, \
                  aborted), 2 bad input, 3 mapping not available in this build."
)]
pub struct Args {
    /// How to enact the graph.
    #[arg(value_enum)]
    pub mapping: Mapping,

    /// Number of processes (slots) to plan for [1..=65536] [default: 1 for simple, the ranks
    /// for mpi, the number of cores otherwise].
    #[arg(short = 'n', long = "num")]
    pub num: Option<usize>,

    /// Call every root N times with no input.
    #[arg(short = 'i', long = "iter", value_name = "N")]
    pub iterations: Option<u64>,

    /// Root inputs as JSON, e.g. '{"read": [{"path": "a.txt"}]}'.
    #[arg(short = 'd', long = "data", value_name = "JSON")]
    pub data: Option<String>,

    /// Root inputs from a JSON file (same shape as -d).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Write collected outputs to FILE as JSON Lines {"pe", "port", "data"} instead of printing them.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the abstract graph and exit (with --plan: a picture of the plan).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub graph: Option<GraphFormat>,

    /// Print the plan (instances, placement, routes) and exit; with --graph, as a picture.
    #[arg(long)]
    pub plan: bool,

    /// Exactly N instances of PE, as if its spec said numprocesses(N) (repeatable; -n
    /// 1..=65536 as bound). No rebuild needed: try a value, look at --plan.
    #[arg(long, value_name = "PE=N", value_parser = crate::plan::tuning::parse_numprocesses)]
    pub numprocesses: Vec<(String, usize)>,

    /// Treat PE as blocking, as if its spec said blocking(): a thread of its own per
    /// instance, and a place of its own in the plan when slots run short (repeatable).
    #[arg(long, value_name = "PE")]
    pub blocking: Vec<String>,

    /// Data units per batch on every hop [1..=1000000].
    #[arg(long, default_value_t = defaults().batch_size, value_name = "N",
          value_parser = |s: &str| validate::BATCH_SIZE.parse::<usize>(s))]
    pub batch_size: usize,

    /// A batch is also sent on once its units take this many bytes [1024..=33554432].
    #[arg(long, default_value_t = defaults().batch_bytes, value_name = "BYTES",
          value_parser = |s: &str| validate::BATCH_BYTES.parse::<usize>(s))]
    pub batch_bytes: usize,

    /// Send a root's partial batch on after this many milliseconds [0..=3600000].
    #[arg(long, default_value_t = defaults().flush_interval.as_millis() as u64, value_name = "MS",
          value_parser = |s: &str| validate::FLUSH_MS.parse::<u64>(s))]
    pub flush_ms: u64,

    /// Batches a mailbox holds before its senders wait (actor mappings) [1..=4096].
    #[arg(long, default_value_t = defaults().mailbox_batches, value_name = "N",
          value_parser = |s: &str| validate::MAILBOX.parse::<usize>(s))]
    pub mailbox: usize,

    /// Retries of a failed data unit before it is dead-lettered [0..=1000].
    #[arg(long, default_value_t = defaults().max_retries, value_name = "N",
          value_parser = |s: &str| validate::RETRIES.parse::<u32>(s))]
    pub retries: u32,

    /// Full batches of a failing attempt held back so that its retry repeats none of them;
    /// 0 sends them at once [0..=1024].
    #[arg(long, default_value_t = defaults().retry_hold_batches, value_name = "N",
          value_parser = |s: &str| validate::RETRY_HOLD.parse::<usize>(s))]
    pub retry_hold: usize,

    /// Restarts allowed per instance within --restart-window-ms before it is given up
    /// [0..=1000000].
    #[arg(long, default_value_t = defaults().restart.max_restarts, value_name = "N",
          value_parser = |s: &str| validate::MAX_RESTARTS.parse::<u32>(s))]
    pub max_restarts: u32,

    /// The window for --max-restarts [1..=86400000].
    #[arg(long, default_value_t = defaults().restart.window.as_millis() as u64, value_name = "MS",
          value_parser = |s: &str| validate::RESTART_WINDOW_MS.parse::<u64>(s))]
    pub restart_window_ms: u64,

    /// Exit with status 0 even if data units were dead-lettered.
    #[arg(long)]
    pub allow_dead_letters: bool,

    /// Write every dead letter to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub dead_letters: Option<PathBuf>,

    /// Write the run report to FILE: a self-contained HTML page if FILE ends in .html (graph,
    /// tables, charts over time), JSON otherwise.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write the run report's tables as CSV files into DIR (pes.csv, instances.csv,
    /// timeline.csv); DIR is created if missing.
    #[arg(long, value_name = "DIR")]
    pub report_csv: Option<PathBuf>,

    /// Serve the run's metrics in the Prometheus text format at http://HOST:PORT/metrics while
    /// it runs (a PORT alone binds 127.0.0.1; port 0 picks a free one, printed on stderr).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,

    /// How often timelines are sampled, and workers report to the coordinator, in an observed
    /// run (--metrics, an HTML or CSV report, a progress line) [10..=60000].
    #[arg(long, default_value_t = defaults().observe.sample_interval.as_millis() as u64, value_name = "MS",
          value_parser = |s: &str| validate::SAMPLE_MS.parse::<u64>(s))]
    pub sample_ms: u64,

    /// No progress line, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Record provenance (which unit came from which, through which PE instance, when) and
    /// write it to FILE as W3C PROV-JSON. `<workflow> --trace FILE [ID]` prints the chain of
    /// one output back to its root input.
    #[arg(long, value_name = "FILE", help_heading = "Provenance")]
    pub provenance: Option<PathBuf>,

    /// Record only these PEs (comma-separated names); the others pass ids on [default: all].
    #[arg(
        long,
        value_name = "PE,PE",
        value_delimiter = ',',
        requires = "provenance",
        help_heading = "Provenance"
    )]
    pub provenance_pes: Vec<String>,

    /// zmq_multi: where the coordinator listens for workers [default: tcp://127.0.0.1:0].
    #[arg(long, value_name = "ADDRESS", help_heading = "zmq_multi")]
    pub listen: Option<String>,

    /// zmq_multi, dyn_redis: how many worker processes to start on this machine [default:
    /// zmq_multi -n − 1; dyn_redis -n (one worker each, or --workers each)]; 0 waits for
    /// workers started by hand with --join [0..=65535] (at most -n).
    #[arg(long, value_name = "N", help_heading = "zmq_multi",
          value_parser = |s: &str| validate::SPAWN.parse::<usize>(s))]
    pub spawn: Option<usize>,

    /// zmq_multi: the file holding the run secret every process must prove; the coordinator
    /// creates it (readable by its owner only) if it does not exist. Without it the secret
    /// comes from DISPEL4RS_SECRET (64 hex digits), or the coordinator makes one for the
    /// workers it starts.
    #[arg(long, value_name = "FILE", help_heading = "zmq_multi")]
    pub secret_file: Option<PathBuf>,

    /// zmq_multi: do not authenticate data frames (only to measure what it costs: anyone who
    /// reaches a data socket can then inject frames into the run).
    #[arg(long, hide = true, help_heading = "zmq_multi")]
    pub insecure_no_frame_mac: bool,

    /// zmq_multi: run as a worker of the coordinator listening at ADDRESS; dyn_redis,
    /// dyn_auto_redis, hybrid_redis: join the job with this id (the coordinator prints it) at
    /// --redis. The coordinator sends the graph's options and inputs.
    #[arg(long, value_name = "ADDRESS|JOB", help_heading = "zmq_multi")]
    pub join: Option<String>,

    /// zmq_multi: the host or interface this process's data socket binds to.
    #[arg(long, default_value_t = defaults().cluster.bind_host, value_name = "HOST", help_heading = "zmq_multi")]
    pub bind_host: String,

    /// zmq_multi, mpi: seconds to wait for every process to join [1..=86400].
    #[arg(long, default_value_t = defaults().cluster.join_timeout.as_secs(), value_name = "S", help_heading = "zmq_multi",
          value_parser = |s: &str| validate::JOIN_TIMEOUT_S.parse::<u64>(s))]
    pub join_timeout_s: u64,

    /// zmq_multi, mpi: a process silent for this long is declared lost and the run fails
    /// [500..=86400000].
    #[arg(long, default_value_t = defaults().cluster.peer_timeout.as_millis() as u64, value_name = "MS", help_heading = "zmq_multi",
          value_parser = |s: &str| validate::PEER_TIMEOUT_MS.parse::<u64>(s))]
    pub peer_timeout_ms: u64,

    /// dyn_redis: the Redis server, redis://[user:password@]host:port[/db] or rediss://...
    /// [default: REDIS_URL; without it a private redis-server for the run].
    #[arg(long, value_name = "URL", help_heading = "Redis mappings")]
    pub redis: Option<String>,

    /// dyn_redis: the job's id (letters, digits, - and _) [default: random].
    #[arg(long, value_name = "ID", help_heading = "Redis mappings")]
    pub job: Option<String>,

    /// dyn_redis: worker actors per worker process (with --join: in this process; 0 joins with
    /// none, for autoscaling to add) [0..=4096].
    #[arg(long, value_name = "N", help_heading = "Redis mappings",
          value_parser = |s: &str| validate::WORKERS.parse::<usize>(s))]
    pub workers: Option<usize>,

    /// dyn_redis: a task claimed this long ago and not committed is taken over by another
    /// worker (its worker is presumed dead) [100..=86400000].
    #[arg(long, default_value_t = defaults().redis.claim_idle.as_millis() as u64, value_name = "MS", help_heading = "Redis mappings",
          value_parser = |s: &str| validate::CLAIM_IDLE_MS.parse::<u64>(s))]
    pub claim_idle_ms: u64,

    /// dyn_redis: connecting to Redis, and every command, time out after this long [100..=3600000].
    #[arg(long, default_value_t = defaults().redis.timeout.as_millis() as u64, value_name = "MS", help_heading = "Redis mappings",
          value_parser = |s: &str| validate::REDIS_TIMEOUT_MS.parse::<u64>(s))]
    pub redis_timeout_ms: u64,

    /// dyn_auto_multi: the fewest workers (the pool starts with this many) [1..=65536].
    #[arg(long, default_value_t = defaults().pool.min_workers, value_name = "N", help_heading = "dynamic mappings",
          value_parser = |s: &str| validate::MIN_WORKERS.parse::<usize>(s))]
    pub min_workers: usize,

    /// dyn_auto_multi: how often the load is measured and the pool resized [1..=3600000].
    #[arg(long, default_value_t = defaults().pool.scale_interval.as_millis() as u64, value_name = "MS", help_heading = "dynamic mappings",
          value_parser = |s: &str| validate::SCALE_INTERVAL_MS.parse::<u64>(s))]
    pub scale_interval_ms: u64,

    /// dyn_*: a task (a batch of one PE's units) is cut to take about this long at the PE's
    /// measured cost per unit [1..=60000000].
    #[arg(long, default_value_t = defaults().pool.task_target.as_micros() as u64, value_name = "US", help_heading = "dynamic mappings",
          value_parser = |s: &str| validate::TASK_US.parse::<u64>(s))]
    pub task_us: u64,

    /// dyn_*: data units the task queue holds before roots wait [default: --mailbox ×
    /// --batch-size × -n] [1..=4294967296].
    #[arg(long, value_name = "N", help_heading = "dynamic mappings",
          value_parser = |s: &str| validate::QUEUE_UNITS.parse::<u64>(s))]
    pub queue_units: Option<u64>,

    /// Print neither the collected outputs nor the report.
    #[arg(short, long)]
    pub quiet: bool,

    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Args {
    /// The run options these arguments ask for.
    pub fn run_options(&self) -> RunOptions {
        let default_n = match self.mapping {
            Mapping::Simple => 1,
            // The number of ranks mpirun started.
            Mapping::Mpi => 0,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut o = RunOptions {
            processes: self.num.unwrap_or(default_n),
            batch_size: self.batch_size.max(1),
            batch_bytes: self.batch_bytes,
            retry_hold_batches: self.retry_hold,
            flush_interval: Duration::from_millis(self.flush_ms),
            max_retries: self.retries,
            allow_dead_letters: self.allow_dead_letters,
            dead_letter_file: self.dead_letters.clone(),
            mailbox_batches: self.mailbox.max(1),
            ..RunOptions::default()
        };
        o.restart.max_restarts = self.max_restarts;
        o.restart.window = Duration::from_millis(self.restart_window_ms);
        if let Some(listen) = &self.listen {
            o.cluster.listen = listen.clone();
        }
        o.cluster.bind_host = self.bind_host.clone();
        o.cluster.spawn = self.spawn;
        o.cluster.join_timeout = Duration::from_secs(self.join_timeout_s);
        o.cluster.peer_timeout = Duration::from_millis(self.peer_timeout_ms);
        o.pool.min_workers = self.min_workers.max(1);
        o.pool.scale_interval = Duration::from_millis(self.scale_interval_ms.max(1));
        o.pool.task_target = Duration::from_micros(self.task_us.max(1));
        o.pool.queue_units = self.queue_units;
        o.redis.claim_idle = Duration::from_millis(self.claim_idle_ms.max(1));
        o.redis.timeout = Duration::from_millis(self.redis_timeout_ms.max(1));
        o.redis.workers_per_process = self.workers.map(|w| w.max(1));
        o.cluster.secret_file = self.secret_file.clone();
        o.tuning = crate::plan::PeTuning {
            numprocesses: self.numprocesses.clone(),
            blocking: self.blocking.clone(),
        };
        o.cluster.authenticate_frames = !self.insecure_no_frame_mac;
        o.observe.sample_interval = Duration::from_millis(self.sample_ms);
        o.observe.enabled = self.observed();
        o.provenance = self
            .provenance
            .as_ref()
            .map(|f| crate::provenance::ProvenanceOptions::new(f).only(self.provenance_pes.iter().cloned()));
        o
    }

    /// True if the run is observed: `--metrics`, an HTML report, CSV tables, or a progress
    /// line (standard error a terminal, neither `--quiet` nor `--no-progress`).
    pub fn observed(&self) -> bool {
        self.metrics.is_some() || self.html_report() || self.report_csv.is_some() || self.progress()
    }

    /// True if `--report` names an HTML file.
    pub fn html_report(&self) -> bool {
        self.report.as_deref().is_some_and(crate::render::is_html_path)
    }

    /// True if a progress line is drawn.
    pub fn progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.quiet && !self.no_progress && std::io::stderr().is_terminal()
    }

    /// Checks what parsing alone cannot: options against each other (`--spawn` within
    /// `-n`, `-o`, `--dead-letters` and `--report` on files of their own).
    pub fn validate(&self) -> Result<(), validate::OptionError> {
        self.run_options().validate()?;
        validate::check_distinct_outputs(&[
            ("-o", self.output.as_deref()),
            ("--dead-letters", self.dead_letters.as_deref()),
            ("--report", self.report.as_deref()),
            ("--provenance", self.provenance.as_deref()),
        ])
    }

    /// The root inputs these arguments ask for (`-f` over `-d` over `-i`).
    pub fn input_spec(&self) -> Result<InputSource, String> {
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read -f {}: {e}", path.display()))?;
            return Ok(InputSource::Json { text, source_name: format!("-f {}", path.display()) });
        }
        if let Some(text) = &self.data {
            return Ok(InputSource::Json { text: text.clone(), source_name: "-d".into() });
        }
        Ok(InputSource::Iterations(self.iterations.unwrap_or(1)))
    }
}

fn init_logging(verbose: u8) {
    // PE messages (`Output::log`, target `dispel4rs::pe`) are shown by default.
    let default = match verbose {
        0 => "warn,dispel4rs::pe=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_writer(|| crate::runtime::observe::progress::LogWriter)
        .with_env_filter(filter)
        .try_init();
}

/// Runs the command line on `graph` and exits with the status described in the
/// [module documentation](self). A graph that failed to build is reported with status 2.
pub fn main<E: Display>(graph: Result<WorkflowGraph, E>) -> ! {
    let code = match graph {
        Ok(g) => execute(&g, std::env::args_os()),
        Err(e) => {
            eprintln!("error: the workflow graph could not be built: {e}");
            EXIT_BAD_INPUT
        }
    };
    std::process::exit(code)
}

/// Runs the command line `args` (program name first) on `graph`; returns the exit status.
pub fn execute(graph: &WorkflowGraph, args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> i32 {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(code) = crate::provenance::trace::run_cli(&args) {
        return code;
    }
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
        }
    };
    init_logging(args.verbose);
    dispel4rs_actors::supervision::quiet_supervised_panics();
    if let (Some(format), false) = (args.graph, args.plan) {
        match format {
            GraphFormat::Dot => print!("{}", graph.to_dot()),
            GraphFormat::Mermaid => print!("{}", graph.to_mermaid()),
            GraphFormat::Svg => print!("{}", crate::render::graph::workflow(graph).to_svg_file("workflow")),
        }
        return 0;
    }
    if let Err(reason) = args.mapping.availability() {
        eprintln!("error: mapping '{}' is {reason} in this build of dispel4rs.", args.mapping);
        eprintln!("Available now: {}", available_mappings());
        return EXIT_UNAVAILABLE;
    }
    if let Some(join) = &args.join {
        return run_worker(graph, &args, join);
    }
    if let Err(e) = args.validate() {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    let options = args.run_options();
    let runner = Runner::new(graph).mapping(args.mapping).options(options.clone());
    if args.plan {
        return match runner.plan() {
            Ok(plan) => {
                match args.graph {
                    None => print!("{}", plan.describe()),
                    Some(GraphFormat::Dot) => print!("{}", plan.to_dot()),
                    Some(GraphFormat::Mermaid) => print!("{}", plan.to_mermaid()),
                    Some(GraphFormat::Svg) => {
                        print!("{}", crate::render::graph::plan_instances(&plan).to_svg_file("plan"))
                    }
                }
                0
            }
            Err(e) => report_error(&e),
        };
    }
    let inputs = match args.input_spec() {
        Ok(i) => i,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut runner = runner.inputs(inputs);
    if let Some(path) = &args.output {
        runner = runner.output_file(path.clone());
    }
    if let Some(url) = &args.redis {
        runner = runner.redis(url.clone());
    }
    if let Some(job) = &args.job {
        runner = runner.job(job.clone());
    }
    // An observed run: this process observes it, unless it is an MPI rank other than 0 (whose
    // samples go to rank 0, which serves the metrics and writes the reports).
    let observer =
        match (options.observe.enabled, args.mapping == Mapping::Mpi && mpi_rank_from_env() != Some(0)) {
            (true, false) => match Observer::start(graph, &args) {
                Ok(o) => Some(o),
                Err(code) => return code,
            },
            _ => None,
        };
    if let Some(o) = &observer {
        runner = runner.observe(o.observatory.clone());
    }
    let outcome = runner.run();
    let observation = observer.map(|o| o.finish(outcome.as_ref().ok().map(|r| &r.report)));
    match outcome {
        Ok(result) => finish(graph, &args, &options, &result, observation.flatten().as_ref()),
        Err(e) => report_error(&e),
    }
}

/// The rank of this process in an MPI job, as its launcher tells it (Open MPI, MPICH/Hydra,
/// PMIx, Slurm), before MPI is initialised.
fn mpi_rank_from_env() -> Option<usize> {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// What observes a run from the command line: the observatory, the metrics endpoint and the
/// progress line.
struct Observer {
    observatory: std::sync::Arc<crate::runtime::observe::Observatory>,
    progress: Option<crate::runtime::observe::progress::Progress>,
}

impl Observer {
    /// Checks the report directory, serves `--metrics`, starts the progress line; on bad
    /// input, the exit status.
    fn start(graph: &WorkflowGraph, args: &Args) -> Result<Observer, i32> {
        if let Some(dir) = &args.report_csv {
            if let Err(e) = crate::render::csv::check_dir(dir) {
                eprintln!("error: --report-csv {}: cannot write the tables there: {e}", dir.display());
                return Err(EXIT_BAD_INPUT);
            }
        }
        if let Some(addr) = &args.metrics {
            match crate::runtime::observe::prometheus::serve(addr) {
                Ok(endpoint) if !args.quiet => eprintln!("metrics: Prometheus text at {}", endpoint.url()),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    return Err(EXIT_BAD_INPUT);
                }
            }
        }
        let observatory = crate::runtime::observe::Observatory::new(Duration::from_millis(args.sample_ms));
        let progress = if args.progress() {
            let sinks = graph
                .pes()
                .filter(|p| !graph.connections().iter().any(|c| c.from == p.id))
                .map(|p| p.name.to_owned())
                .collect();
            crate::runtime::observe::progress::Progress::start(observatory.clone(), sinks)
        } else {
            None
        };
        Ok(Observer { observatory, progress })
    }

    /// Erases the progress line; the timelines of the run, if it ended.
    fn finish(
        self,
        report: Option<&crate::runtime::report::RunReport>,
    ) -> Option<crate::runtime::observe::Observation> {
        if let Some(p) = self.progress {
            p.finish();
        }
        match report {
            Some(r) => Some(self.observatory.finish(r)),
            None => {
                self.observatory.finish(&crate::runtime::report::RunReport::default());
                None
            }
        }
    }
}

/// A `zmq_multi` worker: everything but the coordinator's address comes from the coordinator.
fn run_worker(graph: &WorkflowGraph, args: &Args, join: &str) -> i32 {
    #[cfg(feature = "zmq")]
    if args.mapping == Mapping::ZmqMulti {
        let worker = crate::runtime::secret::worker_secret("zmq_multi", args.secret_file.as_deref())
            .and_then(|secret| {
                crate::mapping::zmq_multi::run_worker(
                    graph,
                    join,
                    &args.bind_host,
                    Duration::from_secs(args.join_timeout_s),
                    &secret,
                )
            });
        return match worker {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: zmq_multi worker (pid {}): {e}", std::process::id());
                exit_status(&e)
            }
        };
    }
    #[cfg(feature = "redis")]
    if matches!(args.mapping, Mapping::DynRedis | Mapping::DynAutoRedis | Mapping::HybridRedis) {
        let url = match dispel4rs_transports::redis::RedisUrl::from_arg_or_env(args.redis.as_deref()) {
            Ok(Some(u)) => u,
            Ok(None) => {
                eprintln!("error: --join {join} needs the job's Redis server: --redis URL or REDIS_URL");
                return EXIT_BAD_INPUT;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        let workers = args.workers.unwrap_or(1);
        let joined = crate::runtime::secret::worker_secret(args.mapping.name(), args.secret_file.as_deref())
            .and_then(|secret| {
                crate::runtime::pool::redis::worker::join(graph, join, &url, workers, &secret)
            });
        return match joined {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {} worker (pid {}): {e}", args.mapping, std::process::id());
                report_error(&e)
            }
        };
    }
    let _ = (graph, join);
    eprintln!("error: --join is for the zmq_multi and Redis mappings, not {}", args.mapping);
    EXIT_BAD_INPUT
}

fn available_mappings() -> String {
    Mapping::ALL.iter().filter(|m| m.availability().is_ok()).map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

fn report_error(e: &RunError) -> i32 {
    eprintln!("error: {e}");
    exit_status(e)
}

/// The exit status for a run that ended with `e`.
fn exit_status(e: &RunError) -> i32 {
    match e {
        RunError::Plan(_) | RunError::Input(_) | RunError::Options(_) | RunError::Stateful { .. } => {
            EXIT_BAD_INPUT
        }
        #[cfg(feature = "redis")]
        RunError::Redis(_) => EXIT_BAD_INPUT,
        RunError::Startup(_) => EXIT_BAD_INPUT,
        // Files that cannot be opened before the run; a write failing later is an abort.
        RunError::Io { .. } => EXIT_BAD_INPUT,
        RunError::Unavailable { .. } => EXIT_UNAVAILABLE,
        RunError::Aborted(_) => EXIT_FAILED,
        RunError::Provenance(e) if e.is_bad_input() => EXIT_BAD_INPUT,
        RunError::Provenance(_) => EXIT_FAILED,
    }
}

/// Writes `--report` (HTML or JSON) and `--report-csv`; false if a file could not be written.
fn write_reports(
    graph: &WorkflowGraph,
    args: &Args,
    options: &RunOptions,
    result: &RunResult,
    observation: Option<&crate::runtime::observe::Observation>,
) -> bool {
    let needs_plan = args.html_report() || args.report_csv.is_some();
    let plan = needs_plan.then(|| {
        // The plan the run enacted: its options (tuning included), and the processes it
        // had (an MPI job's ranks).
        let mut options = options.clone();
        options.processes = result.report.processes;
        Runner::new(graph).mapping(args.mapping).options(options).plan()
    });
    let plan = match plan {
        Some(Ok(plan)) => Some(plan),
        Some(Err(e)) => {
            eprintln!("error: cannot draw the run's plan for its report: {e}");
            return false;
        }
        None => None,
    };
    let view = plan.as_ref().map(|plan| crate::render::RunView { report: &result.report, plan, observation });
    let mut ok = true;
    if let Some(path) = &args.report {
        let text = match (&view, args.html_report()) {
            (Some(view), true) => crate::render::html::page(view),
            _ => result.report.to_value().to_json() + "\n",
        };
        if let Err(e) = crate::runtime::staged::StagedFile::write_whole(path, text.as_bytes()) {
            eprintln!("error: cannot write the report to {}: {e}", path.display());
            ok = false;
        }
    }
    if let (Some(dir), Some(view)) = (&args.report_csv, &view) {
        if let Err(e) = crate::render::csv::write(view, dir) {
            eprintln!("error: cannot write the report's tables to {}: {e}", dir.display());
            ok = false;
        }
    }
    ok
}

fn finish(
    graph: &WorkflowGraph,
    args: &Args,
    options: &RunOptions,
    result: &RunResult,
    observation: Option<&crate::runtime::observe::Observation>,
) -> i32 {
    if let crate::runner::Role::Worker { .. } = result.role {
        // The coordinator prints the outputs and the report, and sets the exit status.
        return 0;
    }
    if !args.quiet {
        match &result.outputs.file {
            Some(path) => {
                eprintln!("Wrote {} collected data unit(s) to {}", result.outputs.total, path.display())
            }
            None => println!("{}", result.outputs.summary()),
        }
        eprint!("{}", result.report.to_table());
        if let (Some(counts), Some(path)) = (&result.provenance, &args.provenance) {
            use crate::provenance::part::Kind;
            eprintln!(
                "Wrote provenance to {}: {} entities, {} activities, {} agents ({} bytes)",
                path.display(),
                counts.of(Kind::Entity),
                counts.of(Kind::Activity),
                counts.of(Kind::Agent),
                counts.bytes
            );
        }
    }
    if !write_reports(graph, args, options, result, observation) {
        return EXIT_FAILED;
    }
    let postprocess_failed = result.report.instances.iter().any(|i| i.stats.postprocess_error.is_some());
    let supervised_failures = result.report.dead_letters_total > 0
        || result.report.instances.iter().any(|i| i.stats.gave_up.is_some());
    if postprocess_failed || (supervised_failures && !options.allow_dead_letters) {
        eprintln!(
            "error: the run had failures ({} dead letter(s){}); see the report above",
            result.report.dead_letters_total,
            if postprocess_failed { ", a postprocess failed" } else { "" }
        );
        return EXIT_FAILED;
    }
    0
}
