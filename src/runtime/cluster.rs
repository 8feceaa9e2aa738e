//! One process of a multi-process run (`zmq_multi`, `mpi`): the actor host for the instances
//! placed on this process's slot, plus what makes remote instances look like local
//! mailboxes.
//!
//! * **Proxy** (an actor on a thread of its own): every remote instance (and, on workers, the
//!   collector) has a local mailbox whose actor is the proxy. It encodes each batch into a
//!   `DATA`/`COLLECT` frame and sends it through the transport bridge, keeping the batch's
//!   credit until the receiving process sends a `CREDIT` frame back — so the sender's
//!   credits bound what is in flight to a remote instance exactly as for a local one.
//!   `EOS` and `DONE` go through the same proxy mailbox, hence after the data they follow.
//! * **Dispatcher** (a thread): decodes incoming frames and hands batches to local actors
//!   with a credit that, once the batch is processed, sends `CREDIT` back (never blocking);
//!   forwards end of stream, reports and aborts.
//! * **Coordinator** (process 0) hosts the collector, counts `DONE` for every instance, then
//!   finishes collection, sends `SHUTDOWN` and gathers every worker's `REPORT` (dead letters,
//!   peak memory). A worker ends after its instances and the coordinator's `SHUTDOWN`.
//! * Any failure — a lost or dead process, a corrupt frame from a peer, an abort — stops
//!   every process with a message naming the process at fault.

