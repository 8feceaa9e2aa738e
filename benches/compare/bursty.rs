//! The `bursty` section of the comparison: the same dense–sparse–dense input under a fixed
//! pool (`dyn_multi -n N`) and an autoscaled one (`dyn_auto_multi -n N --min-workers 1`),
//! alternating per repetition, in this process through `Runner`; and the same pair through
//! Redis (`dyn_redis`, `dyn_auto_redis`), the release example binary as a child process (its
//! worker processes re-execute it) with the report read back. Reported: elapsed time,
//! worker-seconds (the integral of the pool's size over the run, from the report) and the
//! end-of-stream tail of each, and per repetition the ratios auto / fixed of both — what
//! autoscaling saves and what it costs. The totals of the sinks are checked every run.

use super::{bursty, median, min_max, Args};
use dispel4rs::{Mapping, Runner, Value};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One input of the section.
#[derive(Clone, Debug)]
pub struct BurstyInput {
    /// `[[units, gap_us], ...]`.
    pub phases: Vec<(u64, u64)>,
    /// Milliseconds of (sleeping) work per unit.
    pub work_ms: u64,
    /// `-n`: the pool's size (fixed) or its maximum (auto).
    pub workers: usize,
}

impl BurstyInput {
    /// The input at the sizes of `args`: full 4000 / 300 units 5 ms apart / 4000, 2 ms each,
    /// 16 workers (as in the issue); quick a quarter of it; smoke tiny.
    pub fn for_args(args: &Args) -> BurstyInput {
        if args.smoke {
            BurstyInput { phases: vec![(40, 0), (10, 1000), (40, 0)], work_ms: 1, workers: 4 }
        } else if args.quick {
            BurstyInput { phases: vec![(1000, 0), (300, 5000), (1000, 0)], work_ms: 2, workers: 16 }
        } else {
            BurstyInput { phases: vec![(4000, 0), (300, 5000), (4000, 0)], work_ms: 2, workers: 16 }
        }
    }

    fn units(&self) -> u64 {
        self.phases.iter().map(|p| p.0).sum()
    }

    fn data(&self) -> String {
        let phases: Vec<String> = self.phases.iter().map(|(u, g)| format!("[{u}, {g}]")).collect();
        format!(r#"{{"source": [{{"phases": [{}], "work_ms": {}}}]}}"#, phases.join(", "), self.work_ms)
    }
}

/// One run's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    elapsed: f64,
    worker_seconds: f64,
    tail: f64,
    mean_workers: f64,
}

/// The section's result.
pub struct BurstyResult {
    pub input: BurstyInput,
    /// The fixed and the autoscaled mapping.
    pub pair: [Mapping; 2],
    fixed: Vec<Run>,
    auto: Vec<Run>,
}

/// Where a Redis run happens: the release `bursty` binary and the server.
pub struct Child<'a> {
    pub binary: &'a Path,
    pub redis_url: &'a str,
    pub scratch: &'a Path,
}

fn run_child(mapping: Mapping, input: &BurstyInput, child: &Child<'_>) -> Result<Run, String> {
    let report = child.scratch.join(format!("bursty-{}.json", mapping.name()));
    let out = Command::new(child.binary)
        .args([
            mapping.name(),
            "-n",
            &input.workers.to_string(),
            "--min-workers",
            "1",
            "-q",
            "-d",
            &input.data(),
        ])
        .arg("--redis")
        .arg(child.redis_url)
        .arg("--report")
        .arg(&report)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", child.binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "bursty {} failed ({}): {}",
            mapping.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    let r: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("bad report: {e}"))?;
    let f = |k: &str| r.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    Ok(Run {
        elapsed: f("elapsed_s"),
        worker_seconds: f("worker_seconds"),
        tail: f("tail_s"),
        mean_workers: f("pool_mean"),
    })
}

fn run_once(mapping: Mapping, input: &BurstyInput) -> Result<Run, String> {
    let g = bursty::graph().map_err(|e| e.to_string())?;
    let r = Runner::new(&g)
        .mapping(mapping)
        .processes(input.workers)
        .data(input.data())
        .configure(|o| o.pool.min_workers = 1)
        .run()
        .map_err(|e| format!("bursty {}: {e}", mapping.name()))?;
    let n = input.units() as i64;
    let (mut count, mut sum) = (0, 0);
    for (_, _, unit) in r.outputs.iter() {
        count += unit.get("count").and_then(Value::as_int).unwrap_or(0);
        sum += unit.get("sum").and_then(Value::as_int).unwrap_or(0);
    }
    if (count, sum) != (n, n * (n + 1) / 2) {
        return Err(format!("WRONG ANSWER from bursty {}: count {count}, sum {sum}", mapping.name()));
    }
    let pool = r.report.pool.as_ref().ok_or("no pool in the report of a dynamic run")?;
    let (_, _, mean) = pool.size_stats(r.report.elapsed);
    Ok(Run {
        elapsed: r.report.elapsed.as_secs_f64(),
        worker_seconds: pool.worker_seconds,
        tail: r.report.tail.unwrap_or(Duration::ZERO).as_secs_f64(),
        mean_workers: mean,
    })
}

