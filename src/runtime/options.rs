//! Options shared by every mapping (the command line fills them in).

use dispel4rs_actors::supervision::RestartPolicy;
use std::path::PathBuf;
use std::time::Duration;

/// How a run is carried out, whatever the mapping. Serialisable: the coordinator of a
/// multi-process run sends it whole to every worker (see `runtime::launch`), so a new option
/// reaches workers without further code.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    /// `-n`: slots for the plan (arbiters, processes, ranks).
    pub processes: usize,
    /// Data units per batch on every hop.
    pub batch_size: usize,
    /// A root's partial batch is sent on when it is this old at the end of a call, so slow
    /// streams keep a low latency.
    pub flush_interval: Duration,
    /// When a failed instance is restarted, and when it is given up.
    pub restart: RestartPolicy,
    /// How many times a failed data unit is retried (on a restarted instance) before it is
    /// dead-lettered.
    pub max_retries: u32,
    /// Exit with status 0 even when data units were dead-lettered.
    pub allow_dead_letters: bool,
    /// Write every dead letter to this file as JSON Lines.
    pub dead_letter_file: Option<PathBuf>,
    /// Dead letters kept in memory for the report (the count is always exact).
    pub dead_letters_kept: usize,
    /// Batches a mailbox holds before its senders wait (backpressure).
    pub mailbox_batches: usize,
    /// Options of the multi-process mappings.
    pub cluster: ClusterOptions,
    /// A batch is also sent on once its units take this many bytes on the wire (so units of
    /// any size make batches that fit a frame).
    pub batch_bytes: usize,
    /// Full batches an attempt may write that are held back until it succeeds: a retry then
    /// repeats none of them. An attempt that writes more sends them on, and its retry repeats
    /// what had left (at least once). 0 sends every full batch at once.
    pub retry_hold_batches: usize,
    /// Options of the dynamic mappings (a pool of workers).
    pub pool: PoolOptions,
    /// Options of the Redis mappings.
    pub redis: RedisOptions,
    /// Whether the run is observed (live metrics, timelines), and how often it is sampled.
    pub observe: super::observe::ObserveOptions,
    /// Per-PE changes to the graph's specs (`--numprocesses PE=N`, `--blocking PE`).
    pub tuning: crate::plan::PeTuning,
    /// Provenance to record (`--provenance`); `None`: none, and units carry no ids.
    #[serde(default)]
    pub provenance: Option<crate::provenance::ProvenanceOptions>,
}

/// Options of the Redis mappings (`dyn_redis`, `dyn_auto_redis`). The server's URL and the
/// job's id are not options: they are given to every process on its command line or in its
/// environment, never sent through Redis.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RedisOptions {
    /// A task claimed this long ago and not committed is taken over by another worker (its
    /// worker is presumed dead).
    pub claim_idle: Duration,
    /// Connecting, and every command, time out after this long: a server that stops
    /// answering fails the run within it.
    pub timeout: Duration,
    /// Workers per worker process started by the coordinator (`None`: one each, `-n`
    /// processes for `dyn_redis`).
    pub workers_per_process: Option<usize>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            claim_idle: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
            workers_per_process: None,
        }
    }
}

/// Options of the dynamic mappings (`dyn_multi`, `dyn_auto_multi`): `-n` is the most workers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PoolOptions {
    /// Autoscaling: the fewest workers (the pool starts with this many).
    pub min_workers: usize,
    /// Autoscaling: how often the load is measured and the pool resized.
    pub scale_interval: Duration,
    /// A task (a batch of units of one PE) is cut to take about this long at the PE's
    /// measured cost per unit, so that slow PEs spread over workers and fast ones keep whole
    /// batches.
    pub task_target: Duration,
    /// Units the queue holds before roots wait (admission control); `None`: `--mailbox` ×
    /// `--batch-size` × workers.
    pub queue_units: Option<u64>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            min_workers: 1,
            scale_interval: Duration::from_millis(100),
            task_target: Duration::from_millis(1),
            queue_units: None,
        }
    }
}

/// Options of the multi-process mappings (`zmq_multi`, `mpi`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClusterOptions {
    /// `zmq_multi`: where the coordinator listens for workers (`tcp://host:port`; port 0 for
    /// any free port). Default `tcp://127.0.0.1:0`.
    pub listen: String,
    /// `zmq_multi`: the host or interface the data sockets of this process bind to.
    pub bind_host: String,
    /// `zmq_multi`: how many workers the coordinator starts on this machine (`None`: all of
    /// them, `-n` − 1; `Some(0)`: wait for workers started by hand with `--join`).
    pub spawn: Option<usize>,
    /// How long the coordinator waits for its workers to join.
    pub join_timeout: Duration,
    /// A process silent for this long is declared lost and the run fails.
    pub peer_timeout: Duration,
    /// `zmq_multi`: the file holding the run secret (created by the coordinator if missing);
    /// without it the secret comes from `DISPEL4RS_SECRET`, or the coordinator makes one for
    /// the workers it starts. Never sent to workers.
    pub secret_file: Option<PathBuf>,
    /// `zmq_multi`: authenticate every data frame with the run secret. Turning it off is only
    /// for measuring what the MAC costs: then anyone who reaches a data socket can inject
    /// frames into the run.
    pub authenticate_frames: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            listen: "tcp://127.0.0.1:0".into(),
            bind_host: "127.0.0.1".into(),
            spawn: None,
            join_timeout: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(3),
            secret_file: None,
            authenticate_frames: true,
        }
    }
}

impl RunOptions {
    /// Units the task queue of a dynamic run with at most `workers` workers holds before
    /// roots wait: `--queue-units`, else `--mailbox` × `--batch-size` × workers; at least
    /// one batch.
    pub(crate) fn queue_capacity(&self, workers: usize) -> u64 {
        let default = || self.mailbox_batches.saturating_mul(self.batch_size).saturating_mul(workers) as u64;
        self.pool.queue_units.unwrap_or_else(default).max(self.batch_size as u64)
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            processes: 1,
            batch_size: 1024,
            flush_interval: Duration::from_millis(2),
            restart: RestartPolicy::default(),
            max_retries: 1,
            allow_dead_letters: false,
            dead_letter_file: None,
            dead_letters_kept: 100,
            mailbox_batches: 8,
            cluster: ClusterOptions::default(),
            pool: PoolOptions::default(),
            redis: RedisOptions::default(),
            observe: super::observe::ObserveOptions::default(),
            batch_bytes: 1 << 20,
            retry_hold_batches: 8,
            tuning: crate::plan::PeTuning::default(),
            provenance: None,
        }
    }
}
