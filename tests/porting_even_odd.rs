//! The `even_odd` example — a port of dispel4py's `others/even_odd_workflow.py` — against the
//! output of the original on the same input.
//!
//! # How the fixture was made
//!
//! The input, `examples/data/even_odd_numbers.json`, holds 40 numbers drawn the way the original
//! draws them (`random.randint(1, 1000)`), seeded so they can be drawn again (25 odd, 15 even):
//!
//! ```text
//! python3 -c 'import random; random.seed(4); print([random.randint(1, 1000) for _ in range(40)])'
//! ```
//!
//! written as `{"NumberProducer0": [{"number": 242}, {"number": 311}, ...]}` (one object per
//! producer call, the shape of `-f`).
//!
//! The original ran under dispel4py's `simple` mapping, with dispel4py from PyPI and the workflow
//! file as it is in the d4py_workflows repository:
//!
//! * Python 3.11.7 on Debian 12; `python3 -m venv /tmp/d4py && /tmp/d4py/bin/pip install
//!   stream-d4py` installed stream-d4py 2.9.1 (with numpy 2.4.6, networkx 3.6.1);
//! * `others/even_odd_workflow.py` of StreamingFlow/d4py_workflows at commit
//!   90e1fe7ceaa73d9c137bebe405dbdd6909c8a583 (blob 5c616b07), copied unmodified to
//!   `/tmp/eo/even_odd_workflow.py`;
//! * from the repository root:
//!
//! ```text
//! /tmp/d4py/bin/python tests/fixtures/even_odd/record_original.py \
//!     /tmp/eo/even_odd_workflow.py examples/data/even_odd_numbers.json tests/fixtures/even_odd
//! ```
//!
//! `record_original.py` runs `dispel4py simple /tmp/eo/even_odd_workflow.py -f
//! examples/data/even_odd_numbers.json` in its own process, with `random.randint` replaced by a
//! function returning the numbers of the input file in order (the only change: the producer
//! then draws the recorded numbers). It wrote `original_stdout.txt` (all the run printed: the
//! `Pair: odd - even` lines, `PairProducer3: We are left behind: ...`, `Outputs: {...}`) and
//! `original_outputs.jsonl` (the `Outputs:` dictionary as `{"pe", "port", "data"}` lines, tuples
//! as lists — the format of `-o FILE`).
//!
//! The tests compare multisets (order may differ), so they fail if the port pairs, names or
//! counts differently from the original.

mod support;

use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use support::{
    assert_multiset_eq, fixture, multiset, plan_counts, read_jsonl, record, run, run_collect, Record,
};

const EXAMPLE: &str = "even_odd";

fn input() -> PathBuf {
    fixture("examples/data/even_odd_numbers.json")
}

fn input_arg() -> String {
    input().display().to_string()
}

/// The original's collected outputs, as a multiset.
fn original_outputs() -> Vec<Record> {
    read_jsonl(&fixture("tests/fixtures/even_odd/original_outputs.jsonl"))
}

