//! The coordinator of a Redis job: the process the user starts with `dyn_redis` or
//! `dyn_auto_redis`. It makes the job (a fresh namespace and its manifest), starts local
//! worker processes, runs the roots (each on a thread of its own, their tasks admitted while
//! what is queued stays under `--queue-units`), and reads the job's events in commit order:
//! every committed task's effects feed the end-of-stream counts
//! ([`crate::runtime::termination::PeTermination`], as in `dyn_multi`), the collector and the
//! dead letters; the requests for `postprocess` it decides go to the worker processes'
//! control streams. It watches the processes (a local child that exits, a heartbeat that
//! stops) and answers for a lost one; `dyn_auto_redis` resizes the pool with the scaling
//! policy. At the end — success, failure or Ctrl-C — it stops the workers and deletes every
//! key of the job.

use super::protocol::{self, Control, Effects, EntryError, Event, JobManifest, Seal};
use super::worker::unix_ms;
use crate::abort::{Abort, AbortReason};
use crate::mapping::{Mapping, RunError};
use crate::plan::{CollectName, Plan};
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::inputs::{InputSource, RootInputs};
use crate::runtime::launch::{Manifest, WorkerProcesses};
use crate::runtime::log_limit::{Level, RateLimitedLog};
use crate::runtime::options::RunOptions;
use crate::runtime::pool::backend::{Backend, InstanceEnd, TaskDone, WorkerClock};
use crate::runtime::pool::roots;
use crate::runtime::pool::task::{Task, TaskCosts};
use crate::runtime::pool::Scaling;
use crate::runtime::report::{DeadLetter, DeadLetters, InstanceReport, PoolReport};
use crate::runtime::secret::coordinator_secret;
use crate::runtime::termination::{PeEvent, PeTermination};
use crate::value::Value;
use dispel4rs_actors::pool::{worker_seconds, WorkerId};
use dispel4rs_actors::scaling::{Load, Scaler, ScalingDecision, ScalingPolicy};
use dispel4rs_transports::auth::{random_bytes, SECRET_ENV};
use dispel4rs_transports::queue::redis::RedisQueue;
use dispel4rs_transports::queue::Claim;
use dispel4rs_transports::redis::{client, JobKeys, RedisConn, RedisError, RedisUrl};
use dispel4rs_transports::redis_server::PrivateRedis;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Set by SIGINT / SIGTERM while a coordinator runs: it stops the job and cleans up.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn catch_interrupts() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// How the coordinator reaches Redis and names its job.
pub(crate) struct RedisArgs {
    /// `--redis` / `REDIS_URL`; `None`: a private server for the run.
    pub url: Option<RedisUrl>,
    /// `--job`; `None`: a random id.
    pub job: Option<String>,
    /// `--spawn`: worker processes to start on this machine.
    pub spawn: Option<usize>,
}

/// A worker process of the job, as the coordinator knows it.
#[derive(Clone, Debug)]
struct Process {
    pid: u32,
    host: String,
    /// The workers it should have.
    target: usize,
}

/// The coordinator's own bookkeeping, under one lock.
struct Books {
    termination: PeTermination,
    /// Units queued (or running) per PE: the backlog, and the roots' admission.
    queued: Vec<u64>,
    queued_total: u64,
    processes: BTreeMap<u32, Process>,
    /// Worker numbers seen in events, to answer for a lost process.
    workers: BTreeSet<usize>,
    /// Which process runs a `postprocess` asked of any worker, per PE.
    anywhere: BTreeMap<usize, u32>,
    reports: Vec<InstanceReport>,
    units_per_worker: BTreeMap<usize, u64>,
    busy_ns: u64,
    timeline: Vec<(Duration, usize)>,
    outcome: Option<Result<(), Abort>>,
    ended_at: Option<Duration>,
    /// `hybrid_redis`: the pinned instances (global ids) each process holds.
    pins: BTreeMap<u32, Vec<usize>>,
    last_unit: Duration,
}

/// See the [module documentation](self).
pub(crate) struct Coordinator {
    plan: Arc<Plan>,
    options: RunOptions,
    costs: TaskCosts,
    keys: JobKeys,
    /// Seals what the coordinator writes, checks the events it reads.
    seal: Seal,
    /// Entries not made with the run's secret, removed or ignored (by any process).
    rejected: AtomicU64,
    rejected_log: RateLimitedLog,
    books: Mutex<Books>,
    room: Condvar,
    capacity: u64,
    /// For control messages and the roots' tasks.
    writer: Mutex<RedisConn>,
    collector: Mutex<Option<Collector>>,
    dead: Arc<DeadLetters>,
    started: Instant,
    waited_ns: AtomicU64,
    max_workers: usize,
}

