//! [`RedisQueue`]: a [`TaskQueue`] of byte tasks in Redis streams with a consumer group
//! (feature `redis`). One `RedisQueue` is one *consumer* (one worker) with a connection of its
//! own; any number of them, in any process on any host, compete for the tasks of a job.
//!
//! | key | type | what |
//! |---|---|---|
//! | `d4r:<job>:lane:<i>` | stream, group `w` | tasks of lane `i`, one entry each, field `t` |
//! | `d4r:<job>:wake:<consumer>` | stream, group `w` | wake-ups of one consumer blocked in a claim |
//! | `d4r:<job>:events` | stream | what committed tasks did, in commit order (read by the coordinator) |
//!
//! * **Claim**: `XREADGROUP ... COUNT 1 BLOCK t STREAMS wake lane_n … lane_0`, so a blocked
//!   claim returns as soon as a task or a wake-up arrives; entries returned together are kept
//!   and handed out highest lane first. Entries pending at a consumer that went silent for
//!   `claim_idle` are taken over with `XAUTOCLAIM` (Redis ≥ 6.2).
//! * **Commit** ([`RedisQueue::commit`]): one Lua script appends the task's output tasks and
//!   its event, acknowledges and deletes its input entry — all or nothing, and only if this
//!   consumer still owns the entry (one that was taken over by another consumer after
//!   `claim_idle` is not committed twice). A worker that dies before committing leaves its
//!   entry pending; another takes it over and runs it again: every effect happens once.

use super::{Backlog, Claim, QueueClosed, TaskQueue};
use crate::redis::{entries_reply, streams_reply, Entry, JobKeys, RedisConn, RedisError};
use redis::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The consumer group every lane stream has.
pub const GROUP: &str = "w";

/// Where a claimed task came from: acknowledge it through [`RedisQueue::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its lane.
    pub lane: usize,
    /// Its entry id.
    pub id: String,
}

/// What a task leaves behind, committed at once by [`RedisQueue::commit`].
#[derive(Debug, Default)]
pub struct Commit {
    /// Output tasks: (stream, bytes).
    pub tasks: Vec<(String, Vec<u8>)>,
    /// The event appended to `d4r:<job>:events`.
    pub event: Vec<u8>,
}

const COMMIT_SCRIPT: &str = r"
-- KEYS[1]: the input task's lane (or the events stream when there is none)
-- KEYS[2]: the events stream; KEYS[3..]: the lanes of the output tasks
-- ARGV[1]: group, ARGV[2]: consumer, ARGV[3]: input entry id or '', ARGV[4]: the event,
-- ARGV[5..]: the output tasks, one per KEYS[3..]
if ARGV[3] ~= '' then
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
  if #p == 0 or p[1][2] ~= ARGV[2] then
    return 0
  end
end
for i = 3, #KEYS do
  redis.call('XADD', KEYS[i], '*', 't', ARGV[i + 2])
end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[4])
if ARGV[3] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
end
return 1
";

struct State {
    conn: RedisConn,
    /// Entries claimed together and not handed out yet: (lane, entry).
    buffered: VecDeque<(usize, Entry)>,
    last_reclaim: Instant,
}

/// One consumer of a job's task streams. See the [module documentation](self).
pub struct RedisQueue {
    state: Mutex<State>,
    keys: JobKeys,
    /// The streams this consumer claims from, lowest priority first (the lanes `0..n`, or any
    /// list given to [`RedisQueue::with_streams`]).
    streams: Vec<String>,
    lanes: usize,
    consumer: String,
    wake_key: String,
    claim_idle: Duration,
    closed: AtomicBool,
    script: redis::Script,
    /// A second connection for wake-ups (the first may be blocked in a claim).
    waker: Mutex<Option<RedisConn>>,
}

