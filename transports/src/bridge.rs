//! [`Bridge`]: runs one [`Transport`] on a dedicated thread and exposes it through channels.
//!
//! The transport is **created on that thread** by a closure (MPI must be initialised on the
//! thread that makes every MPI call; ZMQ sockets are `!Sync`), and never leaves it. The rest of
//! the program holds `Send + Sync` handles:
//!
//! - outgoing: a bounded channel of `(to, frame)`. [`BridgeSender::send`] blocks while it is
//!   full (backpressure); [`BridgeSender::try_send`] does not. The thread stops taking frames
//!   from it while the transport already holds [`BridgeConfig::max_pending_sends`] unsent ones,
//!   so a slow peer slows its senders instead of filling memory.
//! - incoming: a bounded channel of [`Incoming`] = `Result<(PeerId, Frame), TransportError>`.
//!   Errors (a peer lost, a corrupt frame dropped…) arrive in line with the frames. While the
//!   consumer lets it fill, the thread stops receiving but keeps sending and heartbeating.
//! - [`Bridge::call`] runs a closure on the thread with `&mut T` (e.g. `connect` a ZMQ transport
//!   once the addresses are known, read counters, `abort` MPI).
//!
//! The thread never spins: when nothing happens it waits on its command channels with an
//! exponential back-off from 1 µs up to [`BridgeConfig::max_idle_wait`] (1 ms by default), and
//! polls the transport with a zero timeout between waits.
//!
//! [`Bridge::shutdown`] (or dropping the bridge) sends what is still queued (up to
//! [`BridgeConfig::shutdown_timeout`], receiving meanwhile so that two peers flushing to each
//! other cannot deadlock), closes the transport, drops it **on its thread** (for MPI: finalize),
//! and joins the thread. A fatal transport error is delivered on the incoming channel, after
//! which sends fail with [`TransportError::Closed`], [`Bridge::call`] still works (to inspect
//! the transport or `abort` an MPI job), and `shutdown` drops the transport and returns the error.

use std::any::Any;
use std::collections::VecDeque;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{
    bounded, unbounded, Receiver, RecvTimeoutError, Select, SendTimeoutError, Sender, TryRecvError,
};

use crate::frame::Frame;
use crate::{check_send, Backoff, PeerId, Transport, TransportError};

/// One item of the incoming channel: a frame with its sender, or an error in line with frames.
pub type Incoming = Result<(PeerId, Frame), TransportError>;

/// Settings of a [`Bridge`].
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Capacity of the outgoing channel, in frames (at least 1).
    pub outgoing_capacity: usize,
    /// Capacity of the incoming channel, in frames (at least 1).
    pub incoming_capacity: usize,
    /// The thread stops taking outgoing frames while the transport holds this many unsent ones.
    pub max_pending_sends: usize,
    /// Longest idle wait between two polls of the transport (the back-off ceiling).
    pub max_idle_wait: Duration,
    /// How long shutdown keeps trying to send what is queued.
    pub shutdown_timeout: Duration,
    /// Name of the thread.
    pub thread_name: String,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            outgoing_capacity: 256,
            incoming_capacity: 256,
            max_pending_sends: 256,
            max_idle_wait: Duration::from_millis(1),
            shutdown_timeout: Duration::from_secs(10),
            thread_name: "d4rs-transport".into(),
        }
    }
}

/// Why [`BridgeSender::try_send`] did not take a frame.
#[derive(Debug, thiserror::Error)]
pub enum TrySendError {
    /// The outgoing channel is full; here is the frame back.
    #[error("outgoing channel is full")]
    Full(Frame),
    /// The frame can never be sent (unknown peer, too large, bridge closed).
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A cloneable, `Send + Sync` handle for sending through a [`Bridge`].
#[derive(Debug, Clone)]
pub struct BridgeSender {
    tx: Sender<(PeerId, Frame)>,
    me: PeerId,
    peers: u32,
    max_payload: usize,
}

impl BridgeSender {
    /// This endpoint's id.
    pub fn me(&self) -> PeerId {
        self.me
    }

    /// Number of endpoints.
    pub fn peers(&self) -> u32 {
        self.peers
    }

