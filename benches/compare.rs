//! dispel4rs against Timely Dataflow and against the raw transports, side by side in one
//! invocation.
//!
//! ```text
//! cargo bench --bench compare                      # full sizes, 5 repetitions
//! cargo bench --bench compare -- --quick           # smaller sizes, 3 repetitions
//! cargo bench --bench compare -- --only wordcount --reps 9
//! cargo bench --bench compare -- --only multi      # multi -n2/-n4 vs timely -w2, tail, restarts
//! cargo bench --bench compare -- --only cluster    # zmq_multi, mpi, raw transports
//! cargo bench --bench compare -- --only dynamic    # dyn_multi vs multi, bursty fixed vs autoscaled
//! cargo bench --bench compare -- --only provenance # multi -n2 with and without --provenance
//! cargo bench --bench compare -- --help
//! ```
//! (`scripts/compare.sh` wraps this with a release build and the machine's description.)
//!
//! # What is measured
//!
//! Tables of **workloads × engines**, in *sections*. Within a section every engine runs the
//! section's workload, the engines alternating within each repetition (ours, timely, ours,
//! timely, ...) after one untimed warm-up run each, so that all see the same machine load
//! (this machine is shared and noisy: compare the ratios, not the absolute numbers).
//!
//! Workloads:
//!
//! * `pipeline`: `examples/pipeline.rs` with `{"source": [{"n": N}]}` (N = 10,000,000):
//!   a source writes 1..=N, then x+1, x·2, x/2−1, then a sink counts and sums. The Timely
//!   program has the same shape, one operator per stage: `to_stream` over 1..=N, three
//!   `map`s, an `inspect` that counts and sums. Unit: items (N).
//! * `wordcount`: `examples/wordcount.rs` over 5 MiB of generated text (see
//!   `benches/common`: fixed seed, Zipf-like vocabulary of 4000 words, lines of 5–15
//!   words) written to a temporary file. The Timely program: one worker reads the lines
//!   (`to_stream` over `BufRead::lines`), a `split` operator splits on Unicode whitespace and
//!   lowercases (`(word, 1)` pairs, as ours), a `count` operator behind an exchange on the
//!   word's hash adds up per word in a `HashMap` with the std hasher (as ours) and emits
//!   `(word, total)` once its input is complete. Unit: words of the text.
//! * `supervision`: a graph built here, source 1..=100,000 → `flaky` → count and sum, where
//!   `flaky` panics on the *first* attempt at every 1000th unit (the retry succeeds), the
//!   restart policy raised so that it never gives up. See "Supervision" below.
//!
//! Engine groups (`--only` takes workload names and group names, comma-separated):
//!
//! * `simple`: our `simple` mapping in this process beside Timely with 1 worker (`-w1`).
//! * `multi`: our `multi` mapping with `-n 2` (through [`Runner`] in this process) beside
//!   Timely with 2 worker threads (`Config::process(2)`), and `multi -n 4` for information
//!   (compared with `timely -w2`, the most workers a Timely row has).
//! * `cluster`: `zmq_multi` and `mpi`, end to end, as a user runs them: the release example
//!   binaries (`target/release/examples/pipeline`, `.../wordcount`) as child processes with
//!   `--report FILE -o FILE -q`, `mpi` under `mpirun -n N --oversubscribe` (Open MPI; with
//!   `OMPI_ALLOW_RUN_AS_ROOT*` and `OMPI_MCA_btl=self,vader` unless already set). `pipeline`
//!   with N = 5,000,000 and `-n 5` (one process per PE), `wordcount` with `-n 4`. The
//!   answer is read back from the `-o` JSON Lines file and checked; the rate is taken from
//!   the wall time around the child process (start-up, rendezvous and tear-down included),
//!   and also from the report's `elapsed_s` (the run alone). CPU time is that of the
//!   children (`RUSAGE_CHILDREN`), peak RSS the report's `peak_rss_bytes`.
//!   A third `pipeline` row runs `zmq_multi` with `--insecure-no-frame-mac` in the same
//!   repetitions: the rate with the MAC over the rate without it, paired per repetition, is
//!   **what authenticating every frame costs** (printed after the table, and
//!   `frame_mac_rate_ratio` in the JSON).
//! * `dynamic`: `dyn_multi -n 2` on `pipeline` beside `multi -n 2` (its ratio is taken
//!   against `multi`, the fixed mapping it replaces; `wordcount` is stateful: the dynamic
//!   mappings refuse it), and the `bursty` section (`compare/bursty.rs`): the dense–sparse–dense
//!   input under `dyn_multi -n 16` and `dyn_auto_multi -n 16`, elapsed time, worker-seconds
//!   and tails, with the ratios auto / fixed per repetition.
//! * `provenance`: `multi -n 2` with `--provenance FILE` (every unit recorded, the document
//!   written to a temporary file and removed after each run) beside `multi -n 2` without it,
//!   on `pipeline` with N = 1,000,000 and on `wordcount` (5 MiB): the ratio column is the
//!   rate with provenance over the rate without, paired per repetition; after the table, the
//!   document's bytes per unit of the workload (`provenance` in the JSON).
//! * `raw` (part of `cluster`): the raw batched transports, measured in the same
//!   repetitions as the `cluster` pipeline rows: `target/release/examples/raw_throughput`
//!   (crate `dispel4rs-transports`) as a child, `zmq` (2 processes, TCP loopback) and `mpi`
//!   (`mpirun -n 2`), 20,000 frames of 1000 items × 28 bytes through two bridge threads; the
//!   rate is its own (receiver clock, first frame to last). Our end-to-end pipeline rate over
//!   the raw rate of the same transport in the same repetition is the **transport
//!   efficiency** (the ratio column of the `cluster` pipeline rows).
//!
//! The `cluster` and `raw` rows need the release examples of both crates built with all
//! features. Unless `--no-build` is given, the benchmark first runs
//! `cargo build --release --all-features --examples -p dispel4rs -p dispel4rs-transports`
//! itself (a no-op when they are up to date; `scripts/compare.sh` does the same build
//! beforehand, visibly). If that fails (no MPI installed) it builds without `--all-features`
//! and the `mpi` rows are skipped, saying why; so are rows whose binary or `mpirun` is
//! missing.
//!
//! A timed in-process run covers what a user waits for: building the graph (dataflow),
//! running it to the end, and the results in the engine's own form (our collected `Value`s,
//! Timely's captured vectors). Turning them into a comparable [`Answer`] is not timed. Every
//! answer is checked against an independent oracle (N·(N+1)/2; a plain std word count of
//! the text); any mismatch stops the benchmark with an error.
//!
//! Reported per row: the median time and the rate it gives (items/s or words/s), the
//! fastest and slowest repetition, the spread ((max−min)/median), the **ratio** to the row
//! named in the `vs` column: the median over repetitions of (our rate / its rate in the same
//! repetition), which pairs runs made under the same load; the same on CPU time; the median
//! end-of-stream **tail** of our runs (the report's `tail`: from the last data unit
//! processed to the end of the run); **peak RSS** (Linux `VmHWM`) measured for every
//! in-process row in an isolated child process: this benchmark binary re-executed with the
//! hidden argument `--child WORKLOAD ENGINE`, which runs that one case once and prints its
//! peak and start-up RSS; nothing else (the generated text, the other engine's allocations)
//! is in that process.
//!
//! # Supervision
//!
//! For `simple` and `multi -n 2`, each repetition runs the `supervision` graph twice: without
//! failures and with a panic at every 1000th unit (100 restarts; the back-off policy's first
//! step, 1 ms, is part of every restart). Two measures of the cost of a restart:
//! * **instrumented**: `flaky` notes the instant it panics; the next unit the restarted
//!   instance processes (the retried unit) takes the time since. Reported: the median (p50),
//!   p90 and maximum over all restarts of the timed repetitions.
//! * **difference**: (wall time with failures − wall time without) / restarts, per
//!   repetition (noisy: a 100-restart run lasts ~0.1 s).
//!
//! The answer (count and sum), the number of restarts in the report and the absence of dead
//! letters are checked.
//!
//! The summary tables are printed at the end, then the targets, and everything is written as
//! JSON to `target/compare.json` (`--json PATH` to change). Run without `--bench` (as
//! `cargo test --benches` does) the binary only does a tiny smoke run: the in-process engines
//! and the supervision graph on tiny sizes, answers checked, no child processes.
//!
//! # Extending
//!
//! Add an [`Engine`] variant (or reuse `Ours` with another [`Mapping`] and `-n`) and list it
//! in [`inprocess_engines`] or [`cluster_engines`]; add a [`Workload`] variant, its oracle in
//! [`Workload::expected`] and a branch in [`Engine::run`]. The `vs` row of an `Ours` row is
//! the `Timely` row with as many workers as the row's `-n`, or the most workers below it.

#[path = "../examples/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

#[path = "../examples/wordcount.rs"]
#[allow(dead_code)]
mod wordcount;

#[path = "../examples/bursty.rs"]
#[allow(dead_code)]
mod bursty;

#[path = "compare/bursty.rs"]
mod bursty_section;

#[path = "compare/redis.rs"]
mod redis_section;

mod common;

use dispel4rs::provenance::ProvenanceOptions;
use dispel4rs::{GraphError, Mapping, Output, Pe, PeError, PeSpec, Producer, Runner, Value, WorkflowGraph};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Sizes and targets
// ---------------------------------------------------------------------------------------

/// The sizes a run uses.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sizes {
    /// Items of `pipeline` in this process.
    n: i64,
    /// Bytes of text for `wordcount`.
    text_bytes: usize,
    /// Timed repetitions per engine.
    reps: usize,
    /// Items of `pipeline` under `zmq_multi` and `mpi`.
    cluster_n: i64,
    /// Units of the supervision graph.
    flaky_units: i64,
    /// The supervision graph fails on every this-many-th unit.
    flaky_every: i64,
    /// Frames (of 1000 items) of the raw transport runs.
    raw_frames: u64,
}

const FULL: Sizes = Sizes {
    n: 10_000_000,
    text_bytes: 5 << 20,
    reps: 5,
    cluster_n: 5_000_000,
    flaky_units: 100_000,
    flaky_every: 1000,
    raw_frames: 20_000,
};
const QUICK: Sizes = Sizes {
    n: 1_000_000,
    text_bytes: 1 << 20,
    reps: 3,
    cluster_n: 1_000_000,
    flaky_units: 100_000,
    flaky_every: 1000,
    raw_frames: 5_000,
};
const SMOKE: Sizes = Sizes {
    n: 20_000,
    text_bytes: 64 << 10,
    reps: 1,
    cluster_n: 20_000,
    flaky_units: 2_000,
    flaky_every: 100,
    raw_frames: 100,
};

/// Items of one raw transport frame (fixed by `raw_throughput`).
const RAW_ITEMS_PER_FRAME: u64 = 1000;