fn ensure_group(conn: &mut RedisConn, key: &str) -> Result<(), RedisError> {
    let r: Result<Value, RedisError> = conn.query(
        "XGROUP CREATE",
        redis::cmd("XGROUP").arg("CREATE").arg(key).arg(GROUP).arg("0").arg("MKSTREAM"),
    );
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

impl RedisQueue {
    /// Consumer `consumer` of job `keys` with `lanes` lanes; `waker` is a second connection
    /// used by [`TaskQueue::wake_all`]. Creates the streams and groups that do not exist yet.
    pub fn new(
        conn: RedisConn,
        waker: Option<RedisConn>,
        keys: &JobKeys,
        lanes: usize,
        consumer: &str,
        claim_idle: Duration,
    ) -> Result<RedisQueue, RedisError> {
        let streams = (0..lanes.max(1)).map(|l| keys.lane(l)).collect();
        RedisQueue::with_streams(conn, waker, keys, streams, consumer, claim_idle)
    }

    /// Consumer `consumer` of job `keys` claiming from `streams`, the last first (its lane `i`
    /// is `streams[i]`): e.g. the streams of the instances a worker holds after the lanes of
    /// the job, so that their tasks come first.
    pub fn with_streams(
        mut conn: RedisConn,
        waker: Option<RedisConn>,
        keys: &JobKeys,
        streams: Vec<String>,
        consumer: &str,
        claim_idle: Duration,
    ) -> Result<RedisQueue, RedisError> {
        let streams = if streams.is_empty() { vec![keys.lane(0)] } else { streams };
        let lanes = streams.len();
        for stream in &streams {
            ensure_group(&mut conn, stream)?;
        }
        let wake_key = keys.key(&format!("wake:{consumer}"));
        ensure_group(&mut conn, &wake_key)?;
        Ok(RedisQueue {
            state: Mutex::new(State { conn, buffered: VecDeque::new(), last_reclaim: Instant::now() }),
            keys: keys.clone(),
            streams,
            lanes,
            consumer: consumer.to_owned(),
            wake_key,
            claim_idle,
            closed: AtomicBool::new(false),
            script: redis::Script::new(COMMIT_SCRIPT),
            waker: Mutex::new(waker),
        })
    }

    /// Creates the lane streams and their group for a job (the coordinator does, before any
    /// task is queued, so that no task is queued before the group exists).
    pub fn create_lanes(conn: &mut RedisConn, keys: &JobKeys, lanes: usize) -> Result<(), RedisError> {
        (0..lanes.max(1)).try_for_each(|lane| ensure_group(conn, &keys.lane(lane)))
    }

    /// Creates the given streams and their group (see [`RedisQueue::create_lanes`]).
    pub fn create_streams(conn: &mut RedisConn, streams: &[String]) -> Result<(), RedisError> {
        streams.iter().try_for_each(|s| ensure_group(conn, s))
    }

    /// The stream of this consumer's lane `lane`.
    pub fn stream(&self, lane: usize) -> &str {
        &self.streams[lane.min(self.lanes - 1)]
    }

    /// This consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits what the task of `delivery` (if any) left behind: output tasks and event
    /// appended, entry acknowledged and deleted, atomically. `Ok(false)` if this consumer no
    /// longer owns the entry (it was taken over): nothing was done.
    pub fn commit(&self, delivery: Option<&Delivery>, commit: &Commit) -> Result<bool, RedisError> {
        let events = self.keys.key("events");
        let mut state = self.lock();
        let mut invocation = self.script.prepare_invoke();
        match delivery {
            Some(d) => invocation.key(self.stream(d.lane)),
            None => invocation.key(&events),
        };
        invocation.key(&events);
        for (stream, _) in &commit.tasks {
            invocation.key(stream);
        }
        invocation
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(delivery.map_or("", |d| d.id.as_str()))
            .arg(&commit.event);
        for (_, bytes) in &commit.tasks {
            invocation.arg(bytes);
        }
        let done: i64 = state.conn.invoke("commit a task", &invocation)?;
        Ok(done == 1)
    }

    /// Takes over entries pending longer than `claim_idle` at any consumer (one that died).
    fn reclaim_into(&self, state: &mut State) -> Result<usize, RedisError> {
        let mut taken = 0;
        let idle = self.claim_idle.as_millis().max(1) as u64;
        for lane in (0..self.lanes).rev() {
            let key = self.streams[lane].clone();
            let reply: Value = state.conn.query(
                "XAUTOCLAIM",
                redis::cmd("XAUTOCLAIM")
                    .arg(&key)
                    .arg(GROUP)
                    .arg(&self.consumer)
                    .arg(idle)
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(16),
            )?;
            let Value::Array(parts) = &reply else {
                return Err(state.conn.reply_error("XAUTOCLAIM", &reply));
            };
            let entries = parts.get(1).ok_or(()).and_then(entries_reply);
            let entries = entries.map_err(|()| state.conn.reply_error("XAUTOCLAIM", &reply))?;
            for entry in entries {
                if !entry.1.is_empty() {
                    taken += 1;
                    state.buffered.push_back((lane, entry));
                }
            }
        }
        state.last_reclaim = Instant::now();
        Ok(taken)
    }

    /// The next buffered entry of the highest lane.
    fn take_buffered(state: &mut State) -> Option<(usize, Entry)> {
        let best = state.buffered.iter().enumerate().max_by_key(|(i, (lane, _))| (*lane, usize::MAX - i))?.0;
        state.buffered.remove(best)
    }

    /// One claim attempt; errors are the caller's to report.
    pub fn try_claim(
        &self,
        timeout: Duration,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Claim<Vec<u8>, Delivery>, RedisError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Ok(Claim::Closed);
            }
            if let Some(best) = state.buffered.iter().map(|(lane, _)| *lane).max() {
                if best + 1 < self.lanes {
                    // Something is in hand: look (without waiting) for work of higher lanes.
                    self.read(&mut state, best + 1, None)?;
                }
            }
            if let Some((lane, (id, fields))) = RedisQueue::take_buffered(&mut state) {
                let bytes = fields.into_iter().find(|(k, _)| k == "t").map(|(_, v)| v).unwrap_or_default();
                return Ok(Claim::Task(bytes, Delivery { lane, id }));
            }
            if interrupted() {
                return Ok(Claim::Interrupted);
            }
            if state.last_reclaim.elapsed() >= self.claim_idle / 2 && self.reclaim_into(&mut state)? > 0 {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Claim::TimedOut);
            }
            // Block no longer than half the claim-idle time, so that reclaiming goes on.
            let block = left.min(self.claim_idle / 2).max(Duration::from_millis(1));
            self.read(&mut state, 0, Some(block))?;
        }
    }

    /// Reads up to one new entry from each lane `from..` (and from the wake-up stream when
    /// blocking) into the buffer; wake-ups are acknowledged and dropped.
    fn read(&self, state: &mut State, from: usize, block: Option<Duration>) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(GROUP).arg(&self.consumer).arg("COUNT").arg(1);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(block.as_millis().max(1) as u64);
        }
        cmd.arg("STREAMS");
        let mut streams = 0;
        if block.is_some() {
            cmd.arg(&self.wake_key);
            streams += 1;
        }
        for lane in (from..self.lanes).rev() {
            cmd.arg(&self.streams[lane]);
            streams += 1;
        }
        for _ in 0..streams {
            cmd.arg(">");
        }
        let reply: Value = state.conn.query("XREADGROUP", &cmd)?;
        let streams = streams_reply(&reply).map_err(|()| state.conn.reply_error("XREADGROUP", &reply))?;
        for (key, entries) in streams {
            if key == self.wake_key {
                for (id, _) in entries {
                    let _: Value = state
                        .conn
                        .query("XACK", redis::cmd("XACK").arg(&self.wake_key).arg(GROUP).arg(&id))?;
                    let _: Value =
                        state.conn.query("XDEL", redis::cmd("XDEL").arg(&self.wake_key).arg(&id))?;
                }
                continue;
            }
            if let Some(lane) = self.streams.iter().position(|s| *s == key) {
                state.buffered.extend(entries.into_iter().map(|e| (lane, e)));
            }
        }
        Ok(())
    }

    /// How many entries each lane holds (queued or claimed and not yet committed).
    pub fn lengths(&self) -> Result<Vec<u64>, RedisError> {
        let mut state = self.lock();
        self.streams.iter().map(|k| state.conn.query("XLEN", redis::cmd("XLEN").arg(k))).collect()
    }
}