    /// Largest payload accepted.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Queues `frame` for `to`, blocking while the outgoing channel is full (backpressure).
    /// Fails at once for an unknown peer or an oversized payload, and with
    /// [`TransportError::Closed`] once the bridge thread has stopped.
    pub fn send(&self, to: PeerId, frame: Frame) -> Result<(), TransportError> {
        check_send(to, self.peers, frame.payload.len(), self.max_payload)?;
        self.tx.send((to, frame)).map_err(|_| TransportError::Closed)
    }

    /// Like [`BridgeSender::send`] but gives up after `timeout`, returning the frame.
    pub fn send_timeout(&self, to: PeerId, frame: Frame, timeout: Duration) -> Result<(), TrySendError> {
        check_send(to, self.peers, frame.payload.len(), self.max_payload)?;
        match self.tx.send_timeout((to, frame), timeout) {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout((_, frame))) => Err(TrySendError::Full(frame)),
            Err(SendTimeoutError::Disconnected(_)) => Err(TransportError::Closed.into()),
        }
    }

    /// Queues `frame` for `to` if there is room now.
    pub fn try_send(&self, to: PeerId, frame: Frame) -> Result<(), TrySendError> {
        check_send(to, self.peers, frame.payload.len(), self.max_payload)?;
        match self.tx.try_send((to, frame)) {
            Ok(()) => Ok(()),
            Err(crossbeam_channel::TrySendError::Full((_, frame))) => Err(TrySendError::Full(frame)),
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => Err(TransportError::Closed.into()),
        }
    }
}

type Call<T> = Box<dyn FnOnce(&mut T) + Send>;

enum Control<T> {
    Call(Call<T>),
    Shutdown,
}

/// What the thread reports once the transport exists.
struct Ready {
    me: PeerId,
    peers: u32,
    max_payload: usize,
}

/// A [`Transport`] running on its own thread, reached through channels. See the module docs.
///
/// `Bridge<T>` is `Send + Sync` whatever `T` is: the transport itself never leaves its thread.
pub struct Bridge<T: Transport + 'static> {
    sender: BridgeSender,
    incoming: Receiver<Incoming>,
    control: Sender<Control<T>>,
    thread: Option<JoinHandle<Result<(), TransportError>>>,
}

impl<T: Transport + 'static> std::fmt::Debug for Bridge<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("me", &self.sender.me)
            .field("peers", &self.sender.peers)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

