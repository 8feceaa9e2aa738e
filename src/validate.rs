//! The range every option must lie in, in one table: the command line parses with it (an
//! out-of-range value is refused with exit status 2 and a message naming the option and
//! its range, which `--help` shows too), and [`RunOptions::validate`] checks options built in
//! Rust with it, so no value can make a run panic, abort or try a huge allocation.
//!
//! | option | range | why the bound |
//! |---|---|---|
//! | `-n` | 1..=65536 | a plan holds at most 65536 instances |
//! | `--batch-size` | 1..=1000000 | a batch buffer is allocated whole |
//! | `--batch-bytes` | 1024..=33554432 | a batch must fit in one frame (64 MiB) with room to spare |
//! | `--flush-ms` | 0..=3600000 | one hour |
//! | `--mailbox` | 1..=4096 | credits and channels are allocated per mailbox |
//! | `--retries` | 0..=1000 | |
//! | `--retry-hold` | 0..=1024 | batches held back per attempt, in memory |
//! | `--max-restarts` | 0..=1000000 | |
//! | `--restart-window-ms` | 1..=86400000 | one day |
//! | `--join-timeout-s` | 1..=86400 | one day (deadlines are computed from it) |
//! | `--peer-timeout-ms` | 500..=86400000 | heartbeats go out four times per time-out, at least every 100 ms |
//! | `--spawn` | 0..=65535 | and at most `-n` (`zmq_multi`: `-n` − 1, the coordinator is one) |
//! | `--min-workers` | 1..=65536 | at most `-n` is used |
//! | `--scale-interval-ms` | 1..=3600000 | one hour |
//! | `--task-us` | 1..=60000000 | one minute |
//! | `--queue-units` | 1..=4294967296 | the queue's bound, units in memory or in Redis |
//! | `--workers` | 0..=4096 | worker actors (threads) per process (a joining process may start with none: autoscaling adds them) |
//! | `--claim-idle-ms` | 100..=86400000 | a task is taken over after this; one day |
//! | `--redis-timeout-ms` | 100..=3600000 | every Redis command waits at most this |
//! | `--sample-ms` | 10..=60000 | samples of every instance, from every process, at most 100 a second |
//!
//! ```
//! use dispel4rs::RunOptions;
//! let mut o = RunOptions::default();
//! assert!(o.validate().is_ok());
//! o.mailbox_batches = usize::MAX;
//! assert_eq!(o.validate().unwrap_err().to_string(), format!("--mailbox {} is out of range: it must be within 1..=4096", usize::MAX));
//! ```

use crate::runtime::options::RunOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The valid range of one numeric option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The option as typed (`--batch-size`).
    pub flag: &'static str,
    /// Smallest value allowed.
    pub min: u64,
    /// Largest value allowed.
    pub max: u64,
}

/// `-n`.
pub const PROCESSES: Limit = Limit { flag: "-n", min: 1, max: crate::plan::MAX_INSTANCES as u64 };
/// `--batch-size`.
pub const BATCH_SIZE: Limit = Limit { flag: "--batch-size", min: 1, max: 1_000_000 };
/// `--batch-bytes`.
pub const BATCH_BYTES: Limit = Limit { flag: "--batch-bytes", min: 1024, max: 32 << 20 };
/// `--flush-ms`.
pub const FLUSH_MS: Limit = Limit { flag: "--flush-ms", min: 0, max: 3_600_000 };
/// `--mailbox`.
pub const MAILBOX: Limit = Limit { flag: "--mailbox", min: 1, max: 4096 };
/// `--retries`.
pub const RETRIES: Limit = Limit { flag: "--retries", min: 0, max: 1000 };
/// `--retry-hold`.
pub const RETRY_HOLD: Limit = Limit { flag: "--retry-hold", min: 0, max: 1024 };
/// `--max-restarts`.
pub const MAX_RESTARTS: Limit = Limit { flag: "--max-restarts", min: 0, max: 1_000_000 };
/// `--restart-window-ms`.
pub const RESTART_WINDOW_MS: Limit = Limit { flag: "--restart-window-ms", min: 1, max: 86_400_000 };
/// `--join-timeout-s`.
pub const JOIN_TIMEOUT_S: Limit = Limit { flag: "--join-timeout-s", min: 1, max: 86_400 };
/// `--peer-timeout-ms`.
pub const PEER_TIMEOUT_MS: Limit = Limit { flag: "--peer-timeout-ms", min: 500, max: 86_400_000 };
/// `--spawn`.
pub const SPAWN: Limit = Limit { flag: "--spawn", min: 0, max: crate::plan::MAX_INSTANCES as u64 - 1 };

/// `--min-workers`.
pub const MIN_WORKERS: Limit =
    Limit { flag: "--min-workers", min: 1, max: crate::plan::MAX_INSTANCES as u64 };
