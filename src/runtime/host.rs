//! The actor host: the PE instances of one process as supervised actix actors. The `multi`
//! mapping hosts every instance in one host; `zmq_multi` and `mpi` run one host per process,
//! with remote instances behind proxy mailboxes (see `runtime::cluster`).
//!
//! * Instances live on a small set of arbiters (one thread each), placed by the plan. Roots
//!   and PEs declared `blocking` get a thread of their own (a sync arbiter), where waiting is
//!   allowed, so they never stall the actors that share an arbiter.
//! * Batches move between actors with credits (a receiver holds at most `--mailbox` batches
//!   per sending process): an actor with no credit pauses its own mailbox until credit comes
//!   back, a root thread blocks. Memory is bounded; a slow PE slows its producers.
//! * Each actor routes its own output (sender-owned routers, no extra hop), flushes its
//!   partial batches after every input batch (so slow streams keep a low latency), and runs
//!   user code through [`Instance`] (panics caught, restarts, retries, dead letters).
//! * End of stream: an instance ends once every upstream instance has sent it `Eos`; then
//!   `postprocess` runs, what it writes is sent, and only then does it send `Eos` on.

use crate::abort::Abort;
use crate::plan::{CollectName, Plan};
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::inputs::RootInputs;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::options::RunOptions;
use crate::runtime::outlet::{Deliver, Outlet};
use crate::runtime::report::{DeadLetters, InstanceStats};
use crate::runtime::termination::InstanceEnd;
use crate::sink::Sink;
use crate::value::Value;
use actix::prelude::*;
use dispel4rs_actors::credits::Closed;
use dispel4rs_actors::mailbox::{Envelope, Mailbox};
use dispel4rs_actors::outbox::Outbox;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long [`Host::stop`] waits for PE code that is still running.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(2);

/// Where a delivery goes: an instance, or the collector of unconnected outputs.
///
/// Address tables (the mailboxes of a host, the credits of a proxy, the channel of a frame)
/// list every instance by global id, then the collector; [`Address::slot`] and
/// [`Address::at`] are the only place that knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// The instance with this global id.
    Instance(usize),
    /// The collector.
    Collector,
}

impl Address {
    /// Its position in the address table of a plan with `instances` instances.
    pub(crate) fn slot(self, instances: usize) -> usize {
        match self {
            Address::Instance(global) => global,
            Address::Collector => instances,
        }
    }

    /// The address at position `slot` of such a table, if there is one.
    pub(crate) fn at(slot: usize, instances: usize) -> Option<Address> {
        match slot.cmp(&instances) {
            std::cmp::Ordering::Less => Some(Address::Instance(slot)),
            std::cmp::Ordering::Equal => Some(Address::Collector),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Every address of a plan with `instances` instances, in table order.
    pub(crate) fn all(instances: usize) -> impl Iterator<Item = Address> {
        (0..instances).map(Address::Instance).chain(std::iter::once(Address::Collector))
    }
}

/// What travels between actors: a batch for an instance or the collector.
pub(crate) struct Delivery {
    /// Where it goes.
    pub to: Address,
    /// What it carries.
    pub body: Body,
}

/// The contents of a [`Delivery`].
pub(crate) enum Body {
    /// Units for input `port` of the receiving instance.
    Units { port: usize, units: Vec<Value> },
    /// Units written on an unconnected output.
    Collect { name: CollectName, units: Vec<Value> },
}

/// End of stream from one upstream instance, for instance `to`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Eos {
    /// Global id of the receiving instance.
    pub to: usize,
}

/// Tells a root to make its calls.
#[derive(Message)]
#[rtype(result = "()")]
struct RunRoot;

/// Tells the collector that every instance has ended.
#[derive(Message)]
#[rtype(result = "()")]
struct FinishCollect;

/// What an instance (or the host) reports.
pub(crate) enum Done {
    /// Instance `global` has ended.
    Finished { global: usize, stats: Box<InstanceStats> },
    /// The run must stop.
    Aborted(Abort),
}

/// State shared by every actor of a host.
struct Shared {
    plan: Arc<Plan>,
    options: RunOptions,
    inputs: RootInputs,
    dead: Arc<DeadLetters>,
    /// Every instance's mailbox by global id, then the collector's.
    mailboxes: OnceLock<Arc<[Mailbox<Delivery>]>>,
    eos: OnceLock<Arc<[Recipient<Eos>]>>,
    /// Which instances this host runs.
    local: Vec<bool>,
    done: mpsc::UnboundedSender<Done>,
    started: Instant,
    last_unit_ns: AtomicU64,
    aborted: AtomicBool,
    /// Emptied batch buffers, handed back to senders: batches reuse warm memory instead of
    /// a fresh allocation (and its page faults) per hop.
    pool: (crossbeam_channel::Sender<Vec<Value>>, crossbeam_channel::Receiver<Vec<Value>>),
}

impl Shared {
    /// An empty buffer with room for a batch (recycled when one is free).
    fn buffer(&self) -> Vec<Value> {
        self.pool.1.try_recv().unwrap_or_default()
    }

