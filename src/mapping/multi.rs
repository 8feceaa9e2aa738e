//! The `multi` mapping: one process, every PE instance a supervised actix actor.
//!
//! * Instances live on a small set of arbiters (one thread each; as many as the plan's
//!   slots, which `-n` sets), placed by the plan. Roots and PEs declared `blocking` get a
//!   thread of their own (a sync arbiter), where waiting is allowed, so they never stall the
//!   actors that share an arbiter.
//! * Batches move between actors with credits (a receiver holds at most `--mailbox`
//!   batches): an actor with no credit pauses its own mailbox until credit comes back, a
//!   root thread blocks. Memory is bounded; a slow PE slows its producers.
//! * Each actor routes its own output (sender-owned routers, no extra hop), flushes its
//!   partial batches after every input batch (so slow streams keep a low latency), and runs
//!   user code through [`Instance`] (panics caught, restarts, retries, dead letters).
//! * End of stream: an instance ends once every upstream instance has sent it `Eos`; then
//!   `postprocess` runs, what it writes is sent, and only then does it send `Eos` on. The
//!   run ends when every instance has ended — no idle time-outs.

use super::{MappingResult, RunError};
use crate::grouping::MissingField;
use crate::pe::{Abort, Sink};
use crate::plan::{CollectName, Plan};
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::inputs::RootInputs;
use crate::runtime::instance::{Flow, Instance};
use crate::runtime::options::RunOptions;
use crate::runtime::outlet::{Deliver, Outlet};
use crate::runtime::report::{
    peak_rss_bytes, DeadLetter, DeadLetters, InstanceReport, InstanceStats, RunReport,
};
use crate::value::Value;
use actix::prelude::*;
use dispel4rs_actors::credits::Closed;
use dispel4rs_actors::mailbox::{Envelope, Mailbox};
use dispel4rs_actors::outbox::Outbox;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What travels between actors: units for an input port, or units for the collector.
pub(crate) enum Delivery {
    /// Units for input `port` of the receiving instance.
    Units { port: usize, units: Vec<Value> },
    /// Units written on an unconnected output.
    Collect { name: CollectName, units: Vec<Value> },
}

/// End of stream from one upstream instance.
#[derive(Message)]
#[rtype(result = "()")]
struct Eos;

/// Tells a root to make its calls.
#[derive(Message)]
#[rtype(result = "()")]
struct RunRoot;

/// Tells the collector that every instance has ended.
#[derive(Message)]
#[rtype(result = "()")]
struct FinishCollect;

/// What an instance reports when it ends.
enum Done {
    Finished { global: usize, stats: Box<InstanceStats> },
    Aborted(String),
}

/// State shared by every actor of a run.
struct Shared {
    plan: Arc<Plan>,
    options: RunOptions,
    inputs: RootInputs,
    dead: Arc<DeadLetters>,
    /// Every instance's mailbox by global id, then the collector's.
    mailboxes: OnceLock<Arc<[Mailbox<Delivery>]>>,
    eos: OnceLock<Arc<[Recipient<Eos>]>>,
    done: mpsc::UnboundedSender<Done>,
    started: Instant,
    last_unit_ns: AtomicU64,
    aborted: AtomicBool,
}

impl Shared {
    fn mailboxes(&self) -> &[Mailbox<Delivery>] {
        self.mailboxes.get().map_or(&[], |m| m)
    }

    fn collector_index(&self) -> usize {
        self.plan.instances().len()
    }

    fn touch(&self) {
        let ns = self.started.elapsed().as_nanos() as u64;
        self.last_unit_ns.fetch_max(ns, Ordering::Relaxed);
    }

    fn abort(&self, why: String) {
        if !self.aborted.swap(true, Ordering::SeqCst) {
            tracing::error!("run aborted: {why}");
            for m in self.mailboxes() {
                m.credits().close();
            }
            let _ = self.done.send(Done::Aborted(why));
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
    fn send(&mut self, to: usize, delivery: Delivery) -> Result<(), Abort> {
        let mailboxes = self.shared.mailboxes();
        let result = if self.blocking {
            mailboxes.get(to).ok_or(Closed).and_then(|m| m.send_blocking(delivery))
        } else {
            self.outbox.send_or_queue(to, delivery, mailboxes)
        };
        result.map_err(|Closed| Abort(format!("instance {to} is no longer receiving (the run is stopping)")))
    }
}

impl Sink for ActorSink<'_> {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        self.outlet.dispatch(port, batch, &mut self.sender)
    }
}