/// Runs the section for `pair` (fixed, autoscaled): alternating, after the warm-up runs; in
/// this process, or as child processes through Redis.
pub fn run_bursty(
    args: &Args,
    pair: [Mapping; 2],
    child: Option<&Child<'_>>,
) -> Result<BurstyResult, String> {
    let input = BurstyInput::for_args(args);
    println!(
        "\n== bursty: phases {:?} (units, gap µs), {} ms per unit, -n {}: {} vs {} --min-workers 1",
        input.phases,
        input.work_ms,
        input.workers,
        pair[0].name(),
        pair[1].name()
    );
    let mut result = BurstyResult { input: input.clone(), pair, fixed: Vec::new(), auto: Vec::new() };
    for rep in 0..args.warmup + args.sizes.reps {
        let timed = rep >= args.warmup;
        for mapping in pair {
            let r = match child {
                Some(c) => run_child(mapping, &input, c)?,
                None => run_once(mapping, &input)?,
            };
            println!(
                "  {} {:<16} {:>7.3} s, {:>7.2} worker-seconds (mean {:>5.2} workers), tail {:.2} ms",
                if timed { format!("rep {}", rep - args.warmup) } else { "warm-up".into() },
                mapping.name(),
                r.elapsed,
                r.worker_seconds,
                r.mean_workers,
                r.tail * 1e3
            );
            if timed {
                if mapping == pair[0] {
                    result.fixed.push(r);
                } else {
                    result.auto.push(r);
                }
            }
        }
    }
    Ok(result)
}

impl BurstyResult {
    /// Per repetition, auto / fixed of the elapsed times and of the worker-seconds.
    pub fn ratios(&self) -> (Vec<f64>, Vec<f64>) {
        let pairs = || self.fixed.iter().zip(&self.auto);
        (
            pairs().map(|(f, a)| a.elapsed / f.elapsed).collect(),
            pairs().map(|(f, a)| a.worker_seconds / f.worker_seconds).collect(),
        )
    }

    /// Median tails (fixed, auto), seconds.
    pub fn tails(&self) -> (f64, f64) {
        (
            median(self.fixed.iter().map(|r| r.tail).collect()),
            median(self.auto.iter().map(|r| r.tail).collect()),
        )
    }

    /// Prints the summary table.
    pub fn print(&self) {
        let (time, ws) = self.ratios();
        let cell = |xs: &[f64]| {
            let (lo, hi) = min_max(xs);
            format!("{:.2}x ({:.2}..{:.2})", median(xs.to_vec()), lo, hi)
        };
        println!(
            "\n== bursty (median of {} repetition(s); ratio = {} / {}, paired per repetition)",
            self.fixed.len(),
            self.pair[1].name(),
            self.pair[0].name()
        );
        println!(
            "{:<16} {:>10} {:>16} {:>13} {:>9}",
            "engine", "elapsed s", "worker-seconds", "mean workers", "tail ms"
        );
        for (name, runs) in [(self.pair[0].name(), &self.fixed), (self.pair[1].name(), &self.auto)] {
            let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
            println!(
                "{:<16} {:>10.3} {:>16.2} {:>13.2} {:>9.2}",
                name,
                med(|r| r.elapsed),
                med(|r| r.worker_seconds),
                med(|r| r.mean_workers),
                med(|r| r.tail) * 1e3
            );
        }
        println!("time ratio {}   worker-seconds ratio {}", cell(&time), cell(&ws));
    }

    /// The section as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let runs = |rs: &[Run]| {
            rs.iter()
                .map(|r| json!({"elapsed_s": r.elapsed, "worker_seconds": r.worker_seconds, "tail_s": r.tail, "mean_workers": r.mean_workers}))
                .collect::<Vec<_>>()
        };
        let (time, ws) = self.ratios();
        json!({
            "fixed": self.pair[0].name(), "auto": self.pair[1].name(),
            "phases": self.input.phases, "work_ms": self.input.work_ms, "workers": self.input.workers,
            "fixed_runs": runs(&self.fixed), "auto_runs": runs(&self.auto),
            "time_ratios": time, "worker_seconds_ratios": ws,
            "time_ratio_median": median(time.clone()), "worker_seconds_ratio_median": median(ws.clone()),
        })
    }
}