/// `--scale-interval-ms`.
pub const SCALE_INTERVAL_MS: Limit = Limit { flag: "--scale-interval-ms", min: 1, max: 3_600_000 };
/// `--task-us`.
pub const TASK_US: Limit = Limit { flag: "--task-us", min: 1, max: 60_000_000 };
/// `--queue-units`.
pub const QUEUE_UNITS: Limit = Limit { flag: "--queue-units", min: 1, max: 1 << 32 };
/// `--workers`.
pub const WORKERS: Limit = Limit { flag: "--workers", min: 0, max: 4096 };
/// `--claim-idle-ms`.
pub const CLAIM_IDLE_MS: Limit = Limit { flag: "--claim-idle-ms", min: 100, max: 86_400_000 };
/// `--redis-timeout-ms`.
pub const REDIS_TIMEOUT_MS: Limit = Limit { flag: "--redis-timeout-ms", min: 100, max: 3_600_000 };

/// `--sample-ms`.
pub const SAMPLE_MS: Limit = Limit { flag: "--sample-ms", min: 10, max: 60_000 };

/// Every limit, in `--help` order.
pub const LIMITS: [Limit; 20] = [
    PROCESSES,
    BATCH_SIZE,
    BATCH_BYTES,
    FLUSH_MS,
    MAILBOX,
    RETRIES,
    RETRY_HOLD,
    MAX_RESTARTS,
    RESTART_WINDOW_MS,
    JOIN_TIMEOUT_S,
    PEER_TIMEOUT_MS,
    SPAWN,
    MIN_WORKERS,
    SCALE_INTERVAL_MS,
    TASK_US,
    QUEUE_UNITS,
    WORKERS,
    CLAIM_IDLE_MS,
    REDIS_TIMEOUT_MS,
    SAMPLE_MS,
];