impl<T: Transport + 'static> Bridge<T> {
    /// Starts the thread, creates the transport there with `make`, and returns once it exists.
    /// An error (or panic) of `make` is returned here and the thread is joined.
    pub fn spawn<F>(config: BridgeConfig, make: F) -> Result<Bridge<T>, TransportError>
    where
        F: FnOnce() -> Result<T, TransportError> + Send + 'static,
    {
        let (out_tx, out_rx) = bounded::<(PeerId, Frame)>(config.outgoing_capacity.max(1));
        let (in_tx, in_rx) = bounded::<Incoming>(config.incoming_capacity.max(1));
        let (ctl_tx, ctl_rx) = unbounded::<Control<T>>();
        let (ready_tx, ready_rx) = bounded::<Result<Ready, TransportError>>(1);
        let thread_config = config.clone();
        let thread = std::thread::Builder::new()
            .name(config.thread_name.clone())
            .spawn(move || {
                let mut transport = match make() {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let ready = Ready {
                    me: transport.me(),
                    peers: transport.peers(),
                    max_payload: transport.max_payload(),
                };
                if ready_tx.send(Ok(ready)).is_err() {
                    return Ok(());
                }
                let mut worker =
                    Worker { config: thread_config, out_rx, in_tx, ctl_rx, backlog: VecDeque::new() };
                worker.run(&mut transport)
                // `transport` is dropped here, on its own thread (MPI_Finalize for MPI).
            })
            .map_err(|e| TransportError::Thread(format!("cannot start the transport thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(ready)) => Ok(Bridge {
                sender: BridgeSender {
                    tx: out_tx,
                    me: ready.me,
                    peers: ready.peers,
                    max_payload: ready.max_payload,
                },
                incoming: in_rx,
                control: ctl_tx,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(match thread.join() {
                Err(payload) => TransportError::Thread(panic_message(payload)),
                Ok(_) => TransportError::Thread("the transport thread ended before it was ready".into()),
            }),
        }
    }

    /// This endpoint's id.
    pub fn me(&self) -> PeerId {
        self.sender.me
    }

    /// Number of endpoints.
    pub fn peers(&self) -> u32 {
        self.sender.peers
    }

    /// A new sending handle (cheap; `Send + Sync + Clone`).
    pub fn sender(&self) -> BridgeSender {
        self.sender.clone()
    }

    /// Same as [`BridgeSender::send`]: blocks while the outgoing channel is full.
    pub fn send(&self, to: PeerId, frame: Frame) -> Result<(), TransportError> {
        self.sender.send(to, frame)
    }

    /// Same as [`BridgeSender::try_send`].
    pub fn try_send(&self, to: PeerId, frame: Frame) -> Result<(), TrySendError> {
        self.sender.try_send(to, frame)
    }

    /// The incoming channel (a clone: `Send + Sync`, usable in `crossbeam_channel::select!`).
    /// It disconnects when the bridge thread has stopped.
    pub fn incoming(&self) -> Receiver<Incoming> {
        self.incoming.clone()
    }

    /// Waits for the next incoming item. Returns `Err(TransportError::Closed)` once the thread
    /// has stopped and everything it delivered has been read.
    pub fn recv(&self) -> Incoming {
        self.incoming.recv().unwrap_or(Err(TransportError::Closed))
    }

    /// Waits up to `timeout` for the next incoming item; `None` if nothing came.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Incoming> {
        match self.incoming.recv_timeout(timeout) {
            Ok(item) => Some(item),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(TransportError::Closed)),
        }
    }

    /// The next incoming item if one is there.
    pub fn try_recv(&self) -> Option<Incoming> {
        match self.incoming.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(TransportError::Closed)),
        }
    }

    /// Runs `f` on the transport's thread and returns its result (waits for it). Fails with
    /// [`TransportError::Closed`] if the thread has stopped.
    pub fn call<R, F>(&self, f: F) -> Result<R, TransportError>
    where
        R: Send + 'static,
        F: FnOnce(&mut T) -> R + Send + 'static,
    {
        let (tx, rx) = bounded::<R>(1);
        let call: Call<T> = Box::new(move |t: &mut T| {
            let _ = tx.send(f(t));
        });
        self.control.send(Control::Call(call)).map_err(|_| TransportError::Closed)?;
        rx.recv().map_err(|_| TransportError::Closed)
    }

    /// Sends what is queued (up to [`BridgeConfig::shutdown_timeout`]), closes and drops the
    /// transport on its thread, and joins the thread. Returns the fatal error that stopped the
    /// thread, a [`TransportError::FlushTimeout`] if frames were left unsent, or a panic.
    pub fn shutdown(mut self) -> Result<(), TransportError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), TransportError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.control.send(Control::Shutdown);
        match thread.join() {
            Ok(result) => result,
            Err(payload) => Err(TransportError::Thread(panic_message(payload))),
        }
    }
}

impl<T: Transport + 'static> Drop for Bridge<T> {
    /// Same as [`Bridge::shutdown`], ignoring the result.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Most items moved per step in each direction before the thread looks at its controls again.
const BATCH: usize = 64;

/// The state of the bridge thread.
struct Worker<T> {
    config: BridgeConfig,
    out_rx: Receiver<(PeerId, Frame)>,
    in_tx: Sender<Incoming>,
    ctl_rx: Receiver<Control<T>>,
    /// Items the incoming channel had no room for yet (at most one frame, plus errors).
    backlog: VecDeque<Incoming>,
}

enum Step {
    Continue,
    Shutdown,
}

impl<T: Transport> Worker<T> {
    fn run(&mut self, t: &mut T) -> Result<(), TransportError> {
        let mut backoff = Backoff::new(self.config.max_idle_wait);
        loop {
            match self.step(t) {
                Ok((Step::Shutdown, _)) => return self.shutdown(t),
                Ok((Step::Continue, true)) => backoff.reset(),
                Ok((Step::Continue, false)) => match self.idle_wait(t, backoff.next_wait()) {
                    Ok(Step::Continue) => {}
                    Ok(Step::Shutdown) => return self.shutdown(t),
                    Err(fatal) => return self.die(t, fatal),
                },
                Err(fatal) => return self.die(t, fatal),
            }
        }
    }

