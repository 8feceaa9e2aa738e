//! [`LaneQueue`]: the in-process [`TaskQueue`]: lanes of FIFO queues under one mutex, one
//! condition variable for claimers and one for admitted producers.
//!
//! ```
//! use dispel4rs_transports::queue::{Claim, LaneQueue, TaskQueue};
//! use std::time::Duration;
//!
//! let q = LaneQueue::new(3, 100);
//! q.push(0, 10, "parse").unwrap();
//! q.push(2, 10, "store").unwrap();
//! let never = || false;
//! // The highest lane first.
//! assert_eq!(q.claim(Duration::ZERO, &never), Claim::Task("store", ()));
//! assert_eq!(q.claim(Duration::ZERO, &never), Claim::Task("parse", ()));
//! assert_eq!(q.claim(Duration::from_millis(1), &never), Claim::TimedOut);
//! ```

use super::{Backlog, Claim, QueueClosed, TaskQueue};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct State<T> {
    lanes: Vec<VecDeque<(u64, T)>>,
    weights: Vec<u64>,
    tasks: u64,
    weight: u64,
    /// The highest lane that may hold a task (a hint: lanes above it are empty).
    top: usize,
    closed: bool,
}

/// An in-process task queue. See the [module documentation](self).
pub struct LaneQueue<T> {
    state: Mutex<State<T>>,
    /// Claimers wait here for a task (or a wake-up).
    tasks: Condvar,
    /// Admitted producers wait here for room.
    room: Condvar,
    capacity: u64,
}

impl<T: Send> LaneQueue<T> {
    /// A queue with `lanes` lanes (at least 1) whose admitted producers wait while it holds
    /// `capacity` weight or more (at least 1).
    pub fn new(lanes: usize, capacity: u64) -> Self {
        let lanes = lanes.max(1);
        LaneQueue {
            state: Mutex::new(State {
                lanes: (0..lanes).map(|_| VecDeque::new()).collect(),
                weights: vec![0; lanes],
                tasks: 0,
                weight: 0,
                top: 0,
                closed: false,
            }),
            tasks: Condvar::new(),
            room: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// The weight beyond which admitted producers wait.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, state: &mut State<T>, lane: usize, weight: u64, task: T) {
        let lane = lane.min(state.lanes.len() - 1);
        state.lanes[lane].push_back((weight, task));
        state.weights[lane] += weight;
        state.tasks += 1;
        state.weight += weight;
        state.top = state.top.max(lane);
        self.tasks.notify_one();
    }

    fn take(state: &mut State<T>) -> Option<(u64, T)> {
        loop {
            if let Some((w, task)) = state.lanes[state.top].pop_front() {
                state.weights[state.top] -= w;
                state.tasks -= 1;
                state.weight -= w;
                return Some((w, task));
            }
            if state.top == 0 {
                return None;
            }
            state.top -= 1;
        }
    }
}

impl<T: Send> TaskQueue<T> for LaneQueue<T> {
    type Receipt = ();

    fn push(&self, lane: usize, weight: u64, task: T) -> Result<(), QueueClosed> {
        let mut state = self.lock();
        if state.closed {
            return Err(QueueClosed);
        }
        self.insert(&mut state, lane, weight, task);
        Ok(())
    }