use crate::abort::{Abort, AbortReason};
use crate::plan::Plan;
use crate::runtime::collect::{CollectedOutputs, Collector};
use crate::runtime::guard::{Guard, Outstanding, Violation};
use crate::runtime::host::{batches_waiting, Address, Body, Delivery, Done, Eos, Host, HostConfig};
use crate::runtime::inputs::RootInputs;
use crate::runtime::log_limit::{Level, RateLimitedLog};
use crate::runtime::observe::sample::ProcessSample;
use crate::runtime::observe::Observatory;
use crate::runtime::options::RunOptions;
use crate::runtime::report::{peak_rss_bytes, DeadLetters, InstanceStats};
use crate::runtime::wire;
use actix::prelude::*;
use crossbeam_channel::{select, Receiver};
use dispel4rs_actors::credits::Permit;
use dispel4rs_actors::mailbox::{Envelope, Mailbox};
use dispel4rs_transports::{BridgeSender, Frame, Incoming, PeerId, TransportError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Remote mailboxes hold this many times `--mailbox` batches.
const REMOTE_CREDIT_FACTOR: usize = 4;

/// What one process needs to take part in a run.
pub(crate) struct ProcessConfig {
    pub plan: Arc<Plan>,
    pub options: RunOptions,
    pub inputs: RootInputs,
    pub dead: Arc<DeadLetters>,
    /// This process's slot (MPI rank); 0 is the coordinator.
    pub me: usize,
    /// Sends frames to the other processes.
    pub sender: BridgeSender,
    /// Frames (and transport errors) from the other processes.
    pub incoming: Receiver<Incoming>,
    /// The collector; the coordinator's only.
    pub collector: Option<Collector>,
    /// How to name process `i` in messages (e.g. "worker 2 (pid 1234)").
    pub names: Vec<String>,
    /// Reasons to abort coming from elsewhere (e.g. a watched child process died).
    pub aborts: Option<Receiver<String>>,
    /// The plan fingerprint every process must share.
    pub hello: wire::Hello,
}

/// What a process ends with.
pub(crate) struct ProcessOutcome {
    /// The collected outputs (coordinator).
    pub outputs: Option<std::io::Result<CollectedOutputs>>,
    /// Every instance's counters (coordinator; a worker has its own only).
    pub stats: Vec<Option<InstanceStats>>,
    /// From the last unit processed anywhere to the end (coordinator).
    pub tail: Option<Duration>,
    /// The largest peak RSS of all processes (coordinator), or this process's.
    pub peak_rss_bytes: Option<u64>,
    /// Every process's peak RSS, by name (coordinator; a worker has its own only).
    pub process_peaks: Vec<(String, u64)>,
    /// Frames from outside the run (or failing authentication) dropped by every process
    /// (coordinator), or by this one.
    pub rejected_frames: u64,
}

/// What the dispatcher and the watchers tell the main loop.
enum Control {
    Done { global: usize, stats: Box<InstanceStats> },
    Report { from: usize, report: wire::Report },
    Abort(Abort),
    Shutdown,
    Bye,
}

fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Sends frames to another process on behalf of local senders.
#[derive(Message)]
#[rtype(result = "()")]
struct Forward {
    to: PeerId,
    frame: Frame,
}

struct Proxy {
    plan: Arc<Plan>,
    sender: BridgeSender,
    /// Credits of batches in flight to each remote instance (and the collector), released by
    /// `CREDIT` frames.
    permits: Arc<Mutex<Vec<VecDeque<Permit>>>>,
    control: mpsc::UnboundedSender<Control>,
    names: Arc<Vec<String>>,
}

impl Proxy {
    fn peer_of(&self, to: Address) -> PeerId {
        match to {
            Address::Instance(global) => self.plan.slot_of(global) as PeerId,
            Address::Collector => 0,
        }
    }

    fn send(&self, to: PeerId, frame: Frame) {
        if let Err(e) = self.sender.send(to, frame) {
            let name = self.names.get(to as usize).cloned().unwrap_or_else(|| format!("process {to}"));
            let _ = self.control.send(Control::Abort(Abort::new(
                AbortReason::Transport,
                format!("cannot send to {name}: {e}"),
            )));
        }
    }
}

impl Actor for Proxy {
    type Context = SyncContext<Self>;
}

impl Handler<Envelope<Delivery>> for Proxy {
    type Result = ();

    fn handle(&mut self, envelope: Envelope<Delivery>, _: &mut SyncContext<Self>) {
        let Envelope { payload, permit } = envelope;
        let to = payload.to;
        let channel = to.slot(self.plan.instances().len());
        let frame = match &payload.body {
            Body::Units { port, units } => wire::data(channel, *port, units),
            Body::Collect { name, units } => wire::collect(channel, name, units),
        };
        if let Some(slot) = self.permits.lock().unwrap_or_else(|p| p.into_inner()).get_mut(channel) {
            slot.push_back(permit);
        }
        self.send(self.peer_of(to), frame);
    }
}

impl Handler<Eos> for Proxy {
    type Result = ();

    fn handle(&mut self, eos: Eos, _: &mut SyncContext<Self>) {
        self.send(self.peer_of(Address::Instance(eos.to)), wire::empty(wire::EOS, eos.to));
    }
}

impl Handler<Forward> for Proxy {
    type Result = ();

    fn handle(&mut self, f: Forward, _: &mut SyncContext<Self>) {
        self.send(f.to, f.frame);
    }
}

/// Hands incoming frames to local actors; runs on a thread of its own until the transport
/// closes or `stop` is set. Every frame is checked by the [`Guard`] first.
struct Dispatcher {
    /// The coordinator's observatory, for the workers' samples (observed runs).
    observatory: Option<Arc<Observatory>>,
    plan: Arc<Plan>,
    mailboxes: Vec<Option<Mailbox<Delivery>>>,
    eos: Vec<Option<Recipient<Eos>>>,
    permits: Arc<Mutex<Vec<VecDeque<Permit>>>>,
    credits: crossbeam_channel::Sender<(PeerId, usize)>,
    control: mpsc::UnboundedSender<Control>,
    names: Arc<Vec<String>>,
    hello: wire::Hello,
    guard: Guard,
    /// Frames from outside the run (or failing authentication) dropped so far.
    rejected: Arc<AtomicU64>,
    rejected_log: RateLimitedLog,
    /// Processes that have sent their final report: their closing is expected.
    reported: std::collections::HashSet<PeerId>,
    /// The coordinator ended the run: other processes closing is expected.
    shutting_down: bool,
}

impl Dispatcher {
    fn name(&self, peer: PeerId) -> String {
        self.names.get(peer as usize).cloned().unwrap_or_else(|| format!("process {peer}"))
    }

    fn abort(&self, reason: AbortReason, why: String) {
        let _ = self.control.send(Control::Abort(Abort::new(reason, why)));
    }

    /// Stops the run: `peer` sent what it must not.
    fn violation(&self, peer: PeerId, v: Violation) -> bool {
        self.abort(AbortReason::Protocol, format!("{} sent {v}", self.name(peer)));
        false
    }

    fn run(mut self, incoming: Receiver<Incoming>, aborts: Option<Receiver<String>>) {
        let never = crossbeam_channel::never();
        let aborts = aborts.unwrap_or(never);
        loop {
            select! {
                recv(incoming) -> msg => match msg {
                    Ok(Ok((peer, frame))) => {
                        if !self.frame(peer, frame) {
                            return;
                        }
                    }
                    Ok(Err(e)) => {
                        if !self.transport_error(e) {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                recv(aborts) -> why => {
                    if let Ok(why) = why {
                        self.abort(AbortReason::PeerLost, why);
                    }
                    return;
                }
            }
        }
    }

    /// The credit of a batch from `peer` to local address `to`: releases the guard's count,
    /// then sends `CREDIT` back.
    fn permit(&self, peer: PeerId, to: usize, outstanding: Outstanding) -> Permit {
        let credits = self.credits.clone();
        Permit::releasing(move || {
            outstanding.release();
            let _ = credits.send((peer, to));
        })
    }

    /// Handles one frame; false to stop.
    fn frame(&mut self, peer: PeerId, frame: Frame) -> bool {
        let to = frame.channel as usize;
        let n = self.plan.instances().len();
        let sender = self.name(peer);
        let bad = |what: &str, e: &dyn std::fmt::Display| format!("{sender} sent a bad {what} frame: {e}");
        let max_units = self.guard.batch_size();
        match frame.kind {
            wire::DATA => {
                // Checked before the units are decoded.
                let admitted = wire::data_port(&frame.payload)
                    .and_then(|port| Ok((port, wire::batch_len(wire::data_units(&frame.payload)?)?)));
                let (port, units) = match admitted {
                    Ok(a) => a,
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("data", &e));
                        return false;
                    }
                };
                let outstanding = match self.guard.data(peer, to, port, units) {
                    Ok(o) => o,
                    Err(v) => return self.violation(peer, v),
                };
                let permit = self.permit(peer, to, outstanding);
                let units = match wire::read_data(&frame.payload, max_units) {
                    Ok((_, units)) => units,
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("data", &e));
                        return false;
                    }
                };
                self.deliver(peer, Address::Instance(to), Body::Units { port, units }, permit);
            }
            wire::COLLECT => {
                if to != n {
                    return self.violation(
                        peer,
                        Violation(format!("collected units for channel {to}, not the collector")),
                    );
                }
                let units = wire::collect_units(&frame.payload).and_then(wire::batch_len);
                let outstanding = match units.map_err(|e| Violation(format!("a bad collect frame: {e}"))) {
                    Ok(units) => match self.guard.collect(peer, units) {
                        Ok(o) => o,
                        Err(v) => return self.violation(peer, v),
                    },
                    Err(v) => return self.violation(peer, v),
                };
                let permit = self.permit(peer, to, outstanding);
                let (name, units) = match wire::read_collect(&frame.payload, max_units) {
                    Ok(b) => b,
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("collect", &e));
                        return false;
                    }
                };
                self.deliver(peer, Address::Collector, Body::Collect { name, units }, permit);
            }
            wire::CREDIT => {
                if let Err(v) = self.guard.credit_from_host(peer, to) {
                    return self.violation(peer, v);
                }
                let permit = self
                    .permits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(to)
                    .and_then(VecDeque::pop_front);
                if permit.is_none() {
                    let what =
                        Address::at(to, n).map_or_else(|| format!("channel {to}"), |a| format!("{a:?}"));
                    return self.violation(
                        peer,
                        Violation(format!("a credit for {what} with no batch outstanding")),
                    );
                }
                drop(permit);
            }
            wire::EOS => {
                if let Err(v) = self.guard.eos(peer, to) {
                    return self.violation(peer, v);
                }
                match self.eos.get(to).and_then(Option::as_ref) {
                    Some(r) => r.do_send(Eos { to }),
                    None => {
                        let v = Violation(format!(
                            "an end of stream for instance {to}, which is not hosted here"
                        ));
                        return self.violation(peer, v);
                    }
                }
            }
            wire::DONE => {
                if let Err(v) = self.guard.done(peer, to) {
                    return self.violation(peer, v);
                }
                match wire::from_bytes::<InstanceStats>(&frame.payload) {
                    Ok(stats) => {
                        let _ = self.control.send(Control::Done { global: to, stats: Box::new(stats) });
                    }
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("done", &e));
                        return false;
                    }
                }
            }
            wire::REPORT => {
                if let Err(v) = self.guard.report(peer) {
                    return self.violation(peer, v);
                }
                match wire::from_bytes::<wire::Report>(&frame.payload) {
                    Ok(report) => {
                        self.reported.insert(peer);
                        let _ = self.control.send(Control::Report { from: peer as usize, report });
                    }
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("report", &e));
                        return false;
                    }
                }
            }
            wire::SAMPLES => {
                if let Err(v) = self.guard.samples(peer) {
                    return self.violation(peer, v);
                }
                match wire::from_bytes::<ProcessSample>(&frame.payload) {
                    Ok(sample) => {
                        if let Some(obs) = &self.observatory {
                            obs.ingest(peer, sample);
                        }
                    }
                    Err(e) => {
                        self.abort(AbortReason::Protocol, bad("samples", &e));
                        return false;
                    }
                }
            }
            wire::HELLO => match wire::from_bytes::<wire::Hello>(&frame.payload) {
                Ok(h) if h.fingerprint == self.hello.fingerprint => {}
                Ok(h) => {
                    self.abort(AbortReason::Protocol, format!(
                        "{} (pid {} on {}) runs a different workflow or options: plan fingerprint {:016x}, here {:016x}",
                        self.name(peer),
                        h.pid,
                        h.host,
                        h.fingerprint,
                        self.hello.fingerprint
                    ));
                    return false;
                }
                Err(e) => {
                    self.abort(AbortReason::Protocol, bad("hello", &e));
                    return false;
                }
            },
            wire::ABORT => {
                let why = String::from_utf8_lossy(&frame.payload).into_owned();
                self.abort(AbortReason::PeerFailed, format!("{} aborted the run: {why}", self.name(peer)));
                return false;
            }
            wire::SHUTDOWN => {
                if let Err(v) = self.guard.only_from_coordinator(peer, "shutdown") {
                    return self.violation(peer, v);
                }
                self.shutting_down = true;
                let _ = self.control.send(Control::Shutdown);
            }
            wire::BYE => {
                if let Err(v) = self.guard.only_from_coordinator(peer, "goodbye") {
                    return self.violation(peer, v);
                }
                let _ = self.control.send(Control::Bye);
            }
            other => {
                return self.violation(peer, Violation(format!("a frame of unknown kind {other}")));
            }
        }
        true
    }

    /// Hands a checked batch to its local actor.
    fn deliver(&self, peer: PeerId, to: Address, body: Body, permit: Permit) {
        let slot = to.slot(self.plan.instances().len());
        match self.mailboxes.get(slot).and_then(Option::as_ref) {
            Some(mailbox) => {
                if mailbox.send_with(Delivery { to, body }, permit).is_err() {
                    // Only while this process is aborting: an instance that ended normally
                    // has had every end of stream, and the guard refuses data after those.
                    tracing::debug!(
                        "{to:?} has stopped (the run is stopping); a batch from {} is dropped",
                        self.name(peer)
                    );
                }
            }
            None => {
                self.abort(AbortReason::Internal, format!("{to:?} passed the checks but is not hosted here"))
            }
        }
    }

    /// Handles a transport error; false to stop.
    fn transport_error(&mut self, e: TransportError) -> bool {
        match &e {
            TransportError::CorruptFrame { peer: None, .. }
            | TransportError::Unauthenticated { .. }
            | TransportError::UnexpectedSource { .. } => {
                // A stranger wrote to our port (or a frame failed authentication): the
                // transport dropped it; count it and carry on.
                self.rejected.fetch_add(1, Ordering::Relaxed);
                self.rejected_log
                    .event("", Level::Warn, || format!("rejected a frame from outside the run: {e}"));
                return true;
            }
            _ => {}
        }
        if self.shutting_down || e.peer().is_some_and(|p| self.reported.contains(&p)) {
            // A worker that has finished and reported closes its connection: expected.
            tracing::debug!("{e} (after its final report)");
            return true;
        }
        match &e {
            TransportError::PeerLost { peer, .. } | TransportError::PeerSilent { peer, .. } => {
                self.abort(AbortReason::PeerLost, format!("{} stopped responding: {e}", self.name(*peer)));
                false
            }
            TransportError::PeerClosed { peer } => {
                self.abort(
                    AbortReason::PeerLost,
                    format!("{} closed its connection before the end of the run", self.name(*peer)),
                );
                false
            }
            _ if e.is_fatal() => {
                self.abort(AbortReason::Transport, format!("transport failure: {e}"));
                false
            }
            _ => {
                tracing::warn!("transport: {e}");
                true
            }
        }
    }
}

