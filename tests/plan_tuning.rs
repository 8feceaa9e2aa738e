//! Issue 14, findings 3 and 4: every tuning step was a rebuild, and the plan put heavy PEs
//! on one slot without a word. `--numprocesses PE=N` and `--blocking PE` now change a PE's
//! spec from the command line under every mapping (checked against the graph: an unknown PE
//! is bad input, named), `--plan` shows their effect, the plan warns when blocking PEs must
//! share a slot, and the run report says which PE starved a slot it shared.

mod support;

use std::time::Duration;

#[test]
fn numprocesses_and_blocking_change_the_plan() {
    let plain = support::run("wordcount", &["multi", "-n", "4", "--plan"]);
    plain.assert_success();
    assert!(plain.stdout.contains("count                    1 instance(s) on"), "{}", plain.stdout);
    let tuned = support::run(
        "wordcount",
        &["multi", "-n", "4", "--numprocesses", "count=3", "--blocking", "split", "--plan"],
    );
    tuned.assert_success();
    assert!(
        tuned.stdout.contains("count                    3 instance(s) on slot(s) 1,2,3"),
        "{}",
        tuned.stdout
    );
    assert!(
        tuned.stdout.contains("split                    1 instance(s) (blocking: a thread each)"),
        "{}",
        tuned.stdout
    );
    // Repeatable, the last word for a PE wins.
    let twice = support::run(
        "wordcount",
        &["multi", "-n", "4", "--numprocesses", "count=3", "--numprocesses", "count=2", "--plan"],
    );
    assert!(twice.stdout.contains("count                    2 instance(s)"), "{}", twice.stdout);
}

#[test]
fn an_unknown_pe_or_a_bad_value_is_bad_input_naming_it() {
    for mapping in ["simple", "multi", "dyn_multi"] {
        let out = support::run("wordcount", &[mapping, "--numprocesses", "cuont=3"]);
        out.assert_code(2).assert_stderr_contains(&[
            "--numprocesses cuont",
            "no PE 'cuont'",
            "read, split, count",
        ]);
        let out = support::run("wordcount", &[mapping, "--blocking", "splt"]);
        out.assert_code(2).assert_stderr_contains(&["--blocking splt", "no PE 'splt'"]);
    }
    for bad in ["count", "count=0", "=3", "count=x"] {
        let out = support::run("wordcount", &["simple", "--numprocesses", bad]);
        out.assert_code(2).assert_stderr_contains(&["--numprocesses"]);
    }
}

fn words_input() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    let lines: Vec<String> = (0..400).map(|i| format!("alpha beta w{} gamma w{}", i % 37, i % 11)).collect();
    std::fs::write(&text, lines.join("\n")).unwrap();
    let data = format!(r#"{{"read": [{{"path": "{}"}}]}}"#, text.display());
    (dir, data)
}

/// The tuned count under `mapping` (plus its arguments): the same words as `simple`, and
/// the report lists `count` instances as asked.
fn tuned_run(mapping: &[&str], counts: usize) {
    let (_dir, data) = words_input();
    let want = support::multiset(support::run_collect("wordcount", &["simple", "-d", &data]));
    let mut args: Vec<&str> = mapping.to_vec();
    args.extend(["--numprocesses", "count=3", "--blocking", "split", "-d", &data]);
    let (got, report) = support::run_collect_report("wordcount", &args);
    support::assert_multiset_eq(&support::multiset(got), &want, &mapping.join(" "));
    let n = report["instances"].as_array().unwrap().iter().filter(|i| i["pe"] == "count").count();
    assert_eq!(n, counts, "{}: count instances in {report}", mapping.join(" "));
}

#[test]
fn tuning_holds_under_every_mapping() {
    tuned_run(&["simple"], 3);
    tuned_run(&["multi", "-n", "4"], 3);
    #[cfg(feature = "zmq")]
    tuned_run(&["zmq_multi", "-n", "4"], 3);
    #[cfg(feature = "redis")]
    tuned_run(&["hybrid_redis", "-n", "2"], 3);
}

#[cfg(feature = "mpi")]
#[test]
fn tuning_holds_under_mpi_on_every_rank() {
    let (dir, data) = words_input();
    let want = support::multiset(support::run_collect("wordcount", &["simple", "-d", &data]));
    let got = support::mpirun_collect(
        4,
        "wordcount",
        &["mpi", "--numprocesses", "count=3", "-d", &data].map(String::from),
    );
    support::assert_multiset_eq(&support::multiset(got), &want, "mpi -n 4 --numprocesses count=3");
    // An unknown PE: every rank says so, and the job ends with status 2.
    let mut cmd = support::mpirun(2).expect("mpirun (scripts/setup.sh installs it)");
    cmd.arg(support::example("wordcount")).args(["mpi", "--blocking", "nope", "-i", "1"]);
    support::run_command(cmd, Duration::from_secs(60))
        .assert_code(2)
        .assert_stderr_contains(&["no PE 'nope'"]);
    drop(dir);
}

#[test]
fn the_plan_warns_when_blocking_pes_must_share_a_slot() {
    let args =
        ["multi", "-n", "2", "--blocking", "cons1", "--blocking", "cons2", "--blocking", "cons3", "--plan"];
    let out = support::run("pipeline_test", &args);
    out.assert_success();
    assert!(
        out.stdout.contains("warning: plan: slot 0 hosts the blocking PE instances cons1[0], cons2[0]"),
        "{}",
        out.stdout
    );
    // Enough slots: no warning.
    let roomy = support::run(
        "pipeline_test",
        &["multi", "-n", "6", "--blocking", "cons1", "--blocking", "cons2", "--plan"],
    );
    assert!(!roomy.stdout.contains("warning"), "{}", roomy.stdout);
}

#[test]
fn the_report_names_a_pe_that_starved_the_slot_it_shared() {
    // multi -n 2: source on slot 0, stage and sink share slot 1; stage sleeps 5 ms a unit.
    let input = r#"{"source": [{"n": 100, "do": "sleep:5"}]}"#;
    let report = support::run_report("faults", &["multi", "-n", "2", "-d", input]);
    let suggestions = report["suggestions"].as_array().map(Vec::as_slice).unwrap_or_default();
    assert_eq!(suggestions.len(), 1, "{report}");
    let s = suggestions[0].as_str().unwrap();
    assert!(
        s.starts_with("stage[0] was busy") && s.contains("on slot 1") && s.contains("--blocking stage"),
        "{s}"
    );
    // Given its own thread, it starves nobody.
    let report = support::run_report("faults", &["multi", "-n", "2", "--blocking", "stage", "-d", input]);
    assert!(report.get("suggestions").is_none(), "{report}");
}
