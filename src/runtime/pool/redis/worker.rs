//! A worker process of a Redis job: `<workflow> dyn_redis --join JOB --redis URL --workers K`
//! (the coordinator starts its local ones the same way, the URL in the environment). It reads
//! the job's manifest, refuses to work if it runs another workflow or options, registers, and
//! hosts `K` worker actors of the dynamic engine whose backend is [`RedisWorkers`]: each claims
//! tasks from the job's streams with a connection of its own, and commits each task's
//! effects (output tasks, collected units, dead letters, the instances it made) with the
//! acknowledgement of its input in one atomic step. A control thread follows the
//! coordinator's orders (run a `postprocess`, resize, stop) and beats the process's
//! heartbeat; a process whose coordinator stops beating stops too.

use super::protocol::{self, Control, Effects, EntryError, Event, InstanceWire, JobManifest, Pushes, Seal};
use crate::abort::{Abort, AbortReason};
use crate::graph::WorkflowGraph;
use crate::mapping::{Mapping, RunError};
use crate::plan::{CollectName, Plan};
use crate::runtime::launch::hostname;
use crate::runtime::log_limit::{Level, RateLimitedLog};
use crate::runtime::observe::Observatory;
use crate::runtime::options::RunOptions;
use crate::runtime::pool::backend::{Backend, InstanceEnd, TaskDone, WorkerClock, WorkerMail};
use crate::runtime::pool::task::{Task, TaskCosts};
use crate::runtime::pool::worker::PeWorker;
use crate::runtime::report::DeadLetters;
use crate::validate::OptionError;
use crate::value::Value;
use dispel4rs_actors::pool::{Pool, WorkerId};
use dispel4rs_transports::auth::RunSecret;
use dispel4rs_transports::queue::redis::{Commit, Delivery, RedisQueue};
use dispel4rs_transports::queue::Claim;
use dispel4rs_transports::redis::{client, JobKeys, RedisConn, RedisError, RedisUrl};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Unix time in ms.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn redis_abort(e: RedisError) -> Abort {
    let reason = if e.is_lost() { AbortReason::PeerLost } else { AbortReason::Transport };
    Abort::new(reason, e.to_string())
}

/// What one task of a Redis job wrote, until it is committed.
#[derive(Default)]
pub(crate) struct RedisEffects {
    tasks: Vec<(String, Vec<u8>)>,
    pushes: BTreeMap<usize, (u64, u64)>,
    created: Vec<u32>,
    collected: Vec<(CollectName, Vec<Value>)>,
}

impl RedisEffects {
    fn into_parts(self, dead: &DeadLetters) -> (Vec<(String, Vec<u8>)>, Effects) {
        let letters = dead.take_kept();
        let effects = Effects {
            pushes: self
                .pushes
                .iter()
                .map(|(pe, (tasks, units))| Pushes { pe: *pe as u32, tasks: *tasks, units: *units })
                .collect(),
            created: self.created,
            collected: protocol::encode_collected(&self.collected),
            dead_total: letters.len() as u64,
            dead: protocol::encode_dead(&letters),
        };
        (self.tasks, effects)
    }
}

/// The backend of a worker process. See the [module documentation](self).
pub(crate) struct RedisWorkers {
    plan: Arc<Plan>,
    options: RunOptions,
    costs: TaskCosts,
    url: RedisUrl,
    keys: JobKeys,
    /// Seals what this process writes, checks what it reads.
    seal: Seal,
    process: u32,
    max_workers: usize,
    started: Instant,
    over: AtomicBool,
    failure: Mutex<Option<Abort>>,
    /// Consumers of this process's workers (to wake them).
    consumers: Mutex<Vec<String>>,
    /// For wake-ups and for events outside a commit.
    side: Mutex<Option<RedisConn>>,
    /// `hybrid_redis`: the pinned instances this process's first worker holds, and how many
    /// times they were set (that worker rebuilds its queue when they change).
    pins: Mutex<Vec<usize>>,
    pins_version: AtomicU64,
    last_unit_ns: AtomicU64,
}

impl RedisWorkers {
    fn side<T>(&self, f: impl FnOnce(&mut RedisConn) -> Result<T, RedisError>) -> Result<T, RedisError> {
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        if side.is_none() {
            *side = Some(self.url.connect(self.options.redis.timeout)?);
        }
        match side.as_mut() {
            Some(conn) => f(conn),
            None => unreachable!("connected above"),
        }
    }