/// The project's targets on a 2-core machine (checked at full sizes only).
/// `simple` and `multi -n 2` pipeline rate.
const TARGET_PIPELINE_ITEMS_PER_S: f64 = 20e6;
/// `simple` / `timely -w1` and `multi -n 2` / `timely -w2` on wordcount.
const TARGET_WORDCOUNT_RATIO: f64 = 1.0;
const TARGET_PIPELINE_PEAK_RSS_BYTES: u64 = 64_000_000;
/// End-of-stream tail of `multi` (median per row), seconds.
const TARGET_TAIL_S: f64 = 0.010;
/// Restart latency (instrumented, median over restarts), seconds.
const TARGET_RESTART_S: f64 = 0.010;
/// `zmq_multi` and `mpi` pipeline rate (wall time around the processes).
const TARGET_CLUSTER_PIPELINE_ITEMS_PER_S: f64 = 2e6;
/// `dyn_multi -n 2` pipeline rate, and its ratio to `multi -n 2`.
const TARGET_DYN_PIPELINE_ITEMS_PER_S: f64 = 5e6;
const TARGET_DYN_VS_MULTI: f64 = 0.5;
/// `bursty`: dyn_auto_multi / dyn_multi elapsed time (at most) and worker-seconds (at most).
const TARGET_BURSTY_TIME_RATIO: f64 = 1.15;
const TARGET_BURSTY_WORKER_SECONDS_RATIO: f64 = 0.8;
/// `dyn_redis -n 2` pipeline rate, end to end.
const TARGET_REDIS_PIPELINE_ITEMS_PER_S: f64 = 1e6;

// ---------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------

const USAGE: &str = "\
usage: cargo bench --bench compare -- [OPTIONS]

  --quick            smaller sizes (N = 1 M items, 1 MiB of text, 3 repetitions)
  --only NAMES       only these workloads and/or engine groups (comma-separated);
                     workloads: pipeline, wordcount, supervision, bursty;
                     groups: simple (simple vs timely -w1), multi (multi -n2/-n4 vs timely -w2,
                     supervision under multi), cluster (zmq_multi, mpi, raw transports), raw,
                     dynamic (dyn_multi -n2 vs multi -n2; bursty: dyn_multi vs dyn_auto_multi),
                     redis (dyn_redis -n2 vs raw Redis and dyn_multi -n2; bursty: dyn_redis vs
                     dyn_auto_redis; the take-over after a killed worker)
  --engines NAMES    only engines whose name contains one of these (comma-separated)
  --reps R           timed repetitions per engine (default 5, quick 3)
  --warmup W         untimed runs per engine before timing (default 1)
  --n N              items for pipeline in this process (default 10000000)
  --cluster-n N      items for pipeline under zmq_multi and mpi (default 5000000)
  --text-bytes B     bytes of generated text for wordcount (default 5242880)
  --raw-frames F     frames of 1000 items for the raw transports (default 20000)
  --no-rss           skip the peak-RSS child processes
  --no-build         do not run `cargo build --release --all-features --examples` first
  --json PATH        where to write the results (default target/compare.json)
  --strict           exit with status 1 if a target is missed
  --write-text PATH  only write the generated text (--text-bytes) to PATH, e.g. to profile
                     `target/release/examples/wordcount` on the same input, and exit
  -h, --help         this text";

const WORKLOADS: [&str; 4] = ["pipeline", "wordcount", "supervision", "bursty"];
const GROUPS: [&str; 7] = ["simple", "multi", "cluster", "raw", "dynamic", "redis", "provenance"];

#[derive(Clone, Debug)]
struct Args {
    sizes: Sizes,
    quick: bool,
    smoke: bool,
    /// Workloads asked for with `--only` (empty: all).
    only: Vec<String>,
    /// Engine groups asked for with `--only` (empty: all).
    groups: Vec<String>,
    engines: Vec<String>,
    warmup: usize,
    rss: bool,
    build: bool,
    json: Option<PathBuf>,
    strict: bool,
    /// Hidden: run one case once and print its RSS (`--child WORKLOAD ENGINE`).
    child: Option<(String, String)>,
    /// Hidden, for `--child wordcount`: the text file to count.
    text_file: Option<PathBuf>,
    /// Only write the generated text there.
    write_text: Option<PathBuf>,
}

impl Args {
    fn wants_workload(&self, w: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == w)
    }

    fn wants_group(&self, g: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|o| o == g)
    }

    fn wants_engine(&self, e: Engine) -> bool {
        let group = self.wants_group(e.group()) || (e.group() == "raw" && self.wants_group("cluster"));
        let name = e.name();
        group && (self.engines.is_empty() || self.engines.iter().any(|f| name.contains(f.as_str())))
    }
}

fn parse_args() -> Result<Args, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only smoke-test.
    let smoke = !raw.iter().any(|a| a == "--bench");
    let quick = raw.iter().any(|a| a == "--quick");
    let mut a = Args {
        sizes: if smoke {
            SMOKE
        } else if quick {
            QUICK
        } else {
            FULL
        },
        quick,
        smoke,
        only: Vec::new(),
        groups: Vec::new(),
        engines: Vec::new(),
        warmup: if smoke { 0 } else { 1 },
        rss: !smoke,
        build: !smoke,
        json: None,
        strict: false,
        child: None,
        text_file: None,
        write_text: None,
    };
    let mut it = raw.into_iter();
    let list = |s: String| s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect();
    let mut only: Vec<String> = Vec::new();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        let number = |name: &str, v: String| v.parse::<u64>().map_err(|e| format!("{name} {v}: {e}"));
        match arg.as_str() {
            "--bench" | "--quick" => {}
            "--only" => only.extend(list(value("--only")?)),
            "--engines" => a.engines = list(value("--engines")?),
            "--reps" => a.sizes.reps = number("--reps", value("--reps")?)?.max(1) as usize,
            "--warmup" => a.warmup = number("--warmup", value("--warmup")?)? as usize,
            "--n" => a.sizes.n = number("--n", value("--n")?)? as i64,
            "--cluster-n" => a.sizes.cluster_n = number("--cluster-n", value("--cluster-n")?)? as i64,
            "--text-bytes" => a.sizes.text_bytes = number("--text-bytes", value("--text-bytes")?)? as usize,
            "--raw-frames" => a.sizes.raw_frames = number("--raw-frames", value("--raw-frames")?)?.max(2),
            "--no-rss" => a.rss = false,
            "--no-build" => a.build = false,
            "--json" => a.json = Some(value("--json")?.into()),
            "--strict" => a.strict = true,
            "--child" => a.child = Some((value("--child")?, value("--child")?)),
            "--text-file" => a.text_file = Some(value("--text-file")?.into()),
            "--write-text" => a.write_text = Some(value("--write-text")?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    for name in only {
        if WORKLOADS.contains(&name.as_str()) {
            a.only.push(name);
        } else if GROUPS.contains(&name.as_str()) {
            a.groups.push(name);
        } else {
            return Err(format!(
                "unknown workload or group '{name}' (workloads: {}; groups: {})",
                WORKLOADS.join(", "),
                GROUPS.join(", ")
            ));
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

/// One input, ready to be run by any engine.
#[derive(Clone, Debug)]
enum Workload {
    /// `pipeline` over 1..=n.
    Pipeline { n: i64 },
    /// `wordcount` over the text file at `path`, holding `words` words.
    WordCount { path: PathBuf, bytes: u64, words: u64 },
}

impl Workload {
    fn name(&self) -> &'static str {
        match self {
            Workload::Pipeline { .. } => "pipeline",
            Workload::WordCount { .. } => "wordcount",
        }
    }

    /// The name with its size, for the tables (`pipeline 10M`, `wordcount 5MiB`).
    fn label(&self) -> String {
        match self {
            Workload::Pipeline { n } if n % 1_000_000 == 0 => format!("pipeline {}M", n / 1_000_000),
            Workload::Pipeline { n } => format!("pipeline {n}"),
            Workload::WordCount { bytes, .. } if *bytes >= 1 << 20 => {
                format!("wordcount {}MiB", bytes >> 20)
            }
            Workload::WordCount { bytes, .. } => format!("wordcount {}KiB", bytes >> 10),
        }
    }

    /// The data units a run processes (for the rate).
    fn units(&self) -> u64 {
        match self {
            Workload::Pipeline { n } => *n as u64,
            Workload::WordCount { words, .. } => *words,
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Workload::Pipeline { .. } => "items",
            Workload::WordCount { .. } => "words",
        }
    }

    fn describe(&self) -> String {
        match self {
            Workload::Pipeline { n } => format!("pipeline: N = {n} items"),
            Workload::WordCount { path, bytes, words } => {
                format!("wordcount: {bytes} bytes, {words} words ({})", path.display())
            }
        }
    }

    /// The `-d` object of our runs.
    fn data(&self) -> Result<String, String> {
        Ok(match self {
            Workload::Pipeline { n } => format!(r#"{{"source": [{{"n": {n}}}]}}"#),
            Workload::WordCount { path, .. } => {
                let path = path.to_str().ok_or("the text path is not UTF-8")?;
                Value::map([("read", Value::List(vec![Value::map([("path", path)])]))]).to_json()
            }
        })
    }

    /// The right answer, computed without any engine.
    fn expected(&self) -> Result<Answer, String> {
        match self {
            Workload::Pipeline { n } => Ok(Answer::CountSum { count: *n, sum: n * (n + 1) / 2 }),
            Workload::WordCount { path, words, .. } => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut totals = HashMap::new();
                for word in text.split_whitespace() {
                    *totals.entry(word.to_lowercase()).or_insert(0i64) += 1;
                }
                let counted: i64 = totals.values().sum();
                if counted as u64 != *words {
                    return Err(format!("oracle counted {counted} words, the generator wrote {words}"));
                }
                Ok(Answer::Totals(totals))
            }
        }
    }

    /// The answer in our collected outputs: `(pe, unit)` pairs of the `output` ports.
    fn answer_from<'a>(&self, units: impl Iterator<Item = (&'a str, Value)>) -> Result<Answer, String> {
        match self {
            Workload::Pipeline { .. } => {
                // One {"count", "sum"} per sink instance.
                let (mut count, mut sum) = (0, 0);
                for (_, unit) in units.filter(|(pe, _)| *pe == "sink") {
                    let field = |k: &str| -> Result<i64, String> {
                        unit.get(k).ok_or(format!("no {k} in {unit}"))?.try_int().map_err(|e| e.to_string())
                    };
                    count += field("count")?;
                    sum += field("sum")?;
                }
                Ok(Answer::CountSum { count, sum })
            }
            Workload::WordCount { .. } => {
                let mut totals = HashMap::new();
                for (_, pair) in units.filter(|(pe, _)| *pe == "count") {
                    let bad = || format!("expected [word, total], got {pair}");
                    let word = pair.index(0).and_then(Value::as_str).ok_or_else(bad)?;
                    let total = pair.index(1).and_then(|n| n.try_int().ok()).ok_or_else(bad)?;
                    if totals.insert(word.to_owned(), total).is_some() {
                        return Err(format!("word {word:?} counted by two instances"));
                    }
                }
                Ok(Answer::Totals(totals))
            }
        }
    }
}

/// What a run computed, in a form every engine can be compared on.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    /// `pipeline`: items seen by the sink and their sum.
    CountSum { count: i64, sum: i64 },
    /// `wordcount`: total per (lowercased) word.
    Totals(HashMap<String, i64>),
    /// A raw transport run: checked by the transport benchmark itself.
    SelfChecked,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::CountSum { count, sum } => write!(f, "count {count}, sum {sum}"),
            Answer::Totals(t) => write!(f, "{} distinct words, {} in all", t.len(), t.values().sum::<i64>()),
            Answer::SelfChecked => write!(f, "(checked by the transport benchmark)"),
        }
    }
}

