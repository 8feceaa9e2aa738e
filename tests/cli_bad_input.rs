//! Bad input on the command line gets a clear message naming the option, PE or port at
//! fault and exit status 2 (3 for a mapping this build lacks, 1 for a run that failed) —
//! never a panic. Also: `--help` lists every mapping; `--graph` and `--plan` work.

mod support;

use dispel4rs::cli::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNAVAILABLE};
use dispel4rs::Mapping;
use std::ffi::OsStr;
use support::run;

/// Runs `pipeline` with `args`; requires exit status 2 and every one of `needles` in stderr.
fn bad_pipeline(args: &[&str], needles: &[&str]) {
    run("pipeline", args).assert_code(EXIT_BAD_INPUT).assert_stderr_contains(needles);
}

#[test]
fn malformed_data_json() {
    bad_pipeline(&["simple", "-d", r#"{"source": "#], &["-d is not valid JSON"]);
    bad_pipeline(&["simple", "-d", ""], &["-d is not valid JSON"]);
}

#[test]
fn data_that_is_not_an_object() {
    bad_pipeline(&["simple", "-d", "[1, 2]"], &["-d must be a JSON object", "found list"]);
    bad_pipeline(&["simple", "-d", "7"], &["-d must be a JSON object", "found int"]);
}

#[test]
fn data_key_naming_no_pe() {
    bad_pipeline(&["simple", "-d", r#"{"sorce": 3}"#], &["-d names 'sorce'", "no PE", "roots: source"]);
}

#[test]
fn data_key_naming_a_pe_that_is_not_a_root() {
    bad_pipeline(&["simple", "-d", r#"{"double": 3}"#], &["'double'", "not a root PE", "roots: source"]);
}

#[test]
fn data_values_of_the_wrong_shape() {
    for (value, found) in [
        (r#""ten""#, "str"),
        ("2.5", "float"),
        ("-3", "negative number -3"),
        ("true", "bool"),
        (r#"{"n": 3}"#, "map"),
    ] {
        bad_pipeline(
            &["simple", "-d", &format!(r#"{{"source": {value}}}"#)],
            &["-d", "the value for 'source' must be a number of calls or a list of objects", found],
        );
    }
    bad_pipeline(
        &["simple", "-d", r#"{"source": [{"n": 1}, 5]}"#],
        &["element 1 of the list for 'source' must be an object", "found int 5"],
    );
}

#[test]
fn missing_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-input.json");
    let out = run("pipeline", &[OsStr::new("simple"), OsStr::new("-f"), missing.as_os_str()]);
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["cannot read -f", "no-such-input.json"]);
}

#[test]
fn invalid_json_in_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, "{\"source\": [{\"n\": 3}\n").unwrap();
    let out = run("pipeline", &[OsStr::new("simple"), OsStr::new("-f"), file.as_os_str()]);
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["-f", "broken.json", "is not valid JSON"]);
    // -f wins over -d: a good -d does not hide a bad -f.
    let out = run(
        "pipeline",
        &[
            OsStr::new("simple"),
            OsStr::new("-d"),
            OsStr::new(r#"{"source": 1}"#),
            OsStr::new("-f"),
            file.as_os_str(),
        ],
    );
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["broken.json"]);
}

#[test]
fn unknown_mapping() {
    let out = run("pipeline", &["nosuchmapping", "-i", "1"]);
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["nosuchmapping", "simple"]);
}

#[test]
fn mapping_not_built_in_this_build() {
    let Some(missing) = Mapping::ALL.into_iter().find(|m| m.availability().is_err()) else {
        eprintln!("every mapping is available in this build: nothing to check");
        return;
    };
    let out = run("pipeline", &[missing.name(), "-i", "1"]);
    out.assert_code(EXIT_UNAVAILABLE).assert_stderr_contains(&[missing.name(), "not built", "simple"]);
}

#[test]
fn zero_processes() {
    bad_pipeline(&["simple", "-n", "0", "-i", "1"], &["-n 0"]);
    bad_pipeline(&["simple", "-n", "0", "--plan"], &["-n 0"]);
}

#[test]
fn non_numeric_options() {
    bad_pipeline(&["simple", "-n", "many"], &["many", "-n"]);
    bad_pipeline(&["simple", "-i", "-5"], &["-5"]);
}

#[test]
fn root_failing_on_its_input_dead_letters_and_fails_the_run() {
    // `read` called with no path: its error is dead-lettered; the run fails with status 1.
    let out = run("wordcount", &["simple", "-d", r#"{"read": 1}"#]);
    out.assert_code(EXIT_FAILED).assert_stderr_contains(&["read expects", "dead letter"]);
    // ... unless the user accepts dead letters.
    run("wordcount", &["simple", "-d", r#"{"read": 1}"#, "--allow-dead-letters"]).assert_success();
    // A file that does not exist: the error names it.
    let out = run("wordcount", &["simple", "-d", r#"{"read": [{"path": "/no/such/file.txt"}]}"#]);
    out.assert_code(EXIT_FAILED).assert_stderr_contains(&["cannot open /no/such/file.txt"]);
}

#[test]
fn unwritable_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("out.jsonl");
    let out = run("pipeline", &[OsStr::new("simple"), OsStr::new("-o"), path.as_os_str()]);
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["cannot create output file", "out.jsonl"]);
}

#[test]
fn help_lists_every_mapping() {
    let out = run("pipeline", &["--help"]);
    out.assert_success();
    for m in Mapping::ALL {
        assert!(out.stdout.contains(m.name()), "--help does not list {m}:\n{}", out.stdout);
    }
    // No mapping at all: a usage error, not a panic.
    let out = run::<&str>("pipeline", &[]);
    out.assert_code(EXIT_BAD_INPUT).assert_stderr_contains(&["Usage"]);
}

#[test]
fn graph_pictures() {
    let out = run("pipeline", &["simple", "--graph", "dot"]);
    out.assert_success();
    assert!(out.stdout.starts_with("digraph \"pipeline\" {"), "{}", out.stdout);
    for edge in [
        r#""source" -> "add_one""#,
        r#""add_one" -> "double""#,
        r#""double" -> "halve_minus_one""#,
        r#""halve_minus_one" -> "sink""#,
    ] {
        assert!(out.stdout.contains(edge), "no {edge} in:\n{}", out.stdout);
    }
    let out = run("pipeline", &["simple", "--graph", "mermaid"]);
    out.assert_success();
    assert!(out.stdout.starts_with("flowchart LR\n"), "{}", out.stdout);
    assert!(out.stdout.contains(r#"n0["source"]"#) && out.stdout.contains("n3 -->"), "{}", out.stdout);
    // A composite is drawn as a cluster.
    let out = run("pipeline_composite", &["simple", "--graph", "dot"]);
    out.assert_success();
    assert!(out.stdout.contains("subgraph \"cluster_chain\""), "{}", out.stdout);
    bad_pipeline(&["simple", "--graph", "png"], &["png"]);
}

#[test]
fn plan_is_printed() {
    let out = run("pipeline", &["simple", "-n", "9", "--plan"]);
    out.assert_success();
    assert!(out.stdout.starts_with("plan for 'pipeline' on 9 slot(s):"), "{}", out.stdout);
    assert!(out.stdout.contains("source.output -> add_one.input [shuffle]"), "{}", out.stdout);
    assert!(out.stdout.contains("sink.output -> (collected as sink.output)"), "{}", out.stdout);
    let counts = support::plan_counts("pipeline", &["simple", "-n", "9"]);
    assert_eq!(counts.values().sum::<usize>(), 9, "{counts:?}");
    assert_eq!(counts["source"], 1);
}