    /// Gives an emptied buffer back for reuse.
    fn recycle(&self, mut units: Vec<Value>) {
        if units.capacity() >= self.options.batch_size / 2 {
            units.clear();
            let _ = self.pool.0.try_send(units);
        }
    }

    /// The address table; empty only before [`Host::run`] installs it, and no unit can
    /// be processed before then (roots start in `run`, other processes' batches are
    /// dispatched after it).
    fn mailboxes(&self) -> &[Mailbox<Delivery>] {
        self.mailboxes.get().map_or(&[], |m| m)
    }

    fn touch(&self) {
        let ns = self.started.elapsed().as_nanos() as u64;
        self.last_unit_ns.fetch_max(ns, Ordering::Relaxed);
    }

    fn abort(&self, why: Abort) {
        if !self.aborted.swap(true, Ordering::SeqCst) {
            tracing::error!("run aborted ({}): {why}", why.reason());
            self.close_all();
            let _ = self.done.send(Done::Aborted(why));
        }
    }

    fn close_all(&self) {
        for m in self.mailboxes() {
            m.credits().close();
        }
    }
}

/// Routes an instance's output into the outbox (or, on a thread that may block, sends at
/// once, waiting for credit).
struct ActorSink<'a> {
    outlet: &'a mut Outlet,
    sender: Sender<'a>,
}

/// Hands routed batches to mailboxes.
struct Sender<'a> {
    outbox: &'a mut Outbox<Delivery>,
    shared: &'a Shared,
    blocking: bool,
}

impl Sender<'_> {
    fn send(&mut self, delivery: Delivery) -> Result<(), Abort> {
        let to = delivery.to.slot(self.shared.plan.instances().len());
        let mailboxes = self.shared.mailboxes();
        let result = if self.blocking {
            mailboxes.get(to).ok_or(Closed).and_then(|m| m.send_blocking(delivery))
        } else {
            self.outbox.send_or_queue(to, delivery, mailboxes)
        };
        result.map_err(|Closed| {
            Abort::stopping(format!("instance {to} is no longer receiving (the run is stopping)"))
        })
    }
}

impl Sink for ActorSink<'_> {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        self.outlet.dispatch(port, batch, &mut self.sender)
    }
}

impl Deliver for Sender<'_> {
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort> {
        let units = std::mem::replace(units, self.shared.buffer());
        self.send(Delivery { to: Address::Instance(to), body: Body::Units { port, units } })
    }

    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        let units = std::mem::replace(units, self.shared.buffer());
        self.send(Delivery { to: Address::Collector, body: Body::Collect { name: name.clone(), units } })
    }
}

