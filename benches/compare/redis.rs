//! The Redis rows of the comparison that are not a workload × engine cell: the cost of a
//! worker killed mid-run. `pipeline_test` (one unit per task, every output per unit) runs
//! under `dyn_redis -n 3 --claim-idle-ms 500`, once undisturbed and once with a worker
//! process killed (`SIGKILL`) at 40 % of the undisturbed run; the outputs of both are checked
//! (every unit exactly once) and the difference of their elapsed times is the take-over cost
//! (the claim-idle wait for the killed worker's task, plus the lost capacity).

use super::{median, Args};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const UNITS: u64 = 4000;
const CLAIM_IDLE_MS: u64 = 500;

/// The figures of the take-over rows.
pub struct Takeover {
    clean: Vec<f64>,
    killed: Vec<f64>,
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// One run; with `kill_after`, a worker process is killed then. Returns the elapsed time.
fn run(binary: &Path, url: &str, kill_after: Option<Duration>) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("out.jsonl");
    let started = Instant::now();
    let child = Command::new(binary)
        .args(["dyn_redis", "-n", "3", "-i", &UNITS.to_string(), "--batch-size", "1", "-q"])
        .args(["--claim-idle-ms", &CLAIM_IDLE_MS.to_string(), "--redis", url, "-o"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        let workers = children_of(child.id());
        let victim = workers.first().ok_or("no worker process to kill")?;
        Command::new("kill").args(["-9", &victim.to_string()]).status().map_err(|e| e.to_string())?;
    }
    let done = child.wait_with_output().map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    if !done.status.success() {
        return Err(format!("pipeline_test dyn_redis failed: {}", String::from_utf8_lossy(&done.stderr)));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let mut got: Vec<i64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("data")?.as_i64())
        .collect();
    got.sort_unstable();
    if got != (1..=UNITS as i64).collect::<Vec<_>>() {
        return Err(format!("WRONG ANSWER after a kill: {} outputs for {UNITS} units", got.len()));
    }
    Ok(elapsed)
}

/// Measures the take-over cost (repetitions as the other rows).
pub fn takeover(args: &Args, binary: &Path, url: &str) -> Result<Takeover, String> {
    println!("\n== redis take-over: pipeline_test -i {UNITS} --batch-size 1, dyn_redis -n 3 --claim-idle-ms {CLAIM_IDLE_MS}");
    let mut t = Takeover { clean: Vec::new(), killed: Vec::new() };
    for rep in 0..args.sizes.reps.max(1) {
        let clean = run(binary, url, None)?;
        let killed = run(binary, url, Some(Duration::from_secs_f64(clean * 0.4)))?;
        println!("  rep {rep}: undisturbed {clean:.3} s, a worker killed at 40 %: {killed:.3} s (every output exactly once)");
        t.clean.push(clean);
        t.killed.push(killed);
    }
    Ok(t)
}

impl Takeover {
    /// Prints the summary.
    pub fn print(&self) {
        let (c, k) = (median(self.clean.clone()), median(self.killed.clone()));
        println!(
            "\n== redis take-over after kill -9 of a worker: undisturbed {c:.3} s, killed {k:.3} s: \
             +{:.0} ms (claim-idle {CLAIM_IDLE_MS} ms included; outputs checked exactly once)",
            (k - c) * 1e3
        );
    }

    /// The rows as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "units": UNITS, "claim_idle_ms": CLAIM_IDLE_MS,
            "clean_secs": self.clean, "killed_secs": self.killed,
            "extra_median_secs": median(self.killed.clone()) - median(self.clean.clone()),
        })
    }
}