/// The abort for a failed Redis command. A command cut short by Ctrl-C (its blocking read
/// returns `EINTR` once the handler has run) is the interruption, not a lost server.
fn redis_abort(e: RedisError) -> Abort {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return interrupted();
    }
    let reason = if e.is_lost() { AbortReason::PeerLost } else { AbortReason::Transport };
    Abort::new(reason, e.to_string())
}

/// The abort of a run stopped by Ctrl-C (or SIGTERM).
fn interrupted() -> Abort {
    Abort::new(AbortReason::Requested, "interrupted (Ctrl-C): the job is stopped and its keys deleted")
}

impl Coordinator {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn writer(&self) -> MutexGuard<'_, RedisConn> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn control(&self, process: u32, control: &Control) {
        let key = self.keys.key(&format!("ctl:{process}"));
        let bytes = match self.seal.encode(&key, control) {
            Ok(b) => b,
            Err(e) => return self.stop(Abort::internal(format!("cannot encode a control message: {e}"))),
        };
        if let Err(e) = self.writer().append(&key, "c", &bytes) {
            self.stop(redis_abort(e));
        }
    }

    /// Counts `count` entries not made with the run's secret, and logs them at a bounded rate.
    fn reject(&self, count: u64, message: impl FnOnce() -> String) {
        self.rejected.fetch_add(count, Ordering::Relaxed);
        self.rejected_log.event("", Level::Warn, message);
    }

    /// Acts on end-of-stream events; called with the books locked.
    fn dispatch(&self, books: &mut Books, events: Vec<PeEvent>) {
        for event in events {
            match event {
                PeEvent::Postprocess { pe, workers } => {
                    for w in workers {
                        let control = Control::Postprocess { pe: pe as u32, worker: Some(w as u64) };
                        self.control(protocol::process_of(w), &control);
                    }
                }
                PeEvent::PostprocessAnywhere { pe } => self.anywhere(books, pe),
                PeEvent::RunEnded => {
                    if books.outcome.is_none() {
                        books.outcome = Some(Ok(()));
                        books.ended_at = Some(self.started.elapsed());
                        // Wake the event reader at once.
                        let events = self.keys.key("events");
                        if let Ok(b) = self.seal.encode(&events, &Event::Wake) {
                            let _ = self.writer().append(&events, "e", &b);
                        }
                    }
                }
            }
        }
    }

    /// Asks a live process with workers for the `postprocess` of PE `pe`, made by any worker.
    fn anywhere(&self, books: &mut Books, pe: usize) {
        let chosen = books.processes.iter().find(|(_, p)| p.target > 0).map(|(id, _)| *id);
        match chosen {
            Some(process) => {
                books.anywhere.insert(pe, process);
                self.control(process, &Control::Postprocess { pe: pe as u32, worker: None });
            }
            None => self.stop_locked(
                books,
                Abort::new(
                    AbortReason::PeerLost,
                    format!(
                        "no worker process is left to run the postprocess of {}",
                        self.plan.pes()[pe].name
                    ),
                ),
            ),
        }
    }

    fn stop(&self, why: Abort) {
        let mut books = self.books();
        self.stop_locked(&mut books, why);
    }

    fn stop_locked(&self, books: &mut Books, why: Abort) {
        if books.outcome.is_none() {
            tracing::error!("run aborted ({}): {why}", why.reason());
            books.outcome = Some(Err(why));
        }
        self.room.notify_all();
    }

    fn record_pool(&self, books: &mut Books) {
        let size = books.processes.values().map(|p| p.target).sum();
        if books.timeline.last().map(|(_, n)| *n) != Some(size) {
            books.timeline.push((self.started.elapsed(), size));
        }
    }

    /// Applies a committed task's (or postprocess's) effects.
    fn apply_effects(&self, books: &mut Books, worker: usize, effects: Effects) {
        books.workers.insert(worker);
        for p in &effects.pushes {
            let pe = p.pe as usize;
            books.termination.pushed(pe, p.tasks);
            if let Some(q) = books.queued.get_mut(pe) {
                *q += p.units;
            }
            books.queued_total += p.units;
        }
        for pe in &effects.created {
            books.termination.instance_created(*pe as usize, worker);
        }
        match protocol::decode_collected(&effects.collected) {
            Ok(collected) => {
                for (name, mut units) in collected {
                    if let Err(e) = self.collect_units(&name, &mut units) {
                        self.stop_locked(books, e);
                    }
                }
            }
            Err(e) => self.stop_locked(
                books,
                Abort::new(AbortReason::Protocol, format!("unreadable collected units: {e}")),
            ),
        }
        if effects.dead_total > 0 {
            let letters = protocol::decode_dead(&effects.dead).unwrap_or_default();
            let (total, kept) = (effects.dead_total, letters.len() as u64);
            for l in letters {
                self.dead.record(l);
            }
            if total > kept {
                self.dead.merge(total - kept, Vec::new());
            }
        }
    }

    fn apply(&self, event: Event, watched: &mut BTreeMap<u32, u32>) {
        let mut books = self.books();
        let books = &mut *books;
        match event {
            Event::Hello { process, pid, host, workers } => {
                tracing::info!(
                    "worker process {process} (pid {pid} on {host}) joined with {workers} worker(s)"
                );
                watched.insert(pid, process);
                books.processes.insert(process, Process { pid, host, target: workers as usize });
                self.control(process, &Control::Costs { ns_per_unit: self.costs.snapshot() });
                self.record_pool(books);
            }
            Event::Refused { pid, host, why } => {
                tracing::warn!("refused a worker process (pid {pid} on {host}): {why}");
                eprintln!("refused a worker process (pid {pid} on {host}): {why}");
            }
            Event::Done { pe, worker, units, busy_ns, effects } => {
                let (pe, worker) = (pe as usize, worker as usize);
                self.apply_effects(books, worker, effects);
                if let Some(q) = books.queued.get_mut(pe) {
                    *q = q.saturating_sub(units);
                }
                books.queued_total = books.queued_total.saturating_sub(units);
                books.busy_ns += busy_ns;
                *books.units_per_worker.entry(worker).or_default() += units;
                books.last_unit = self.started.elapsed();
                self.costs.record(pe, units as usize, Duration::from_nanos(busy_ns));
                let events = books.termination.done(pe);
                self.dispatch(books, events);
                self.room.notify_all();
            }
            Event::Postprocessed { pe, worker, effects, instances } => {
                let (pe, worker) = (pe as usize, worker as usize);
                self.instance_ended(books, worker, effects, instances);
                books.anywhere.remove(&pe);
                let events = books.termination.postprocessed(pe, worker);
                self.dispatch(books, events);
            }
            Event::Left { pe, worker, effects, instances } => {
                let (pe, worker) = (pe as usize, worker as usize);
                self.instance_ended(books, worker, effects, instances);
                let events = books.termination.worker_left(pe, worker);
                self.dispatch(books, events);
            }
            Event::Corrupt { lane, worker, error } => {
                let pe = self.plan.pes().get(lane as usize).map_or_else(|| "?".into(), |p| p.name.clone());
                self.dead.record(DeadLetter {
                    pe,
                    instance: worker as usize,
                    port: Arc::from("(task entry)"),
                    unit: Value::Null,
                    error: format!("a corrupt task entry in the job's stream was removed: {error}"),
                    attempts: 0,
                });
            }
            Event::Rejected { worker, count, error } => self
                .reject(count, || format!("worker {worker} removed {count} entry(ies) of the job: {error}")),
            Event::Failed { process, why } => {
                let name = books.processes.get(&process).map_or_else(
                    || format!("worker process {process}"),
                    |p| format!("worker process {process} (pid {} on {})", p.pid, p.host),
                );
                self.stop_locked(books, Abort::new(AbortReason::PeerFailed, format!("{name} failed: {why}")));
            }
            Event::Wake => {}
            Event::Samples { process, sample } => {
                if let Some(observatory) = self.options.observe.observatory() {
                    observatory.ingest(process, sample);
                }
            }
        }
    }

    /// A worker's instances of a PE have run their `postprocess`: what that wrote, and their
    /// counters.
    fn instance_ended(
        &self,
        books: &mut Books,
        worker: usize,
        effects: Effects,
        instances: Vec<protocol::InstanceWire>,
    ) {
        self.apply_effects(books, worker, effects);
        books.reports.extend(instances.into_iter().map(protocol::InstanceWire::into_report));
        books.last_unit = self.started.elapsed();
    }

    /// A worker process is gone (its child exited, or its heartbeat stopped): its workers'
    /// state is lost; the bookkeeping stops waiting for them, and what they had claimed is
    /// taken over by the others after `--claim-idle-ms`.
    fn lost(&self, process: u32, why: &str) {
        let mut books = self.books();
        let books = &mut *books;
        let Some(p) = books.processes.remove(&process) else { return };
        let held = books.pins.get(&process).cloned().unwrap_or_default();
        if !held.is_empty() && books.outcome.is_none() {
            // The state of a pinned instance lives in that process only: it cannot be rebuilt.
            let names: Vec<String> = held
                .iter()
                .map(|g| {
                    let placed = self.plan.instances()[*g];
                    format!("{}[{}]", self.plan.pes()[placed.pe].name, placed.index)
                })
                .collect();
            self.stop_locked(
                books,
                Abort::new(
                    AbortReason::PeerLost,
                    format!(
                        "worker process {process} (pid {} on {}) is lost ({why}) with the pinned instances it held: {}",
                        p.pid,
                        p.host,
                        names.join(", ")
                    ),
                ),
            );
            return;
        }
        tracing::warn!(
            "worker process {process} (pid {} on {}) is lost ({why}); the others carry on",
            p.pid,
            p.host
        );
        eprintln!(
            "dispel4rs: worker process {process} (pid {} on {}) is lost ({why}); its tasks are taken over",
            p.pid, p.host
        );
        self.record_pool(books);
        let gone: Vec<usize> =
            books.workers.iter().copied().filter(|w| protocol::process_of(*w) == process).collect();
        for w in gone {
            for pe in books.termination.held_by(w) {
                let events = books.termination.worker_left(pe, w);
                self.dispatch(books, events);
            }
        }
        let orphaned: Vec<usize> =
            books.anywhere.iter().filter(|(_, p)| **p == process).map(|(pe, _)| *pe).collect();
        for pe in orphaned {
            self.anywhere(books, pe);
        }
        if books.processes.is_empty() && books.outcome.is_none() {
            self.stop_locked(
                books,
                Abort::new(AbortReason::PeerLost, format!("no worker process is left ({why})")),
            );
        }
    }

    fn collect_units(&self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        match self.collector.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(c) => {
                c.push(name, units).map_err(|e| Abort::output(format!("cannot write collected outputs: {e}")))
            }
            None => Ok(()),
        }
    }

    /// `hybrid_redis`: gives every pinned instance to a process, round robin over the live
    /// ones (several share a process when there are fewer processes than instances); the
    /// process's first worker holds them.
    fn pin(&self) {
        let mut books = self.books();
        let books = &mut *books;
        let ids: Vec<u32> = books.processes.keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        let pinned: Vec<usize> = (0..self.plan.instances().len())
            .filter(|g| self.plan.is_pinned(self.plan.instances()[*g].pe))
            .collect();
        for (i, g) in pinned.iter().enumerate() {
            let process = ids[i % ids.len()];
            books.pins.entry(process).or_default().push(*g);
            let holder = protocol::worker_id(process, 0);
            books.workers.insert(holder);
            books.termination.instance_created(self.plan.instances()[*g].pe, holder);
        }
        let assignments: Vec<(u32, Vec<usize>)> = books.pins.iter().map(|(p, g)| (*p, g.clone())).collect();
        for (process, globals) in assignments {
            let instances = globals.iter().map(|g| *g as u32).collect();
            self.control(process, &Control::Pin { instances });
        }
    }

    /// Distributes `total` workers over the live processes.
    fn set_pool_size(&self, total: usize) {
        let mut books = self.books();
        let ids: Vec<u32> = books.processes.keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        for (i, id) in ids.iter().enumerate() {
            let share = total / ids.len() + usize::from(i < total % ids.len());
            if let Some(p) = books.processes.get_mut(id) {
                if p.target != share {
                    p.target = share;
                    self.control(*id, &Control::Workers { target: share as u32 });
                }
            }
        }
        self.record_pool(&mut books);
    }
}

