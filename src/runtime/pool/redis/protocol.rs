//! What the processes of a Redis job write into Redis, and how (the job's keys are those of
//! `dispel4rs_transports::redis`, prefixed `d4r:<job>:`):
//!
//! | key | type | written by | content |
//! |---|---|---|---|
//! | `manifest` | string | coordinator, once | bincode [`JobManifest`]: options, inputs, plan fingerprint, lanes |
//! | `lane:<pe>` | stream (group `w`) | roots, workers' commits | the tasks of a pooled PE, one per entry: [`encode_task`] |
//! | `pin:<instance>` | stream (group `w`) | roots, workers' commits | `hybrid_redis`: the tasks of one pinned instance (by global id) |
//! | `events` | stream | workers' commits, workers | bincode [`Event`], read in order by the coordinator (with the samples of observed runs) |
//! | `ctl:<process>` | stream | coordinator | bincode [`Control`] for one worker process |
//! | `wake:<consumer>` | stream (group `w`) | a process, to its own blocked workers | empty wake-ups |
//! | `procs` | counter | joining processes | `INCR`: a process's number |
//! | `alive` | hash | every process | process number (`c` for the coordinator) → Unix time (ms) of its last heartbeat |
//!
//! Every entry but the wake-ups, and the manifest, is sealed ([`Seal`]): followed by a tag
//! made with the run secret over its bytes and the key it is written at, so an entry written
//! by anyone without the secret, or copied from another stream or job, is rejected (removed
//! and counted, `rejected_frames` in the report) rather than acted upon.
//!
//! A task's [`Event::Done`] carries everything the task did that the coordinator must know
//! — the tasks it wrote per PE (for the end-of-stream counts), the instances it made, what it
//! collected, what it dead-lettered — and is appended in the same atomic commit as the output
//! tasks and the acknowledgement of its input: the coordinator's counts are exactly what
//! happened, whoever died when.

use crate::plan::CollectName;
use crate::runtime::launch::Manifest;
use crate::runtime::report::{DeadLetter, InstanceReport, InstanceStats};
use crate::runtime::wire::{self, WireError};
use crate::value::{decode_values, encode_values, Value};
use dispel4rs_transports::auth::{Mac, RunSecret, TAG_LEN};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The MAC purpose of Redis entries: their tags never pass as those of frames.
const PURPOSE: &str = "redis entries";

/// Why an entry read from Redis is not acted upon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EntryError {
    /// Its tag is wrong or missing: not written by a process of this run (nor at this key).
    #[error("not made with this run's secret at {key} (forged, or copied from elsewhere)")]
    Forged { key: String },
    /// Authentic but unreadable: another version of dispel4rs wrote it.
    #[error("unreadable at {key}: {why}")]
    Unreadable { key: String, why: String },
}

/// Seals and opens the entries of one job with its run secret. See the [module
/// documentation](self).
#[derive(Clone, Debug)]
pub(crate) struct Seal {
    mac: Mac,
}

impl Seal {
    pub(crate) fn new(secret: &RunSecret) -> Seal {
        Seal { mac: secret.mac(PURPOSE) }
    }

    /// `bytes`, to be written at `key`, followed by their tag.
    pub(crate) fn seal(&self, key: &str, mut bytes: Vec<u8>) -> Vec<u8> {
        let tag = self.mac.sign_at(key, &bytes);
        bytes.extend_from_slice(tag.as_bytes());
        bytes
    }

    /// The bytes of an entry read at `key`, once its tag is checked.
    pub(crate) fn open<'a>(&self, key: &str, sealed: &'a [u8]) -> Result<&'a [u8], EntryError> {
        let forged = || EntryError::Forged { key: key.to_owned() };
        let split = sealed.len().checked_sub(TAG_LEN).ok_or_else(forged)?;
        let (bytes, tag) = sealed.split_at(split);
        self.mac.verify_at(key, bytes, tag).map_err(|_| forged())?;
        Ok(bytes)
    }

    /// `value` encoded and sealed for `key`.
    pub(crate) fn encode<T: Serialize>(&self, key: &str, value: &T) -> Result<Vec<u8>, WireError> {
        Ok(self.seal(key, wire::to_bytes(value)?))
    }

    /// An entry read at `key`, checked and decoded.
    pub(crate) fn decode<T: DeserializeOwned>(&self, key: &str, sealed: &[u8]) -> Result<T, EntryError> {
        let bytes = self.open(key, sealed)?;
        wire::from_bytes(bytes)
            .map_err(|e| EntryError::Unreadable { key: key.to_owned(), why: e.to_string() })
    }
}

/// Workers a process may have had, counting those retired: a worker's number in the job is
/// `process × WORKERS_PER_PROCESS + actor`, readable in reports (`200003`: process 2, actor 3).
pub(crate) const WORKERS_PER_PROCESS: usize = 100_000;