/// Says how `got` differs from `want`, or `None` if they are equal.
fn difference(want: &Answer, got: &Answer) -> Option<String> {
    if want == got || *got == Answer::SelfChecked {
        return None;
    }
    let mut msg = format!("expected {want}, got {got}");
    if let (Answer::Totals(w), Answer::Totals(g)) = (want, got) {
        let mut wrong: Vec<_> = w
            .iter()
            .filter(|(k, v)| g.get(*k) != Some(v))
            .map(|(k, v)| format!("{k:?}: {v} vs {:?}", g.get(k)))
            .chain(g.keys().filter(|k| !w.contains_key(*k)).map(|k| format!("{k:?}: unexpected")))
            .collect();
        wrong.sort();
        wrong.truncate(5);
        msg.push_str(&format!("; e.g. {}", wrong.join(", ")));
    }
    Some(msg)
}

// ---------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------

/// A raw transport measured by `raw_throughput`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Zmq,
    Mpi,
    Redis,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Zmq => "zmq",
            Transport::Mpi => "mpi",
            Transport::Redis => "redis",
        }
    }
}

/// A way to run a workload.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    /// dispel4rs in this process through [`Runner`], with this mapping and `-n`.
    Ours { mapping: Mapping, processes: usize },
    /// Timely Dataflow with this many worker threads (`-w`).
    Timely { workers: usize },
    /// dispel4rs as a user runs it: the release example binary as child process(es)
    /// (`zmq_multi`: the coordinator, which starts its workers; `mpi`: under `mpirun`).
    /// `frame_mac: false` runs with `--insecure-no-frame-mac`, to measure what the MAC on
    /// every `zmq_multi` frame costs.
    Process { mapping: Mapping, processes: usize, frame_mac: bool },
    /// The raw batched transport (`raw_throughput` as a child), `frames` × 1000 items.
    Raw { transport: Transport, frames: u64 },
    /// As `Ours`, recording provenance of every unit (`--provenance FILE`).
    Recorded { mapping: Mapping, processes: usize },
}

/// Items of `pipeline` in the `provenance` section.
const PROVENANCE_PIPELINE_N: i64 = 1_000_000;

/// The `provenance` section's rows: the same mapping without and with provenance.
fn provenance_engines() -> Vec<Engine> {
    vec![
        Engine::Ours { mapping: Mapping::Multi, processes: 2 },
        Engine::Recorded { mapping: Mapping::Multi, processes: 2 },
    ]
}

/// Sizes of the provenance documents written, per workload label.
static PROVENANCE_BYTES: std::sync::Mutex<Vec<(String, u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// The in-process rows, in the order they run within a repetition.
fn inprocess_engines() -> Vec<Engine> {
    vec![
        Engine::Ours { mapping: Mapping::Simple, processes: 1 },
        Engine::Timely { workers: 1 },
        Engine::Ours { mapping: Mapping::Multi, processes: 2 },
        Engine::Timely { workers: 2 },
        Engine::Ours { mapping: Mapping::DynMulti, processes: 2 },
        Engine::Ours { mapping: Mapping::Multi, processes: 4 },
    ]
}

/// The multi-process rows of a workload (`pipeline`: `-n 5`, one process per PE, and the raw
/// transports; `wordcount`: `-n 4`).
fn cluster_engines(w: &Workload, raw_frames: u64) -> Vec<Engine> {
    let processes = match w {
        Workload::Pipeline { .. } => 5,
        Workload::WordCount { .. } => 4,
    };
    let mut v = vec![
        Engine::Process { mapping: Mapping::ZmqMulti, processes, frame_mac: true },
        Engine::Process { mapping: Mapping::Mpi, processes, frame_mac: true },
    ];
    if let Workload::WordCount { .. } = w {
        // Stateful (group_by): hybrid_redis pins the counting instances.
        v.push(Engine::Process { mapping: Mapping::HybridRedis, processes: 4, frame_mac: true });
    }
    if let Workload::Pipeline { .. } = w {
        // Beside the real thing, in the same repetitions: what the frame MAC costs.
        v.insert(1, Engine::Process { mapping: Mapping::ZmqMulti, processes, frame_mac: false });
        v.push(Engine::Raw { transport: Transport::Zmq, frames: raw_frames });
        // The Redis mappings: dyn_redis beside dyn_multi at the same size, and raw Redis.
        v.push(Engine::Process { mapping: Mapping::DynRedis, processes: 2, frame_mac: true });
        v.push(Engine::Ours { mapping: Mapping::DynMulti, processes: 2 });
        v.push(Engine::Raw { transport: Transport::Redis, frames: raw_frames });
        v.push(Engine::Raw { transport: Transport::Mpi, frames: raw_frames });
    }
    v
}

impl Engine {
    /// The name in the table, and for `--engines` and `--child`.
    fn name(self) -> String {
        match self {
            Engine::Ours { mapping, processes } | Engine::Process { mapping, processes, frame_mac: true } => {
                format!("dispel4rs {} -n{processes}", mapping.name())
            }
            Engine::Process { mapping, processes, frame_mac: false } => {
                format!("dispel4rs {} -n{processes} no-MAC", mapping.name())
            }
            Engine::Timely { workers } => format!("timely -w{workers}"),
            Engine::Raw { transport, .. } => format!("raw {} batched", transport.name()),
            Engine::Recorded { mapping, processes } => {
                format!("dispel4rs {} -n{processes} +prov", mapping.name())
            }
        }
    }

    /// The `--only` group it belongs to.
    fn group(self) -> &'static str {
        match self {
            Engine::Recorded { .. } => "provenance",
            Engine::Ours { mapping: Mapping::Simple, .. } | Engine::Timely { workers: 1 } => "simple",
            Engine::Ours { mapping, .. } if mapping.is_pooled() => "dynamic",
            Engine::Ours { .. } | Engine::Timely { .. } => "multi",
            Engine::Process { mapping, .. } if mapping.name().contains("redis") => "redis",
            Engine::Raw { transport: Transport::Redis, .. } => "redis",
            Engine::Process { .. } => "cluster",
            Engine::Raw { .. } => "raw",
        }
    }

    /// The row (index in `engines`) this row's ratio is taken against: for our in-process
    /// rows, Timely with as many workers (or the most workers below); for our multi-process
    /// rows on `pipeline`, the raw transport they use (transport efficiency).
    fn reference(self, engines: &[Engine]) -> Option<usize> {
        match self {
            // Provenance on against the same run with it off.
            Engine::Recorded { mapping, processes } => {
                engines.iter().position(|e| *e == Engine::Ours { mapping, processes })
            }
            // A dynamic mapping against the fixed one it replaces.
            Engine::Ours { mapping, processes } if mapping.is_pooled() => {
                engines.iter().position(|e| *e == Engine::Ours { mapping: Mapping::Multi, processes })
            }
            Engine::Ours { processes, .. } => engines
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e {
                    Engine::Timely { workers } if *workers <= processes => Some((*workers, i)),
                    _ => None,
                })
                .max()
                .map(|(_, i)| i),
            Engine::Process { mapping, .. } => {
                let transport = match mapping {
                    Mapping::Mpi => Transport::Mpi,
                    Mapping::DynRedis | Mapping::DynAutoRedis => Transport::Redis,
                    _ => Transport::Zmq,
                };
                engines.iter().position(|e| matches!(e, Engine::Raw { transport: t, .. } if *t == transport))
            }
            Engine::Timely { .. } | Engine::Raw { .. } => None,
        }
    }

    fn workers(self) -> usize {
        match self {
            Engine::Ours { processes, .. }
            | Engine::Process { processes, .. }
            | Engine::Recorded { processes, .. } => processes,
            Engine::Timely { workers } => workers,
            Engine::Raw { .. } => 2,
        }
    }

    /// Units of one run of `w` (a raw transport run moves its own frames).
    fn units(self, w: &Workload) -> u64 {
        match self {
            Engine::Raw { frames, .. } => frames * RAW_ITEMS_PER_FRAME,
            _ => w.units(),
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Engine::Ours { .. } | Engine::Process { .. } | Engine::Recorded { .. })
    }

    /// Runs `w` once: the answer, and the time of the run (see the module documentation for
    /// what is inside it).
    fn run(self, w: &Workload, ctx: &Ctx) -> Result<(Answer, Sample), String> {
        match (self, w) {
            (Engine::Ours { mapping, processes }, _) => {
                let data = w.data()?;
                let (result, t) = Measure::time(|| {
                    let g = match w {
                        Workload::Pipeline { .. } => pipeline::graph(),
                        Workload::WordCount { .. } => wordcount::graph(),
                    }
                    .map_err(|e| e.to_string())?;
                    Runner::new(&g)
                        .mapping(mapping)
                        .processes(processes)
                        .data(data)
                        .run()
                        .map_err(|e| e.to_string())
                });
                let result = result?;
                let answer = w.answer_from(result.outputs.iter().map(|(pe, _, u)| (pe, u.clone())))?;
                Ok((answer, t.with_report(result.report.elapsed, result.report.tail, None)))
            }
            (Engine::Recorded { mapping, processes }, _) => {
                let data = w.data()?;
                let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
                let doc = dir.path().join("prov.json");
                let (result, t) = Measure::time(|| {
                    let g = match w {
                        Workload::Pipeline { .. } => pipeline::graph(),
                        Workload::WordCount { .. } => wordcount::graph(),
                    }
                    .map_err(|e| e.to_string())?;
                    Runner::new(&g)
                        .mapping(mapping)
                        .processes(processes)
                        .configure(|o| o.provenance = Some(ProvenanceOptions::new(&doc)))
                        .data(data)
                        .run()
                        .map_err(|e| e.to_string())
                });
                let result = result?;
                let bytes =
                    std::fs::metadata(&doc).map_err(|e| format!("no provenance document: {e}"))?.len();
                let records = result.provenance.as_ref().map_or(0, |c| c.per_kind.iter().sum());
                PROVENANCE_BYTES.lock().unwrap_or_else(|e| e.into_inner()).push((w.label(), bytes, records));
                let answer = w.answer_from(result.outputs.iter().map(|(pe, _, u)| (pe, u.clone())))?;
                Ok((answer, t.with_report(result.report.elapsed, result.report.tail, None)))
            }
            (Engine::Process { mapping, processes, frame_mac }, _) => {
                run_process(mapping, processes, frame_mac, w, ctx)
            }
            (Engine::Raw { transport, frames }, _) => run_raw(transport, frames, ctx),
            (Engine::Timely { workers }, Workload::Pipeline { n }) => {
                let (parts, t) = Measure::time(|| timely_pipeline(*n, workers));
                let (count, sum) = parts?.into_iter().fold((0, 0), |(c, s), (c1, s1)| (c + c1, s + s1));
                Ok((Answer::CountSum { count, sum }, t))
            }
            (Engine::Timely { workers }, Workload::WordCount { path, .. }) => {
                let (parts, t) = Measure::time(|| timely_wordcount(path, workers));
                let mut totals = HashMap::new();
                for (word, total) in parts?.into_iter().flatten() {
                    if totals.insert(word.clone(), total).is_some() {
                        return Err(format!("word {word:?} counted by two workers"));
                    }
                }
                Ok((Answer::Totals(totals), t))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Timely Dataflow programs
// ---------------------------------------------------------------------------------------

fn timely_config(workers: usize) -> timely::Config {
    if workers <= 1 {
        timely::Config::thread()
    } else {
        timely::Config::process(workers)
    }
}

/// Runs the timely computation `logic` on `workers` threads; the per-worker results.
fn timely_run<T: Send + 'static>(
    workers: usize,
    logic: impl Fn(&mut timely::worker::Worker) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, String> {
    let guards = timely::execute(timely_config(workers), logic)?;
    guards.join().into_iter().collect()
}

/// source 1..=n → x+1 → x·2 → x/2−1 → count and sum; per worker `(count, sum)`.
/// Worker `i` of `w` generates every w-th number from `1 + i`.
fn timely_pipeline(n: i64, workers: usize) -> Result<Vec<(i64, i64)>, String> {
    use timely::dataflow::operators::vec::{Map, ToStream};
    use timely::dataflow::operators::Inspect;
    timely_run(workers, move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let totals = Rc::new(Cell::new((0i64, 0i64)));
        let sink = totals.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            ((1 + index as i64)..=n)
                .step_by(peers)
                .to_stream(scope)
                .map(|x| x + 1)
                .map(|x| x * 2)
                .map(|x| x / 2 - 1)
                .inspect(move |x: &i64| {
                    let (count, sum) = sink.get();
                    sink.set((count + 1, sum + x));
                });
        });
        while worker.has_dataflows() {
            worker.step_or_park(None);
        }
        totals.get()
    })
}