    fn event(&self, event: &Event) -> Result<(), RedisError> {
        let key = self.keys.key("events");
        let bytes = self.seal.encode(&key, event).map_err(|e| RedisError::Reply {
            url: self.url.to_string(),
            what: "encode an event".into(),
            reply: e.to_string(),
        })?;
        self.side(|c| c.append(&key, "e", &bytes)).map(drop)
    }

    /// Wakes every worker of this process blocked in a claim.
    pub(crate) fn wake_all(&self) {
        let consumers = self.consumers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let keys = consumers.iter().map(|c| self.keys.key(&format!("wake:{c}"))).collect::<Vec<_>>();
        let _ = self.side(|conn| {
            for key in &keys {
                conn.append(key, "w", b"")?;
            }
            Ok(())
        });
    }

    /// Stops this process's workers (the job is over).
    pub(crate) fn stop(&self) {
        self.over.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn consumer_name(&self, worker: WorkerId) -> String {
        format!("{}.{}", self.process, protocol::actor_of(worker))
    }

    /// A queue for worker `worker`: the lanes of the pooled PEs, then (claimed first) the
    /// streams of the pinned instances it holds; and the pins' version it was made with.
    fn queue(&self, worker: WorkerId) -> Result<(RedisQueue, u64), RedisError> {
        let timeout = self.options.redis.timeout;
        let conn = self.url.connect(timeout)?;
        let consumer = self.consumer_name(worker);
        let version = self.pins_version.load(Ordering::SeqCst);
        let mut streams: Vec<String> = (0..self.plan.pes().len()).map(|pe| self.keys.lane(pe)).collect();
        streams
            .extend(self.pinned(worker).into_iter().map(|g| protocol::stream_of(&self.plan, &self.keys, g)));
        let claim_idle = self.options.redis.claim_idle;
        let q = RedisQueue::with_streams(conn, None, &self.keys, streams, &consumer, claim_idle)?;
        let mut consumers = self.consumers.lock().unwrap_or_else(|p| p.into_inner());
        if !consumers.contains(&consumer) {
            consumers.push(consumer);
        }
        Ok((q, version))
    }

    /// `hybrid_redis`: this process's first worker now holds `instances`.
    pub(crate) fn set_pins(&self, instances: Vec<usize>) {
        *self.pins.lock().unwrap_or_else(|p| p.into_inner()) = instances;
        self.pins_version.fetch_add(1, Ordering::SeqCst);
        self.wake_all();
    }

    fn commit(
        &self,
        queue: &RedisQueue,
        delivery: Option<&Delivery>,
        tasks: Vec<(String, Vec<u8>)>,
        event: &Event,
    ) {
        let event = match self.seal.encode(&self.keys.key("events"), event) {
            Ok(e) => e,
            Err(e) => return self.abort(Abort::internal(format!("cannot encode an event: {e}"))),
        };
        match queue.commit(delivery, &Commit { tasks, event }) {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                "a task taken over by another worker (this one was silent for over --claim-idle-ms) is not committed twice"
            ),
            Err(e) => self.abort(redis_abort(e)),
        }
    }

    /// Checks an entry read from `stream`: sealed with the run secret for that stream, a task
    /// of a PE that receives units, on one of its inputs, for an instance whose tasks go to
    /// that stream.
    fn task(&self, stream: &str, sealed: &[u8]) -> Result<Task, EntryError> {
        let bytes = self.seal.open(stream, sealed)?;
        let unreadable = |why: String| EntryError::Unreadable { key: stream.to_owned(), why };
        let (pe, instance, port, units) =
            protocol::decode_task(bytes).map_err(|e| unreadable(e.to_string()))?;
        let planned = self.plan.pes().get(pe).ok_or_else(|| unreadable(format!("no PE {pe} in the plan")))?;
        let fits = !planned.is_root
            && port < planned.inputs.len()
            && planned.instances.contains(&instance)
            && protocol::stream_of(&self.plan, &self.keys, instance) == stream;
        if !fits {
            return Err(unreadable(format!(
                "a task for PE {pe}, instance {instance}, port {port} does not belong there"
            )));
        }
        Ok(Task { pe, instance, port, units })
    }

