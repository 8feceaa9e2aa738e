//! Issue 13, finding 3 (and the last item of 7): `-o FILE` or `--dead-letters FILE` naming
//! the input file destroyed it before it was read (the run exited 0 with "Wrote 0 collected
//! data unit(s)"); a run that failed truncated the previous outputs; a failed `-o` write
//! after a complete run exited 2 ("bad input"). Outputs are now written beside their target
//! and put in place when the run ends.

mod support;

use std::path::Path;

fn read_input(path: &Path) -> String {
    format!(r#"{{"read": [{{"path": {:?}}}]}}"#, path.display().to_string())
}

/// A copy of the sample text, and what `wordcount` counts in it.
fn sample_copy(dir: &Path, name: &str) -> (std::path::PathBuf, Vec<support::Record>) {
    let path = dir.join(name);
    std::fs::copy(support::fixture("examples/data/sample.txt"), &path).unwrap();
    let expected = support::run_collect("wordcount", &["simple", "-d", &read_input(&path)]);
    assert!(expected.len() > 10);
    (path, expected)
}

#[test]
fn an_output_file_that_is_also_the_input_is_read_whole_then_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = sample_copy(dir.path(), "text.txt");
    let path = text.display().to_string();
    support::run("wordcount", &["simple", "-q", "-d", &read_input(&text), "-o", &path]).assert_success();
    assert_eq!(support::read_jsonl(&text), expected, "-o now holds the counts of the whole input");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
}

#[test]
fn a_dead_letter_file_that_is_also_the_input_does_not_truncate_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = sample_copy(dir.path(), "text.txt");
    let path = text.display().to_string();
    let got = support::run_collect(
        "wordcount",
        &["multi", "-n", "2", "-d", &read_input(&text), "--dead-letters", &path],
    );
    assert_eq!(got, expected, "the whole input was read");
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "", "then replaced by the (empty) dead letters");
}

#[cfg(feature = "zmq")]
#[test]
fn an_aborted_run_leaves_the_previous_outputs_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (out, dead) = (dir.path().join("out.jsonl"), dir.path().join("dead.jsonl"));
    std::fs::write(&out, "previous outputs\n").unwrap();
    std::fs::write(&dead, "previous dead letters\n").unwrap();
    // Nobody joins: the run aborts.
    let mut cmd = std::process::Command::new(support::example("pipeline"));
    cmd.args(["zmq_multi", "-n", "2", "--spawn", "0", "--join-timeout-s", "1", "-i", "3", "-o"])
        .arg(&out)
        .arg("--dead-letters")
        .arg(&dead)
        .env("DISPEL4RS_SECRET", "cd".repeat(32));
    let run = support::run_command(cmd, support::DEFAULT_TIMEOUT);
    run.assert_code(1);
    assert!(run.stderr.contains("workers joined"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous outputs\n");
    assert_eq!(std::fs::read_to_string(&dead).unwrap(), "previous dead letters\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file is left");
}

#[test]
fn a_failed_output_write_after_the_run_exits_1_not_2() {
    let out = support::run("pipeline", &["simple", "-i", "3", "-o", "/dev/full"]);
    out.assert_code(1);
    assert!(out.stderr.contains("cannot write"), "{}", out.stderr);
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.json").display().to_string();
    let out = support::run("pipeline", &["simple", "-i", "3", "-o", &f, "--report", &f]);
    out.assert_code(2);
    assert!(out.stderr.contains("-o and --report both name"), "{}", out.stderr);
}