/// The std hash of a word (routes `(word, n)` pairs between workers).
fn word_hash(word: &str) -> u64 {
    let mut h = DefaultHasher::new();
    word.hash(&mut h);
    h.finish()
}

/// read lines → split + lowercase → exchange by word → count → `(word, total)` at the end;
/// per worker, the totals of the words it owns. Worker 0 reads the file.
fn timely_wordcount(path: &Path, workers: usize) -> Result<Vec<Vec<(String, i64)>>, String> {
    use timely::dataflow::channels::pact::{Exchange, Pipeline};
    use timely::dataflow::operators::generic::Operator;
    use timely::dataflow::operators::vec::ToStream;
    let path = path.to_owned();
    timely_run(workers, move |worker| {
        let reader = match worker.index() {
            0 => Some(std::io::BufReader::with_capacity(
                1 << 16,
                std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )),
            _ => None,
        };
        let results = Rc::new(RefCell::new(Vec::new()));
        let collected = results.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            reader
                .into_iter()
                .flat_map(BufRead::lines)
                .map(|line| line.expect("read a line of the text"))
                .to_stream(scope)
                .unary(Pipeline, "split", |_capability, _info| {
                    move |input, output| {
                        input.for_each_time(|time, lines| {
                            let mut session = output.session(&time);
                            for line in lines.flat_map(|batch| batch.drain(..)) {
                                for word in line.split_whitespace() {
                                    session.give((word.to_lowercase(), 1i64));
                                }
                            }
                        });
                    }
                })
                .unary_frontier(
                    Exchange::new(|(word, _): &(String, i64)| word_hash(word)),
                    "count",
                    |capability, _info| {
                        let mut capability = Some(capability);
                        let mut counts: HashMap<String, i64> = HashMap::new();
                        move |(input, frontier), output| {
                            input.for_each(|_time, pairs| {
                                for (word, n) in pairs.drain(..) {
                                    *counts.entry(word).or_insert(0) += n;
                                }
                            });
                            // The input is complete: emit the totals and release the capability.
                            if frontier.is_empty() {
                                if let Some(cap) = capability.take() {
                                    output.session(&cap).give_iterator(counts.drain());
                                }
                            }
                        }
                    },
                )
                .sink(Pipeline, "collect", move |(input, _frontier)| {
                    input.for_each(|_time, pairs| collected.borrow_mut().append(pairs));
                });
        });
        while worker.has_dataflows() {
            worker.step_or_park(None);
        }
        results.take()
    })
}

// ---------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------

/// One timed run: wall time, and CPU time of the whole process (all threads, user and
/// system) over the same interval.
///
/// Our runs also carry what their report says: the run's own elapsed time, the end-of-stream
/// tail, and (multi-process rows) the peak RSS.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    /// The report's elapsed time.
    elapsed: Option<Duration>,
    /// The report's end-of-stream tail.
    tail: Option<Duration>,
    /// The report's peak RSS (multi-process rows).
    peak_rss: Option<u64>,
}

impl Sample {
    fn with_report(mut self, elapsed: Duration, tail: Option<Duration>, peak_rss: Option<u64>) -> Self {
        self.elapsed = Some(elapsed);
        self.tail = tail;
        self.peak_rss = peak_rss;
        self
    }
}

/// CPU time used so far, all threads (including finished ones), user and system: of this
/// process (`RUSAGE_SELF`) or of its children that have ended and been waited for, with
/// their own waited-for children (`RUSAGE_CHILDREN`).
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given; a zeroed rusage is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The timed repetitions of one row. Wall time is what a user waits for; CPU time is less
/// disturbed by other work on a shared machine (time spent waiting for a core is not in it),
/// so both are reported.
#[derive(Clone, Debug, Default)]
struct Measure {
    samples: Vec<Sample>,
}

impl Measure {
    /// Runs `f`, returning its result and how long it took (CPU time of this process).
    fn time<T>(f: impl FnOnce() -> T) -> (T, Sample) {
        Self::time_of(libc::RUSAGE_SELF, f)
    }

    /// Runs `f`, which runs child processes to their end; the CPU time is theirs.
    fn time_children<T>(f: impl FnOnce() -> T) -> (T, Sample) {
        Self::time_of(libc::RUSAGE_CHILDREN, f)
    }

    fn time_of<T>(who: libc::c_int, f: impl FnOnce() -> T) -> (T, Sample) {
        let (cpu0, start) = (cpu_time(who), Instant::now());
        let r = f();
        let wall = start.elapsed();
        (r, Sample { wall, cpu: cpu_time(who).saturating_sub(cpu0), ..Sample::default() })
    }

    fn push(&mut self, s: Sample) {
        self.samples.push(s);
    }

    fn secs(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.wall.as_secs_f64()).collect()
    }

    fn cpu_secs(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.cpu.as_secs_f64()).collect()
    }

    fn median_secs(&self) -> f64 {
        median(self.secs())
    }

    /// Units per second at the median wall time.
    fn rate(&self, units: u64) -> f64 {
        units as f64 / self.median_secs()
    }

    /// Units per CPU second at the median CPU time.
    fn cpu_rate(&self, units: u64) -> f64 {
        units as f64 / median(self.cpu_secs())
    }

    /// Slowest and fastest repetition, as rates (wall time).
    fn rate_range(&self, units: u64) -> (f64, f64) {
        let (min, max) = min_max(&self.secs());
        (units as f64 / max, units as f64 / min)
    }

    /// (max − min) / median of the wall times.
    fn spread(&self) -> f64 {
        let (min, max) = min_max(&self.secs());
        (max - min) / self.median_secs()
    }

    /// The report's tails, in seconds (runs that reported one).
    fn tails(&self) -> Vec<f64> {
        self.samples.iter().filter_map(|s| s.tail.map(|t| t.as_secs_f64())).collect()
    }

    /// The report's elapsed times, in seconds (runs that reported one).
    fn elapsed_secs(&self) -> Vec<f64> {
        self.samples.iter().filter_map(|s| s.elapsed.map(|t| t.as_secs_f64())).collect()
    }

    /// The largest peak RSS a report gave.
    fn report_peak_rss(&self) -> Option<u64> {
        self.samples.iter().filter_map(|s| s.peak_rss).max()
    }

    /// Per repetition, our rate over `reference`'s rate (we process `units` per run, it
    /// processes `ref_units`), on wall time, on CPU time, and on our report's elapsed time
    /// (empty if our runs report none).
    fn paired_ratios(&self, units: u64, reference: &Measure, ref_units: u64) -> [Vec<f64>; 3] {
        let scale = units as f64 / ref_units as f64;
        let pairs = || reference.samples.iter().zip(&self.samples);
        let ratio = |r: Duration, o: Duration| scale * r.as_secs_f64() / o.as_secs_f64();
        [
            pairs().map(|(r, o)| ratio(r.wall, o.wall)).collect(),
            pairs().map(|(r, o)| ratio(r.cpu, o.cpu)).collect(),
            pairs().filter_map(|(r, o)| Some(ratio(r.wall, o.elapsed?))).collect(),
        ]
    }
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------
// Child processes: zmq_multi, mpi and the raw transports
// ---------------------------------------------------------------------------------------

/// What the child-process rows need.
#[derive(Debug, Default)]
struct Ctx {
    /// A private Redis for the Redis rows (stopped when the context is dropped).
    redis: Option<dispel4rs_transports::redis_server::PrivateRedis>,
    /// `target/release` (the examples are in `examples/` below it).
    release: PathBuf,
    /// `mpirun`, if it is on PATH.
    mpirun: Option<PathBuf>,
    /// `mpirun` is Open MPI's (it needs `--oversubscribe` for more ranks than cores).
    open_mpi: bool,
    /// Where reports and outputs of child runs go.
    scratch: PathBuf,
}

/// Numbers the files of child runs.
static CHILD_RUN: AtomicU64 = AtomicU64::new(0);

/// `target/release`: the parent of `deps/`, where this binary is (`target/release/deps/compare-*`).
fn release_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent().map(Path::to_path_buf)).flatten()
    });
    from_exe.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("release"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

impl Ctx {
    fn new(scratch: &Path, need_mpi: bool, need_redis: bool) -> Ctx {
        let mpirun = if need_mpi { find_on_path("mpirun") } else { None };
        let open_mpi = mpirun.as_ref().is_some_and(|m| {
            Command::new(m).arg("--version").output().is_ok_and(|o| {
                let v = String::from_utf8_lossy(&o.stdout);
                v.contains("Open MPI") || v.contains("OpenRTE")
            })
        });
        let redis = if need_redis {
            match dispel4rs_transports::redis_server::PrivateRedis::start(None) {
                Ok(r) => Some(r),
                Err(e) => {
                    println!("  no redis-server for the Redis rows: {e}");
                    None
                }
            }
        } else {
            None
        };
        Ctx { release: release_dir(), mpirun, open_mpi, scratch: scratch.to_path_buf(), redis }
    }

    /// The release example `name`, if it was built.
    fn example(&self, name: &str) -> Result<PathBuf, String> {
        let p = self.release.join("examples").join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{} is not built (cargo build --release --all-features --examples -p dispel4rs \
                 -p dispel4rs-transports)",
                p.display()
            ))
        }
    }

    /// `mpirun -n N [--oversubscribe] PROGRAM`.
    fn mpirun(&self, ranks: usize, program: &Path) -> Result<Command, String> {
        let mpirun = self.mpirun.as_ref().ok_or("mpirun is not on PATH")?;
        let mut cmd = Command::new(mpirun);
        cmd.args(["-n", &ranks.to_string()]);
        if self.open_mpi {
            cmd.arg("--oversubscribe");
        }
        cmd.arg(program);
        Ok(cmd)
    }
}

/// The environment of every child: Open MPI may run as root (containers) and needs no network
/// probing on one machine (`OMPI_MCA_btl=self,vader`, unless the caller set it).
fn child_env(cmd: &mut Command) {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    if std::env::var_os("OMPI_MCA_btl").is_none() {
        cmd.env("OMPI_MCA_btl", "self,vader");
    }
    cmd.stdin(std::process::Stdio::null());
}

/// The last lines of a child's stderr, for an error message.
fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n    ")
}

/// Builds the release examples of both crates, all features (falling back to the default
/// features, without MPI, if that fails). Cargo releases its build lock before it runs a
/// benchmark, so this nested build is safe; it is a no-op when everything is up to date.
fn build_examples() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = |all_features: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--release",
            "--examples",
            "-p",
            "dispel4rs",
            "-p",
            "dispel4rs-transports",
        ]);
        if all_features {
            cmd.arg("--all-features");
        }
        cmd.output().map_err(|e| format!("cannot run cargo: {e}"))
    };
    let started = Instant::now();
    let out = build(true)?;
    if out.status.success() {
        println!("release examples built, all features ({:.1} s)", started.elapsed().as_secs_f64());
        return Ok(());
    }
    println!(
        "cargo build --all-features failed (no MPI?); building without it, the mpi rows will be skipped:\n    {}",
        stderr_tail(&out.stderr)
    );
    let out = build(false)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("cargo build --release --examples failed:\n    {}", stderr_tail(&out.stderr)))
    }
}

