//! Issue 14, finding 6: the `zmq_multi` report said peak RSS 13.8 MB where the processes
//! reached 509 MB: the coordinator sampled its own memory once, at the start. Every
//! multi-process report now gives each process's high-water mark (`process_peak_rss_bytes`)
//! and their largest as `peak_rss_bytes`, wherever the memory was taken.

mod support;

use serde_json::Value as Json;
use std::time::Duration;

const MB: u64 = 1 << 20;
/// `stage` touches this much memory, on one unit.
const TOUCHED_MB: u64 = 200;

fn input() -> String {
    format!(r#"{{"source": [{{"n": 1, "do": "alloc:{TOUCHED_MB}"}}]}}"#)
}

fn report_of(mapping: &[&str]) -> Json {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut args: Vec<String> = mapping.iter().map(|s| s.to_string()).collect();
    args.extend(["-d".into(), input(), "-q".into(), "--report".into(), report.display().to_string()]);
    support::run_with_timeout("faults", &args, Duration::from_secs(120)).assert_success();
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

/// The report's peak is at least what `stage` touched, and is the largest process peak; the
/// process that ran `stage` is `on` (a name prefix).
fn assert_peaks(report: &Json, processes: usize, on: &str, what: &str) {
    let peak = report["peak_rss_bytes"].as_u64().expect("peak_rss_bytes");
    assert!(peak >= TOUCHED_MB * MB, "{what}: peak {} MB < {TOUCHED_MB} MB", peak / MB);
    let per = report["process_peak_rss_bytes"].as_object().expect("process_peak_rss_bytes");
    assert_eq!(per.len(), processes, "{what}: {per:?}");
    let (largest, bytes) = per.iter().max_by_key(|(_, b)| b.as_u64()).unwrap();
    assert_eq!(bytes.as_u64(), Some(peak), "{what}: {per:?}");
    assert!(largest.starts_with(on), "{what}: the largest peak is {largest}, not {on}: {per:?}");
    for (name, b) in per {
        if name != largest {
            assert!(
                b.as_u64().unwrap() < TOUCHED_MB * MB,
                "{what}: {name} did not touch the memory: {per:?}"
            );
        }
    }
}

#[cfg(feature = "zmq")]
#[test]
fn zmq_multi_reports_the_peak_of_the_coordinator_and_of_every_worker() {
    // -n 1: stage on the coordinator, which used to sample itself before it ran anything.
    let r = report_of(&["zmq_multi", "-n", "1"]);
    let peak = r["peak_rss_bytes"].as_u64().unwrap();
    assert!(peak >= TOUCHED_MB * MB, "coordinator: peak {} MB", peak / MB);
    // -n 3: source, stage and sink on a process each; stage on worker 1.
    assert_peaks(&report_of(&["zmq_multi", "-n", "3"]), 3, "worker 1", "zmq_multi -n 3");
}

#[cfg(feature = "mpi")]
#[test]
fn mpi_reports_the_peak_of_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut cmd = support::mpirun(3).expect("mpirun is installed (scripts/setup.sh installs it)");
    cmd.arg(support::example("faults")).args(["mpi", "-d", &input(), "-q", "--report"]).arg(&report);
    support::run_command(cmd, Duration::from_secs(120)).assert_success();
    let r: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_peaks(&r, 3, "rank 1", "mpi -n 3");
}

#[cfg(feature = "redis")]
#[test]
fn redis_mappings_report_the_peak_of_every_worker_process() {
    // The coordinator runs only the root; stage runs on one of the two worker processes.
    assert_peaks(&report_of(&["dyn_redis", "-n", "2"]), 3, "process", "dyn_redis -n 2");
}