/// The worker number of actor `actor` of process `process`.
pub(crate) fn worker_id(process: u32, actor: usize) -> usize {
    process as usize * WORKERS_PER_PROCESS + actor % WORKERS_PER_PROCESS
}

/// The process of worker number `worker`.
pub(crate) fn process_of(worker: usize) -> u32 {
    (worker / WORKERS_PER_PROCESS) as u32
}

/// The actor, within its process, of worker number `worker`.
pub(crate) fn actor_of(worker: usize) -> usize {
    worker % WORKERS_PER_PROCESS
}

/// What every process of the job reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JobManifest {
    /// Options and inputs.
    pub manifest: Manifest,
    /// The pooled plan's fingerprint: a process with another workflow or options is refused.
    pub fingerprint: u64,
    /// The mapping (`dyn_redis`, `dyn_auto_redis`).
    pub mapping: String,
}

/// The tasks a task (or a `postprocess`) wrote for one PE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pushes {
    pub pe: u32,
    pub tasks: u64,
    pub units: u64,
}

/// Everything a committed task or `postprocess` did that the coordinator accounts for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Effects {
    /// Tasks written, per PE.
    pub pushes: Vec<Pushes>,
    /// PEs of which the worker made its instance.
    pub created: Vec<u32>,
    /// Collected units: a value batch of `[pe, port, [units...]]` lists.
    pub collected: Vec<u8>,
    /// Dead letters (value batch, see `wire::encode_dead`) and how many there were.
    pub dead: Vec<u8>,
    pub dead_total: u64,
}

/// A worker's instance counters, as reported when its `postprocess` has run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InstanceWire {
    pub pe: String,
    pub index: usize,
    /// The worker that ran it.
    pub slot: usize,
    pub stats: InstanceStats,
}

impl InstanceWire {
    pub(crate) fn from_report(r: &InstanceReport) -> Self {
        InstanceWire { pe: r.pe.to_string(), index: r.index, slot: r.slot, stats: r.stats.clone() }
    }

    pub(crate) fn into_report(self) -> InstanceReport {
        InstanceReport { pe: Arc::from(self.pe), index: self.index, slot: self.slot, stats: self.stats }
    }
}

/// An entry of the events stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Event {
    /// A worker process joined, with this many workers.
    Hello { process: u32, pid: u32, host: String, workers: u32 },
    /// A process was refused: it runs another workflow or options.
    Refused { pid: u32, host: String, why: String },
    /// A task of PE `pe` is done (committed with its effects).
    Done { pe: u32, worker: u64, units: u64, busy_ns: u64, effects: Effects },
    /// The `postprocess` asked of a worker for PE `pe` has run (on its instances of it).
    Postprocessed { pe: u32, worker: u64, effects: Effects, instances: Vec<InstanceWire> },
    /// A worker leaves (it retired) after the `postprocess` of its instances of PE `pe`.
    Left { pe: u32, worker: u64, effects: Effects, instances: Vec<InstanceWire> },
    /// A task entry could not be read; it was removed and is a dead letter.
    Corrupt { lane: u32, worker: u64, error: String },
    /// Entries not made with the run's secret were removed (a task entry, with the
    /// acknowledgement of its delivery) or ignored (control messages) by `worker`.
    Rejected { worker: u64, count: u64, error: String },
    /// A worker process cannot go on: the run must stop.
    Failed { process: u32, why: String },
    /// Wakes the coordinator's reader (no meaning of its own).
    Wake,
    /// A worker process's instances now (observed runs, every `--sample-ms`).
    Samples { process: u32, sample: crate::runtime::observe::sample::ProcessSample },
}

/// An entry of a worker process's control stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Control {
    /// Run the `postprocess` of PE `pe`: on worker `worker`, or on any of the process's
    /// workers (`None`).
    Postprocess { pe: u32, worker: Option<u64> },
    /// Keep this many workers.
    Workers { target: u32 },
    /// `hybrid_redis`: the process's first worker holds these pinned instances (global ids).
    Pin { instances: Vec<u32> },
    /// The cost per unit (ns, 0 unknown) of every PE, over all the job's workers: a process
    /// cuts the tasks it writes for PEs it does not run to them.
    Costs { ns_per_unit: Vec<f64> },
    /// The job is over (or aborted): stop.
    Shutdown,
}

/// A task entry: PE, instance (global id), port (u32 LE each), the value batch.
pub(crate) fn encode_task(pe: usize, instance: usize, port: usize, units: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + units.len() * 10);
    for n in [pe, instance, port] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    encode_values(units, &mut out);
    out
}