/// The mapping-independent part of an instance actor.
struct Core {
    global: usize,
    inst: Instance,
    outlet: Outlet,
    outbox: Outbox<Delivery>,
    shared: Arc<Shared>,
    /// End of stream: the upstream instances it waits for, the downstream ones it tells.
    end: InstanceEnd,
    /// A back-off to wait before `resume`.
    backoff: Option<Duration>,
    finished: bool,
    reported: bool,
    blocking: bool,
}

impl Core {
    fn new(shared: Arc<Shared>, global: usize, blocking: bool) -> (Core, Flow) {
        let planned = shared.plan.instances()[global];
        let pe = &shared.plan.pes()[planned.pe];
        let (mut inst, flow) = Instance::new(pe, planned.index, global, &shared.options, shared.dead.clone());
        if shared.local.iter().any(|hosted| !hosted) {
            // Part of a multi-process run: every unit must fit in a frame.
            inst.buffers_mut().set_unit_limit(crate::runtime::wire::MAX_UNIT_BYTES);
        }
        let outlet =
            Outlet::new(&shared.plan, planned.pe, planned.index, shared.dead.clone()).traced(&shared.options);
        let core = Core {
            global,
            inst,
            outlet,
            outbox: Outbox::new(),
            end: InstanceEnd::new(&shared.plan, global),
            shared,
            backoff: None,
            finished: false,
            reported: false,
            blocking,
        };
        (core, flow)
    }

    /// Runs `f` on the instance with a sink, inside its span, timing it.
    fn with_sink(
        &mut self,
        f: impl FnOnce(&mut Instance, &mut ActorSink<'_>) -> Result<Flow, Abort>,
    ) -> Flow {
        let span = self.inst.span().clone();
        let _entered = span.enter();
        let start = Instant::now();
        let mut sink = ActorSink {
            outlet: &mut self.outlet,
            sender: Sender { outbox: &mut self.outbox, shared: &self.shared, blocking: self.blocking },
        };
        let result = f(&mut self.inst, &mut sink);
        self.inst.add_busy(start.elapsed());
        match result {
            Ok(flow) => flow,
            Err(abort) => {
                self.shared.abort(abort.context(self.inst.info()));
                Flow::Ready
            }
        }
    }

    fn units(&mut self, port: usize, mut units: Vec<Value>) {
        let flow = self.with_sink(|inst, sink| {
            let flow = inst.process_batch(port, &mut units, sink)?;
            if flow == Flow::Ready {
                inst.flush(sink)?;
            }
            Ok(flow)
        });
        self.shared.recycle(units);
        self.shared.touch();
        self.note(flow);
    }

    fn call_root(&mut self, input: Value) {
        let flow = self.with_sink(|inst, sink| inst.call_root(input, sink));
        self.note(flow);
    }

    fn flush(&mut self) {
        let _ = self.with_sink(|inst, sink| inst.flush(sink).map(|()| Flow::Ready));
    }

    fn resume(&mut self) {
        let flow = self.with_sink(|inst, sink| {
            let flow = inst.resume(sink)?;
            if flow == Flow::Ready {
                inst.flush(sink)?;
            }
            Ok(flow)
        });
        self.note(flow);
    }

    fn note(&mut self, flow: Flow) {
        if let Flow::Backoff(d) = flow {
            self.backoff = Some(d);
        }
    }

    /// Runs `postprocess` once every upstream instance has ended.
    fn finish_if_due(&mut self) {
        if self.end.is_due() && !self.finished && self.backoff.is_none() {
            self.finished = true;
            let _ = self.with_sink(|inst, sink| inst.finish(sink).map(|()| Flow::Ready));
        }
    }

    /// Once finished and everything has left: `Eos` downstream, report, true.
    fn end_if_done(&mut self) -> bool {
        if !self.finished || !self.outbox.is_empty() || self.reported {
            return self.reported;
        }
        self.reported = true;
        if let Some(eos) = self.shared.eos.get() {
            for &t in self.end.targets() {
                if let Some(r) = eos.get(t) {
                    r.do_send(Eos { to: t });
                }
            }
        }
        let stats = Box::new(self.inst.final_stats());
        let _ = self.shared.done.send(Done::Finished { global: self.global, stats });
        true
    }

    /// For threads that may block: wait out back-offs and send everything queued.
    fn settle_blocking(&mut self) {
        while let Some(d) = self.backoff.take() {
            std::thread::sleep(d);
            self.resume();
        }
        if !self.outbox.is_empty() && self.outbox.drain_blocking(self.shared.mailboxes()).is_err() {
            self.shared.abort(Abort::stopping(format!("{}: a receiver stopped", self.inst.info())));
        }
    }
}

// ---- actors on arbiters ---------------------------------------------------------------

/// A PE instance on an arbiter.
struct InstanceActor {
    shared: Arc<Shared>,
    global: usize,
    core: Option<Core>,
}

impl InstanceActor {
    /// Carries on after a message: back-off, credit waits, end of stream — pausing the
    /// mailbox (never the arbiter) while waiting.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        let Some(core) = self.core.as_mut() else { return };
        if let Some(d) = core.backoff.take() {
            ctx.wait(fut::wrap_future::<_, Self>(tokio::time::sleep(d)).map(|(), act, ctx| {
                if let Some(core) = act.core.as_mut() {
                    core.resume();
                }
                act.settle(ctx);
            }));
            return;
        }
        match core.outbox.flush(core.shared.mailboxes()) {
            Ok(true) => {}
            Ok(false) => {
                if let Some(credit) = core.outbox.wait_for_credit(core.shared.mailboxes()) {
                    ctx.wait(fut::wrap_future::<_, Self>(credit).map(|permit, act, ctx| {
                        let Some(core) = act.core.as_mut() else { return };
                        let sent = permit.and_then(|p| core.outbox.send_head(p, core.shared.mailboxes()));
                        if sent.is_err() {
                            core.shared
                                .abort(Abort::stopping(format!("{}: a receiver stopped", core.inst.info())));
                            ctx.stop();
                            return;
                        }
                        act.settle(ctx);
                    }));
                }
                return;
            }
            Err(Closed) => {
                core.shared.abort(Abort::stopping(format!("{}: a receiver stopped", core.inst.info())));
                ctx.stop();
                return;
            }
        }
        core.finish_if_due();
        if core.finished && !core.outbox.is_empty() {
            self.settle(ctx);
            return;
        }
        if core.end_if_done() {
            ctx.stop();
        }
    }
}