    /// One round: controls, delivery, sends, receives. Returns whether anything happened.
    fn step(&mut self, t: &mut T) -> Result<(Step, bool), TransportError> {
        let mut busy = false;
        loop {
            match self.ctl_rx.try_recv() {
                Ok(Control::Call(f)) => {
                    f(t);
                    busy = true;
                }
                Ok(Control::Shutdown) | Err(TryRecvError::Disconnected) => return Ok((Step::Shutdown, busy)),
                Err(TryRecvError::Empty) => break,
            }
        }
        busy |= self.deliver_backlog();
        let pending_before = t.pending_sends();
        let mut accepted = 0;
        for _ in 0..BATCH {
            if t.pending_sends() >= self.config.max_pending_sends {
                break;
            }
            match self.out_rx.try_recv() {
                Ok((to, frame)) => {
                    accepted += 1;
                    self.send_one(t, to, frame)?;
                }
                Err(_) => break,
            }
        }
        busy |= accepted > 0;
        if self.backlog.is_empty() {
            for _ in 0..BATCH {
                match t.poll(Duration::ZERO) {
                    Ok(Some(item)) => {
                        busy = true;
                        self.backlog.push_back(Ok(item));
                        self.deliver_backlog();
                        if !self.backlog.is_empty() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        busy = true;
                        self.report(e)?;
                        break;
                    }
                }
            }
        } else if let Err(e) = t.progress() {
            self.report(e)?;
        }
        // Queued frames that left during this round count as work: keep going without a nap.
        busy |= t.pending_sends() < pending_before + accepted;
        Ok((Step::Continue, busy))
    }

    fn send_one(&mut self, t: &mut T, to: PeerId, frame: Frame) -> Result<(), TransportError> {
        match t.send_owned(to, frame) {
            Ok(()) => Ok(()),
            Err(e) => self.report(e),
        }
    }

    /// Queues an error for the consumer; a fatal one is also returned to stop the thread.
    fn report(&mut self, e: TransportError) -> Result<(), TransportError> {
        let fatal = e.is_fatal();
        self.backlog.push_back(Err(e.clone()));
        self.deliver_backlog();
        if fatal {
            Err(e)
        } else {
            Ok(())
        }
    }