/// Why `e` cannot run here, if it cannot (binary not built, no mpirun, mapping not compiled in).
fn unavailable(e: Engine, w: &Workload, ctx: &Ctx) -> Option<String> {
    let check = || -> Result<(), String> {
        match e {
            Engine::Process { mapping, processes, .. } => {
                let bin = ctx.example(w.name())?;
                if mapping == Mapping::Mpi && ctx.mpirun.is_none() {
                    return Err("mpirun is not on PATH".into());
                }
                // Exit status 3: the mapping is not compiled into the binary.
                let mut cmd = Command::new(&bin);
                cmd.args([mapping.name(), "--plan", "-n", &processes.to_string()]);
                child_env(&mut cmd);
                let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
                match out.status.code() {
                    Some(0) => Ok(()),
                    Some(3) => Err(format!("{} is not compiled into {}", mapping.name(), bin.display())),
                    _ => Err(format!("{} --plan failed: {}", bin.display(), stderr_tail(&out.stderr))),
                }
            }
            Engine::Raw { transport: Transport::Zmq, .. } => ctx.example("raw_throughput").map(drop),
            Engine::Raw { transport: Transport::Redis, .. } => {
                if ctx.redis.is_none() {
                    return Err("no redis-server".into());
                }
                run_raw(Transport::Redis, 2, ctx).map(drop)
            }
            Engine::Raw { transport: Transport::Mpi, .. } => {
                if ctx.mpirun.is_none() {
                    return Err("mpirun is not on PATH".into());
                }
                // A two-frame run: says whether raw_throughput was built with MPI.
                run_raw(Transport::Mpi, 2, ctx).map(drop)
            }
            Engine::Ours { .. } | Engine::Timely { .. } | Engine::Recorded { .. } => Ok(()),
        }
    };
    check().err()
}

/// One run of the release example of `w` under `mapping` (zmq_multi: the coordinator, which
/// starts its workers; mpi: under mpirun), with `--report FILE -o FILE -q`; the answer is
/// read back from the output file.
fn run_process(
    mapping: Mapping,
    processes: usize,
    frame_mac: bool,
    w: &Workload,
    ctx: &Ctx,
) -> Result<(Answer, Sample), String> {
    let bin = ctx.example(w.name())?;
    let id = CHILD_RUN.fetch_add(1, Ordering::Relaxed);
    let report = ctx.scratch.join(format!("report-{id}.json"));
    let output = ctx.scratch.join(format!("output-{id}.jsonl"));
    let mut cmd = match mapping {
        Mapping::Mpi => ctx.mpirun(processes, &bin)?,
        _ => Command::new(&bin),
    };
    cmd.args([mapping.name(), "-n", &processes.to_string(), "-d", &w.data()?, "-q"]);
    if let (Mapping::DynRedis | Mapping::DynAutoRedis | Mapping::HybridRedis, Some(r)) = (mapping, &ctx.redis)
    {
        cmd.arg("--redis").arg(r.url().secret_form());
    }
    cmd.arg("--report").arg(&report).arg("-o").arg(&output);
    if !frame_mac {
        cmd.arg("--insecure-no-frame-mac");
    }
    child_env(&mut cmd);
    let (out, t) = Measure::time_children(|| cmd.output());
    let out = out.map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let what = || format!("{} {} -n {processes}", w.name(), mapping.name());
    if !out.status.success() {
        return Err(format!("{} failed ({}):\n    {}", what(), out.status, stderr_tail(&out.stderr)));
    }
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {}: {e}", what(), p.display()));
    let rep: serde_json::Value =
        serde_json::from_str(&read(&report)?).map_err(|e| format!("{}: bad report: {e}", what()))?;
    let secs = |k: &str| rep.get(k).and_then(serde_json::Value::as_f64).map(Duration::from_secs_f64);
    let elapsed = secs("elapsed_s").ok_or_else(|| format!("{}: no elapsed_s in the report", what()))?;
    let peak = rep.get("peak_rss_bytes").and_then(serde_json::Value::as_u64);
    let mut units = Vec::new();
    for line in read(&output)?.lines() {
        let record =
            Value::from_json(line).map_err(|e| format!("{}: bad output line {line:?}: {e}", what()))?;
        let pe = record.get("pe").and_then(Value::as_str).unwrap_or_default().to_owned();
        let data = record.get("data").cloned().ok_or_else(|| format!("{}: no data in {line}", what()))?;
        units.push((pe, data));
    }
    let answer = w.answer_from(units.iter().map(|(pe, u)| (pe.as_str(), u.clone())))?;
    let _ = std::fs::remove_file(&report);
    let _ = std::fs::remove_file(&output);
    Ok((answer, t.with_report(elapsed, secs("tail_s"), peak)))
}

/// One run of `raw_throughput TRANSPORT --frames F`. The sample's wall time is the time its
/// rate gives for `frames` × 1000 items (its own clock: receiver, first frame to last); the
/// CPU time is that of the whole child (set-up included).
fn run_raw(transport: Transport, frames: u64, ctx: &Ctx) -> Result<(Answer, Sample), String> {
    let bin = ctx.example("raw_throughput")?;
    let mut cmd = Command::new(&bin);
    cmd.args([transport.name(), "--frames", &frames.to_string()]);
    child_env(&mut cmd);
    if let (Transport::Redis, Some(r)) = (transport, &ctx.redis) {
        cmd.env("REDIS_URL", r.url().secret_form());
    }
    let (out, t) = Measure::time_children(|| cmd.output());
    let out = out.map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "raw_throughput {} failed ({}):\n    {}",
            transport.name(),
            out.status,
            stderr_tail(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = format!("\"transport\":\"{}\"", transport.name());
    let line = stdout.lines().find(|l| l.contains(&key)).ok_or_else(|| {
        format!("raw_throughput {} printed no result: {}", transport.name(), stderr_tail(&out.stderr))
    })?;
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("raw_throughput: {e}: {line}"))?;
    let rate = v.get("items_per_s").and_then(serde_json::Value::as_f64).filter(|r| *r > 0.0);
    let rate = rate.ok_or_else(|| format!("raw_throughput: no items_per_s in {line}"))?;
    let wall = Duration::from_secs_f64((frames * RAW_ITEMS_PER_FRAME) as f64 / rate);
    Ok((Answer::SelfChecked, Sample { wall, cpu: t.cpu, ..Sample::default() }))
}

// ---------------------------------------------------------------------------------------
// Supervision: restart latency
// ---------------------------------------------------------------------------------------

/// What every `flaky` instance shares, across restarts (a restart re-creates the PE from a
/// clone of the prototype, which holds the same `Arc`).
#[derive(Debug, Default)]
struct Probe {
    state: Mutex<ProbeState>,
}

#[derive(Debug, Default)]
struct ProbeState {
    /// The last unit that failed (each planned failure happens once; its retry succeeds).
    last_failed: i64,
    /// When the last planned failure happened, until the next unit is processed.
    failed_at: Option<Instant>,
    /// Per restart: from the panic to the next unit processed.
    latencies: Vec<Duration>,
}

/// Passes integers on; panics on the first attempt at every `every`-th (0: never).
#[derive(Clone)]
struct Flaky {
    every: i64,
    probe: Arc<Probe>,
}

impl Pe for Flaky {
    fn spec(&self) -> PeSpec {
        PeSpec::new("flaky").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let x = unit.try_int()?;
        let mut s = self.probe.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = s.failed_at.take() {
            let latency = at.elapsed();
            s.latencies.push(latency);
        }
        if self.every > 0 && x % self.every == 0 && s.last_failed != x {
            s.last_failed = x;
            s.failed_at = Some(Instant::now());
            drop(s);
            panic!("flaky: planned failure at unit {x}");
        }
        drop(s);
        out.write_at(0, x)
    }
}

/// source 1..=n → flaky → count and sum.
fn flaky_graph(every: i64, probe: Arc<Probe>) -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("supervision");
    let source = g.add(Producer::new("source", |input: Value, out: &mut Output<'_>| {
        let n = input.get("n").ok_or_else(|| PeError::new(r#"source expects {"n": N}"#))?.try_int()?;
        for i in 1..=n {
            out.write_at(0, i)?;
        }
        Ok(())
    }))?;
    let flaky = g.add(Flaky { every, probe })?;
    let sink = g.add(pipeline::Sink::default())?;
    g.connect(source, "output", flaky, "input")?;
    g.connect(flaky, "output", sink, "input")?;
    Ok(g)
}

