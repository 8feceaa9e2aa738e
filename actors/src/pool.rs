//! A pool of worker actors that grows and shrinks: the dynamic mappings' workers, and nothing
//! of what they do (this module knows no PEs and no queue).
//!
//! Every worker is an actix actor on a thread of its own (a sync arbiter with one thread), so
//! a worker that blocks — on I/O, on a long computation, on an empty queue — stalls only
//! itself. Its life is a loop of [`Worker::step`]s (each does one piece of work or waits a
//! bounded time for some), interleaved with the messages the pool sends it: a step that sees
//! mail waiting ([`WorkerSignals::has_mail`]) returns [`Step::Interrupted`], the messages are
//! handled in order, and the loop resumes. Growing spawns a worker; shrinking *retires* one:
//! it finishes its current step, runs [`Worker::retire`] (where a PE worker runs the
//! `postprocess` of its instances) and ends. The pool records its size over time, so the
//! worker-seconds a run used can be reported.
//!
//! Create and use a pool inside a running actix `System`, and never block the system's thread
//! while the pool works: messages to sync arbiters pass through it. Wait for the workers with
//! [`Pool::wait_all`], which is `async`.
//!
//! ```
//! use dispel4rs_actors::pool::{Pool, Step, Worker, WorkerSignals};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! struct Counter { signals: WorkerSignals, left: u32, total: Arc<AtomicU64> }
//! impl Worker for Counter {
//!     type Message = u64;
//!     fn step(&mut self) -> Step {
//!         if self.signals.has_mail() { return Step::Interrupted; }
//!         if self.left == 0 { return Step::Stop; }
//!         self.left -= 1;
//!         self.total.fetch_add(1, Ordering::SeqCst);
//!         Step::Continue
//!     }
//!     fn handle(&mut self, extra: u64) -> Step {
//!         self.total.fetch_add(extra, Ordering::SeqCst);
//!         Step::Continue
//!     }
//!     fn retire(&mut self) {}
//! }
//!
//! let total = Arc::new(AtomicU64::new(0));
//! let t = total.clone();
//! actix::System::new().block_on(async move {
//!     let pool = Pool::new("counter");
//!     for _ in 0..3 {
//!         let t = t.clone();
//!         pool.spawn(move |signals| Counter { signals, left: 10, total: t });
//!     }
//!     assert!(pool.wait_all(std::time::Duration::from_secs(10)).await);
//! });
//! assert_eq!(total.load(Ordering::SeqCst), 30);
//! ```

use actix::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A worker's number in its pool (never reused).
pub type WorkerId = usize;

/// What a step (or a message) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Step again.
    Continue,
    /// Mail is waiting: handle it, then step again.
    Interrupted,
    /// The worker is done (its queue closed): it ends without retiring.
    Stop,
}

/// What a worker is told by its pool: its id, whether mail waits, how to wake it.
#[derive(Clone)]
pub struct WorkerSignals {
    id: WorkerId,
    mail: Arc<AtomicUsize>,
}

impl WorkerSignals {
    /// This worker's id.
    pub fn id(&self) -> WorkerId {
        self.id
    }

    /// True when a message (or the request to retire) waits: a step should return
    /// [`Step::Interrupted`] as soon as it can.
    pub fn has_mail(&self) -> bool {
        self.mail.load(Ordering::Acquire) > 0
    }
}

/// A pool's worker. See the [module documentation](self).
pub trait Worker: Send + Unpin + 'static {
    /// What the pool may send it.
    type Message: Send + 'static;

    /// Does one piece of work, or waits a bounded time for some; returns
    /// [`Step::Interrupted`] when [`WorkerSignals::has_mail`] says so.
    fn step(&mut self) -> Step;

    /// Handles a message from the pool.
    fn handle(&mut self, message: Self::Message) -> Step;

    /// Leaves the pool: finishes what it holds. The worker is dropped afterwards.
    fn retire(&mut self);
}

/// Wakes a worker that waits inside a step, so that it notices its mail (e.g. a queue's
/// `wake_all`). Given to [`Pool::set_waker`].
pub type Waker = Arc<dyn Fn() + Send + Sync>;

struct Run;

impl Message for Run {
    type Result = ();
}

struct Mail<M>(M);

impl<M: 'static> Message for Mail<M> {
    type Result = ();
}

struct Retire;

impl Message for Retire {
    type Result = ();
}

/// Where workers report that they have ended.
struct Exits {
    ids: (crossbeam_channel::Sender<WorkerId>, crossbeam_channel::Receiver<WorkerId>),
    notify: tokio::sync::Notify,
}

struct WorkerActor<W: Worker> {
    worker: Option<W>,
    id: WorkerId,
    mail: Arc<AtomicUsize>,
    exits: Arc<Exits>,
}