impl TaskQueue<Vec<u8>> for RedisQueue {
    type Receipt = Delivery;

    fn push(&self, lane: usize, _weight: u64, task: Vec<u8>) -> Result<(), QueueClosed> {
        if self.closed.load(Ordering::Acquire) {
            return Err(QueueClosed);
        }
        let key = self.stream(lane).to_owned();
        self.lock().conn.append(&key, "t", &task).map(drop).map_err(|_| QueueClosed)
    }

    /// Admission is the job's coordinator's (it counts what is queued): the same as `push`.
    fn push_admitted(&self, lane: usize, weight: u64, task: Vec<u8>) -> Result<Duration, QueueClosed> {
        self.push(lane, weight, task).map(|()| Duration::ZERO)
    }

    fn claim(&self, timeout: Duration, interrupted: &dyn Fn() -> bool) -> Claim<Vec<u8>, Delivery> {
        self.try_claim(timeout, interrupted).unwrap_or(Claim::Closed)
    }

    fn ack(&self, receipt: Delivery) -> Result<(), QueueClosed> {
        let key = self.stream(receipt.lane).to_owned();
        let mut state = self.lock();
        let acked: Result<Value, _> =
            state.conn.query("XACK", redis::cmd("XACK").arg(&key).arg(GROUP).arg(&receipt.id));
        let deleted: Result<Value, _> =
            state.conn.query("XDEL", redis::cmd("XDEL").arg(&key).arg(&receipt.id));
        acked.and(deleted).map(drop).map_err(|_| QueueClosed)
    }

    fn reclaim(&self, _idle: Duration) -> usize {
        let mut state = self.lock();
        self.reclaim_into(&mut state).unwrap_or(0)
    }

    fn wake_all(&self) {
        if let Some(conn) = self.waker.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let _ = conn.append(&self.wake_key, "w", b"");
        }
    }

    fn backlog(&self) -> Backlog {
        let lanes = self.lengths().unwrap_or_default();
        Backlog { tasks: lanes.iter().sum(), weight: lanes.iter().sum(), lanes }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_all();
    }
}
