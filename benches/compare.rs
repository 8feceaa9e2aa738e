//! dispel4rs against Timely Dataflow, side by side in one invocation.
//!
//! ```text
//! cargo bench --bench compare                      # full sizes, 5 repetitions
//! cargo bench --bench compare -- --quick           # smaller sizes, 3 repetitions
//! cargo bench --bench compare -- --only wordcount --reps 9
//! cargo bench --bench compare -- --help
//! ```
//! (`scripts/compare.sh` wraps this with a release build and the machine's description.)
//!
//! # What is measured
//!
//! A table of **workloads × engines**. Every engine runs every workload it supports, the
//! engines alternating within each repetition (ours, timely, ours, timely, ...) after one
//! untimed warm-up run each, so that both see the same machine load (this machine is
//! shared and noisy: compare the ratios, not the absolute numbers).
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
//!
//! A timed run covers what a user waits for: building the graph (dataflow), running it to the
//! end, and the results in the engine's own form (our collected `Value`s, Timely's captured
//! vectors). Turning them into a comparable [`Answer`] is not timed. Every answer is checked
//! against an independent oracle (N·(N+1)/2; a plain std word count of the text); any
//! mismatch stops the benchmark with an error.
//!
//! Reported per row: the median time and the rate it gives (items/s or words/s), the
//! fastest and slowest repetition, the spread ((max−min)/median), and for our rows the
//! **ratio to Timely** with the same number of workers: the median over repetitions of
//! (our rate / Timely's rate in the same repetition), which pairs runs made under the same
//! load. **Peak RSS** (Linux `VmHWM`) is measured for every row in an isolated child process:
//! this benchmark binary re-executed with the hidden argument `--child WORKLOAD ENGINE`,
//! which runs that one case once and prints its peak and start-up RSS; nothing else
//! (the generated text, the other engine's allocations) is in that process.
//!
//! The summary table is printed at the end and written as JSON to `target/compare.json`
//! (`--json PATH` to change). Run without `--bench` (as `cargo test --benches` does) the
//! binary only does a tiny smoke run: every engine on tiny sizes, answers checked.
//!
//! # Extending
//!
//! Add an [`Engine`] variant (or reuse `Ours` with another [`Mapping`] and `-n`) and list it
//! in [`engines`]; add a [`Workload`] variant, its oracle in [`Workload::expected`] and a
//! branch in [`Engine::run`]. The ratio of an `Ours` row is taken against the `Timely` row
//! with as many workers as the row's `-n` (e.g. `multi -n 2` against `timely -w2`).

#[path = "../examples/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

#[path = "../examples/wordcount.rs"]
#[allow(dead_code)]
mod wordcount;

mod common;

use dispel4rs::{Mapping, Runner, Value};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::rc::Rc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Sizes and targets
// ---------------------------------------------------------------------------------------

/// The sizes a run uses.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Items of `pipeline`.
    n: i64,
    /// Bytes of text for `wordcount`.
    text_bytes: usize,
    /// Timed repetitions per engine.
    reps: usize,
}

const FULL: Sizes = Sizes { n: 10_000_000, text_bytes: 5 << 20, reps: 5 };
const QUICK: Sizes = Sizes { n: 1_000_000, text_bytes: 1 << 20, reps: 3 };
const SMOKE: Sizes = Sizes { n: 20_000, text_bytes: 64 << 10, reps: 1 };

/// The project's targets on a 2-core machine under `simple` (checked at full sizes only).
const TARGET_PIPELINE_ITEMS_PER_S: f64 = 20e6;
const TARGET_WORDCOUNT_RATIO: f64 = 1.0;
const TARGET_PIPELINE_PEAK_RSS_BYTES: u64 = 64_000_000;

// ---------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------