impl Actor for InstanceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (core, flow) = Core::new(self.shared.clone(), self.global, false);
        self.core = Some(core);
        if let (Some(core), Flow::Backoff(d)) = (self.core.as_mut(), flow) {
            core.backoff = Some(d);
        }
        self.settle(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(m) = self.shared.mailboxes().get(self.global) {
            m.credits().close();
        }
    }
}

impl Handler<Envelope<Delivery>> for InstanceActor {
    type Result = ();

    fn handle(&mut self, envelope: Envelope<Delivery>, ctx: &mut Context<Self>) {
        if let (Some(core), Body::Units { port, units }) = (self.core.as_mut(), envelope.payload.body) {
            core.units(port, units);
        }
        drop(envelope.permit);
        self.settle(ctx);
    }
}

impl Handler<Eos> for InstanceActor {
    type Result = ();

    fn handle(&mut self, _: Eos, ctx: &mut Context<Self>) {
        if let Some(core) = self.core.as_mut() {
            core.end.upstream_ended();
        }
        self.settle(ctx);
    }
}

// ---- actors with a thread of their own ------------------------------------------------

/// A root, or a PE declared blocking: an actor on its own thread, where waiting is allowed.
struct ThreadActor {
    shared: Arc<Shared>,
    global: usize,
    core: Option<Core>,
}

impl ThreadActor {
    fn core(&mut self) -> Option<&mut Core> {
        if self.core.is_none() {
            let (mut core, flow) = Core::new(self.shared.clone(), self.global, true);
            core.note(flow);
            core.settle_blocking();
            self.core = Some(core);
        }
        self.core.as_mut()
    }