/// An option that cannot be used, naming it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// A value outside its range.
    #[error("{flag} {value} is out of range: it must be within {min}..={max}")]
    OutOfRange {
        /// The option.
        flag: &'static str,
        /// The value given.
        value: u128,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// `--spawn` above what `-n` has room for.
    #[error("--spawn {spawn} starts more workers than -n {processes} has room for (at most {most})")]
    TooManySpawned {
        /// `--spawn`.
        spawn: usize,
        /// `-n`.
        processes: usize,
        /// The most worker processes `-n` allows under the mapping.
        most: usize,
    },
    /// Two outputs written to one file.
    #[error("{first} and {second} both name {}: each output needs a file of its own", path.display())]
    SameFile {
        /// One option.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The run secret is missing or unusable.
    #[error("{0}")]
    Secret(String),
    /// A per-PE option naming a PE the graph does not have.
    #[error("{flag} {pe}: the graph '{graph}' has no PE '{pe}' (its PEs: {known})")]
    UnknownPe {
        /// The option.
        flag: &'static str,
        /// The name given.
        pe: String,
        /// The graph's name.
        graph: String,
        /// The graph's PEs.
        known: String,
    },
    /// A per-PE option the graph cannot take (e.g. on a composite).
    #[error("{0}")]
    Tuning(String),
}

impl Limit {
    /// `[min..=max]`, as `--help` shows it.
    pub fn range_text(&self) -> String {
        format!("[{}..={}]", self.min, self.max)
    }

    /// Checks `value`.
    pub fn check(&self, value: u128) -> Result<(), OptionError> {
        if value < u128::from(self.min) || value > u128::from(self.max) {
            return Err(OptionError::OutOfRange { flag: self.flag, value, min: self.min, max: self.max });
        }
        Ok(())
    }

    /// Parses a command-line value (for clap's `value_parser`): a whole number in range.
    pub fn parse<T: TryFrom<u64>>(&self, text: &str) -> Result<T, String> {
        let bad = || format!("must be a whole number within {}..={}", self.min, self.max);
        let value: u128 = text.trim().parse().map_err(|_| bad())?;
        self.check(value).map_err(|_| bad())?;
        T::try_from(value as u64).map_err(|_| bad())
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

impl RunOptions {
    /// Checks every option against its range (see the [module documentation](self)) and
    /// against the others (`--spawn` at most `-n`; `zmq_multi` checks its own, tighter
    /// bound, `-n` − 1). `-n 0` is left to the plan (under `mpi` it means "as many as the
    /// ranks").
    pub fn validate(&self) -> Result<(), OptionError> {
        if self.processes != 0 {
            PROCESSES.check(self.processes as u128)?;
        }
        BATCH_SIZE.check(self.batch_size as u128)?;
        BATCH_BYTES.check(self.batch_bytes as u128)?;
        FLUSH_MS.check(millis(self.flush_interval))?;
        MAILBOX.check(self.mailbox_batches as u128)?;
        RETRIES.check(self.max_retries.into())?;
        RETRY_HOLD.check(self.retry_hold_batches as u128)?;
        MAX_RESTARTS.check(self.restart.max_restarts.into())?;
        RESTART_WINDOW_MS.check(millis(self.restart.window))?;
        JOIN_TIMEOUT_S.check(self.cluster.join_timeout.as_secs().into())?;
        PEER_TIMEOUT_MS.check(millis(self.cluster.peer_timeout))?;
        if let Some(spawn) = self.cluster.spawn {
            SPAWN.check(spawn as u128)?;
            if self.processes != 0 && spawn > self.processes {
                return Err(OptionError::TooManySpawned {
                    spawn,
                    processes: self.processes,
                    most: self.processes,
                });
            }
        }
        MIN_WORKERS.check(self.pool.min_workers as u128)?;
        SCALE_INTERVAL_MS.check(millis(self.pool.scale_interval))?;
        TASK_US.check(self.pool.task_target.as_micros())?;
        if let Some(units) = self.pool.queue_units {
            QUEUE_UNITS.check(units.into())?;
        }
        if let Some(workers) = self.redis.workers_per_process {
            WORKERS.check(workers as u128)?;
        }
        CLAIM_IDLE_MS.check(millis(self.redis.claim_idle))?;
        REDIS_TIMEOUT_MS.check(millis(self.redis.timeout))?;
        SAMPLE_MS.check(millis(self.observe.sample_interval))?;
        Ok(())
    }
}

/// Where a path would land: its parent made absolute and canonical, and its name.
fn resolved(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = std::fs::canonicalize(&parent).unwrap_or(parent);
    match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    }
}

/// Refuses two outputs (`-o`, `--dead-letters`, `--report`) that name the same file.
pub fn check_distinct_outputs(outputs: &[(&'static str, Option<&Path>)]) -> Result<(), OptionError> {
    let given: Vec<(&'static str, &Path, PathBuf)> =
        outputs.iter().filter_map(|(flag, p)| p.map(|p| (*flag, p, resolved(p)))).collect();
    for (i, (first, path, a)) in given.iter().enumerate() {
        for (second, _, b) in &given[i + 1..] {
            if a == b {
                return Err(OptionError::SameFile { first, second, path: path.to_path_buf() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_bound_is_enforced() {
        assert_eq!(RunOptions::default().validate(), Ok(()));
        type Change = fn(&mut RunOptions);
        let cases: Vec<(Change, &str)> = vec![
            (|o| o.batch_size = 0, "--batch-size"),
            (|o| o.batch_size = 1 << 40, "--batch-size"),
            (|o| o.batch_bytes = 10, "--batch-bytes"),
            (|o| o.mailbox_batches = 100_000_000, "--mailbox"),
            (|o| o.cluster.join_timeout = Duration::from_secs(u64::MAX), "--join-timeout-s"),
            (|o| o.cluster.peer_timeout = Duration::from_millis(10), "--peer-timeout-ms"),
            (|o| o.flush_interval = Duration::MAX, "--flush-ms"),
            (|o| o.retry_hold_batches = 5000, "--retry-hold"),
            (|o| o.processes = 1 << 20, "-n"),
            (|o| o.pool.min_workers = 0, "--min-workers"),
            (|o| o.pool.scale_interval = Duration::ZERO, "--scale-interval-ms"),
            (|o| o.pool.task_target = Duration::from_secs(3600), "--task-us"),
            (|o| o.pool.queue_units = Some(0), "--queue-units"),
            (|o| o.redis.workers_per_process = Some(1 << 20), "--workers"),
            (|o| o.redis.claim_idle = Duration::from_millis(1), "--claim-idle-ms"),
            (|o| o.redis.timeout = Duration::from_secs(1 << 40), "--redis-timeout-ms"),
            (|o| o.observe.sample_interval = Duration::from_millis(1), "--sample-ms"),
        ];
        for (change, flag) in cases {
            let mut o = RunOptions::default();
            change(&mut o);
            let e = o.validate().unwrap_err();
            assert!(e.to_string().starts_with(&format!("{flag} ")), "{e}");
        }
        let mut o = RunOptions { processes: 3, ..RunOptions::default() };
        o.cluster.spawn = Some(4);
        assert_eq!(
            o.validate().unwrap_err().to_string(),
            "--spawn 4 starts more workers than -n 3 has room for (at most 3)"
        );
        o.cluster.spawn = Some(3);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn parsing_names_the_range_and_never_overflows() {
        assert_eq!(MAILBOX.parse::<usize>("8"), Ok(8));
        for bad in ["0", "18446744073709551615", "99999999999999999999999999", "-1", "x", ""] {
            assert_eq!(MAILBOX.parse::<usize>(bad), Err("must be a whole number within 1..=4096".into()));
        }
        assert_eq!(JOIN_TIMEOUT_S.range_text(), "[1..=86400]");
    }

    #[test]
    fn outputs_on_one_file_are_refused() {
        let a = Path::new("out.jsonl");
        let b = Path::new("./out.jsonl");
        let e = check_distinct_outputs(&[("-o", Some(a)), ("--report", None), ("--dead-letters", Some(b))])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "-o and --dead-letters both name out.jsonl: each output needs a file of its own"
        );
        assert!(check_distinct_outputs(&[("-o", Some(a)), ("--report", Some(Path::new("r.json")))]).is_ok());
    }
}