const USAGE: &str = "\
usage: cargo bench --bench compare -- [OPTIONS]

  --quick            smaller sizes (N = 1 M items, 1 MiB of text, 3 repetitions)
  --only NAMES       only these workloads (comma-separated: pipeline,wordcount)
  --engines NAMES    only engines whose name contains one of these (comma-separated)
  --reps R           timed repetitions per engine (default 5, quick 3)
  --warmup W         untimed runs per engine before timing (default 1)
  --n N              items for pipeline (default 10000000)
  --text-bytes B     bytes of generated text for wordcount (default 5242880)
  --no-rss           skip the peak-RSS child processes
  --json PATH        where to write the results (default target/compare.json)
  --strict           exit with status 1 if a target is missed
  --write-text PATH  only write the generated text (--text-bytes) to PATH, e.g. to profile
                     `target/release/examples/wordcount` on the same input, and exit
  -h, --help         this text";

#[derive(Clone, Debug)]
struct Args {
    sizes: Sizes,
    quick: bool,
    smoke: bool,
    only: Vec<String>,
    engines: Vec<String>,
    warmup: usize,
    rss: bool,
    json: Option<PathBuf>,
    strict: bool,
    /// Hidden: run one case once and print its RSS (`--child WORKLOAD ENGINE`).
    child: Option<(String, String)>,
    /// Hidden, for `--child wordcount`: the text file to count.
    text_file: Option<PathBuf>,
    /// Only write the generated text there.
    write_text: Option<PathBuf>,
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
        engines: Vec::new(),
        warmup: if smoke { 0 } else { 1 },
        rss: !smoke,
        json: None,
        strict: false,
        child: None,
        text_file: None,
        write_text: None,
    };
    let mut it = raw.into_iter();
    let list = |s: String| s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        let number = |name: &str, v: String| v.parse::<u64>().map_err(|e| format!("{name} {v}: {e}"));
        match arg.as_str() {
            "--bench" | "--quick" => {}
            "--only" => a.only = list(value("--only")?),
            "--engines" => a.engines = list(value("--engines")?),
            "--reps" => a.sizes.reps = number("--reps", value("--reps")?)?.max(1) as usize,
            "--warmup" => a.warmup = number("--warmup", value("--warmup")?)? as usize,
            "--n" => a.sizes.n = number("--n", value("--n")?)? as i64,
            "--text-bytes" => a.sizes.text_bytes = number("--text-bytes", value("--text-bytes")?)? as usize,
            "--no-rss" => a.rss = false,
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
    for w in &a.only {
        if !WORKLOADS.contains(&w.as_str()) {
            return Err(format!("unknown workload '{w}' (known: {})", WORKLOADS.join(", ")));
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

const WORKLOADS: [&str; 2] = ["pipeline", "wordcount"];

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

    /// The right answer, computed without either engine.
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
}

/// What a run computed, in a form every engine can be compared on.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    /// `pipeline`: items seen by the sink and their sum.
    CountSum { count: i64, sum: i64 },
    /// `wordcount`: total per (lowercased) word.
    Totals(HashMap<String, i64>),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::CountSum { count, sum } => write!(f, "count {count}, sum {sum}"),
            Answer::Totals(t) => write!(f, "{} distinct words, {} in all", t.len(), t.values().sum::<i64>()),
        }
    }
}