/// One run of the supervision graph: its time (with the report's tail), restarts and the
/// instrumented restart latencies; the answer, restarts and dead letters checked.
fn run_flaky(e: Engine, n: i64, every: i64) -> Result<(Sample, u64, Vec<Duration>), String> {
    let Engine::Ours { mapping, processes } = e else {
        return Err(format!("{} cannot run the supervision graph", e.name()));
    };
    let probe = Arc::new(Probe::default());
    let g = flaky_graph(every, probe.clone()).map_err(|e| e.to_string())?;
    let (result, t) = Measure::time(|| {
        Runner::new(&g)
            .mapping(mapping)
            .processes(processes)
            .data(format!(r#"{{"source": [{{"n": {n}}}]}}"#))
            .configure(|o| o.restart.max_restarts = 1_000_000)
            .run()
            .map_err(|e| e.to_string())
    });
    let result = result?;
    let what = format!("supervision graph under {} (fail every {every})", e.name());
    let w = Workload::Pipeline { n };
    let answer = w.answer_from(result.outputs.iter().map(|(pe, _, u)| (pe, u.clone())))?;
    if let Some(d) = difference(&w.expected()?, &answer) {
        return Err(format!("WRONG ANSWER from the {what}: {d}"));
    }
    let report = &result.report;
    let want = if every > 0 { (n / every) as u64 } else { 0 };
    if report.dead_letters_total != 0 || report.restarts() != want {
        return Err(format!(
            "the {what}: {} restarts (expected {want}), {} dead letters (expected 0)",
            report.restarts(),
            report.dead_letters_total
        ));
    }
    let latencies = std::mem::take(&mut probe.state.lock().unwrap_or_else(|p| p.into_inner()).latencies);
    if latencies.len() as u64 != want {
        return Err(format!("the {what}: {} restart latencies for {want} restarts", latencies.len()));
    }
    Ok((t.with_report(report.elapsed, report.tail, None), report.restarts(), latencies))
}

/// The supervision measures of one engine.
struct SupervisionRow {
    engine: Engine,
    units: i64,
    every: i64,
    restarts: u64,
    /// Runs without failures.
    clean: Measure,
    /// Runs with failures.
    failing: Measure,
    /// Every instrumented restart latency of the timed runs, seconds.
    latencies: Vec<f64>,
    /// Per repetition: (failing − clean) / restarts, seconds.
    differences: Vec<f64>,
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the supervision graph with and without failures, engines alternating per repetition.
fn run_supervision(args: &Args, engines: &[Engine]) -> Result<Vec<SupervisionRow>, String> {
    let (n, every) = (args.sizes.flaky_units, args.sizes.flaky_every);
    println!("\n== supervision: {n} units, a panic at every {every}th (first attempt; the retry succeeds)");
    let mut rows: Vec<SupervisionRow> = engines
        .iter()
        .map(|&engine| SupervisionRow {
            engine,
            units: n,
            every,
            restarts: 0,
            clean: Measure::default(),
            failing: Measure::default(),
            latencies: Vec::new(),
            differences: Vec::new(),
        })
        .collect();
    for rep in 0..args.warmup + args.sizes.reps {
        let timed = rep >= args.warmup;
        for row in &mut rows {
            let (clean, _, _) = run_flaky(row.engine, n, 0)?;
            let (failing, restarts, latencies) = run_flaky(row.engine, n, every)?;
            let lat: Vec<f64> = latencies.iter().map(Duration::as_secs_f64).collect();
            let difference = (failing.wall.as_secs_f64() - clean.wall.as_secs_f64()) / restarts.max(1) as f64;
            println!(
                "  {} {:<24} clean {:>7.3} s, {restarts} restarts {:>7.3} s: Δ/restart {:>6.2} ms, \
                 restart p50 {:>5.2} ms max {:>5.2} ms",
                if timed { format!("rep {}", rep - args.warmup) } else { "warm-up".into() },
                row.engine.name(),
                clean.wall.as_secs_f64(),
                failing.wall.as_secs_f64(),
                difference * 1e3,
                percentile(&lat, 0.5) * 1e3,
                percentile(&lat, 1.0) * 1e3,
            );
            if timed {
                row.restarts = restarts;
                row.clean.push(clean);
                row.failing.push(failing);
                row.latencies.extend(lat);
                row.differences.push(difference);
            }
        }
    }
    Ok(rows)
}

/// Peak and start-up resident memory of a child process that ran one case.
#[derive(Clone, Copy, Debug)]
struct Rss {
    peak_bytes: u64,
    start_bytes: u64,
}

/// A `/proc/self/status` field in bytes (`VmHWM` = peak RSS, `VmRSS` = current).
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// `--child WORKLOAD ENGINE`: run one in-process case once, print `CHILD-RSS peak start`.
fn child_main(args: &Args, workload: &str, engine: &str) -> Result<(), String> {
    let start = proc_status_bytes("VmRSS:").unwrap_or(0);
    let w = match workload {
        "pipeline" => Workload::Pipeline { n: args.sizes.n },
        "wordcount" => {
            let path = args.text_file.clone().ok_or("--child wordcount needs --text-file")?;
            let text = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Workload::WordCount { path, bytes: text.len(), words: 0 }
        }
        other => return Err(format!("unknown workload {other}")),
    };
    let e = inprocess_engines()
        .into_iter()
        .find(|e| e.name() == engine)
        .ok_or(format!("unknown engine {engine}"))?;
    let (answer, _) = e.run(&w, &Ctx::default())?;
    let peak = proc_status_bytes("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    println!("CHILD-RSS {peak} {start} {answer}");
    Ok(())
}

/// Runs `--child` in a fresh copy of this binary.
fn measure_rss(args: &Args, w: &Workload, e: Engine) -> Result<Rss, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["--bench", "--child", w.name(), &e.name(), "--n", &args.sizes.n.to_string()]);
    if let Workload::WordCount { path, .. } = w {
        cmd.arg("--text-file").arg(path);
    }
    let out = cmd.output().map_err(|e| format!("cannot start the RSS child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("CHILD-RSS ")).ok_or_else(|| {
        format!("the RSS child failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim())
    })?;
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(peak_bytes)), Some(Ok(start_bytes))) => Ok(Rss { peak_bytes, start_bytes }),
        _ => Err(format!("unreadable RSS child line: {line}")),
    }
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

/// One line of the summary.
struct Row {
    /// Workload with its size (`pipeline 10M`).
    label: String,
    workload: &'static str,
    unit: &'static str,
    units: u64,
    engine: Engine,
    measure: Measure,
    /// The row the ratios are taken against.
    reference: Option<Engine>,
    /// Per repetition: our rate / the reference's rate in the same repetition (wall time);
    /// empty for rows without a reference.
    ratios: Vec<f64>,
    /// The same on CPU time.
    cpu_ratios: Vec<f64>,
    /// The same with our rate from the report's elapsed time.
    elapsed_ratios: Vec<f64>,
    rss: Option<Rss>,
}

impl Row {
    /// Peak RSS: from the isolated child, else the largest the reports gave.
    fn peak_rss(&self) -> Option<u64> {
        self.rss.map(|r| r.peak_bytes).or_else(|| self.measure.report_peak_rss())
    }

    /// Median end-of-stream tail, seconds.
    fn tail(&self) -> Option<f64> {
        let t = self.measure.tails();
        (!t.is_empty()).then(|| median(t))
    }
}

/// `median (min..max)` of paired ratios, or `-`.
fn ratio_cell(ratios: &[f64]) -> String {
    if ratios.is_empty() {
        return "-".to_owned();
    }
    let (lo, hi) = min_max(ratios);
    if median(ratios.to_vec()) < 0.1 {
        return format!("{:.3}x ({:.3}..{:.3})", median(ratios.to_vec()), lo, hi);
    }
    format!("{:.2}x ({:.2}..{:.2})", median(ratios.to_vec()), lo, hi)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn human_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.1} k", r / 1e3)
    }
}

fn ms(secs: Option<f64>) -> String {
    secs.map_or("-".into(), |s| format!("{:.2}", s * 1e3))
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.to_owned()))
        .and_then(|l| l.split_once(':').map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({ "nproc": nproc, "cpu": cpu, "loadavg": load.trim() })
}

/// `target/compare.json` next to `target/release`.
fn default_json_path() -> PathBuf {
    release_dir().parent().map_or_else(|| PathBuf::from("target"), Path::to_path_buf).join("compare.json")
}

/// The cost of the frame MAC: `zmq_multi` with it over `zmq_multi` without it, paired per
/// repetition (the two ran one after the other under the same load), on the wall time and
/// on the report's elapsed time.
fn mac_cost(rows: &[Row]) -> Option<(f64, f64)> {
    let find = |mac: bool| {
        rows.iter().find(|r| {
            r.workload == "pipeline"
                && matches!(r.engine, Engine::Process { mapping: Mapping::ZmqMulti, frame_mac, .. } if frame_mac == mac)
        })
    };
    let (with, without) = (find(true)?, find(false)?);
    let paired = |f: &dyn Fn(&Sample) -> Option<f64>| {
        let ratios: Vec<f64> = with
            .measure
            .samples
            .iter()
            .zip(&without.measure.samples)
            .filter_map(|(a, b)| Some(f(b)? / f(a)?))
            .collect();
        (!ratios.is_empty()).then(|| median(ratios))
    };
    let wall = paired(&|s| Some(s.wall.as_secs_f64()))?;
    let report = paired(&|s| s.elapsed.map(|e| e.as_secs_f64()))?;
    Some((wall, report))
}

/// Per workload of the `provenance` section: the paired slowdown (rate off / rate on) and the
/// document's size per unit.
fn provenance_cost(rows: &[Row]) -> Vec<serde_json::Value> {
    let sizes = PROVENANCE_BYTES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    rows.iter()
        .filter(|r| matches!(r.engine, Engine::Recorded { .. }) && !r.ratios.is_empty())
        .map(|r| {
            let docs: Vec<&(String, u64, u64)> = sizes.iter().filter(|(l, _, _)| *l == r.label).collect();
            let bytes = docs.last().map_or(0, |d| d.1);
            let records = docs.last().map_or(0, |d| d.2);
            serde_json::json!({
                "workload": r.label,
                "engine": r.engine.name(),
                "units": r.units,
                "slowdown_median": 1.0 / median(r.ratios.clone()),
                "slowdown_per_rep": r.ratios.iter().map(|x| 1.0 / x).collect::<Vec<f64>>(),
                "document_bytes": bytes,
                "document_records": records,
                "bytes_per_unit": bytes as f64 / r.units.max(1) as f64,
            })
        })
        .collect()
}