    fn end_if_due(&mut self) {
        if let Some(core) = self.core() {
            core.finish_if_due();
            core.settle_blocking();
            core.end_if_done();
        }
    }
}

impl Actor for ThreadActor {
    type Context = SyncContext<Self>;
}

impl Handler<RunRoot> for ThreadActor {
    type Result = ();

    fn handle(&mut self, _: RunRoot, _: &mut SyncContext<Self>) {
        let shared = self.shared.clone();
        let pe = shared.plan.instances()[self.global].pe;
        let interval = shared.options.flush_interval;
        if let Some(calls) = shared.inputs.calls_of(pe) {
            let mut last_flush = Instant::now();
            for i in 0..calls.len() {
                if shared.aborted.load(Ordering::Relaxed) {
                    return;
                }
                let Some(core) = self.core() else { return };
                core.call_root(calls.input(i));
                core.settle_blocking();
                if last_flush.elapsed() >= interval {
                    core.flush();
                    last_flush = Instant::now();
                }
                shared.touch();
            }
        }
        self.end_if_due();
    }
}

impl Handler<Envelope<Delivery>> for ThreadActor {
    type Result = ();

    fn handle(&mut self, envelope: Envelope<Delivery>, _: &mut SyncContext<Self>) {
        if let Some(core) = self.core() {
            if let Body::Units { port, units } = envelope.payload.body {
                core.units(port, units);
                core.settle_blocking();
            }
        }
        drop(envelope.permit);
    }
}

impl Handler<Eos> for ThreadActor {
    type Result = ();

    fn handle(&mut self, _: Eos, _: &mut SyncContext<Self>) {
        if let Some(core) = self.core() {
            core.end.upstream_ended();
        }
        self.end_if_due();
    }
}

// ---- the collector ----------------------------------------------------------------------

struct CollectorActor {
    collector: Arc<Mutex<Option<Collector>>>,
    result: Arc<Mutex<Option<std::io::Result<CollectedOutputs>>>>,
    shared: Arc<Shared>,
}

impl Actor for CollectorActor {
    type Context = SyncContext<Self>;
}

impl Handler<Envelope<Delivery>> for CollectorActor {
    type Result = ();

    fn handle(&mut self, envelope: Envelope<Delivery>, _: &mut SyncContext<Self>) {
        if let Body::Collect { name, mut units } = envelope.payload.body {
            let mut guard = self.collector.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = guard.as_mut() {
                if let Err(e) = c.push(&name, &mut units) {
                    self.shared.abort(Abort::output(format!("cannot write collected outputs: {e}")));
                }
            }
            drop(guard);
            self.shared.recycle(units);
        }
    }
}

impl Handler<FinishCollect> for CollectorActor {
    type Result = ();

    fn handle(&mut self, _: FinishCollect, _: &mut SyncContext<Self>) {
        let taken = self.collector.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(c) = taken {
            *self.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.finish());
        }
    }
}

// ---- the host ---------------------------------------------------------------------------

/// Where the instances of a host run.
pub(crate) struct HostConfig {
    /// The plan of the whole run.
    pub plan: Arc<Plan>,
    /// Options of the run.
    pub options: RunOptions,
    /// What the roots are called with.
    pub inputs: RootInputs,
    /// Where this process records dead letters.
    pub dead: Arc<DeadLetters>,
    /// The slot this host runs, or `None` for every instance (`multi`).
    pub slot: Option<usize>,
    /// The collector, if the collector lives in this host.
    pub collector: Option<Collector>,
}

/// Batches sent to the receiver of `mailbox` and not yet processed: the credits its local
/// senders hold, and `remote` (batches other processes sent it, counted by the guard); 0 once
/// it has stopped.
pub(crate) fn batches_waiting(
    mailbox: &Mailbox<Delivery>,
    remote: &[crate::runtime::guard::Outstanding],
) -> u64 {
    if !mailbox.is_open() {
        return 0;
    }
    let credits = mailbox.credits();
    let local = credits.capacity().saturating_sub(credits.available());
    (local + remote.iter().map(|o| o.count()).sum::<usize>()) as u64
}