/// Says how `got` differs from `want`, or `None` if they are equal.
fn difference(want: &Answer, got: &Answer) -> Option<String> {
    if want == got {
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

/// A way to run a workload.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    /// dispel4rs in this process through [`Runner`], with this mapping and `-n`.
    Ours { mapping: Mapping, processes: usize },
    /// Timely Dataflow with this many worker threads (`-w`).
    Timely { workers: usize },
}

/// The rows of the table, in the order they run within a repetition.
fn engines() -> Vec<Engine> {
    vec![
        Engine::Ours { mapping: Mapping::Simple, processes: 1 },
        Engine::Timely { workers: 1 },
        // Later: Engine::Ours { mapping: Mapping::Multi, processes: 2 }, Engine::Timely { workers: 2 },
        // zmq_multi, mpi: `Ours` rows too (or a new variant if they must be launched externally).
    ]
}

impl Engine {
    /// The name in the table, and for `--engines` and `--child`.
    fn name(self) -> String {
        match self {
            Engine::Ours { mapping, processes } => format!("dispel4rs {} -n{processes}", mapping.name()),
            Engine::Timely { workers } => format!("timely -w{workers}"),
        }
    }

    /// The engine an `Ours` row is compared with.
    fn reference(self) -> Option<Engine> {
        match self {
            Engine::Ours { processes, .. } => Some(Engine::Timely { workers: processes }),
            Engine::Timely { .. } => None,
        }
    }

    fn workers(self) -> usize {
        match self {
            Engine::Ours { processes, .. } => processes,
            Engine::Timely { workers } => workers,
        }
    }

    /// Runs `w` once: the answer, and the time of the run (see the module documentation for
    /// what is inside it).
    fn run(self, w: &Workload) -> Result<(Answer, Sample), String> {
        match (self, w) {
            (Engine::Ours { mapping, processes }, Workload::Pipeline { n }) => {
                let (outputs, t) = Measure::time(|| {
                    let g = pipeline::graph().map_err(|e| e.to_string())?;
                    Runner::new(&g)
                        .mapping(mapping)
                        .processes(processes)
                        .data(format!(r#"{{"source": [{{"n": {n}}}]}}"#))
                        .run()
                        .map_err(|e| e.to_string())
                });
                let outputs = outputs?.outputs;
                // One {"count", "sum"} per sink instance.
                let (mut count, mut sum) = (0, 0);
                for unit in outputs.get("sink", "output").ok_or("no sink output")? {
                    let field = |k: &str| -> Result<i64, String> {
                        unit.get(k).ok_or(format!("no {k} in {unit}"))?.try_int().map_err(|e| e.to_string())
                    };
                    count += field("count")?;
                    sum += field("sum")?;
                }
                Ok((Answer::CountSum { count, sum }, t))
            }
            (Engine::Ours { mapping, processes }, Workload::WordCount { path, .. }) => {
                let path = path.to_str().ok_or("the text path is not UTF-8")?;
                let data = Value::map([("read", Value::List(vec![Value::map([("path", path)])]))]).to_json();
                let (outputs, t) = Measure::time(|| {
                    let g = wordcount::graph().map_err(|e| e.to_string())?;
                    Runner::new(&g)
                        .mapping(mapping)
                        .processes(processes)
                        .data(data)
                        .run()
                        .map_err(|e| e.to_string())
                });
                let outputs = outputs?.outputs;
                let mut totals = HashMap::new();
                for pair in outputs.get("count", "output").ok_or("no count output")? {
                    let bad = || format!("expected [word, total], got {pair}");
                    let word = pair.index(0).and_then(Value::as_str).ok_or_else(bad)?;
                    let total = pair.index(1).and_then(|n| n.try_int().ok()).ok_or_else(bad)?;
                    if totals.insert(word.to_owned(), total).is_some() {
                        return Err(format!("word {word:?} counted by two instances"));
                    }
                }
                Ok((Answer::Totals(totals), t))
            }
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
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

/// CPU time used so far by this process, all threads (including finished ones).
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given; a zeroed rusage is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
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
    /// Runs `f`, returning its result and how long it took.
    fn time<T>(f: impl FnOnce() -> T) -> (T, Sample) {
        let (cpu0, start) = (process_cpu_time(), Instant::now());
        let r = f();
        let wall = start.elapsed();
        (r, Sample { wall, cpu: process_cpu_time().saturating_sub(cpu0) })
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

    /// Per repetition, `reference`'s time over ours (= our rate / its rate), wall and CPU.
    fn paired_ratios(&self, reference: &Measure) -> (Vec<f64>, Vec<f64>) {
        let pairs = || reference.samples.iter().zip(&self.samples);
        (
            pairs().map(|(r, o)| r.wall.as_secs_f64() / o.wall.as_secs_f64()).collect(),
            pairs().map(|(r, o)| r.cpu.as_secs_f64() / o.cpu.as_secs_f64()).collect(),
        )
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

/// `--child WORKLOAD ENGINE`: run one case once, print `CHILD-RSS peak start` on stdout.
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
    let e = engines().into_iter().find(|e| e.name() == engine).ok_or(format!("unknown engine {engine}"))?;
    let (answer, _) = e.run(&w)?;
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
    workload: &'static str,
    unit: &'static str,
    units: u64,
    engine: Engine,
    measure: Measure,
    /// Per repetition: our rate / the reference's rate in the same repetition (wall time);
    /// empty for rows without a reference.
    ratios: Vec<f64>,
    /// The same on CPU time.
    cpu_ratios: Vec<f64>,
    rss: Option<Rss>,
}

/// `median (min..max)` of paired ratios, or `-`.
fn ratio_cell(ratios: &[f64]) -> String {
    if ratios.is_empty() {
        return "-".to_owned();
    }
    let (lo, hi) = min_max(ratios);
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

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.to_owned()))
        .and_then(|l| l.split_once(':').map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "nproc": nproc, "cpu": cpu })
}

/// `target/compare.json` next to this binary (`target/release/deps/compare-*`).
fn default_json_path() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf)).flatten()
    });
    from_exe.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target")).join("compare.json")
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
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let engines: Vec<Engine> = engines()
        .into_iter()
        .filter(|e| args.engines.is_empty() || args.engines.iter().any(|f| e.name().contains(f.as_str())))
        .collect();

    // Inputs. The text lives in a temporary directory for the whole run.
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut workloads = Vec::new();
    if wanted("pipeline") {
        workloads.push(Workload::Pipeline { n: sizes.n });
    }
    if wanted("wordcount") {
        let text = common::generate_text(sizes.text_bytes, common::TEXT_SEED);
        let path = tmp.path().join("text.txt");
        std::fs::write(&path, &text.text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("generated {} bytes of text: {} lines, {} words", text.text.len(), text.lines, text.words);
        workloads.push(Workload::WordCount { path, bytes: text.text.len() as u64, words: text.words });
    }

    let mut rows = Vec::new();
    for w in &workloads {
        println!("\n== {}", w.describe());
        let expected = w.expected()?;
        let mut measures = vec![Measure::default(); engines.len()];
        let check = |e: Engine, got: &Answer| match difference(&expected, got) {
            None => Ok(()),
            Some(d) => Err(format!("WRONG ANSWER from {} on {}: {d}", e.name(), w.name())),
        };
        for &e in &engines {
            for _ in 0..args.warmup {
                let (answer, t) = e.run(w)?;
                check(e, &answer)?;
                println!("  warm-up {:<24} {:>8.3} s", e.name(), t.wall.as_secs_f64());
            }
        }
        for rep in 0..sizes.reps {
            for (i, &e) in engines.iter().enumerate() {
                let (answer, t) = e.run(w)?;
                check(e, &answer)?;
                measures[i].push(t);
                println!(
                    "  rep {rep} {:<24} {:>8.3} s {:>10} {}/s   cpu {:>7.3} s",
                    e.name(),
                    t.wall.as_secs_f64(),
                    human_rate(w.units() as f64 / t.wall.as_secs_f64()),
                    w.unit(),
                    t.cpu.as_secs_f64(),
                );
            }
        }
        println!("  answers checked: {expected}");
        for (i, &e) in engines.iter().enumerate() {
            let reference = e.reference().and_then(|r| engines.iter().position(|&x| x == r));
            let (ratios, cpu_ratios) = match reference {
                Some(j) => measures[i].paired_ratios(&measures[j]),
                None => (Vec::new(), Vec::new()),
            };
            let rss = if args.rss {
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
                workload: w.name(),
                unit: w.unit(),
                units: w.units(),
                engine: e,
                measure: measures[i].clone(),
                ratios,
                cpu_ratios,
                rss,
            });
        }
    }
    drop(tmp);

    // Summary.
    println!(
        "\n== summary ({mode}; median of {} repetition(s); rates per second of wall time, \
         cpu rate per CPU second; ratio = ours / timely, paired per repetition)",
        sizes.reps
    );
    println!(
        "{:<10} {:<22} {:>8} {:>11} {:>18} {:>6} {:>18} {:>11} {:>18} {:>9}",
        "workload",
        "engine",
        "median s",
        "rate",
        "slowest..fastest",
        "spread",
        "ratio (min..max)",
        "cpu rate",
        "cpu ratio",
        "peak RSS"
    );
    for r in &rows {
        let (lo, hi) = r.measure.rate_range(r.units);
        println!(
            "{:<10} {:<22} {:>8.3} {:>11} {:>18} {:>5.0}% {:>18} {:>11} {:>18} {:>9}",
            r.workload,
            r.engine.name(),
            r.measure.median_secs(),
            format!("{} {}", human_rate(r.measure.rate(r.units)), r.unit),
            format!("{}..{}", human_rate(lo), human_rate(hi)),
            r.measure.spread() * 100.0,
            ratio_cell(&r.ratios),
            human_rate(r.measure.cpu_rate(r.units)),
            ratio_cell(&r.cpu_ratios),
            r.rss.map_or("-".into(), |x| format!("{:.1} MB", mb(x.peak_bytes))),
        );
    }

    // Targets (meaningful at the target sizes only).
    let at_target_size = sizes.n == FULL.n && sizes.text_bytes == FULL.text_bytes;
    let ours_simple = Engine::Ours { mapping: Mapping::Simple, processes: 1 };
    let find = |w: &str| rows.iter().find(|r| r.workload == w && r.engine == ours_simple);
    let mut targets: Vec<(&str, f64, f64, bool)> = Vec::new();
    if let Some(r) = find("pipeline") {
        let rate = r.measure.rate(r.units);
        targets.push((
            "pipeline simple items/s (min)",
            rate,
            TARGET_PIPELINE_ITEMS_PER_S,
            rate >= TARGET_PIPELINE_ITEMS_PER_S,
        ));
        if let Some(rss) = r.rss {
            let (peak, limit) = (rss.peak_bytes as f64, TARGET_PIPELINE_PEAK_RSS_BYTES as f64);
            targets.push(("pipeline simple peak RSS bytes (max)", peak, limit, peak <= limit));
        }
    }
    if let Some(r) = find("wordcount").filter(|r| !r.ratios.is_empty()) {
        let ratio = median(r.ratios.clone());
        targets.push((
            "wordcount simple / timely -w1 (min)",
            ratio,
            TARGET_WORDCOUNT_RATIO,
            ratio >= TARGET_WORDCOUNT_RATIO,
        ));
    }
    println!(
        "\n== targets{}",
        if at_target_size { "" } else { " (NOT at the target sizes: indicative only)" }
    );
    for (name, value, limit, met) in &targets {
        println!(
            "  {:<40} {:>16.3} vs {:>14.3}  {}",
            name,
            value,
            limit,
            if *met { "met" } else { "MISSED" }
        );
    }
    let all_met = targets.iter().all(|t| t.3);

    // JSON.
    if !args.smoke {
        let path = args.json.clone().unwrap_or_else(default_json_path);
        let rows_json: Vec<_> = rows
            .iter()
            .map(|r| {
                let (lo, hi) = r.measure.rate_range(r.units);
                let med = |xs: &Vec<f64>| (!xs.is_empty()).then(|| median(xs.clone()));
                json!({
                    "workload": r.workload,
                    "engine": r.engine.name(),
                    "workers": r.engine.workers(),
                    "compared_with": r.engine.reference().map(Engine::name),
                    "units": r.units,
                    "unit": r.unit,
                    "wall_secs": r.measure.secs(),
                    "cpu_secs": r.measure.cpu_secs(),
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
                    "peak_rss_bytes": r.rss.map(|x| x.peak_bytes),
                    "child_start_rss_bytes": r.rss.map(|x| x.start_bytes),
                })
            })
            .collect();
        let doc = json!({
            "mode": mode,
            "sizes": {
                "pipeline_n": sizes.n, "text_bytes": sizes.text_bytes, "reps": sizes.reps, "warmup": args.warmup,
            },
            "machine": machine(),
            "peak_rss_method":
                "child process: this binary re-executed with --child WORKLOAD ENGINE; VmHWM after one run",
            "rows": rows_json,
            "targets": targets.iter().map(|(name, value, limit, met)| json!({
                "name": name, "value": value, "limit": limit, "met": met, "at_target_size": at_target_size,
            })).collect::<Vec<_>>(),
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        println!("\nresults written to {}", path.display());
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