impl Deliver for Sender<'_> {
    fn deliver(&mut self, to: usize, port: usize, units: &mut Vec<Value>) -> Result<(), Abort> {
        let units = std::mem::take(units);
        self.send(to, Delivery::Units { port, units })
    }

    fn collect(&mut self, name: &CollectName, units: &mut Vec<Value>) -> Result<(), Abort> {
        let units = std::mem::take(units);
        let to = self.shared.collector_index();
        self.send(to, Delivery::Collect { name: name.clone(), units })
    }

    fn unroutable(&mut self, unit: Value, to_pe: usize, port: usize, error: MissingField) {
        let pe = &self.shared.plan.pes()[to_pe];
        self.shared.dead.record(DeadLetter {
            pe: pe.name.clone(),
            instance: 0,
            port: pe.inputs[port].clone(),
            unit,
            error: format!("could not be routed: {error}"),
            attempts: 0,
        });
    }
}

/// The mapping-independent part of an instance actor.
struct Core {
    global: usize,
    inst: Instance,
    outlet: Outlet,
    outbox: Outbox<Delivery>,
    shared: Arc<Shared>,
    /// Upstream instances that have not sent `Eos` yet.
    eos_left: usize,
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
        let (inst, flow) = Instance::new(pe, planned.index, global, &shared.options, shared.dead.clone());
        let outlet = Outlet::new(&shared.plan, planned.pe, planned.index);
        let core = Core {
            global,
            inst,
            outlet,
            outbox: Outbox::new(),
            eos_left: pe.upstream,
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
                self.shared.abort(format!("{}: {abort}", self.inst.info()));
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
        if self.eos_left == 0 && !self.finished && self.backoff.is_none() {
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
        let plan = &self.shared.plan;
        let pe = &plan.pes()[plan.instances()[self.global].pe];
        let mut targets: Vec<usize> = pe.routes.iter().flatten().flat_map(|r| r.instances.clone()).collect();
        targets.sort_unstable();
        targets.dedup();
        if let Some(eos) = self.shared.eos.get() {
            for t in targets {
                if let Some(r) = eos.get(t) {
                    r.do_send(Eos);
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
            self.shared.abort(format!("{}: a receiver stopped", self.inst.info()));
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
                            core.shared.abort(format!("{}: a receiver stopped", core.inst.info()));
                            ctx.stop();
                            return;
                        }
                        act.settle(ctx);
                    }));
                }
                return;
            }
            Err(Closed) => {
                core.shared.abort(format!("{}: a receiver stopped", core.inst.info()));
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
        if let (Some(core), Delivery::Units { port, units }) = (self.core.as_mut(), envelope.payload) {
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
            core.eos_left = core.eos_left.saturating_sub(1);
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
            if let Delivery::Units { port, units } = envelope.payload {
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
            core.eos_left = core.eos_left.saturating_sub(1);
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
        if let Delivery::Collect { name, mut units } = envelope.payload {
            let mut guard = self.collector.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = guard.as_mut() {
                if let Err(e) = c.push(&name, &mut units) {
                    self.shared.abort(format!("cannot write collected outputs: {e}"));
                }
            }
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

// ---- the run ----------------------------------------------------------------------------

/// Enacts `plan` with actors; returns when every instance has ended.
pub(crate) fn run(
    plan: &Plan,
    inputs: &RootInputs,
    options: &RunOptions,
    collector: Collector,
    dead: Arc<DeadLetters>,
) -> Result<MappingResult, RunError> {
    let started = Instant::now();
    let plan = Arc::new(plan.clone());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        options: options.clone(),
        inputs: inputs.clone(),
        dead,
        mailboxes: OnceLock::new(),
        eos: OnceLock::new(),
        done: done_tx,
        started,
        last_unit_ns: AtomicU64::new(0),
        aborted: AtomicBool::new(false),
    });
    let collector = Arc::new(Mutex::new(Some(collector)));
    let collected = Arc::new(Mutex::new(None));

    let system = System::new();
    let outcome =
        system.block_on({
            let shared = shared.clone();
            let plan = plan.clone();
            let collected = collected.clone();
            async move {
                let arbiter_count = plan.processes().min(plan.used_slots()).max(1);
                let arbiters: Vec<Arbiter> = (0..arbiter_count).map(|_| Arbiter::new()).collect();
                let capacity = shared.options.mailbox_batches;
                let mut mailboxes = Vec::with_capacity(plan.instances().len() + 1);
                let mut eos = Vec::with_capacity(plan.instances().len());
                let mut roots = Vec::new();
                for (global, placed) in plan.instances().iter().enumerate() {
                    let pe = &plan.pes()[placed.pe];
                    if pe.is_root || pe.spec.blocking {
                        let (s, name) = (shared.clone(), format!("d4r-{}-{}", pe.name, placed.index));
                        let addr = SyncArbiter::start_with_thread_builder(
                            1,
                            move || std::thread::Builder::new().name(name.clone()),
                            move || ThreadActor { shared: s.clone(), global, core: None },
                        );
                        mailboxes.push(Mailbox::new(addr.clone().recipient(), capacity));
                        eos.push(addr.clone().recipient());
                        if pe.is_root {
                            roots.push(addr);
                        }
                    } else {
                        let s = shared.clone();
                        let arbiter = &arbiters[placed.slot % arbiter_count];
                        let addr = InstanceActor::start_in_arbiter(&arbiter.handle(), move |_| {
                            InstanceActor { shared: s, global, core: None }
                        });
                        mailboxes.push(Mailbox::new(addr.clone().recipient(), capacity));
                        eos.push(addr.recipient());
                    }
                }
                let collector_addr = {
                    let (c, r, s) = (collector.clone(), collected.clone(), shared.clone());
                    SyncArbiter::start_with_thread_builder(
                        1,
                        || std::thread::Builder::new().name("d4r-collector".into()),
                        move || CollectorActor { collector: c.clone(), result: r.clone(), shared: s.clone() },
                    )
                };
                mailboxes.push(Mailbox::new(collector_addr.clone().recipient(), capacity));
                let _ = shared.mailboxes.set(mailboxes.into());
                let _ = shared.eos.set(eos.into());
                for root in &roots {
                    root.do_send(RunRoot);
                }

                let mut remaining = plan.instances().len();
                let mut stats: Vec<Option<InstanceStats>> = vec![None; remaining];
                let mut aborted = None;
                while remaining > 0 {
                    match done_rx.recv().await {
                        Some(Done::Finished { global, stats: s }) => {
                            stats[global] = Some(*s);
                            remaining -= 1;
                        }
                        Some(Done::Aborted(why)) => {
                            aborted = Some(why);
                            break;
                        }
                        None => break,
                    }
                }
                let ended = Instant::now();
                if aborted.is_none() {
                    let _ = collector_addr.send(FinishCollect).await;
                }
                for a in &arbiters {
                    a.stop();
                }
                for a in arbiters {
                    let _ = a.join();
                }
                drop(roots);
                drop(collector_addr);
                System::current().stop();
                (stats, aborted, ended)
            }
        });
    let (stats, aborted, ended) = outcome;
    if let Some(why) = aborted {
        return Err(RunError::Aborted(Abort(why)));
    }
    let outputs = collected
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_else(|| Ok(CollectedOutputs::default()))
        .map_err(|e| RunError::io("cannot write collected outputs", e))?;
    let last_unit = Duration::from_nanos(shared.last_unit_ns.load(Ordering::Relaxed));
    let instances = plan
        .instances()
        .iter()
        .zip(stats)
        .map(|(placed, s)| InstanceReport {
            pe: plan.pes()[placed.pe].name.clone(),
            index: placed.index,
            slot: placed.slot,
            stats: s.unwrap_or_default(),
        })
        .collect();
    let report = RunReport {
        mapping: "multi".into(),
        graph: plan.graph_name().to_owned(),
        processes: plan.processes(),
        elapsed: started.elapsed(),
        tail: Some(ended.duration_since(started).saturating_sub(last_unit)),
        instances,
        dead_letters_total: 0,
        dead_letters: Vec::new(),
        outputs: outputs.total,
        peak_rss_bytes: peak_rss_bytes(),
    };
    Ok(MappingResult { outputs, report })
}
