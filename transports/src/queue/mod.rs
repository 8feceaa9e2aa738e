//! Task queues: many producers, many competing consumers, each task claimed by exactly one of
//! them — the queue behind the dynamic mappings, where any worker may run any task. This is
//! not the point-to-point [`crate::Transport`]: a task is addressed to no one.
//!
//! A [`TaskQueue`] holds tasks in **lanes** (claimed highest lane first: the dynamic engine
//! puts the tasks of a PE later in the graph in a higher lane, so work drains depth-first and
//! memory stays flat) and bounds what **admitted** producers may add: [`TaskQueue::push_admitted`]
//! waits while the queue holds its capacity or more, while [`TaskQueue::push`] is never refused
//! — work that consumers write while running must always be accepted, or every consumer could
//! end up waiting for room that only consumers make (deadlock).
//!
//! Claiming waits up to a time-out, returns early when the claimer's `interrupted` check says
//! so after [`TaskQueue::wake_all`] (how a worker is told to look at its mailbox), and
//! returns [`Claim::Closed`] once the queue is closed.
//!
//! | module | queue |
//! |---|---|
//! | [`inmem`] | [`LaneQueue`]: one process, a mutex and two condition variables |
//! | `redis` (feature `redis`) | `RedisQueue`: Redis streams with a consumer group, atomic commits, take-over of a dead consumer's tasks |
//!
//! A queue whose consumers may die (a Redis stream) also has to acknowledge a claimed task and
//! re-deliver one whose consumer vanished: [`TaskQueue::ack`] and [`TaskQueue::reclaim`],
//! which an in-process queue does not need (its consumers are threads of the process that
//! owns it).

use std::time::Duration;

pub mod inmem;
#[cfg(feature = "redis")]
pub mod redis;

pub use inmem::LaneQueue;

/// The queue was closed: no task will be accepted or handed out any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the task queue is closed")]
pub struct QueueClosed;

/// What a claim got.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim<T, R = ()> {
    /// A task, and the receipt to acknowledge it with.
    Task(T, R),
    /// The claimer's `interrupted` check said so.
    Interrupted,
    /// Nothing came within the time-out.
    TimedOut,
    /// The queue is closed.
    Closed,
}

/// How much a queue holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Weight queued per lane (the unit of weight is the producer's: data units for the engine).
    pub lanes: Vec<u64>,
    /// Tasks queued.
    pub tasks: u64,
    /// Total weight queued.
    pub weight: u64,
}

/// A queue of tasks of type `T` for competing consumers. See the [module documentation](self).
pub trait TaskQueue<T>: Send + Sync {
    /// How a claimed task is acknowledged (`()` where nothing needs it).
    type Receipt;

    /// Queues `task` in `lane`, weighing `weight` against the capacity. Never waits.
    fn push(&self, lane: usize, weight: u64, task: T) -> Result<(), QueueClosed>;

    /// Queues `task` once the queue holds less than its capacity, waiting for room; returns
    /// how long it waited (backpressure on producers that only add work).
    fn push_admitted(&self, lane: usize, weight: u64, task: T) -> Result<Duration, QueueClosed>;

    /// The next task (highest lane first, oldest first within a lane), waiting up to
    /// `timeout`; returns [`Claim::Interrupted`] instead when `interrupted()` is true — it is
    /// asked first, and again after every [`Self::wake_all`].
    fn claim(&self, timeout: Duration, interrupted: &dyn Fn() -> bool) -> Claim<T, Self::Receipt>;

    /// A claimed task has been handled.
    fn ack(&self, _receipt: Self::Receipt) -> Result<(), QueueClosed> {
        Ok(())
    }

    /// Hands out again the tasks claimed longer than `idle` ago and not acknowledged (their
    /// consumer died); returns how many. Queues whose consumers cannot vanish return 0.
    fn reclaim(&self, _idle: Duration) -> usize {
        0
    }

    /// Wakes every waiting claimer, so that each asks its `interrupted` check again.
    fn wake_all(&self);

    /// What the queue holds now.
    fn backlog(&self) -> Backlog;

    /// Closes the queue (at the end of a run, or to abort it): pushes fail and claims return
    /// [`Claim::Closed`] at once, waiting producers and claimers included; what the queue
    /// still holds is dropped.
    fn close(&self);
}