/// Everything the original printed.
fn original_stdout() -> String {
    let path = fixture("tests/fixtures/even_odd/original_stdout.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The `Pair: odd - even` lines of some output, sorted (a multiset).
fn pair_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> =
        text.lines().filter(|l| l.starts_with("Pair: ")).map(|l| l.trim_end().to_owned()).collect();
    lines.sort();
    lines
}

/// The left-over numbers of a log, `odd: [...], even: [...]`, from the line saying "We are
/// left behind: ".
fn left_behind(text: &str) -> Vec<String> {
    const MARK: &str = "We are left behind: ";
    text.lines().filter_map(|l| l.find(MARK).map(|at| l[at + MARK.len()..].trim_end().to_owned())).collect()
}

#[test]
fn the_fixture_is_the_originals_pairing_of_the_input() {
    // Independent of both programs: the original pairs the i-th odd with the i-th even number.
    let text = std::fs::read_to_string(input()).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    let numbers: Vec<i64> = json["NumberProducer0"]
        .as_array()
        .expect("a list of calls")
        .iter()
        .map(|call| call["number"].as_i64().expect("a number per call"))
        .collect();
    assert_eq!(numbers.len(), 40);
    let odd: Vec<i64> = numbers.iter().copied().filter(|n| n % 2 == 1).collect();
    let even: Vec<i64> = numbers.iter().copied().filter(|n| n % 2 == 0).collect();
    let pairs: Vec<Record> =
        odd.iter().zip(&even).map(|(o, e)| record("PairProducer3", "output", json!([o, e]))).collect();
    assert_multiset_eq(&original_outputs(), &multiset(pairs), "the recorded output of the original");
    let unpaired = format!("odd: {:?}, even: []", &odd[even.len()..]);
    assert_eq!(left_behind(&original_stdout()), [unpaired]);
}

#[test]
fn simple_gives_the_originals_pairs_on_the_same_input() {
    let got = run_collect(EXAMPLE, &["simple", "-f", &input_arg()]);
    assert_multiset_eq(
        &got,
        &original_outputs(),
        "even_odd simple -f even_odd_numbers.json vs dispel4py simple",
    );
}

#[test]
fn simple_prints_the_originals_pair_lines_and_logs_the_same_left_overs() {
    let out = run(EXAMPLE, &["simple", "-f", &input_arg()]);
    out.assert_success();
    let original = original_stdout();
    let want = pair_lines(&original);
    assert_eq!(want.len(), 15, "the original printed 15 pairs");
    assert_eq!(pair_lines(&out.stdout), want, "Pair: lines of the port vs the original");
    // dispel4py's self.log printed "PairProducer3: We are left behind: ..."; the port logs it
    // with out.log, naming PairProducer3's instance, at the default verbosity.
    let logged = left_behind(&out.stderr);
    assert_eq!(logged, left_behind(&original), "left-over numbers:\n{}", out.stderr);
    let line = out.stderr.lines().find(|l| l.contains("We are left behind")).unwrap_or_default();
    assert!(line.contains("PairProducer3"), "the log line names the PE: {line}");
}

#[test]
fn other_mappings_and_process_counts_give_the_same_pairs() {
    // PairProducer and the filters run as one instance each, so the pairs do not depend on the
    // mapping or on -n (the original's multi mapping would pair differently).
    for (mapping, n) in [("simple", 4), ("multi", 1), ("multi", 4), ("multi", 8)] {
        let got = run_collect(EXAMPLE, &[mapping, "-n", &n.to_string(), "-f", &input_arg()]);
        assert_multiset_eq(
            &got,
            &original_outputs(),
            &format!("even_odd {mapping} -n {n} vs dispel4py simple"),
        );
    }
}

#[test]
fn the_pes_have_dispel4pys_names_and_one_instance_each() {
    let counts = plan_counts(EXAMPLE, &["multi", "-n", "8"]);
    let want: BTreeMap<String, usize> = ["NumberProducer0", "Divideby21", "Divideby22", "PairProducer3"]
        .iter()
        .map(|name| (name.to_string(), 1))
        .collect();
    assert_eq!(counts, want);
}

#[test]
fn random_numbers_are_paired_one_odd_with_one_even() {
    // Without -d/-f the producer draws its numbers itself, like the original.
    let got = run_collect(EXAMPLE, &["simple", "-i", "200"]);
    assert!(got.len() >= 60, "200 random numbers gave only {} pairs", got.len());
    for (pe, port, data) in &got {
        assert_eq!((pe.as_str(), port.as_str()), ("PairProducer3", "output"));
        let pair: Vec<i64> = serde_json::from_str(data).unwrap();
        assert!(
            matches!(pair[..], [odd, even] if odd % 2 == 1 && even % 2 == 0 && (1..=1000).contains(&odd) && (1..=1000).contains(&even)),
            "not an (odd, even) pair of 1..=1000: {data}"
        );
    }
}