/// The local actors of a run (or of one process of it). Create and use it inside an actix
/// `System`. See the [module documentation](self).
pub(crate) struct Host {
    shared: Arc<Shared>,
    arbiters: Vec<Arbiter>,
    roots: Vec<Addr<ThreadActor>>,
    collector: Option<Addr<CollectorActor>>,
    collected: Arc<Mutex<Option<std::io::Result<CollectedOutputs>>>>,
    /// Local mailbox and end-of-stream address of every hosted instance (by global id),
    /// then the collector's.
    local_mailboxes: Vec<Option<Mailbox<Delivery>>>,
    local_eos: Vec<Option<Recipient<Eos>>>,
}

impl Host {
    /// Starts the hosted instances' actors; what they report arrives on the returned channel.
    pub(crate) fn start(config: HostConfig) -> (Host, mpsc::UnboundedReceiver<Done>) {
        let HostConfig { plan, options, inputs, dead, slot, collector } = config;
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let local: Vec<bool> = plan.instances().iter().map(|i| slot.is_none_or(|s| i.slot == s)).collect();
        let shared = Arc::new(Shared {
            plan: plan.clone(),
            options,
            inputs,
            dead,
            mailboxes: OnceLock::new(),
            eos: OnceLock::new(),
            local,
            done: done_tx,
            started: Instant::now(),
            last_unit_ns: AtomicU64::new(0),
            aborted: AtomicBool::new(false),
            pool: crossbeam_channel::bounded(256),
        });
        let hosted: Vec<usize> = (0..plan.instances().len()).filter(|g| shared.local[*g]).collect();
        // Instances that live on arbiters (roots and blocking PEs have threads of their own),
        // spread in topological order over as many arbiters as `-n` asks (one per process in
        // a multi-process run), in contiguous chunks: chatty neighbours share a thread, and no
        // arbiter sits idle for a slot that only holds a root.
        let on_arbiters: Vec<usize> = hosted
            .iter()
            .copied()
            .filter(|g| {
                let pe = &plan.pes()[plan.instances()[*g].pe];
                !pe.is_root && !pe.spec.blocking
            })
            .collect();
        let arbiter_count = match slot {
            None => plan.processes().min(on_arbiters.len()),
            Some(_) => on_arbiters.len().min(1),
        };
        let arbiters: Vec<Arbiter> = (0..arbiter_count).map(|_| Arbiter::new()).collect();
        let arbiter_of = |global: usize| {
            let i = on_arbiters.iter().position(|g| *g == global).unwrap_or(0);
            i * arbiter_count / on_arbiters.len().max(1)
        };
        let capacity = shared.options.mailbox_batches;
        let n = plan.instances().len();
        let mut local_mailboxes: Vec<Option<Mailbox<Delivery>>> = Address::all(n).map(|_| None).collect();
        let mut local_eos: Vec<Option<Recipient<Eos>>> = (0..n).map(|_| None).collect();
        let mut roots = Vec::new();
        for global in hosted {
            let placed = plan.instances()[global];
            let pe = &plan.pes()[placed.pe];
            if pe.is_root || pe.spec.blocking {
                let (s, name) = (shared.clone(), format!("d4r-{}-{}", pe.name, placed.index));
                let addr = SyncArbiter::start_with_thread_builder(
                    1,
                    move || std::thread::Builder::new().name(name.clone()),
                    move || ThreadActor { shared: s.clone(), global, core: None },
                );
                local_mailboxes[global] = Some(Mailbox::new(addr.clone().recipient(), capacity));
                local_eos[global] = Some(addr.clone().recipient());
                if pe.is_root {
                    roots.push(addr);
                }
            } else {
                let s = shared.clone();
                let Some(arbiter) = arbiters.get(arbiter_of(global)) else { continue };
                let addr = InstanceActor::start_in_arbiter(&arbiter.handle(), move |_| InstanceActor {
                    shared: s,
                    global,
                    core: None,
                });
                local_mailboxes[global] = Some(Mailbox::new(addr.clone().recipient(), capacity));
                local_eos[global] = Some(addr.recipient());
            }
        }
        let collected = Arc::new(Mutex::new(None));
        let collector = collector.map(|c| {
            let (c, r, s) = (Arc::new(Mutex::new(Some(c))), collected.clone(), shared.clone());
            SyncArbiter::start_with_thread_builder(
                1,
                || std::thread::Builder::new().name("d4r-collector".into()),
                move || CollectorActor { collector: c.clone(), result: r.clone(), shared: s.clone() },
            )
        });
        if let Some(c) = &collector {
            local_mailboxes[Address::Collector.slot(n)] = Some(Mailbox::new(c.clone().recipient(), capacity));
        }
        if let Some(observatory) = shared.options.observe.observatory() {
            for (global, mailbox) in local_mailboxes.iter().enumerate().take(n) {
                if let Some(m) = mailbox.clone() {
                    observatory.watch_mailbox(global, Box::new(move || batches_waiting(&m, &[])));
                }
            }
        }
        let host = Host { shared, arbiters, roots, collector, collected, local_mailboxes, local_eos };
        (host, done_rx)
    }