/// Reads a task entry: (pe, instance, port, units).
pub(crate) fn decode_task(bytes: &[u8]) -> Result<(usize, usize, usize, Vec<Value>), WireError> {
    if bytes.len() < 12 {
        return Err(WireError::Truncated);
    }
    let n = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
    Ok((n(0), n(4), n(8), decode_values(&bytes[12..])?))
}

/// The stream of the tasks for instance `global` of `plan`: its own when it is pinned, its
/// PE's lane otherwise.
pub(crate) fn stream_of(
    plan: &crate::plan::Plan,
    keys: &dispel4rs_transports::redis::JobKeys,
    global: usize,
) -> String {
    let pe = plan.instances()[global].pe;
    if plan.is_pinned(pe) {
        keys.key(&format!("pin:{global}"))
    } else {
        keys.lane(pe)
    }
}

/// Collected units as a value batch.
pub(crate) fn encode_collected(collected: &[(CollectName, Vec<Value>)]) -> Vec<u8> {
    if collected.is_empty() {
        return Vec::new();
    }
    let values: Vec<Value> = collected
        .iter()
        .map(|(name, units)| {
            Value::List(vec![Value::from(&*name.pe), Value::from(&*name.port), Value::List(units.clone())])
        })
        .collect();
    let mut out = Vec::new();
    encode_values(&values, &mut out);
    out
}

/// Reads [`encode_collected`] back.
pub(crate) fn decode_collected(bytes: &[u8]) -> Result<Vec<(CollectName, Vec<Value>)>, WireError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || WireError::Control("malformed collected units".into());
    decode_values(bytes)?
        .into_iter()
        .map(|v| {
            let Value::List(mut parts) = v else { return Err(bad()) };
            if parts.len() != 3 {
                return Err(bad());
            }
            let Value::List(units) = parts.pop().ok_or_else(bad)? else { return Err(bad()) };
            let port = parts.pop().and_then(|p| p.as_str().map(Arc::from)).ok_or_else(bad)?;
            let pe = parts.pop().and_then(|p| p.as_str().map(Arc::from)).ok_or_else(bad)?;
            Ok((CollectName { pe, port }, units))
        })
        .collect()
}

/// Dead letters for [`Effects::dead`].
pub(crate) fn encode_dead(letters: &[DeadLetter]) -> Vec<u8> {
    if letters.is_empty() {
        return Vec::new();
    }
    wire::encode_dead(letters)
}

/// Reads [`Effects::dead`] back.
pub(crate) fn decode_dead(bytes: &[u8]) -> Result<Vec<DeadLetter>, WireError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    wire::decode_dead(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_collected_units_and_worker_numbers_round_trip() {
        let units = vec![Value::from(("a", 1)), Value::Int(7)];
        let bytes = encode_task(3, 9, 1, &units);
        assert_eq!(decode_task(&bytes).unwrap(), (3, 9, 1, units.clone()));
        assert!(decode_task(&bytes[..9]).is_err());
        assert!(decode_task(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
        let name = CollectName { pe: Arc::from("sink"), port: Arc::from("output") };
        let c = encode_collected(&[(name.clone(), units.clone())]);
        assert_eq!(decode_collected(&c).unwrap(), vec![(name, units)]);
        assert!(decode_collected(&[1, 2, 3]).is_err());
        let w = worker_id(5, 3);
        assert_eq!((process_of(w), actor_of(w)), (5, 3));
        let e = Event::Done { pe: 1, worker: w as u64, units: 2, busy_ns: 3, effects: Effects::default() };
        let secret = RunSecret::generate().unwrap();
        let seal = Seal::new(&secret);
        let sealed = seal.encode("d4r:j:events", &e).unwrap();
        assert!(matches!(seal.decode::<Event>("d4r:j:events", &sealed), Ok(Event::Done { pe: 1, .. })));
        // Another key, another secret, an altered or a cut entry: refused.
        let forged = |r: Result<Event, EntryError>| matches!(r, Err(EntryError::Forged { .. }));
        assert!(forged(seal.decode("d4r:k:events", &sealed)));
        assert!(forged(Seal::new(&RunSecret::generate().unwrap()).decode("d4r:j:events", &sealed)));
        let mut altered = sealed.clone();
        altered[0] ^= 1;
        assert!(forged(seal.decode("d4r:j:events", &altered)));
        assert!(forged(seal.decode("d4r:j:events", &sealed[..10])));
        // Authentic but not an event.
        let other = seal.seal("d4r:j:events", vec![0xff; 3]);
        assert!(matches!(seal.decode::<Event>("d4r:j:events", &other), Err(EntryError::Unreadable { .. })));
        let back: Event = wire::from_bytes(&wire::to_bytes(&e).unwrap()).unwrap();
        assert!(matches!(back, Event::Done { pe: 1, units: 2, .. }));
    }
}