fn print_provenance_cost(rows: &[Row]) {
    for p in provenance_cost(rows) {
        println!(
            "provenance ({}, {}): slowdown {:.2}x (median of per-repetition pairs; {}), document {:.1} MB = {:.0} bytes per unit, {} records",
            p["workload"].as_str().unwrap_or_default(),
            p["engine"].as_str().unwrap_or_default(),
            p["slowdown_median"].as_f64().unwrap_or(0.0),
            p["slowdown_per_rep"]
                .as_array()
                .map(|v| v.iter().filter_map(|x| x.as_f64()).map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            p["document_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            p["bytes_per_unit"].as_f64().unwrap_or(0.0),
            p["document_records"],
        );
    }
}

fn print_mac_cost(rows: &[Row]) {
    if let Some((wall, report)) = mac_cost(rows) {
        println!(
            "frame MAC (keyed BLAKE3 on every zmq_multi frame): rate with MAC / rate without = {wall:.3} (wall), \
             {report:.3} (report); median of per-repetition pairs"
        );
    }
}

/// Runs one section: `engines` on `w`, alternating per repetition; its rows.
fn run_section(args: &Args, w: &Workload, engines: &[Engine], ctx: &Ctx) -> Result<Vec<Row>, String> {
    println!("\n== {} ({} engine(s))", w.describe(), engines.len());
    let expected = w.expected()?;
    let mut measures = vec![Measure::default(); engines.len()];
    let check = |e: Engine, got: &Answer| match difference(&expected, got) {
        None => Ok(()),
        Some(d) => Err(format!("WRONG ANSWER from {} on {}: {d}", e.name(), w.name())),
    };
    let line = |head: String, e: Engine, t: &Sample| {
        let units = e.units(w) as f64;
        let mut s = format!(
            "  {head} {:<24} {:>8.3} s {:>10} {}/s   cpu {:>7.3} s",
            e.name(),
            t.wall.as_secs_f64(),
            human_rate(units / t.wall.as_secs_f64()),
            w.unit(),
            t.cpu.as_secs_f64(),
        );
        if let (Engine::Process { .. }, Some(el)) = (e, t.elapsed) {
            s.push_str(&format!(
                "   report {:.3} s = {}/s",
                el.as_secs_f64(),
                human_rate(units / el.as_secs_f64())
            ));
        }
        if let Some(tail) = t.tail {
            s.push_str(&format!("   tail {:.2} ms", tail.as_secs_f64() * 1e3));
        }
        println!("{s}");
    };
    for &e in engines {
        for _ in 0..args.warmup {
            let (answer, t) = e.run(w, ctx)?;
            check(e, &answer)?;
            line("warm-up".into(), e, &t);
        }
    }
    for rep in 0..args.sizes.reps {
        for (i, &e) in engines.iter().enumerate() {
            let (answer, t) = e.run(w, ctx)?;
            check(e, &answer)?;
            measures[i].push(t);
            line(format!("rep {rep}"), e, &t);
        }
    }
    println!("  answers checked: {expected}");
    let mut rows = Vec::new();
    for (i, &e) in engines.iter().enumerate() {
        let reference = e.reference(engines);
        let [ratios, cpu_ratios, elapsed_ratios] = match reference {
            Some(j) => measures[i].paired_ratios(e.units(w), &measures[j], engines[j].units(w)),
            None => Default::default(),
        };
        let rss = if args.rss && matches!(e, Engine::Ours { .. } | Engine::Timely { .. }) {
            let r = measure_rss(args, w, e)?;
            println!(
                "  peak RSS {:<24} {:>8.1} MB (child at start {:.1} MB)",
                e.name(),
                mb(r.peak_bytes),
                mb(r.start_bytes)
            );
            Some(r)
        } else {
            None
        };
        rows.push(Row {
            label: w.label(),
            workload: w.name(),
            unit: w.unit(),
            units: e.units(w),
            engine: e,
            measure: measures[i].clone(),
            reference: reference.map(|j| engines[j]),
            ratios,
            cpu_ratios,
            elapsed_ratios,
            rss,
        });
    }
    Ok(rows)
}

/// One target: name, measured value, limit, whether a larger value is better.
struct Target {
    name: String,
    value: f64,
    limit: f64,
    at_least: bool,
}

impl Target {
    fn min(name: impl Into<String>, value: f64, limit: f64) -> Target {
        Target { name: name.into(), value, limit, at_least: true }
    }

    fn max(name: impl Into<String>, value: f64, limit: f64) -> Target {
        Target { name: name.into(), value, limit, at_least: false }
    }

    fn met(&self) -> bool {
        if self.at_least {
            self.value >= self.limit
        } else {
            self.value <= self.limit
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let sizes = args.sizes;
    let mode = if args.smoke {
        "smoke (run by cargo test: tiny sizes)"
    } else if args.quick {
        "quick"
    } else {
        "full"
    };
    println!("compare: {mode}; {} repetition(s) after {} warm-up run(s) per engine", sizes.reps, args.warmup);
    println!("load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());

    // Inputs. The text and the child runs' files live in a temporary directory.
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let inprocess: Vec<Engine> = inprocess_engines().into_iter().filter(|&e| args.wants_engine(e)).collect();
    let pipeline_cluster = Workload::Pipeline { n: sizes.cluster_n };
    let wanted_cluster = |w: &Workload| -> Vec<Engine> {
        if args.smoke {
            return Vec::new();
        }
        cluster_engines(w, sizes.raw_frames).into_iter().filter(|&e| args.wants_engine(e)).collect()
    };
    let mut sections: Vec<(Workload, Vec<Engine>)> = Vec::new();
    if args.wants_workload("pipeline") {
        sections.push((Workload::Pipeline { n: sizes.n }, inprocess.clone()));
        sections.push((pipeline_cluster.clone(), wanted_cluster(&pipeline_cluster)));
        if args.wants_group("provenance") {
            let n = if args.smoke { sizes.n } else { PROVENANCE_PIPELINE_N };
            sections.push((Workload::Pipeline { n }, provenance_engines()));
        }
    }
    if args.wants_workload("wordcount") {
        let text = common::generate_text(sizes.text_bytes, common::TEXT_SEED);
        let path = tmp.path().join("text.txt");
        std::fs::write(&path, &text.text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("generated {} bytes of text: {} lines, {} words", text.text.len(), text.lines, text.words);
        let w = Workload::WordCount { path, bytes: text.text.len() as u64, words: text.words };
        let cluster = wanted_cluster(&w);
        // wordcount is stateful (group_by): the dynamic mappings refuse it.
        let fixed = inprocess.iter().copied().filter(|e| e.group() != "dynamic").collect();
        sections.push((w.clone(), fixed));
        if args.wants_group("provenance") {
            sections.push((w.clone(), provenance_engines()));
        }
        sections.push((w, cluster));
    }
    sections.retain(|(_, engines)| !engines.is_empty());

    // The child-process rows: build the examples, drop what cannot run here.
    let any_child = sections
        .iter()
        .flat_map(|(_, e)| e)
        .any(|e| matches!(e, Engine::Process { .. } | Engine::Raw { .. }));
    let need_mpi = sections.iter().flat_map(|(_, e)| e).any(|e| {
        matches!(
            e,
            Engine::Process { mapping: Mapping::Mpi, .. } | Engine::Raw { transport: Transport::Mpi, .. }
        )
    });
    let need_redis = sections.iter().flat_map(|(_, e)| e).any(|e| e.group() == "redis")
        || (args.wants_workload("bursty") && args.wants_group("redis") && !args.smoke);
    let ctx = Ctx::new(tmp.path(), need_mpi, need_redis);
    let mut skipped: Vec<(String, String)> = Vec::new();
    if any_child {
        if args.build {
            build_examples()?;
        }
        println!(
            "child processes: examples in {}; mpirun {}",
            ctx.release.join("examples").display(),
            ctx.mpirun.as_ref().map_or("not found".into(), |m| format!(
                "{} ({})",
                m.display(),
                if ctx.open_mpi { "Open MPI, --oversubscribe" } else { "not Open MPI" }
            ))
        );
        for (w, engines) in &mut sections {
            engines.retain(|&e| match unavailable(e, w, &ctx) {
                None => true,
                Some(why) => {
                    println!("  SKIPPED {} on {}: {why}", e.name(), w.label());
                    skipped.push((format!("{} / {}", w.label(), e.name()), why));
                    false
                }
            });
        }
        sections.retain(|(_, engines)| !engines.is_empty());
    }

    let mut rows = Vec::new();
    for (w, engines) in &sections {
        rows.extend(run_section(args, w, engines, &ctx)?);
    }
    let supervision_engines: Vec<Engine> = [
        Engine::Ours { mapping: Mapping::Simple, processes: 1 },
        Engine::Ours { mapping: Mapping::Multi, processes: 2 },
    ]
    .into_iter()
    .filter(|&e| args.wants_workload("supervision") && args.wants_engine(e))
    .collect();
    let supervision = if supervision_engines.is_empty() {
        Vec::new()
    } else {
        run_supervision(args, &supervision_engines)?
    };
    let bursty = if args.wants_workload("bursty") && args.wants_group("dynamic") {
        Some(bursty_section::run_bursty(args, [Mapping::DynMulti, Mapping::DynAutoMulti], None)?)
    } else {
        None
    };
    let bursty_redis = match (&ctx.redis, ctx.example("bursty")) {
        (Some(r), Ok(binary))
            if args.wants_workload("bursty") && args.wants_group("redis") && !args.smoke =>
        {
            let child = bursty_section::Child {
                binary: &binary,
                redis_url: r.url().secret_form(),
                scratch: &ctx.scratch,
            };
            Some(bursty_section::run_bursty(args, [Mapping::DynRedis, Mapping::DynAutoRedis], Some(&child))?)
        }
        _ => None,
    };
    let takeover = if args.wants_group("redis") && !args.smoke {
        match (&ctx.redis, ctx.example("pipeline_test")) {
            (Some(r), Ok(binary)) => Some(redis_section::takeover(args, &binary, r.url().secret_form())?),
            _ => None,
        }
    } else {
        None
    };
    let json_path = args.json.clone().unwrap_or_else(default_json_path);
    drop(tmp);

    // Summary.
    println!(
        "\n== summary ({mode}; median of {} repetition(s); rates per second of wall time, cpu rate per \
         CPU second; ratio = row / vs, paired per repetition: median (min..max); tail = report's \
         end-of-stream tail, median)",
        sizes.reps
    );
    println!(
        "{:<15} {:<24} {:>8} {:>13} {:>18} {:>6}  {:<22} {:>20} {:>11} {:>20} {:>8} {:>9}",
        "workload",
        "engine",
        "median s",
        "rate",
        "slowest..fastest",
        "spread",
        "vs",
        "ratio (min..max)",
        "cpu rate",
        "cpu ratio",
        "tail ms",
        "peak RSS"
    );
    for r in &rows {
        let (lo, hi) = r.measure.rate_range(r.units);
        println!(
            "{:<15} {:<24} {:>8.3} {:>13} {:>18} {:>5.0}%  {:<22} {:>20} {:>11} {:>20} {:>8} {:>9}",
            r.label,
            r.engine.name(),
            r.measure.median_secs(),
            format!("{} {}", human_rate(r.measure.rate(r.units)), r.unit),
            format!("{}..{}", human_rate(lo), human_rate(hi)),
            r.measure.spread() * 100.0,
            r.reference.map_or("-".into(), Engine::name),
            ratio_cell(&r.ratios),
            human_rate(r.measure.cpu_rate(r.units)),
            ratio_cell(&r.cpu_ratios),
            ms(r.tail()),
            r.peak_rss().map_or("-".into(), |b| format!("{:.1} MB", mb(b))),
        );
    }

    let processes: Vec<&Row> = rows.iter().filter(|r| matches!(r.engine, Engine::Process { .. })).collect();
    if !processes.is_empty() {
        println!(
            "\n== zmq_multi and mpi end to end (wall = around the child process, start-up and tear-down \
             included; report = the report's elapsed_s; efficiency = our items/s / raw items/s of the \
             same transport in the same repetition)"
        );
        println!(
            "{:<15} {:<24} {:>13} {:>13} {:>14} {:>20} {:>20} {:>8} {:>9}",
            "workload",
            "engine",
            "rate (wall)",
            "rate (report)",
            "start+stop s",
            "efficiency (wall)",
            "efficiency (report)",
            "tail ms",
            "peak RSS"
        );
        for r in processes {
            let elapsed = median(r.measure.elapsed_secs());
            let overhead: Vec<f64> = r
                .measure
                .samples
                .iter()
                .filter_map(|s| Some(s.wall.as_secs_f64() - s.elapsed?.as_secs_f64()))
                .collect();
            println!(
                "{:<15} {:<24} {:>13} {:>13} {:>14.3} {:>20} {:>20} {:>8} {:>9}",
                r.label,
                r.engine.name(),
                format!("{} {}", human_rate(r.measure.rate(r.units)), r.unit),
                format!("{} {}", human_rate(r.units as f64 / elapsed), r.unit),
                median(overhead),
                ratio_cell(&r.ratios),
                ratio_cell(&r.elapsed_ratios),
                ms(r.tail()),
                r.peak_rss().map_or("-".into(), |b| format!("{:.1} MB", mb(b))),
            );
        }
        print_mac_cost(&rows);
    }
    print_provenance_cost(&rows);

    if !supervision.is_empty() {
        println!(
            "\n== supervision ({} units, a panic at every {}th; restart = from the panic to the next unit \
             processed by the restarted instance, over all restarts; Δ/restart = (failing − clean wall) / \
             restarts, median (min..max) of repetitions; back-off policy: 1 ms first step)",
            sizes.flaky_units, sizes.flaky_every
        );
        println!(
            "{:<24} {:>9} {:>10} {:>12} {:>11} {:>11} {:>11} {:>24} {:>14}",
            "engine",
            "restarts",
            "clean s",
            "failing s",
            "restart p50",
            "restart p90",
            "restart max",
            "Δ/restart ms",
            "tail ms (clean)"
        );
        for s in &supervision {
            let d: Vec<f64> = s.differences.iter().map(|x| x * 1e3).collect();
            let (lo, hi) = min_max(&d);
            println!(
                "{:<24} {:>9} {:>10.3} {:>12.3} {:>8} ms {:>8} ms {:>8} ms {:>24} {:>14}",
                s.engine.name(),
                s.restarts,
                s.clean.median_secs(),
                s.failing.median_secs(),
                ms(Some(percentile(&s.latencies, 0.5))),
                ms(Some(percentile(&s.latencies, 0.9))),
                ms(Some(percentile(&s.latencies, 1.0))),
                format!("{:.2} ({:.2}..{:.2})", median(d.clone()), lo, hi),
                ms((!s.clean.tails().is_empty()).then(|| median(s.clean.tails()))),
            );
        }
    }
    for b in [&bursty, &bursty_redis].into_iter().flatten() {
        b.print();
    }
    if let Some(t) = &takeover {
        t.print();
    }
    for (what, why) in &skipped {
        println!("skipped: {what}: {why}");
    }

    // Targets (meaningful at the target sizes only).
    let at_target_size = Sizes { reps: FULL.reps, raw_frames: FULL.raw_frames, ..sizes } == FULL;
    let find = |w: &str, e: Engine| rows.iter().find(|r| r.workload == w && r.engine == e);
    let simple = Engine::Ours { mapping: Mapping::Simple, processes: 1 };
    let multi2 = Engine::Ours { mapping: Mapping::Multi, processes: 2 };
    let mut targets: Vec<Target> = Vec::new();
    if let Some(r) = find("pipeline", simple) {
        targets.push(Target::min(
            "pipeline simple items/s",
            r.measure.rate(r.units),
            TARGET_PIPELINE_ITEMS_PER_S,
        ));
        if let Some(rss) = r.rss {
            let limit = TARGET_PIPELINE_PEAK_RSS_BYTES as f64;
            targets.push(Target::max("pipeline simple peak RSS bytes", rss.peak_bytes as f64, limit));
        }
    }
    if let Some(r) = find("wordcount", simple).filter(|r| !r.ratios.is_empty()) {
        targets.push(Target::min(
            "wordcount simple / timely -w1",
            median(r.ratios.clone()),
            TARGET_WORDCOUNT_RATIO,
        ));
    }
    if let Some(r) = find("pipeline", multi2) {
        targets.push(Target::min(
            "pipeline multi -n2 items/s",
            r.measure.rate(r.units),
            TARGET_PIPELINE_ITEMS_PER_S,
        ));
    }
    if let Some(r) = find("wordcount", multi2).filter(|r| !r.ratios.is_empty()) {
        targets.push(Target::min(
            "wordcount multi -n2 / timely -w2",
            median(r.ratios.clone()),
            TARGET_WORDCOUNT_RATIO,
        ));
    }
    for r in rows.iter().filter(|r| r.engine == multi2) {
        if let Some(tail) = r.tail() {
            let name = format!("{} multi -n2 tail ms", r.workload);
            targets.push(Target::max(name, tail * 1e3, TARGET_TAIL_S * 1e3));
        }
    }
    for s in &supervision {
        let p50 = percentile(&s.latencies, 0.5);
        let name = format!("restart latency {} p50 ms", s.engine.name());
        targets.push(Target::max(name, p50 * 1e3, TARGET_RESTART_S * 1e3));
    }
    let dyn2 = Engine::Ours { mapping: Mapping::DynMulti, processes: 2 };
    if let Some(r) = find("pipeline", dyn2) {
        targets.push(Target::min(
            "pipeline dyn_multi -n2 items/s",
            r.measure.rate(r.units),
            TARGET_DYN_PIPELINE_ITEMS_PER_S,
        ));
        if !r.ratios.is_empty() {
            targets.push(Target::min(
                "pipeline dyn_multi -n2 / multi -n2",
                median(r.ratios.clone()),
                TARGET_DYN_VS_MULTI,
            ));
        }
        if let Some(tail) = r.tail() {
            targets.push(Target::max("pipeline dyn_multi -n2 tail ms", tail * 1e3, TARGET_TAIL_S * 1e3));
        }
    }
    let dyn_redis = Engine::Process { mapping: Mapping::DynRedis, processes: 2, frame_mac: true };
    if let Some(r) = find("pipeline", dyn_redis) {
        targets.push(Target::min(
            "pipeline dyn_redis -n2 items/s (wall)",
            r.measure.rate(r.units),
            TARGET_REDIS_PIPELINE_ITEMS_PER_S,
        ));
        let beside = rows.iter().find(|x| {
            x.label == r.label && x.engine == Engine::Ours { mapping: Mapping::DynMulti, processes: 2 }
        });
        if let Some(b) = beside {
            println!(
                "  (for information) pipeline dyn_redis -n2 / dyn_multi -n2 at the same size: {:.3}x",
                r.measure.rate(r.units) / b.measure.rate(b.units)
            );
        }
    }
    let hybrid = Engine::Process { mapping: Mapping::HybridRedis, processes: 4, frame_mac: true };
    if let Some(r) = find("wordcount", hybrid) {
        targets.push(Target::min(
            "wordcount hybrid_redis -n4 words/s (wall)",
            r.measure.rate(r.units),
            TARGET_REDIS_PIPELINE_ITEMS_PER_S,
        ));
        if let Some(tail) = r.tail() {
            targets.push(Target::max("wordcount hybrid_redis -n4 tail ms", tail * 1e3, TARGET_TAIL_S * 1e3));
        }
        for e in [
            Engine::Ours { mapping: Mapping::Simple, processes: 1 },
            Engine::Ours { mapping: Mapping::Multi, processes: 4 },
        ] {
            if let Some(b) = find("wordcount", e) {
                println!(
                    "  (for information) wordcount hybrid_redis -n4 / {}: {:.3}x",
                    e.name(),
                    r.measure.rate(r.units) / b.measure.rate(b.units)
                );
            }
        }
    }
    if let Some(b) = &bursty {
        let (time, ws) = b.ratios();
        targets.push(Target::max(
            "bursty dyn_auto_multi / dyn_multi time",
            median(time),
            TARGET_BURSTY_TIME_RATIO,
        ));
        targets.push(Target::max(
            "bursty dyn_auto_multi / dyn_multi worker-seconds",
            median(ws),
            TARGET_BURSTY_WORKER_SECONDS_RATIO,
        ));
        let (fixed, auto) = b.tails();
        targets.push(Target::max("bursty dyn_multi tail ms", fixed * 1e3, TARGET_TAIL_S * 1e3));
        targets.push(Target::max("bursty dyn_auto_multi tail ms", auto * 1e3, TARGET_TAIL_S * 1e3));
    }
    let cluster = |e: &Engine| matches!(e, Engine::Process { mapping: Mapping::ZmqMulti | Mapping::Mpi, .. });
    for r in rows.iter().filter(|r| r.workload == "pipeline" && cluster(&r.engine)) {
        let name = format!("pipeline {} items/s (wall)", r.engine.name());
        targets.push(Target::min(name, r.measure.rate(r.units), TARGET_CLUSTER_PIPELINE_ITEMS_PER_S));
    }
    println!(
        "\n== targets{}",
        if at_target_size { "" } else { " (NOT at the target sizes: indicative only)" }
    );
    for t in &targets {
        let number = |x: f64| if x.abs() >= 1000.0 { format!("{x:.0}") } else { format!("{x:.3}") };
        println!(
            "  {:<48} {:>14} {} {:>12}  {}",
            t.name,
            number(t.value),
            if t.at_least { ">=" } else { "<=" },
            number(t.limit),
            if t.met() { "met" } else { "MISSED" }
        );
    }
    let all_met = targets.iter().all(Target::met);

    // JSON.
    if !args.smoke {
        let rows_json: Vec<_> = rows
            .iter()
            .map(|r| {
                let (lo, hi) = r.measure.rate_range(r.units);
                let med = |xs: &Vec<f64>| (!xs.is_empty()).then(|| median(xs.clone()));
                json!({
                    "workload": r.workload,
                    "label": r.label,
                    "engine": r.engine.name(),
                    "group": r.engine.group(),
                    "ours": r.engine.is_ours(),
                    "workers": r.engine.workers(),
                    "compared_with": r.reference.map(Engine::name),
                    "units": r.units,
                    "unit": r.unit,
                    "wall_secs": r.measure.secs(),
                    "cpu_secs": r.measure.cpu_secs(),
                    "report_elapsed_secs": r.measure.elapsed_secs(),
                    "tail_secs": r.measure.tails(),
                    "tail_median_secs": r.tail(),
                    "median_secs": r.measure.median_secs(),
                    "rate_median": r.measure.rate(r.units),
                    "rate_slowest": lo,
                    "rate_fastest": hi,
                    "spread": r.measure.spread(),
                    "cpu_rate_median": r.measure.cpu_rate(r.units),
                    "ratios": r.ratios,
                    "ratio_median": med(&r.ratios),
                    "cpu_ratios": r.cpu_ratios,
                    "cpu_ratio_median": med(&r.cpu_ratios),
                    "report_elapsed_ratios": r.elapsed_ratios,
                    "report_elapsed_ratio_median": med(&r.elapsed_ratios),
                    "peak_rss_bytes": r.peak_rss(),
                    "peak_rss_source": if r.rss.is_some() { "child" } else { "report" },
                    "child_start_rss_bytes": r.rss.map(|x| x.start_bytes),
                })
            })
            .collect();
        let supervision_json: Vec<_> = supervision
            .iter()
            .map(|s| {
                json!({
                    "engine": s.engine.name(),
                    "units": s.units,
                    "fail_every": s.every,
                    "restarts_per_run": s.restarts,
                    "clean_wall_secs": s.clean.secs(),
                    "failing_wall_secs": s.failing.secs(),
                    "clean_tail_secs": s.clean.tails(),
                    "restart_latency_p50_secs": percentile(&s.latencies, 0.5),
                    "restart_latency_p90_secs": percentile(&s.latencies, 0.9),
                    "restart_latency_max_secs": percentile(&s.latencies, 1.0),
                    "difference_per_restart_secs": s.differences,
                    "difference_per_restart_median_secs": median(s.differences.clone()),
                })
            })
            .collect();
        let doc = json!({
            "mode": mode,
            "sizes": {
                "pipeline_n": sizes.n, "cluster_pipeline_n": sizes.cluster_n, "text_bytes": sizes.text_bytes,
                "supervision_units": sizes.flaky_units, "supervision_fail_every": sizes.flaky_every,
                "raw_frames": sizes.raw_frames, "raw_items_per_frame": RAW_ITEMS_PER_FRAME,
                "reps": sizes.reps, "warmup": args.warmup,
            },
            "machine": machine(),
            "peak_rss_method":
                "in-process rows: child process, this binary re-executed with --child WORKLOAD ENGINE, \
                 VmHWM after one run; zmq_multi/mpi rows: the run report's peak_rss_bytes (largest)",
            "rows": rows_json,
            "frame_mac_rate_ratio": mac_cost(&rows).map(|(wall, report)| json!({ "wall": wall, "report": report })),
            "provenance": provenance_cost(&rows),
            "supervision": supervision_json,
            "bursty": bursty.as_ref().map(bursty_section::BurstyResult::to_json),
            "bursty_redis": bursty_redis.as_ref().map(bursty_section::BurstyResult::to_json),
            "redis_takeover": takeover.as_ref().map(redis_section::Takeover::to_json),
            "skipped": skipped.iter().map(|(what, why)| json!({ "row": what, "why": why })).collect::<Vec<_>>(),
            "targets": targets.iter().map(|t| json!({
                "name": t.name, "value": t.value, "limit": t.limit,
                "kind": if t.at_least { "min" } else { "max" },
                "met": t.met(), "at_target_size": at_target_size,
            })).collect::<Vec<_>>(),
        });
        if let Some(dir) = json_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(&json_path, text + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
        println!("\nresults written to {}", json_path.display());
    }
    Ok(all_met || !at_target_size)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if let Some((workload, engine)) = &args.child {
        return match child_main(&args, workload, engine) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(path) = &args.write_text {
        let text = common::generate_text(args.sizes.text_bytes, common::TEXT_SEED);
        if let Err(e) = std::fs::write(path, &text.text) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}: {} bytes, {} lines, {} words", path.display(), text.text.len(), text.lines, text.words);
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(met) => {
            if !met && args.strict {
                eprintln!("error: a target was missed (--strict)");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