    /// The local mailbox of an instance or of the collector, if it is hosted here.
    pub(crate) fn local_mailbox(&self, to: Address) -> Option<&Mailbox<Delivery>> {
        self.local_mailboxes.get(to.slot(self.shared.plan.instances().len())).and_then(Option::as_ref)
    }

    /// The local end-of-stream address of instance `global`, if it is hosted here.
    pub(crate) fn local_eos(&self, global: usize) -> Option<&Recipient<Eos>> {
        self.local_eos.get(global).and_then(Option::as_ref)
    }

    /// Installs the address tables (every instance, local or remote, then the collector: in
    /// [`Address::all`] order) and starts the roots.
    pub(crate) fn run(&self, mailboxes: Vec<Mailbox<Delivery>>, eos: Vec<Recipient<Eos>>) {
        let _ = self.shared.mailboxes.set(mailboxes.into());
        let _ = self.shared.eos.set(eos.into());
        for root in &self.roots {
            root.do_send(RunRoot);
        }
    }

    /// Aborts: every waiting sender is released with an error.
    pub(crate) fn abort(&self, why: Abort) {
        self.shared.abort(why);
    }

    /// Asks the collector (if hosted here) to finish, after everything queued to it.
    pub(crate) async fn finish_collect(&self) -> Option<std::io::Result<CollectedOutputs>> {
        let c = self.collector.as_ref()?;
        let _ = c.send(FinishCollect).await;
        self.collected.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// When the last data unit was processed here, since the host started.
    pub(crate) fn last_unit(&self) -> Duration {
        Duration::from_nanos(self.shared.last_unit_ns.load(Ordering::Relaxed))
    }

    /// When the host started.
    pub(crate) fn started(&self) -> Instant {
        self.shared.started
    }

    /// Stops the arbiters and releases every waiting thread. An arbiter whose PE is still
    /// busy in its own code (after an abort: it may never return) is waited for at most
    /// [`STOP_GRACE`], so that a process never hangs on a PE when its run has failed.
    pub(crate) fn stop(self) {
        self.shared.close_all();
        for a in &self.arbiters {
            a.stop();
        }
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let arbiters = self.arbiters;
        let joiner = std::thread::Builder::new().name("d4r-stop".into()).spawn(move || {
            for a in arbiters {
                let _ = a.join();
            }
            let _ = tx.send(());
        });
        if joiner.is_ok() && rx.recv_timeout(STOP_GRACE).is_err() {
            tracing::warn!(
                "a PE instance is still busy in its own code {STOP_GRACE:?} after the run stopped; not waiting for it"
            );
        }
    }
}