impl<W: Worker> WorkerActor<W> {
    fn end(&mut self) {
        if let Some(worker) = self.worker.take() {
            drop(worker);
            let _ = self.exits.ids.0.send(self.id);
            self.exits.notify.notify_one();
        }
    }

    fn after(&mut self, step: Step, ctx: &mut SyncContext<Self>) {
        match step {
            Step::Continue => ctx.address().do_send(Run),
            // The mail is already queued behind this message: `Run` goes after it.
            Step::Interrupted => ctx.address().do_send(Run),
            Step::Stop => self.end(),
        }
    }
}

impl<W: Worker> Actor for WorkerActor<W> {
    type Context = SyncContext<Self>;
}

impl<W: Worker> Handler<Run> for WorkerActor<W> {
    type Result = ();

    fn handle(&mut self, _: Run, ctx: &mut SyncContext<Self>) {
        let Some(worker) = self.worker.as_mut() else { return };
        let step = loop {
            match worker.step() {
                Step::Continue => continue,
                other => break other,
            }
        };
        self.after(step, ctx);
    }
}

impl<W: Worker> Handler<Mail<W::Message>> for WorkerActor<W> {
    type Result = ();

    fn handle(&mut self, mail: Mail<W::Message>, _: &mut SyncContext<Self>) {
        self.mail.fetch_sub(1, Ordering::AcqRel);
        let Some(worker) = self.worker.as_mut() else { return };
        if worker.handle(mail.0) == Step::Stop {
            self.end();
        }
        // Stepping resumes with the `Run` queued when the step was interrupted.
    }
}

impl<W: Worker> Handler<Retire> for WorkerActor<W> {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut SyncContext<Self>) {
        if self.mail.load(Ordering::Acquire) > 1 {
            // Mail sent before the request to retire is still queued behind it: serve it
            // first (it may ask this worker for something only it can do).
            ctx.address().do_send(Retire);
            return;
        }
        self.mail.fetch_sub(1, Ordering::AcqRel);
        if let Some(worker) = self.worker.as_mut() {
            worker.retire();
        }
        self.end();
    }
}

struct Entry<W: Worker> {
    addr: Addr<WorkerActor<W>>,
    mail: Arc<AtomicUsize>,
    retiring: bool,
}

struct Inner<W: Worker> {
    next: WorkerId,
    workers: BTreeMap<WorkerId, Entry<W>>,
    /// (time since the pool started, workers not retiring) at every change.
    timeline: Vec<(Duration, usize)>,
}

/// A pool of worker actors. See the [module documentation](self).
pub struct Pool<W: Worker> {
    name: String,
    inner: Mutex<Inner<W>>,
    exits: Arc<Exits>,
    waker: Mutex<Option<Waker>>,
    started: Instant,
}