impl Backend for Coordinator {
    type Receipt = ();
    type Effects = ();
    type Local = ();

    fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    fn options(&self) -> &RunOptions {
        &self.options
    }

    fn costs(&self) -> &TaskCosts {
        &self.costs
    }

    fn max_workers(&self) -> usize {
        self.max_workers
    }

    fn dead_letters(&self, _: WorkerId) -> Arc<DeadLetters> {
        self.dead.clone()
    }

    fn clock(&self) -> Arc<WorkerClock> {
        Arc::new(WorkerClock::default())
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn touch(&self) {}

    fn claim(&self, _: &mut (), _: WorkerId, _: Duration, _: &dyn Fn() -> bool) -> Claim<Task, ()> {
        Claim::Closed
    }

    /// A root's units: counted, then queued, once what is queued is under the capacity.
    fn push(
        &self,
        _: &mut (),
        to: usize,
        port: usize,
        units: &mut Vec<Value>,
        admitted: bool,
    ) -> Result<(), Abort> {
        let pe = self.plan.instances()[to].pe;
        let size = self.costs.task_units(pe);
        let stream = protocol::stream_of(&self.plan, &self.keys, to);
        for chunk in units.chunks(size) {
            {
                let mut books = self.books();
                let start = Instant::now();
                while admitted && books.outcome.is_none() && books.queued_total >= self.capacity {
                    books = self.room.wait(books).unwrap_or_else(|p| p.into_inner());
                }
                self.waited_ns.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if books.outcome.is_some() {
                    return Err(Abort::stopping("the job is over"));
                }
                books.termination.pushed(pe, 1);
                books.queued[pe] += chunk.len() as u64;
                books.queued_total += chunk.len() as u64;
            }
            let bytes = self.seal.seal(&stream, protocol::encode_task(pe, to, port, chunk));
            self.writer().append(&stream, "t", &bytes).map_err(redis_abort)?;
        }
        units.clear();
        Ok(())
    }

    fn collect(&self, _: &mut (), name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        self.collect_units(name, units)
    }

    fn instance_created(&self, _: &mut (), _: usize, _: WorkerId) {}

    fn task_done(&self, _: &mut (), (): (), _: TaskDone<'_>, (): ()) {}

    fn postprocessed(&self, _: &mut (), _: InstanceEnd<'_>, (): ()) {}

    fn left(&self, _: &mut (), _: InstanceEnd<'_>, (): ()) {}

    fn root_ended(&self, pe: usize, (): (), report: InstanceReport) {
        let mut books = self.books();
        books.reports.push(report);
        let events = books.termination.root_ended(pe);
        self.dispatch(&mut books, events);
    }

    fn abort(&self, why: Abort) {
        self.stop(why);
    }

    fn is_over(&self) -> bool {
        self.books().outcome.is_some()
    }
}

/// A random job id (16 hex digits).
fn random_job() -> String {
    let bytes = random_bytes::<8>().unwrap_or_else(|_| {
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        ((t as u64) ^ (u64::from(std::process::id()) << 32)).to_le_bytes()
    });
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the run gives back.
pub(crate) struct Outcome {
    pub tail: Option<Duration>,
    pub instances: Vec<InstanceReport>,
    pub outputs: Option<std::io::Result<CollectedOutputs>>,
    pub pool: PoolReport,
    /// Entries not made with the run's secret, removed or ignored.
    pub rejected: u64,
    /// Each process's peak resident memory, by name.
    pub process_peaks: Vec<(String, u64)>,
}

/// The worker processes the coordinator starts, and the secret they get.
pub(crate) struct Spawned<'a> {
    count: Option<usize>,
    secret: &'a dispel4rs_transports::auth::RunSecret,
}

/// Runs a pooled `plan` as a Redis job. See the [module documentation](self).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    mapping: Mapping,
    plan: &Plan,
    source: &InputSource,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    scaling: Scaling,
    args: RedisArgs,
) -> Result<Outcome, RunError> {
    let timeout = options.redis.timeout;
    // Lives until the end of the run.
    let mut private: Option<PrivateRedis> = None;
    let url = match args.url {
        Some(u) => u,
        None => {
            let server = PrivateRedis::start(None).map_err(|e| RunError::Startup(e.to_string()))?;
            eprintln!(
                "{mapping}: no --redis or REDIS_URL given: started a private redis-server at {} for this run",
                server.url()
            );
            let u = server.url().clone();
            private = Some(server);
            u
        }
    };
    let mut conn = url
        .connect(timeout.min(Duration::from_secs(2)).max(Duration::from_millis(200)))
        .map_err(RunError::Redis)?;
    let job = args.job.unwrap_or_else(random_job);
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(RunError::Startup(format!("--job '{job}': use letters, digits, '-' and '_'")));
    }
    let keys = JobKeys::new(&job);
    if conn.job_key_count(&keys).map_err(RunError::Redis)? > 0 {
        return Err(RunError::Startup(format!("job '{job}' already exists at {url}: choose another --job")));
    }
    let secret =
        coordinator_secret(mapping.name(), options.cluster.secret_file.as_deref(), args.spawn == Some(0))?;
    let shared_secret = options.cluster.secret_file.is_some() || std::env::var_os(SECRET_ENV).is_some();
    let seal = Seal::new(&secret);
    let manifest = JobManifest {
        manifest: Manifest::new(options, source),
        fingerprint: plan.fingerprint(),
        mapping: mapping.name().to_owned(),
    };
    let bytes = seal
        .encode(&keys.key("manifest"), &manifest)
        .map_err(|e| RunError::Startup(format!("cannot encode the job's manifest: {e}")))?;
    let result = (|| {
        let _: client::Value = conn
            .query("SET", client::cmd("SET").arg(keys.key("manifest")).arg(&bytes))
            .map_err(RunError::Redis)?;
        let _: client::Value = conn
            .query("HSET", client::cmd("HSET").arg(keys.key("alive")).arg("c").arg(unix_ms()))
            .map_err(RunError::Redis)?;
        RedisQueue::create_lanes(&mut conn, &keys, plan.pes().len()).map_err(RunError::Redis)?;
        let pins: Vec<String> = (0..plan.instances().len())
            .filter(|g| plan.is_pinned(plan.instances()[*g].pe))
            .map(|g| protocol::stream_of(plan, &keys, g))
            .collect();
        RedisQueue::create_streams(&mut conn, &pins).map_err(RunError::Redis)?;
        if shared_secret {
            eprintln!(
                "{mapping}: job {job} at {url}; more workers can join with: <this program> {mapping} --join {job} \
                 --redis <url> and this run's --secret-file or {SECRET_ENV}"
            );
        } else {
            eprintln!(
                "{mapping}: job {job} at {url}; workers started by hand could not prove this run's secret \
                 (give the coordinator --secret-file FILE to let them join)"
            );
        }
        let spawned = Spawned { count: args.spawn, secret: &secret };
        coordinate(
            mapping, plan, inputs, options, collector, dead, scaling, spawned, seal, &url, &keys, &mut conn,
        )
    })();
    // Whatever happened: no key of the job is left.
    let cleanup = url.connect(timeout).and_then(|mut c| c.delete_job(&keys));
    if let Err(e) = cleanup {
        eprintln!("{mapping}: could not delete the keys of job {job} at {url}: {e}");
    }
    drop(private);
    result
}

#[allow(clippy::too_many_arguments)]
fn coordinate(
    mapping: Mapping,
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
    scaling: Scaling,
    spawned: Spawned<'_>,
    seal: Seal,
    url: &RedisUrl,
    keys: &JobKeys,
    conn: &mut RedisConn,
) -> Result<Outcome, RunError> {
    let spawn = spawned.count;
    catch_interrupts();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let (min, max) = scaling.bounds();
    let initial = match scaling {
        Scaling::Fixed(n) => n.max(1),
        Scaling::Auto { min, .. } => min.max(1),
    };
    // Processes: one per worker by default for a fixed pool, one per core (at most -n) when
    // the pool scales; `--workers` per process when given.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_process = options.redis.workers_per_process.unwrap_or(match scaling {
        Scaling::Fixed(_) => 1,
        Scaling::Auto { .. } => max.div_ceil(cores.min(max).max(1)),
    });
    let processes = spawn.unwrap_or_else(|| max.div_ceil(per_process.max(1)));
    let capacity = options.queue_capacity(max);
    let writer = url.connect(options.redis.timeout).map_err(RunError::Redis)?;
    let coordinator = Arc::new(Coordinator {
        plan: Arc::new(plan.clone()),
        options: options.clone(),
        costs: TaskCosts::new(plan.pes().len(), options.pool.task_target, options.batch_size),
        keys: keys.clone(),
        seal,
        rejected: AtomicU64::new(0),
        rejected_log: RateLimitedLog::new("rejected entries", 5),
        books: Mutex::new(Books {
            termination: PeTermination::of_plan(plan),
            queued: vec![0; plan.pes().len()],
            queued_total: 0,
            processes: BTreeMap::new(),
            workers: BTreeSet::new(),
            anywhere: BTreeMap::new(),
            reports: Vec::new(),
            units_per_worker: BTreeMap::new(),
            busy_ns: 0,
            timeline: vec![(Duration::ZERO, 0)],
            outcome: None,
            ended_at: None,
            pins: BTreeMap::new(),
            last_unit: Duration::ZERO,
        }),
        room: Condvar::new(),
        capacity,
        writer: Mutex::new(writer),
        collector: Mutex::new(Some(collector)),
        dead,
        started: Instant::now(),
        waited_ns: AtomicU64::new(0),
        max_workers: max,
    });