/// Runs this process's share of the run to the end (or to an abort).
pub(crate) fn run_process(config: ProcessConfig) -> Result<ProcessOutcome, Abort> {
    let ProcessConfig {
        plan,
        mut options,
        inputs,
        dead,
        me,
        sender,
        incoming,
        collector,
        names,
        aborts,
        hello,
    } = config;
    let coordinator = me == 0;
    // An observed run: a worker observes its own instances and sends the coordinator their
    // samples; the coordinator's observatory (the runner's) takes them in.
    if options.observe.enabled && options.observe.live.is_none() && !coordinator {
        options.observe.live = Some(Observatory::for_process(me as u32, options.observe.sample_interval));
    }
    let observatory = options.observe.observatory().cloned();
    let names = Arc::new(names);
    let processes = plan.processes();
    System::new().block_on(async move {
        let (control_tx, mut control) = mpsc::unbounded_channel::<Control>();
        let host_config = HostConfig {
            plan: plan.clone(),
            options: options.clone(),
            inputs,
            dead: dead.clone(),
            slot: Some(me),
            collector: if coordinator { collector } else { None },
        };
        let (host, mut done) = Host::start(host_config);
        let n = plan.instances().len();
        let permits = Arc::new(Mutex::new(Address::all(n).map(|_| VecDeque::new()).collect::<Vec<_>>()));
        let proxy = {
            let (p, s, perms, c, nm) = (plan.clone(), sender.clone(), permits.clone(), control_tx.clone(), names.clone());
            SyncArbiter::start_with_thread_builder(
                1,
                || std::thread::Builder::new().name("d4r-proxy".into()),
                move || Proxy {
                    plan: p.clone(),
                    sender: s.clone(),
                    permits: perms.clone(),
                    control: c.clone(),
                    names: nm.clone(),
                },
            )
        };
        // Batches to another process wait longer for their credit (a round trip through two
        // transport threads): more credits keep the pipe full.
        let capacity = options.mailbox_batches * REMOTE_CREDIT_FACTOR;
        let mailboxes: Vec<Mailbox<Delivery>> = Address::all(n)
            .map(|a| match host.local_mailbox(a) {
                Some(m) => m.clone(),
                None => Mailbox::new(proxy.clone().recipient(), capacity),
            })
            .collect();
        let eos: Vec<Recipient<Eos>> = (0..n)
            .map(|g| match host.local_eos(g) {
                Some(r) => r.clone(),
                None => proxy.clone().recipient(),
            })
            .collect();

        // Credits back to senders, from a thread that may block on the bridge.
        let (credit_tx, credit_rx) = crossbeam_channel::unbounded::<(PeerId, usize)>();
        let rejected = Arc::new(AtomicU64::new(0));
        let credit_sender = sender.clone();
        let credit_thread = std::thread::Builder::new()
            .name("d4r-credits".into())
            .spawn(move || {
                while let Ok((peer, to)) = credit_rx.recv() {
                    if credit_sender.send(peer, wire::empty(wire::CREDIT, to)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Abort::new(AbortReason::Transport, format!("cannot start a thread: {e}")))?;
        let guard = Guard::new(&plan, me, capacity, options.batch_size);
        if let Some(obs) = &observatory {
            for g in 0..n {
                if let Some(m) = host.local_mailbox(Address::Instance(g)).cloned() {
                    let remote = guard.outstanding_at(g);
                    obs.watch_mailbox(g, Box::new(move || batches_waiting(&m, &remote)));
                }
            }
            if !coordinator {
                let to = proxy.clone();
                obs.start(Some(Box::new(move |sample| match wire::samples(&sample) {
                    Ok(frame) => to.do_send(Forward { to: 0, frame }),
                    Err(e) => tracing::warn!("cannot encode this worker's samples: {e}"),
                })));
            }
        }
        let dispatcher = Dispatcher {
            observatory: if coordinator { observatory.clone() } else { None },
            plan: plan.clone(),
            mailboxes: Address::all(n).map(|a| host.local_mailbox(a).cloned()).collect(),
            eos: (0..n).map(|g| host.local_eos(g).cloned()).collect(),
            permits: permits.clone(),
            credits: credit_tx,
            control: control_tx.clone(),
            names: names.clone(),
            hello: hello.clone(),
            guard,
            rejected: rejected.clone(),
            rejected_log: RateLimitedLog::new("rejected frames", 5),
            reported: Default::default(),
            shutting_down: false,
        };
        if !coordinator {
            let bytes = wire::to_bytes(&hello).map_err(|e| Abort::internal(format!("cannot encode the start-up check: {e}")))?;
            proxy.do_send(Forward { to: 0, frame: Frame::new(wire::HELLO, 0, bytes) });
        }
        // The address tables first: a batch from another process must not reach a local actor
        // before it knows where to send what it writes.
        host.run(mailboxes, eos);
        let dispatch_thread = std::thread::Builder::new()
            .name("d4r-dispatch".into())
            .spawn(move || dispatcher.run(incoming, aborts))
            .map_err(|e| Abort::new(AbortReason::Transport, format!("cannot start a thread: {e}")))?;

        let mut stats: Vec<Option<InstanceStats>> = vec![None; n];
        let mut local_left = (0..n).filter(|g| host.local_mailbox(Address::Instance(*g)).is_some()).count();
        let mut finished = 0usize;
        let mut reports_left = processes.saturating_sub(1);
        let mut shutdown = false;
        let mut all_done_at: Option<(Instant, u64)> = None;
        let mut last_unit_unix = 0u64;
        let mut process_peaks: Vec<(String, u64)> = Vec::new();
        let mut rejected_elsewhere = 0u64;
        let mut outputs = None;
        let mut aborted = None;
        let host_start_unix = unix_ns().saturating_sub(host.started().elapsed().as_nanos() as u64);
        loop {
            if coordinator && finished == n && all_done_at.is_none() {
                all_done_at = Some((Instant::now(), unix_ns()));
                outputs = host.finish_collect().await;
                for peer in 1..processes {
                    let _ = sender.send(peer as PeerId, wire::empty(wire::SHUTDOWN, 0));
                }
            }
            if coordinator && all_done_at.is_some() && reports_left == 0 {
                break;
            }
            if !coordinator && local_left == 0 && shutdown {
                // The last samples go before the report (the final counts travel with DONE).
                if let Some(obs) = &observatory {
                    obs.stop();
                }
                let report = wire::Report {
                    dead_total: dead.total(),
                    dead_kept: wire::encode_dead(&dead.kept()),
                    peak_rss_bytes: peak_rss_bytes(),
                    last_unit_unix_ns: host_start_unix + host.last_unit().as_nanos() as u64,
                    rejected_frames: rejected.load(Ordering::Relaxed),
                };
                // Wait until the proxy has handed the report (and the frames queued before it)
                // to the transport, then for the coordinator's acknowledgement: after it,
                // closing the sockets loses nothing.
                match wire::report(&report) {
                    Ok(frame) => {
                        let _ = proxy.send(Forward { to: 0, frame }).await;
                    }
                    Err(e) => {
                        aborted = Some(Abort::internal(format!("cannot encode this worker's report: {e}")));
                        break;
                    }
                }
                let ack = tokio::time::timeout(options.cluster.peer_timeout.max(Duration::from_secs(1)), async {
                    loop {
                        match control.recv().await {
                            Some(Control::Bye) | None => return None,
                            Some(Control::Abort(why)) => return Some(why),
                            Some(_) => {}
                        }
                    }
                });
                match ack.await {
                    Ok(Some(why)) => aborted = Some(why),
                    Ok(None) => {}
                    Err(_) => tracing::warn!("no acknowledgement of the final report from the coordinator"),
                }
                break;
            }
            tokio::select! {
                d = done.recv() => match d {
                    Some(Done::Finished { global, stats: s }) => {
                        local_left -= 1;
                        if coordinator {
                            finished += 1;
                        } else {
                            match wire::done(global, &s) {
                                Ok(frame) => proxy.do_send(Forward { to: 0, frame }),
                                Err(e) => { aborted = Some(Abort::internal(format!("cannot encode instance {global}'s counters: {e}"))); break; }
                            }
                        }
                        stats[global] = Some(*s);
                    }
                    Some(Done::Aborted(why)) => { aborted = Some(why); break; }
                    None => { aborted = Some(Abort::internal("the local actors stopped unexpectedly")); break; }
                },
                c = control.recv() => match c {
                    Some(Control::Done { global, stats: s }) if coordinator => {
                        if stats[global].is_none() {
                            finished += 1;
                        }
                        stats[global] = Some(*s);
                    }
                    Some(Control::Done { .. }) => {}
                    Some(Control::Report { from, report }) => {
                        reports_left = reports_left.saturating_sub(1);
                        let _ = sender.send(from as PeerId, wire::empty(wire::BYE, 0));
                        match wire::decode_dead(&report.dead_kept) {
                            Ok(letters) => dead.merge(report.dead_total, letters),
                            Err(e) => tracing::warn!("{}: unreadable dead letters: {e}", names.get(from).map_or("a worker", |s| s)),
                        }
                        if let Some(bytes) = report.peak_rss_bytes {
                            let name = names.get(from).cloned().unwrap_or_else(|| format!("process {from}"));
                            process_peaks.push((name, bytes));
                        }
                        rejected_elsewhere += report.rejected_frames;
                        last_unit_unix = last_unit_unix.max(report.last_unit_unix_ns);
                    }
                    Some(Control::Abort(why)) => { aborted = Some(why); break; }
                    Some(Control::Shutdown) => shutdown = true,
                    Some(Control::Bye) => {}
                    None => { aborted = Some(Abort::internal("the dispatcher stopped unexpectedly")); break; }
                },
            }
        }
        if let Some(why) = &aborted {
            for peer in (0..processes).filter(|p| *p != me) {
                let _ = sender.send_timeout(peer as PeerId, wire::abort(why.message()), Duration::from_millis(200));
            }
            host.abort(why.clone());
        }
        if let (Some(obs), false) = (&observatory, coordinator) {
            obs.stop();
        }
        let local_last = host_start_unix + host.last_unit().as_nanos() as u64;
        last_unit_unix = last_unit_unix.max(local_last);
        host.stop();
        drop(proxy);
        System::current().stop();
        drop(dispatch_thread);
        drop(credit_thread);
        if let Some(why) = aborted {
            return Err(why);
        }
        let tail = all_done_at.map(|(_, at)| Duration::from_nanos(at.saturating_sub(last_unit_unix)));
        let rejected_frames = rejected.load(Ordering::Relaxed) + rejected_elsewhere;
        // This process's high-water mark, read now: what its PEs took at any time of the run.
        if let Some(bytes) = peak_rss_bytes() {
            let name = names.get(me).cloned().unwrap_or_else(|| format!("process {me}"));
            process_peaks.insert(0, (name, bytes));
        }
        let peak = process_peaks.iter().map(|(_, b)| *b).max();
        Ok(ProcessOutcome { outputs, stats, tail, peak_rss_bytes: peak, process_peaks, rejected_frames })
    })
}