impl<W: Worker> Pool<W> {
    /// An empty pool; its workers' threads are named `<name>-<id>`.
    pub fn new(name: &str) -> Self {
        Pool {
            name: name.to_owned(),
            inner: Mutex::new(Inner {
                next: 0,
                workers: BTreeMap::new(),
                timeline: vec![(Duration::ZERO, 0)],
            }),
            exits: Arc::new(Exits {
                ids: crossbeam_channel::unbounded(),
                notify: tokio::sync::Notify::new(),
            }),
            waker: Mutex::new(None),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<W>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How to wake workers waiting inside a step (called after mail is queued for one).
    pub fn set_waker(&self, waker: Waker) {
        *self.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(waker);
    }

    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(w) = waker {
            w();
        }
    }

    fn record(&self, inner: &mut Inner<W>) {
        let size = inner.workers.values().filter(|e| !e.retiring).count();
        inner.timeline.push((self.started.elapsed(), size));
    }

    /// Starts a worker made by `make` (given its signals) on a thread of its own; returns its
    /// id.
    pub fn spawn(&self, make: impl FnOnce(WorkerSignals) -> W) -> WorkerId {
        let mut inner = self.lock();
        let id = self.start(&mut inner, make);
        self.record(&mut inner);
        id
    }

    /// Starts `n` workers made by `make`, as one change of the pool's size.
    pub fn spawn_many(&self, n: usize, mut make: impl FnMut(WorkerSignals) -> W) -> Vec<WorkerId> {
        let mut inner = self.lock();
        let ids = (0..n).map(|_| self.start(&mut inner, &mut make)).collect();
        self.record(&mut inner);
        ids
    }

    fn start(&self, inner: &mut Inner<W>, make: impl FnOnce(WorkerSignals) -> W) -> WorkerId {
        let id = inner.next;
        inner.next += 1;
        let mail = Arc::new(AtomicUsize::new(0));
        let worker = make(WorkerSignals { id, mail: mail.clone() });
        let slot = Arc::new(Mutex::new(Some(worker)));
        let (exits, m) = (self.exits.clone(), mail.clone());
        let thread_name = format!("{}-{id}", self.name);
        let addr = SyncArbiter::start_with_thread_builder(
            1,
            move || std::thread::Builder::new().name(thread_name.clone()),
            move || WorkerActor {
                // Made once: a sync actor is re-created only if it stops itself, which these
                // never do.
                worker: slot.lock().unwrap_or_else(|p| p.into_inner()).take(),
                id,
                mail: m.clone(),
                exits: exits.clone(),
            },
        );
        addr.do_send(Run);
        inner.workers.insert(id, Entry { addr, mail, retiring: false });
        id
    }

    /// Sends `message` to worker `id` (interrupting its step); false if it has ended.
    pub fn send(&self, id: WorkerId, message: W::Message) -> bool {
        let sent = {
            let inner = self.lock();
            match inner.workers.get(&id) {
                Some(e) => {
                    e.mail.fetch_add(1, Ordering::AcqRel);
                    e.addr.do_send(Mail(message));
                    true
                }
                None => false,
            }
        };
        if sent {
            self.wake();
        }
        sent
    }

    /// Asks worker `id` to retire; false if it is already retiring or has ended.
    pub fn retire(&self, id: WorkerId) -> bool {
        let asked = {
            let mut inner = self.lock();
            let asked = match inner.workers.get_mut(&id) {
                Some(e) if !e.retiring => {
                    e.retiring = true;
                    e.mail.fetch_add(1, Ordering::AcqRel);
                    e.addr.do_send(Retire);
                    true
                }
                _ => false,
            };
            if asked {
                self.record(&mut inner);
            }
            asked
        };
        if asked {
            self.wake();
        }
        asked
    }

    /// Asks the `n` most recently started active workers to retire, as one change of the
    /// pool's size; returns their ids.
    pub fn retire_newest(&self, n: usize) -> Vec<WorkerId> {
        let retired: Vec<WorkerId> = {
            let mut inner = self.lock();
            let ids: Vec<WorkerId> =
                inner.workers.iter().rev().filter(|(_, e)| !e.retiring).map(|(id, _)| *id).take(n).collect();
            for id in &ids {
                if let Some(e) = inner.workers.get_mut(id) {
                    e.retiring = true;
                    e.mail.fetch_add(1, Ordering::AcqRel);
                    e.addr.do_send(Retire);
                }
            }
            if !ids.is_empty() {
                self.record(&mut inner);
            }
            ids
        };
        if !retired.is_empty() {
            self.wake();
        }
        retired
    }

    /// The workers not retiring, oldest first.
    pub fn active(&self) -> Vec<WorkerId> {
        self.lock().workers.iter().filter(|(_, e)| !e.retiring).map(|(id, _)| *id).collect()
    }

    /// How many workers are active (not retiring).
    pub fn size(&self) -> usize {
        self.lock().workers.values().filter(|e| !e.retiring).count()
    }

    /// Forgets the workers that have ended (their threads then end too).
    pub fn reap(&self) {
        let ended: Vec<WorkerId> = self.exits.ids.1.try_iter().collect();
        if ended.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let mut changed = false;
        for id in ended {
            if let Some(e) = inner.workers.remove(&id) {
                changed |= !e.retiring;
            }
        }
        if changed {
            self.record(&mut inner);
        }
    }

    /// Waits until every worker has ended (or `timeout` passed); true if they all did.
    /// Asynchronous: the actix system must keep running meanwhile.
    pub async fn wait_all(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.reap();
            if self.lock().workers.is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, self.exits.notify.notified()).await.is_err() {
                self.reap();
                return self.lock().workers.is_empty();
            }
        }
    }

    /// The pool's size over time: `(time since the pool started, active workers)` at start and
    /// at every change.
    pub fn timeline(&self) -> Vec<(Duration, usize)> {
        self.lock().timeline.clone()
    }

    /// When the pool started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

/// The integral of a pool's size over time, from its start to `end`: how many worker-seconds
/// it used (`timeline` as from [`Pool::timeline`]).
///
/// ```
/// use dispel4rs_actors::pool::worker_seconds;
/// use std::time::Duration;
/// let s = |x: f64| Duration::from_secs_f64(x);
/// let timeline = [(s(0.0), 4), (s(1.0), 1), (s(3.0), 2)];
/// assert!((worker_seconds(&timeline, s(4.0)) - (4.0 + 2.0 + 2.0)).abs() < 1e-9);
/// ```
pub fn worker_seconds(timeline: &[(Duration, usize)], end: Duration) -> f64 {
    let mut total = 0.0;
    for (i, (at, size)) in timeline.iter().enumerate() {
        let until = timeline.get(i + 1).map_or(end, |n| n.0).max(*at);
        total += until.saturating_sub(*at).as_secs_f64() * *size as f64;
    }
    total
}