    if let Some(observatory) = options.observe.observatory() {
        let (c, p) = (coordinator.clone(), coordinator.clone());
        let names = plan.pes().iter().map(|pe| pe.name.clone()).collect();
        observatory.watch_queue(names, Box::new(move || c.books().queued.clone()));
        observatory.watch_pool(Box::new(move || p.books().processes.values().map(|p| p.target).sum()));
    }

    // Local workers: this program again, the URL (and its password) in the environment.
    let shares: Vec<usize> = (0..processes)
        .map(|i| match scaling {
            Scaling::Fixed(n) => n / processes.max(1) + usize::from(i < n % processes.max(1)),
            Scaling::Auto { .. } => initial / processes.max(1) + usize::from(i < initial % processes.max(1)),
        })
        .collect();
    let job = &keys.prefix()["d4r:".len()..];
    let args: Vec<Vec<String>> = shares
        .iter()
        .map(|share| {
            [mapping.name(), "--join", job, "--workers", &share.to_string()]
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
        .collect();
    let env = vec![
        ("REDIS_URL".to_owned(), url.secret_form().to_owned()),
        (SECRET_ENV.to_owned(), spawned.secret.expose_hex()),
    ];
    let children = WorkerProcesses::spawn_each(&args, &env)?;
    if processes == 0 {
        eprintln!("{mapping}: waiting for worker processes to join (--spawn 0)");
    }
    let exits = children.exits();

    // hybrid_redis: the roots start once the pinned instances have their processes (what the
    // roots write for them waits in their streams meanwhile, but a PE that no unit reaches
    // must find its instances held when it is drained).
    let mut roots = Vec::new();
    let mut roots_started = false;
    let expected = processes.max(1);
    let mut scaler = match scaling {
        Scaling::Auto { interval, .. } => {
            Some((Scaler::new(ScalingPolicy::new(min, max, interval)), interval))
        }
        Scaling::Fixed(_) => None,
    };
    let mut decisions: Vec<ScalingDecision> = Vec::new();
    let mut last_tick = Instant::now();
    let (mut last_busy, mut last_waited, mut last_at) = (0u64, 0u64, Duration::ZERO);
    let mut last_id = "0-0".to_owned();
    let mut beat = Instant::now();
    let (mut costs_known, mut costs_sent) = (0usize, Instant::now());
    let mut watched: BTreeMap<u32, u32> = BTreeMap::new();
    let join_deadline = Instant::now() + options.cluster.join_timeout;
    let silence = options.cluster.peer_timeout.max(Duration::from_millis(500));
    let events_key = keys.key("events");
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            coordinator.stop(interrupted());
        }
        while let Ok((pid, why)) = exits.try_recv() {
            match watched.get(&pid).copied() {
                Some(process) => coordinator.lost(process, &why),
                None if !coordinator.is_over() => coordinator
                    .stop(Abort::new(AbortReason::PeerLost, format!("{why} before it joined the job"))),
                None => {}
            }
        }
        // What tasks cost, to every process: each cuts the tasks it writes for a PE it never
        // runs itself (a pinned one) by the measure of those who do. At once when a PE's
        // cost is first known, then every 200 ms.
        let costs = coordinator.costs.snapshot();
        let known = costs.iter().filter(|c| **c > 0.0).count();
        if known > costs_known || (known > 0 && costs_sent.elapsed() >= Duration::from_millis(200)) {
            (costs_known, costs_sent) = (known, Instant::now());
            let procs: Vec<u32> = coordinator.books().processes.keys().copied().collect();
            for p in procs {
                coordinator.control(p, &Control::Costs { ns_per_unit: costs.clone() });
            }
        }
        if beat.elapsed() >= Duration::from_millis(250) {
            beat = Instant::now();
            let now = unix_ms();
            let alive_key = keys.key("alive");
            let r: Result<client::Value, _> =
                conn.query("HSET", client::cmd("HSET").arg(&alive_key).arg("c").arg(now));
            if let Err(e) = r {
                coordinator.stop(redis_abort(e));
            }
            let alive: Result<BTreeMap<String, u64>, _> =
                conn.query("HGETALL", client::cmd("HGETALL").arg(&alive_key));
            match alive {
                Ok(alive) => {
                    let known: Vec<u32> = coordinator.books().processes.keys().copied().collect();
                    for p in known {
                        let last = alive.get(&p.to_string()).copied().unwrap_or(0);
                        if now.saturating_sub(last) > silence.as_millis() as u64 {
                            coordinator.lost(p, &format!("no heartbeat for {} ms", now.saturating_sub(last)));
                        }
                    }
                }
                Err(e) => coordinator.stop(redis_abort(e)),
            }
            let nobody = coordinator.books().processes.is_empty();
            if nobody && Instant::now() >= join_deadline && !coordinator.is_over() {
                coordinator.stop(Abort::new(
                    AbortReason::Startup,
                    format!(
                        "no worker process joined job {} within {:?}",
                        keys.prefix(),
                        options.cluster.join_timeout
                    ),
                ));
            }
        }
        if let Some((s, interval)) = scaler.as_mut() {
            if last_tick.elapsed() >= *interval {
                last_tick = Instant::now();
                let load = {
                    let books = coordinator.books();
                    let at = coordinator.started.elapsed();
                    let workers: usize = books.processes.values().map(|p| p.target).sum();
                    let backlog_ns: f64 = books
                        .queued
                        .iter()
                        .enumerate()
                        .map(|(pe, u)| {
                            *u as f64
                                * coordinator.costs.cost(pe).or(coordinator.costs.max_cost()).unwrap_or(0.0)
                        })
                        .sum();
                    let waited = coordinator.waited_ns.load(Ordering::Relaxed);
                    let load = Load {
                        at,
                        interval: at.saturating_sub(last_at),
                        workers,
                        busy: Duration::from_nanos(books.busy_ns.saturating_sub(last_busy)),
                        backlog_work: Duration::from_nanos(backlog_ns as u64),
                        backlog_tasks: books.termination_in_flight(),
                        producers_waited: Duration::from_nanos(waited.saturating_sub(last_waited)),
                    };
                    (last_busy, last_waited, last_at) = (books.busy_ns, waited, at);
                    load
                };
                if load.workers > 0 {
                    if let Some(d) = s.observe(&load) {
                        tracing::info!("pool {} -> {} workers ({})", d.from, d.to, d.reason.name());
                        coordinator.set_pool_size(d.to);
                        decisions.push(d);
                    }
                }
            }
        }
        if !roots_started {
            let ready = coordinator.books().processes.len() >= expected;
            if ready && !coordinator.is_over() {
                if plan.is_hybrid() {
                    coordinator.pin();
                }
                roots = roots::spawn(&coordinator, inputs).map_err(RunError::Aborted)?;
                roots_started = true;
            }
        }
        if coordinator.is_over() {
            break;
        }
        match conn.read_after(&events_key, &last_id, Duration::from_millis(50), 1000) {
            Ok(entries) => {
                for (id, fields) in entries {
                    last_id = id;
                    let Some((_, bytes)) = fields.into_iter().find(|(k, _)| k == "e") else { continue };
                    match coordinator.seal.decode::<Event>(&events_key, &bytes) {
                        Ok(event) => coordinator.apply(event, &mut watched),
                        Err(e @ EntryError::Forged { .. }) => {
                            coordinator.reject(1, || format!("ignored an event: {e}"))
                        }
                        Err(e) => tracing::warn!("ignored an event: {e}"),
                    }
                }
                let _: Result<client::Value, _> =
                    conn.query("XTRIM", client::cmd("XTRIM").arg(&events_key).arg("MINID").arg(&last_id));
            }
            Err(e) => coordinator.stop(redis_abort(e)),
        }
    }
    let (outcome, ended_at, last_unit) = {
        let books = coordinator.books();
        (books.outcome.clone(), books.ended_at, books.last_unit)
    };
    // Stop every process of the job, ours and those that joined.
    let procs: Vec<u32> = coordinator.books().processes.keys().copied().collect();
    for p in procs {
        coordinator.control(p, &Control::Shutdown);
    }
    coordinator.room.notify_all();
    let success = matches!(outcome, Some(Ok(())));
    children.finish(if success { Duration::from_secs(10) } else { Duration::from_secs(1) });
    if success {
        for r in roots {
            let _ = r.join();
        }
    }
    match outcome {
        Some(Ok(())) => {}
        Some(Err(why)) => return Err(RunError::Aborted(why)),
        None => return Err(RunError::Aborted(Abort::internal("the coordinator stopped without an outcome"))),
    }
    let ended = ended_at.unwrap_or_else(|| coordinator.started.elapsed());
    let mut books = coordinator.books();
    let timeline: Vec<(Duration, usize)> =
        books.timeline.iter().copied().filter(|(t, _)| *t <= ended).collect();
    let pool = PoolReport {
        min_workers: min,
        max_workers: max,
        worker_seconds: worker_seconds(&timeline, ended),
        timeline,
        decisions,
        units_per_worker: books.units_per_worker.iter().map(|(w, n)| (*w, *n)).collect(),
    };
    let mut instances = std::mem::take(&mut books.reports);
    let order = |name: &str| plan.pe_index(name).unwrap_or(usize::MAX);
    instances.sort_by_key(|i| (order(&i.pe), i.index));
    drop(books);
    let outputs =
        coordinator.collector.lock().unwrap_or_else(|p| p.into_inner()).take().map(Collector::finish);
    let rejected = coordinator.rejected.load(Ordering::Relaxed);
    // Every process's peak memory: the workers noted theirs in the job's `rss` hash (at each
    // heartbeat and when told to stop; the coordinator's own workers have exited by now).
    let mut process_peaks: Vec<(String, u64)> = Vec::new();
    if let Some(bytes) = crate::runtime::report::peak_rss_bytes() {
        process_peaks.push(("coordinator".to_owned(), bytes));
    }
    let noted: BTreeMap<u32, u64> =
        conn.query("HGETALL", client::cmd("HGETALL").arg(keys.key("rss"))).unwrap_or_default();
    for (process, bytes) in noted {
        process_peaks.push((format!("process {process}"), bytes));
    }
    Ok(Outcome {
        tail: Some(ended.saturating_sub(last_unit)),
        instances,
        outputs,
        pool,
        rejected,
        process_peaks,
    })
}

impl Books {
    /// Tasks in flight over every PE.
    fn termination_in_flight(&self) -> u64 {
        (0..self.queued.len()).map(|pe| self.termination.in_flight(pe)).sum()
    }
}
