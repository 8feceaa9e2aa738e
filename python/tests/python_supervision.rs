//! Failures in Python code are supervised like any PE failure: the instance is restarted
//! from a fresh copy of the PE, the unit retried, then dead-lettered with the Python
//! traceback; a failing `postprocess` is reported; the exit status is 1. (The dead letters
//! are read from the run report, which every mapping fills.)

mod support;

use support::*;

fn check(mapping: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.to_string_lossy().into_owned();
    let run = ours(mapping, &graph("failing"), &["-i", "5", "--report", &report_arg]);
    let context = format!("failing under {}", mapping.join(" "));
    assert_eq!(run.status, Some(1), "{context}: exit status\n{}", run.stderr);
    // Units 1, 2, 4, 5 went through; 3 failed twice (two copies) and was dead-lettered.
    let picky: Vec<&str> = run.records.iter().filter(|r| r.0 == "Picky1").map(|r| r.2.as_str()).collect();
    let units: Vec<i64> = picky
        .iter()
        .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap()[0].as_i64().unwrap())
        .collect();
    let mut sorted = units.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2, 4, 5], "{context}: {picky:?}");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{context}: no report: {e}"));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["dead_letters_total"], 1, "{context}: {text}");
    let letters = report["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{context}: {text}");
    let letter = &letters[0];
    assert_eq!(letter["pe"], "Picky1", "{context}");
    assert_eq!(letter["unit"], 3, "{context}");
    let error = letter["error"].as_str().unwrap();
    for needle in [
        "Python PE Picky1 failed in process",
        "Traceback (most recent call last)",
        "failing.py",
        "raise ValueError",
        "ValueError: I do not like 3",
    ] {
        assert!(error.contains(needle), "{context}: the dead letter's error lacks {needle:?}:\n{error}");
    }
    assert!(
        run.stderr.contains("tally cannot be written"),
        "{context}: the failed postprocess is reported:\n{}",
        run.stderr
    );
}

#[test]
fn simple() {
    check(&["simple"]);
}

#[test]
fn multi() {
    check(&["multi", "-n", "3"]);
}

#[test]
fn zmq_multi() {
    check(&["zmq_multi", "-n", "3"]);
}

#[test]
fn mpi() {
    check(&["mpi", "-n", "3"]);
}

#[test]
fn dyn_multi() {
    check(&["dyn_multi", "-n", "2"]);
}

#[test]
fn hybrid_redis() {
    check(&["hybrid_redis", "-n", "2"]);
}

#[test]
fn a_restarted_instance_is_a_fresh_copy() {
    // Picky counts the units its copy saw: after the restart on unit 3 it starts again.
    let run = ours(&["simple"], &graph("failing"), &["-i", "5"]);
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    let mut seen: Vec<String> = run.records.iter().filter(|r| r.0 == "Picky1").map(|r| r.2.clone()).collect();
    seen.sort();
    // Copy 1 saw 1, 2 and 3 (failed); copy 2 saw 3 (failed); copy 3 sees 4 then 5.
    assert_eq!(seen, ["[1,1]", "[2,2]", "[4,1]", "[5,2]"]);
}
