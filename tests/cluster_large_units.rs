//! Issue 13, finding 2: batches were bounded by a count of units, not bytes. `wordcount`
//! on a file of 65 KB lines (72 MB) worked under `simple` and failed under `zmq_multi` and
//! `mpi` (a batch of 1024 lines is above the 64 MiB frame limit); a unit above the frame
//! limit failed with a message naming no PE; `-d`/`-f` inputs above 1 MiB stalled a
//! `zmq_multi` run until it failed with "no answer from the coordinator".

mod support;

use std::path::Path;

/// Four distinct 65,000-byte words, one per line, 1,100 lines (71.5 MB), and the counts
/// `wordcount` must find.
fn big_lines(dir: &Path) -> (std::path::PathBuf, Vec<support::Record>) {
    let words: Vec<String> = ["a", "b", "c", "d"].iter().map(|c| c.repeat(65_000)).collect();
    let mut text = String::with_capacity(1100 * 65_001);
    for i in 0..1100 {
        text.push_str(&words[i % 4]);
        text.push('\n');
    }
    let path = dir.join("big-lines.txt");
    std::fs::write(&path, text).unwrap();
    let expected =
        words.iter().map(|w| support::record("count", "output", serde_json::json!([w, 275]))).collect();
    (path, support::multiset(expected))
}

fn read(path: &Path) -> String {
    format!(r#"{{"read": [{{"path": {:?}}}]}}"#, path.display().to_string())
}

#[cfg(feature = "zmq")]
#[test]
fn lines_of_65_kb_pass_under_zmq_multi() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = big_lines(dir.path());
    let got = support::run_collect("wordcount", &["zmq_multi", "-n", "3", "-q", "-d", &read(&path)]);
    assert_eq!(got, expected);
}

#[cfg(feature = "mpi")]
#[test]
fn lines_of_65_kb_pass_under_mpi() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = big_lines(dir.path());
    let got = support::mpirun_collect(3, "wordcount", &["mpi".into(), "-q".into(), "-d".into(), read(&path)]);
    assert_eq!(got, expected);
}

/// A unit no frame can carry fails the unit (dead letter, exit status 1) with a message
/// naming the PE, the port and the unit's size; `simple`, which moves no frames, runs it.
#[cfg(feature = "zmq")]
#[test]
fn a_unit_above_the_frame_limit_fails_naming_the_pe_and_its_size() {
    let input = r#"{"source": [{"n": 1, "do": "big:70000000"}]}"#;
    let out = support::run("faults", &["zmq_multi", "-n", "3", "-d", input]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("PE 'stage' output 'output': a unit of 70000005 bytes is larger than one frame"),
        "{}",
        out.stderr
    );
    let simple = support::run_collect("faults", &["simple", "-d", input]);
    assert_eq!(simple, vec![support::record("sink", "output", serde_json::json!({"count": 1, "sum": 0}))]);
}

/// Inputs of any size reach every worker (the manifest travels in pieces).
#[cfg(feature = "zmq")]
#[test]
fn a_2_mib_input_file_reaches_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    let pad = "x".repeat(2 << 20);
    std::fs::write(&input, format!(r#"{{"source": [{{"n": 5, "pad": "{pad}"}}]}}"#)).unwrap();
    let input = input.display().to_string();
    let got =
        support::run_collect("pipeline", &["zmq_multi", "-n", "3", "--join-timeout-s", "20", "-f", &input]);
    assert_eq!(got, vec![support::record("sink", "output", serde_json::json!({"count": 5, "sum": 15}))]);
}
