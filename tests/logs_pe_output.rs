//! Issue 14, finding 1: under `zmq_multi -n 4`, 36 of 50 lines PEs printed were lost (worker
//! processes were spawned with their output discarded). What a PE prints, on any process of
//! any mapping, now reaches the user's terminal: each line whole, once, prefixed with the
//! process it came from when that is not the one the user started, and never in the `-o`
//! file. And a PE has a logger (`out.log`) shown at the default verbosity.

mod support;

use std::path::Path;
use std::time::Duration;

const UNITS: usize = 50;

fn input(action: &str) -> String {
    format!(r#"{{"source": [{{"n": {UNITS}, "do": "{action}"}}]}}"#)
}

/// Every `stage printed unit i` line exactly once, whole, with `prefix` in front when given.
fn assert_printed(text: &str, prefix: Option<&str>, what: &str) {
    for i in 1..=UNITS {
        let needle = format!("stage printed unit {i}");
        let lines: Vec<&str> = text.lines().filter(|l| l.ends_with(&needle)).collect();
        assert_eq!(lines.len(), 1, "{what}: '{needle}' printed once, got {lines:?} in:\n{text}");
        if let Some(p) = prefix {
            assert!(lines[0].starts_with(p), "{what}: '{}' does not start with '{p}'", lines[0]);
        }
    }
    let whole =
        text.lines().filter(|l| l.contains("stage printed")).all(|l| l.matches("stage printed").count() == 1);
    assert!(whole, "{what}: lines interleaved mid-line:\n{text}");
}

fn assert_not_in_outputs(out: &Path, what: &str) {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    assert!(!text.contains("printed"), "{what}: printed lines in the -o file:\n{text}");
    // The sink's totals (one per sink instance: the dynamic mappings make one per worker).
    let counted: i64 = support::read_jsonl(out)
        .iter()
        .map(|(pe, _, data)| {
            assert_eq!(pe, "sink", "{what}: {text}");
            serde_json::from_str::<serde_json::Value>(data).unwrap()["count"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(counted, UNITS as i64, "{what}: {text}");
}

fn run_printing(mapping: &[&str], prefix: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let mut args: Vec<String> = mapping.iter().map(|s| s.to_string()).collect();
    args.extend(["-d".into(), input("print"), "-q".into(), "-o".into(), out.display().to_string()]);
    let run = support::run_with_timeout("faults", &args, Duration::from_secs(120));
    run.assert_success();
    let what = mapping.join(" ");
    assert_printed(&run.stdout, prefix, &what);
    assert_not_in_outputs(&out, &what);
}

#[test]
fn a_pe_printing_in_this_process_is_seen() {
    run_printing(&["simple"], None);
    run_printing(&["multi", "-n", "3"], None);
}

#[cfg(feature = "zmq")]
#[test]
fn a_pe_printing_on_a_zmq_worker_is_seen_prefixed_with_the_worker() {
    // source, stage and sink on one process each: stage runs on worker 1.
    run_printing(&["zmq_multi", "-n", "3"], Some("[worker 1]"));
}

#[cfg(feature = "redis")]
#[test]
fn a_pe_printing_on_a_redis_worker_is_seen_prefixed_with_the_worker() {
    run_printing(&["dyn_redis", "-n", "2"], Some("[worker"));
}

#[cfg(feature = "mpi")]
#[test]
fn a_pe_printing_on_an_mpi_rank_is_seen_prefixed_with_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let mut cmd = support::mpirun(3).expect("mpirun is installed (scripts/setup.sh installs it)");
    cmd.arg(support::example("faults")).args(["mpi", "-d", &input("print"), "-q", "-o"]).arg(&out);
    let run = support::run_command(cmd, Duration::from_secs(120));
    run.assert_success();
    assert_printed(&run.stdout, Some("[rank 1]"), "mpi -n 3");
    assert_not_in_outputs(&out, "mpi -n 3");
}

#[test]
fn out_log_is_shown_at_the_default_verbosity_naming_the_pe_and_instance() {
    let args = ["simple", "-d", r#"{"source": [{"n": 3, "do": "log"}]}"#, "-q"];
    let run = support::run("faults", &args);
    run.assert_success();
    for i in 1..=3 {
        run.assert_stderr_contains(&[&format!("stage[0]: stage logged unit {i}")]);
    }
    // Not the engine's own chatter.
    assert!(!run.stderr.contains("dispel4rs::mapping"), "{}", run.stderr);
    // RUST_LOG still rules: `dispel4rs::pe=warn` hides them.
    let quiet = std::process::Command::new(support::example("faults"))
        .args(args)
        .env("RUST_LOG", "dispel4rs::pe=warn")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("stage logged"));
}

#[cfg(feature = "zmq")]
#[test]
fn out_log_on_a_worker_reaches_the_coordinators_terminal() {
    let args = ["zmq_multi", "-n", "3", "-d", r#"{"source": [{"n": 3, "do": "log"}]}"#, "-q"];
    let run = support::run_with_timeout("faults", &args, Duration::from_secs(120));
    run.assert_success();
    for i in 1..=3 {
        let needle = format!("stage[0]: stage logged unit {i}");
        let line = run.stderr.lines().find(|l| l.contains(&needle));
        assert!(line.is_some_and(|l| l.starts_with("[worker 1]")), "{needle} on worker 1:\n{}", run.stderr);
    }
}
