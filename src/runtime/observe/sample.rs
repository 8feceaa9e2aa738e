//! What a process reports of its instances every `--sample-ms`: [`ProcessSample`]. Workers of
//! a multi-process run send theirs to the coordinator (a `SAMPLES` frame under `zmq_multi` and
//! `mpi`, an `Event::Samples` entry under the Redis mappings), which keeps the timelines of the
//! whole run and serves every process's metrics, labelled with the process.

use super::histogram::UnitTimes;
use serde::{Deserialize, Serialize};

/// The counters of one instance at one moment (cumulative since it was made).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSample {
    /// The PE's name.
    pub pe: String,
    /// The instance's index (its worker under the dynamic mappings).
    pub index: u64,
    /// Data units handed to it.
    pub units_in: u64,
    /// Data units that left it.
    pub units_out: u64,
    /// Time in its own code, ns (a batch in progress included).
    pub busy_ns: u64,
    /// Restarts.
    pub restarts: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Dead letters.
    pub dead_letters: u64,
    /// Batches waiting for it (fixed mappings), 0 otherwise.
    pub mailbox: u64,
    /// Its batch times (for `dispel4rs_process_seconds`), when they changed since the last
    /// sample.
    pub batch_times: Option<UnitTimes>,
}

/// The instances of one process, and its queues and pool, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Every instance of the process.
    pub instances: Vec<InstanceSample>,
    /// Units queued per PE (plan order), where the process holds the queue.
    pub queues: Vec<u64>,
    /// Workers in the pool, where the process knows it.
    pub pool: Option<u64>,
}