    /// The failure that stopped this process, if any.
    pub(crate) fn failure(&self) -> Option<Abort> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Backend for RedisWorkers {
    type Receipt = Delivery;
    type Effects = RedisEffects;
    type Local = Option<(RedisQueue, u64)>;

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
        // Each worker its own, drained into every commit.
        Arc::new(DeadLetters::new(usize::MAX, None).unwrap_or_else(|_| unreachable!("no file to open")))
    }

    fn clock(&self) -> Arc<WorkerClock> {
        Arc::new(WorkerClock::default())
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn touch(&self) {
        self.last_unit_ns.fetch_max(self.now_ns(), Ordering::Relaxed);
    }

    fn pinned(&self, worker: WorkerId) -> Vec<usize> {
        if protocol::actor_of(worker) == 0 {
            self.pins.lock().unwrap_or_else(|p| p.into_inner()).clone()
        } else {
            Vec::new()
        }
    }

    fn claim(
        &self,
        local: &mut Option<(RedisQueue, u64)>,
        worker: WorkerId,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Claim<Task, Delivery> {
        if self.is_over() {
            return Claim::Closed;
        }
        let first = protocol::actor_of(worker) == 0;
        let stale =
            local.as_ref().is_some_and(|(_, v)| first && *v != self.pins_version.load(Ordering::SeqCst));
        if local.is_none() || stale {
            match self.queue(worker) {
                Ok(q) => *local = Some(q),
                Err(e) => {
                    self.abort(redis_abort(e));
                    return Claim::Closed;
                }
            }
        }
        let Some((queue, version)) = local.as_ref() else { return Claim::Closed };
        let version = *version;
        let pins_changed = || first && version != self.pins_version.load(Ordering::SeqCst);
        let over = || interrupted() || self.is_over() || pins_changed();
        match queue.try_claim(timeout, &over) {
            Ok(Claim::Task(bytes, delivery)) => match self.task(queue.stream(delivery.lane), &bytes) {
                Ok(task) => Claim::Task(task, delivery),
                Err(error) => {
                    let worker = worker as u64;
                    let event = match error {
                        EntryError::Forged { .. } => {
                            Event::Rejected { worker, count: 1, error: error.to_string() }
                        }
                        EntryError::Unreadable { .. } => {
                            Event::Corrupt { lane: delivery.lane as u32, worker, error: error.to_string() }
                        }
                    };
                    self.commit(queue, Some(&delivery), Vec::new(), &event);
                    Claim::TimedOut
                }
            },
            Ok(Claim::Interrupted) if self.is_over() => Claim::Closed,
            // The pins changed: claim again with the new streams.
            Ok(Claim::Interrupted) if !interrupted() => Claim::TimedOut,
            Ok(Claim::Interrupted) => Claim::Interrupted,
            Ok(Claim::TimedOut) => Claim::TimedOut,
            Ok(Claim::Closed) => Claim::Closed,
            Err(e) => {
                self.abort(redis_abort(e));
                Claim::Closed
            }
        }
    }

    fn push(
        &self,
        fx: &mut RedisEffects,
        to: usize,
        port: usize,
        units: &mut Vec<Value>,
        _admitted: bool,
    ) -> Result<(), Abort> {
        let pe = self.plan.instances()[to].pe;
        let size = self.costs.task_units(pe);
        let stream = protocol::stream_of(&self.plan, &self.keys, to);
        for chunk in units.chunks(size) {
            fx.tasks
                .push((stream.clone(), self.seal.seal(&stream, protocol::encode_task(pe, to, port, chunk))));
            let p = fx.pushes.entry(pe).or_default();
            p.0 += 1;
            p.1 += chunk.len() as u64;
        }
        units.clear();
        Ok(())
    }

    fn collect(
        &self,
        fx: &mut RedisEffects,
        name: &CollectName,
        units: &mut Vec<Value>,
    ) -> Result<(), Abort> {
        fx.collected.push((name.clone(), std::mem::take(units)));
        Ok(())
    }

    fn instance_created(&self, fx: &mut RedisEffects, pe: usize, _: WorkerId) {
        fx.created.push(pe as u32);
    }

    fn task_done(
        &self,
        local: &mut Option<(RedisQueue, u64)>,
        receipt: Delivery,
        done: TaskDone<'_>,
        fx: RedisEffects,
    ) {
        let Some((queue, _)) = local.as_ref() else { return };
        let (tasks, effects) = fx.into_parts(done.dead);
        let event = Event::Done {
            pe: done.pe as u32,
            worker: done.worker as u64,
            units: done.units,
            busy_ns: done.took.as_nanos() as u64,
            effects,
        };
        self.commit(queue, Some(&receipt), tasks, &event);
    }

    fn postprocessed(&self, local: &mut Option<(RedisQueue, u64)>, end: InstanceEnd<'_>, fx: RedisEffects) {
        let (tasks, effects) = fx.into_parts(end.dead);
        let instances = end.reports.iter().map(InstanceWire::from_report).collect();
        let event = Event::Postprocessed { pe: end.pe as u32, worker: end.worker as u64, effects, instances };
        self.commit_outside_task(local, end.worker, tasks, &event);
    }

    fn left(&self, local: &mut Option<(RedisQueue, u64)>, end: InstanceEnd<'_>, fx: RedisEffects) {
        let (tasks, effects) = fx.into_parts(end.dead);
        let instances = end.reports.iter().map(InstanceWire::from_report).collect();
        let event = Event::Left { pe: end.pe as u32, worker: end.worker as u64, effects, instances };
        self.commit_outside_task(local, end.worker, tasks, &event);
    }

    fn root_ended(&self, _: usize, _: RedisEffects, _: crate::runtime::report::InstanceReport) {}

    fn abort(&self, why: Abort) {
        let first = {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            let first = failure.is_none();
            if first {
                *failure = Some(why.clone());
            }
            first
        };
        if first {
            tracing::error!("worker process {} stops ({}): {why}", self.process, why.reason());
            let _ = self.event(&Event::Failed { process: self.process, why: why.to_string() });
        }
        self.stop();
    }

    fn is_over(&self) -> bool {
        self.over.load(Ordering::SeqCst)
    }
}

impl RedisWorkers {
    /// Commits effects that belong to no claimed task (a `postprocess`), through the worker's
    /// own queue (made now if it has none: a `postprocess` anywhere may come to a worker that
    /// never claimed).
    fn commit_outside_task(
        &self,
        local: &mut Option<(RedisQueue, u64)>,
        worker: WorkerId,
        tasks: Vec<(String, Vec<u8>)>,
        event: &Event,
    ) {
        if local.is_none() {
            match self.queue(worker) {
                Ok(q) => *local = Some(q),
                Err(e) => return self.abort(redis_abort(e)),
            }
        }
        if let Some((queue, _)) = local.as_ref() {
            self.commit(queue, None, tasks, event);
        }
    }
}

/// Joins job `job` at `url` with `workers` worker actors, proving the run's `secret`;
/// returns when the job is over.
pub(crate) fn join(
    graph: &WorkflowGraph,
    job: &str,
    url: &RedisUrl,
    workers: usize,
    secret: &RunSecret,
) -> Result<(), RunError> {
    let defaults = RunOptions::default();
    let mut conn = url.connect(defaults.redis.timeout).map_err(RunError::Redis)?;
    let keys = JobKeys::new(job);
    let manifest: Option<Vec<u8>> =
        conn.query("GET", client::cmd("GET").arg(keys.key("manifest"))).map_err(RunError::Redis)?;
    let Some(manifest) = manifest else {
        return Err(RunError::Startup(format!("no job '{job}' at {url} (it has ended, or has not started)")));
    };
    let seal = Seal::new(secret);
    let jm: JobManifest = seal.decode(&keys.key("manifest"), &manifest).map_err(|e| match e {
        EntryError::Forged { .. } => RunError::Options(OptionError::Secret(format!(
            "job '{job}' at {url} runs with another secret than this worker's: give the worker the \
             coordinator's --secret-file FILE, or its DISPEL4RS_SECRET"
        ))),
        EntryError::Unreadable { why, .. } => RunError::Startup(format!(
            "job '{job}' at {url}: unreadable manifest ({why}): another version of dispel4rs?"
        )),
    })?;
    let mut options = jm.manifest.worker_options("127.0.0.1");
    let mapping =
        if jm.mapping == Mapping::HybridRedis.name() { Mapping::HybridRedis } else { Mapping::DynRedis };
    let plan = mapping.plan(graph, &options)?;
    let (pid, host) = (std::process::id(), hostname());
    if plan.fingerprint() != jm.fingerprint {
        let why = format!(
            "this program's workflow or options give plan fingerprint {:016x}, job '{job}' runs {:016x} ('{}')",
            plan.fingerprint(),
            jm.fingerprint,
            plan.graph_name()
        );
        let events = keys.key("events");
        if let Ok(e) = seal.encode(&events, &Event::Refused { pid, host, why: why.clone() }) {
            let _ = conn.append(&events, "e", &e);
        }
        return Err(RunError::Startup(format!("refused by job '{job}': {why}")));
    }
    let process: u32 =
        conn.query("INCR", client::cmd("INCR").arg(keys.key("procs"))).map_err(RunError::Redis)?;
    // An observed run: this process observes its instances and sends the coordinator their
    // samples through the events stream.
    if options.observe.enabled {
        options.observe.live = Some(Observatory::for_process(process, options.observe.sample_interval));
    }
    let observatory = options.observe.observatory().cloned();
    let backend = Arc::new(RedisWorkers {
        costs: TaskCosts::new(plan.pes().len(), options.pool.task_target, options.batch_size),
        max_workers: options.processes,
        plan: Arc::new(plan),
        url: url.clone(),
        keys: keys.clone(),
        seal,
        process,
        started: Instant::now(),
        over: AtomicBool::new(false),
        failure: Mutex::new(None),
        consumers: Mutex::new(Vec::new()),
        side: Mutex::new(None),
        pins: Mutex::new(Vec::new()),
        pins_version: AtomicU64::new(0),
        last_unit_ns: AtomicU64::new(0),
        options,
    });
    let alive = keys.key("alive");
    let _: client::Value = conn
        .query("HSET", client::cmd("HSET").arg(&alive).arg(process).arg(unix_ms()))
        .map_err(RunError::Redis)?;
    let hello = Event::Hello { process, pid, host, workers: workers as u32 };
    backend.event(&hello).map_err(RunError::Redis)?;
    tracing::info!("joined job '{job}' at {url} as process {process} with {workers} worker(s)");
    if let Some(obs) = &observatory {
        let to = backend.clone();
        obs.start(Some(Box::new(move |sample| {
            if !to.is_over() {
                if let Err(e) = to.event(&Event::Samples { process, sample }) {
                    tracing::debug!("cannot send this process's samples: {e}");
                }
            }
        })));
    }

    let b = backend.clone();
    actix::System::new().block_on(async move {
        let pool: Arc<Pool<PeWorker<RedisWorkers>>> = Arc::new(Pool::new("d4r-worker"));
        let waker = b.clone();
        pool.set_waker(Arc::new(move || waker.wake_all()));
        spawn(&b, &pool, workers);
        let system = actix::System::current();
        let (ctl_backend, ctl_pool) = (b.clone(), pool.clone());
        let control = std::thread::Builder::new()
            .name("d4r-control".into())
            .spawn(move || follow(&ctl_backend, &ctl_pool, conn, &system));
        if let Err(e) = &control {
            b.abort(Abort::new(AbortReason::Transport, format!("cannot start the control thread: {e}")));
        }
        while !b.is_over() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pool.wait_all(Duration::from_secs(10)).await;
        if let Ok(c) = control {
            let _ = tokio::task::spawn_blocking(move || c.join()).await;
        }
        actix::System::current().stop();
    });
    if let Some(obs) = &observatory {
        obs.stop();
    }
    match backend.failure() {
        Some(why) => Err(RunError::Aborted(why)),
        None => Ok(()),
    }
}

/// Starts `n` more workers.
fn spawn(backend: &Arc<RedisWorkers>, pool: &Pool<PeWorker<RedisWorkers>>, n: usize) {
    let process = backend.process;
    pool.spawn_many(n, |signals| {
        let id = protocol::worker_id(process, signals.id());
        PeWorker::new(backend.clone(), signals, id)
    });
}

/// Writes this process's peak resident memory so far (its high-water mark) in the job's
/// `rss` hash, for the coordinator's report.
fn note_peak(conn: &mut RedisConn, keys: &JobKeys, process: u32) {
    if let Some(bytes) = crate::runtime::report::peak_rss_bytes() {
        let _: Result<client::Value, _> =
            conn.query("HSET", client::cmd("HSET").arg(keys.key("rss")).arg(process).arg(bytes));
    }
}

/// The control thread: the coordinator's orders, and the heartbeats both ways.
fn follow(
    backend: &Arc<RedisWorkers>,
    pool: &Arc<Pool<PeWorker<RedisWorkers>>>,
    mut conn: RedisConn,
    system: &actix::System,
) {
    let keys = backend.keys.clone();
    let ctl = keys.key(&format!("ctl:{}", backend.process));
    let alive = keys.key("alive");
    let silence = backend.options.cluster.peer_timeout.max(Duration::from_secs(3));
    let mut last = "0-0".to_owned();
    let mut beat = Instant::now() - Duration::from_secs(1);
    let rejected_log = RateLimitedLog::new("rejected control messages", 5);
    while !backend.is_over() {
        if beat.elapsed() >= Duration::from_millis(250) {
            beat = Instant::now();
            let now = unix_ms();
            let sent: Result<client::Value, _> =
                conn.query("HSET", client::cmd("HSET").arg(&alive).arg(backend.process).arg(now));
            note_peak(&mut conn, &keys, backend.process);
            let coordinator: Result<Option<u64>, _> =
                conn.query("HGET", client::cmd("HGET").arg(&alive).arg("c"));
            match (sent, coordinator) {
                (Err(e), _) | (_, Err(e)) => return backend.abort(redis_abort(e)),
                (Ok(_), Ok(Some(c))) if now.saturating_sub(c) > silence.as_millis() as u64 => {
                    return backend.abort(Abort::new(
                        AbortReason::PeerLost,
                        format!("the coordinator of job '{}' stopped responding", keys.prefix()),
                    ));
                }
                _ => {}
            }
        }
        let entries = match conn.read_after(&ctl, &last, Duration::from_millis(200), 100) {
            Ok(e) => e,
            Err(e) => return backend.abort(redis_abort(e)),
        };
        let mut rejected: Option<(u64, String)> = None;
        for (id, fields) in entries {
            last = id;
            let Some((_, bytes)) = fields.into_iter().find(|(k, _)| k == "c") else { continue };
            match backend.seal.decode::<Control>(&ctl, &bytes) {
                Ok(Control::Postprocess { pe, worker }) => {
                    let actor = match worker {
                        Some(w) => protocol::actor_of(w as usize),
                        None => match pool.active().first() {
                            Some(a) => *a,
                            None => {
                                let (b, p) = (backend.clone(), pool.clone());
                                system.arbiter().spawn(async move { spawn(&b, &p, 1) });
                                std::thread::sleep(Duration::from_millis(20));
                                pool.active().first().copied().unwrap_or(0)
                            }
                        },
                    };
                    pool.send(actor, WorkerMail::Postprocess(pe as usize));
                }
                Ok(Control::Workers { target }) => {
                    let now = pool.size();
                    let target = target as usize;
                    if target > now {
                        let (b, p) = (backend.clone(), pool.clone());
                        system.arbiter().spawn(async move { spawn(&b, &p, target - now) });
                    } else if target < now {
                        pool.retire_newest(now - target);
                    }
                }
                Ok(Control::Pin { instances }) => {
                    backend.set_pins(instances.into_iter().map(|g| g as usize).collect());
                }
                Ok(Control::Costs { ns_per_unit }) => backend.costs.adopt(&ns_per_unit),
                Ok(Control::Shutdown) => {
                    note_peak(&mut conn, &keys, backend.process);
                    return backend.stop();
                }
                Err(e @ EntryError::Forged { .. }) => {
                    rejected_log.event(&ctl, Level::Warn, || format!("ignored a control message: {e}"));
                    let r = rejected.get_or_insert((0, e.to_string()));
                    r.0 += 1;
                }
                Err(e) => tracing::warn!("ignored a control message: {e}"),
            }
        }
        if let Some((count, error)) = rejected {
            let worker = protocol::worker_id(backend.process, 0) as u64;
            if let Err(e) = backend.event(&Event::Rejected { worker, count, error }) {
                return backend.abort(redis_abort(e));
            }
        }
        pool.reap();
    }
}