    /// Moves backlog items into the incoming channel while it has room. Returns whether any moved.
    fn deliver_backlog(&mut self) -> bool {
        let mut moved = false;
        while let Some(item) = self.backlog.pop_front() {
            match self.in_tx.try_send(item) {
                Ok(()) => moved = true,
                Err(crossbeam_channel::TrySendError::Full(item)) => {
                    self.backlog.push_front(item);
                    break;
                }
                // Nobody reads any more: drop what arrives.
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
        moved
    }

    /// Sleeps until a command arrives or `wait` passes, handling that command.
    fn idle_wait(&mut self, t: &mut T, wait: Duration) -> Result<Step, TransportError> {
        let accept_sends = t.pending_sends() < self.config.max_pending_sends;
        if !accept_sends && self.backlog.is_empty() {
            // Only the network can unblock us now: let the transport wait for it (it returns as
            // soon as there is traffic or room to send). Controls are seen after `wait` at most.
            match t.poll(wait) {
                Ok(Some(item)) => {
                    self.backlog.push_back(Ok(item));
                    self.deliver_backlog();
                }
                Ok(None) => {}
                Err(e) => self.report(e)?,
            }
            return Ok(Step::Continue);
        }
        let mut sel = Select::new();
        let ctl = sel.recv(&self.ctl_rx);
        let out = if accept_sends { Some(sel.recv(&self.out_rx)) } else { None };
        let Ok(oper) = sel.select_timeout(wait) else {
            return Ok(Step::Continue);
        };
        let index = oper.index();
        if index == ctl {
            match oper.recv(&self.ctl_rx) {
                Ok(Control::Call(f)) => {
                    f(t);
                    Ok(Step::Continue)
                }
                Ok(Control::Shutdown) | Err(_) => Ok(Step::Shutdown),
            }
        } else if Some(index) == out {
            match oper.recv(&self.out_rx) {
                Ok((to, frame)) => {
                    self.send_one(t, to, frame)?;
                    Ok(Step::Continue)
                }
                // All senders dropped: nothing more will be sent, but keep receiving.
                Err(_) => {
                    std::thread::sleep(wait);
                    Ok(Step::Continue)
                }
            }
        } else {
            Ok(Step::Continue)
        }
    }

    /// Orderly end: send what is queued (receiving meanwhile), close, report.
    fn shutdown(&mut self, t: &mut T) -> Result<(), TransportError> {
        // Take every frame already accepted by `send`.
        while let Ok((to, frame)) = self.out_rx.try_recv() {
            if let Err(e) = t.send_owned(to, frame) {
                if e.is_fatal() {
                    return self.finish_with(t, Err(e));
                }
                self.backlog.push_back(Err(e));
            }
        }
        let start = Instant::now();
        let mut backoff = Backoff::new(self.config.max_idle_wait);
        let mut result = Ok(());
        while t.pending_sends() > 0 {
            let waited = start.elapsed();
            if waited >= self.config.shutdown_timeout {
                result = Err(TransportError::FlushTimeout { pending: t.pending_sends(), waited });
                break;
            }
            // Keep receiving so that a peer flushing towards us can finish too. Frames that do
            // not fit in the incoming channel are dropped: the consumer asked to stop.
            match t.poll(Duration::ZERO) {
                Ok(Some(item)) => {
                    let _ = self.in_tx.try_send(Ok(item));
                    backoff.reset();
                }
                Ok(None) => backoff.sleep_at_most(self.config.shutdown_timeout - waited),
                Err(e) if e.is_fatal() => {
                    result = Err(e);
                    break;
                }
                Err(e) => self.backlog.push_back(Err(e)),
            }
        }
        self.finish_with(t, result)
    }

    fn finish_with(&mut self, t: &mut T, result: Result<(), TransportError>) -> Result<(), TransportError> {
        let closed = t.close();
        self.deliver_backlog();
        result.and(closed)
    }

    /// A fatal error: stop moving frames, make sure the consumer can see the error, and keep
    /// serving [`Bridge::call`] (e.g. to `abort` an MPI job) until told to shut down. The
    /// transport is only dropped then, so a broken MPI transport is not finalised behind the
    /// user's back.
    fn die(&mut self, t: &mut T, fatal: TransportError) -> Result<(), TransportError> {
        // Senders now get `Closed` instead of blocking on a channel nobody drains.
        let (_, dead_rx) = bounded(0);
        drop(std::mem::replace(&mut self.out_rx, dead_rx));
        let _ = t.close();
        loop {
            let mut sel = Select::new();
            let ctl = sel.recv(&self.ctl_rx);
            let send = if self.backlog.is_empty() { None } else { Some(sel.send(&self.in_tx)) };
            let oper = sel.select();
            let index = oper.index();
            if index == ctl {
                match oper.recv(&self.ctl_rx) {
                    Ok(Control::Call(f)) => f(t),
                    Ok(Control::Shutdown) | Err(_) => break,
                }
            } else if Some(index) == send {
                if let Some(item) = self.backlog.pop_front() {
                    if oper.send(&self.in_tx, item).is_err() {
                        self.backlog.clear();
                    }
                }
            }
        }
        Err(fatal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inmem::{network, InMemConfig, InMemTransport};

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Bridge<InMemTransport>>();
        assert_send_sync::<BridgeSender>();
    }

    #[test]
    fn make_error_is_returned_by_spawn() {
        let r = Bridge::<InMemTransport>::spawn(BridgeConfig::default(), || {
            Err(TransportError::Config("nope".into()))
        });
        assert!(matches!(r, Err(TransportError::Config(ref m)) if m == "nope"));
        let r = Bridge::<InMemTransport>::spawn(BridgeConfig::default(), || panic!("boom"));
        assert!(matches!(r, Err(TransportError::Thread(ref m)) if m.contains("boom")), "{r:?}");
    }

    #[test]
    fn call_runs_on_the_transport_thread() {
        let mut eps = network(1, InMemConfig::default()).unwrap();
        let t = eps.pop().unwrap();
        let bridge = Bridge::spawn(BridgeConfig::default(), move || Ok(t)).unwrap();
        let caller = std::thread::current().id();
        let (me, other_thread) =
            bridge.call(move |t| (t.me(), std::thread::current().id() != caller)).unwrap();
        assert_eq!(me, 0);
        assert!(other_thread);
        bridge.shutdown().unwrap();
    }
}