    fn push_admitted(&self, lane: usize, weight: u64, task: T) -> Result<Duration, QueueClosed> {
        let mut state = self.lock();
        let mut waited: Option<Instant> = None;
        while !state.closed && state.weight >= self.capacity {
            waited.get_or_insert_with(Instant::now);
            state = self.room.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.closed {
            return Err(QueueClosed);
        }
        self.insert(&mut state, lane, weight, task);
        Ok(waited.map_or(Duration::ZERO, |t| t.elapsed()))
    }

    fn claim(&self, timeout: Duration, interrupted: &dyn Fn() -> bool) -> Claim<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.closed {
                return Claim::Closed;
            }
            if interrupted() {
                if state.tasks > 0 {
                    // This claimer may have taken the wake-up meant for a task: pass it on.
                    self.tasks.notify_one();
                }
                return Claim::Interrupted;
            }
            if let Some((_, task)) = LaneQueue::take(&mut state) {
                if state.weight < self.capacity {
                    self.room.notify_all();
                }
                return Claim::Task(task, ());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Claim::TimedOut;
            }
            state = self.tasks.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn wake_all(&self) {
        // Taking the lock orders the wake-up after a claimer's check of its flag.
        drop(self.lock());
        self.tasks.notify_all();
    }

    fn backlog(&self) -> Backlog {
        let state = self.lock();
        Backlog { lanes: state.weights.clone(), tasks: state.tasks, weight: state.weight }
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for lane in &mut state.lanes {
            lane.clear();
        }
        state.weights.iter_mut().for_each(|w| *w = 0);
        state.tasks = 0;
        state.weight = 0;
        drop(state);
        self.tasks.notify_all();
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn never() -> bool {
        false
    }

    #[test]
    fn lanes_are_claimed_highest_first_and_fifo_within_a_lane() {
        let q = LaneQueue::new(4, 1000);
        for (lane, task) in [(1, "b1"), (3, "d1"), (1, "b2"), (0, "a1"), (3, "d2")] {
            q.push(lane, 1, task).unwrap();
        }
        let order: Vec<&str> = (0..5)
            .map(|_| match q.claim(Duration::ZERO, &never) {
                Claim::Task(t, ()) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, vec!["d1", "d2", "b1", "b2", "a1"]);
        assert_eq!(q.backlog(), Backlog { lanes: vec![0; 4], tasks: 0, weight: 0 });
        // A lane beyond the last is the last.
        q.push(99, 5, "z").unwrap();
        assert_eq!(q.backlog().lanes, vec![0, 0, 0, 5]);
    }

    #[test]
    fn admitted_producers_wait_for_room_while_plain_pushes_are_always_taken() {
        let q = Arc::new(LaneQueue::new(2, 10));
        q.push_admitted(0, 10, 1u32).unwrap();
        // Over capacity: a plain push (work written by a consumer) still goes in.
        q.push(1, 50, 2).unwrap();
        let q2 = q.clone();
        let producer = std::thread::spawn(move || q2.push_admitted(0, 1, 3));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!producer.is_finished(), "the admitted producer waits while the queue is full");
        assert_eq!(q.claim(Duration::ZERO, &never), Claim::Task(2, ()));
        assert!(!producer.is_finished(), "still 10 queued: not below the capacity");
        assert_eq!(q.claim(Duration::ZERO, &never), Claim::Task(1, ()));
        let waited = producer.join().unwrap().unwrap();
        assert!(waited >= Duration::from_millis(20), "it reports how long it waited: {waited:?}");
        assert_eq!(q.claim(Duration::ZERO, &never), Claim::Task(3, ()));
    }

    #[test]
    fn a_waiting_claimer_gets_a_task_pushed_later_or_its_interrupt() {
        let q = Arc::new(LaneQueue::new(1, 10));
        let q2 = q.clone();
        let claimer = std::thread::spawn(move || q2.claim(Duration::from_secs(10), &never));
        std::thread::sleep(Duration::from_millis(20));
        q.push(0, 1, 7).unwrap();
        assert_eq!(claimer.join().unwrap(), Claim::Task(7, ()));

        let flag = Arc::new(AtomicBool::new(false));
        let (q2, f2) = (q.clone(), flag.clone());
        let claimer =
            std::thread::spawn(move || q2.claim(Duration::from_secs(10), &|| f2.load(Ordering::Acquire)));
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        q.wake_all();
        assert_eq!(claimer.join().unwrap(), Claim::Interrupted);
    }

    #[test]
    fn close_releases_everyone_and_drops_what_is_left() {
        let q = Arc::new(LaneQueue::new(1, 1));
        q.push(0, 5, 1).unwrap();
        let q2 = q.clone();
        let producer = std::thread::spawn(move || q2.push_admitted(0, 1, 2));
        std::thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(producer.join().unwrap(), Err(QueueClosed));
        assert_eq!(q.claim(Duration::from_secs(1), &never), Claim::Closed);
        assert_eq!(q.push(0, 1, 3), Err(QueueClosed));
        assert_eq!(q.backlog().tasks, 0);
    }

    #[test]
    fn many_consumers_claim_every_task_exactly_once() {
        let q = Arc::new(LaneQueue::new(3, 64));
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        match q.claim(Duration::from_millis(200), &never) {
                            Claim::Task(t, ()) => got.push(t),
                            Claim::TimedOut | Claim::Closed => return got,
                            Claim::Interrupted => unreachable!(),
                        }
                    }
                })
            })
            .collect();
        for i in 0..10_000u32 {
            q.push_admitted((i % 3) as usize, 1, i).unwrap();
        }
        let mut all: Vec<u32> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    }
}
