//! The reference examples (and `pipeline`, `wordcount`) under the `simple` mapping, run as a
//! user runs them, with their collected outputs (`-o FILE`) checked exactly against
//! expectations computed here, independently of the example code.

// Every example file includes `common/testing_pes.rs`, and so does this file: including
// several examples loads it several times, on purpose (each is a private copy).
#![allow(clippy::duplicate_mod)]

mod support;

#[path = "../examples/common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::rng::SplitMix64;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use support::{assert_multiset_eq, multiset, plan_counts, record, run_collect, run_report, Record};

/// `-i` values every reference graph is run with.
const ITERATIONS: [u64; 3] = [1, 7, 60];
/// `-n` values every reference graph is run with.
const PROCESSES: [usize; 2] = [1, 3];

/// `pe.port` collecting each of `values`.
fn records(pe: &str, port: &str, values: impl IntoIterator<Item = Json>) -> Vec<Record> {
    values.into_iter().map(|v| record(pe, port, v)).collect()
}

/// `pe.port` collecting 1, 2, ..., n.
fn one_to(pe: &str, port: &str, n: u64) -> Vec<Record> {
    records(pe, port, (1..=n).map(|i| json!(i)))
}

/// Runs `example` under `simple` for every `-i` and `-n` of the matrix and checks its
/// collected outputs against `expected(i)`.
fn check_matrix(example: &str, expected: impl Fn(u64) -> Vec<Record>) {
    for n in PROCESSES {
        for i in ITERATIONS {
            let args = ["simple".to_owned(), "-n".into(), n.to_string(), "-i".into(), i.to_string()];
            let got = run_collect(example, &args);
            assert_multiset_eq(&got, &multiset(expected(i)), &format!("{example} simple -n {n} -i {i}"));
        }
    }
}

fn sink_record(count: i64, sum: i64) -> Record {
    record("sink", "output", json!({"count": count, "sum": sum}))
}

#[test]
fn pipeline_data_gives_one_count_and_sum() {
    for n in [1, 3] {
        assert_eq!(plan_counts("pipeline", &["simple", "-n", &n.to_string()])["sink"], 1);
        for items in [0i64, 1, 1000, 12_345] {
            let data = format!(r#"{{"source": [{{"n": {items}}}]}}"#);
            let got = run_collect("pipeline", &["simple", "-n", &n.to_string(), "-d", &data]);
            assert_multiset_eq(
                &got,
                &[sink_record(items, items * (items + 1) / 2)],
                &format!("pipeline -n {n} -d {data}"),
            );
        }
    }
}

#[test]
fn pipeline_iterations_and_data_file() {
    for i in [1i64, 5, 300] {
        let got = run_collect("pipeline", &["simple", "-i", &i.to_string()]);
        assert_multiset_eq(&got, &[sink_record(i, i * (i + 1) / 2)], &format!("pipeline -i {i}"));
    }
    // Two calls from a -f file: 1..=10 and 1..=20.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    std::fs::write(&file, r#"{"source": [{"n": 10}, {"n": 20}]}"#).unwrap();
    let got = run_collect("pipeline", &[OsStr::new("simple"), OsStr::new("-f"), file.as_os_str()]);
    assert_multiset_eq(&got, &[sink_record(30, 55 + 210)], "pipeline -f");
}

/// End of stream: `postprocess` runs exactly once per instance, even with several instances
/// of the sink, and its writes still reach the collected outputs.
#[test]
fn pipeline_postprocess_runs_once_per_sink_instance() {
    let items: i64 = 1000;
    let data = format!(r#"{{"source": [{{"n": {items}}}]}}"#);
    let mut seen_several = false;
    for n in [9, 13] {
        let sinks = plan_counts("pipeline", &["simple", "-n", &n.to_string()])["sink"];
        seen_several |= sinks > 1;
        let got = run_collect("pipeline", &["simple", "-n", &n.to_string(), "-d", &data]);
        assert_eq!(got.len(), sinks, "-n {n}: one record per sink instance expected: {got:?}");
        let (mut count, mut sum) = (0, 0);
        for (pe, port, text) in &got {
            assert_eq!((pe.as_str(), port.as_str()), ("sink", "output"));
            let v: Json = serde_json::from_str(text).unwrap();
            let c = v["count"].as_i64().unwrap();
            assert!(c > 0, "-n {n}: a sink instance received nothing: {got:?}");
            count += c;
            sum += v["sum"].as_i64().unwrap();
        }
        assert_eq!((count, sum), (items, items * (items + 1) / 2), "-n {n}");
        let report = run_report("pipeline", &["simple", "-n", &n.to_string(), "-d", &data]);
        let sink_out: Vec<i64> = report["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["pe"] == "sink")
            .map(|i| i["units_out"].as_i64().unwrap())
            .collect();
        assert_eq!(sink_out, vec![1; sinks], "-n {n}: each sink instance writes once");
    }
    assert!(seen_several, "the plan never gave the sink several instances; raise -n");
}

/// Word counts of a text computed the plain way: split on white space, lowercase.
fn word_counts(texts: &[&str]) -> Vec<Record> {
    let mut counts: HashMap<String, i64> = HashMap::new();
    for text in texts {
        for word in text.split_whitespace() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
    }
    counts.into_iter().map(|(w, c)| record("count", "output", json!([w, c]))).collect()
}

#[test]
fn wordcount_counts_the_sample_text() {
    let path = support::fixture("examples/data/sample.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let path = path.to_str().unwrap().replace('\\', "\\\\");
    let once = multiset(word_counts(&[&text]));
    assert!(once.len() > 100, "the fixture should have a real vocabulary");
    for n in [1, 3, 5] {
        let data = format!(r#"{{"read": [{{"path": "{path}"}}]}}"#);
        let got = run_collect("wordcount", &["simple", "-n", &n.to_string(), "-d", &data]);
        assert_multiset_eq(&got, &once, &format!("wordcount -n {n}"));
    }
    // The same file twice: every count doubles.
    let data = format!(r#"{{"read": [{{"path": "{path}"}}, {{"path": "{path}"}}]}}"#);
    let got = run_collect("wordcount", &["simple", "-n", "4", "-d", &data]);
    assert_multiset_eq(&got, &multiset(word_counts(&[&text, &text])), "wordcount twice");
}

#[test]
fn pipeline_test_passes_every_unit_through_five_stages() {
    check_matrix("pipeline_test", |i| one_to("cons5", "output", i));
}

#[test]
fn split_merge_gives_every_string_twice() {
    check_matrix("split_merge", |i| {
        records("merge", "output", (1..=i).flat_map(|k| [json!(k.to_string()), json!(k.to_string())]))
    });
}

#[test]
fn teecopy_copies_to_both_branches() {
    check_matrix("teecopy", |i| [one_to("cons1", "output", i), one_to("cons2", "output", i)].concat());
}

#[test]
fn producer_tee_collects_both_ends() {
    check_matrix("producer_tee", |i| [one_to("cons1b", "output", i), one_to("cons2", "output", i)].concat());
}

#[test]
fn unconnected_pipeline_runs_both_pipelines() {
    check_matrix("unconnected_pipeline", |i| {
        [one_to("cons_a5", "output", i), one_to("cons_b5", "output", i)].concat()
    });
    // -d calls each root its own number of times; a root left out is not called.
    let got = run_collect("unconnected_pipeline", &["simple", "-d", r#"{"prod_a": 3, "prod_b": 5}"#]);
    let want = [one_to("cons_a5", "output", 3), one_to("cons_b5", "output", 5)].concat();
    assert_multiset_eq(&got, &multiset(want), "unconnected_pipeline -d");
    let got = run_collect("unconnected_pipeline", &["simple", "-d", r#"{"prod_b": 2}"#]);
    assert_multiset_eq(&got, &one_to("cons_b5", "output", 2), "unconnected_pipeline -d prod_b only");
}

#[test]
fn parallel_pipeline_forks_after_the_first_stage() {
    check_matrix("parallel_pipeline", |i| {
        [one_to("cons2", "output", i), one_to("cons3", "output", i)].concat()
    });
}

#[test]
fn pipeline_composite_gives_floats_2i_plus_3() {
    check_matrix("pipeline_composite", |i| {
        records("chain", "output", (1..=i).map(|k| json!(2.0 * k as f64 + 3.0)))
    });
    // Floats, not integers: the first value is written 5.0.
    let got = run_collect("pipeline_composite", &["simple", "-i", "1"]);
    assert_eq!(got, vec![("chain".to_owned(), "output".to_owned(), "5.0".to_owned())]);
}

/// `units_in` of every instance of `pe` in a run report, by instance index.
fn units_in(report: &Json, pe: &str) -> Vec<i64> {
    let mut v: Vec<(i64, i64)> = report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["pe"] == pe)
        .map(|i| (i["index"].as_i64().unwrap(), i["units_in"].as_i64().unwrap()))
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, n)| n).collect()
}

#[test]
fn grouping_onetoall_gives_every_unit_to_both_instances() {
    check_matrix("grouping_onetoall", |i| {
        [one_to("cons", "output", i), one_to("cons", "output", i)].concat()
    });
    for n in PROCESSES {
        assert_eq!(plan_counts("grouping_onetoall", &["simple", "-n", &n.to_string()])["cons"], 2);
    }
    let report = run_report("grouping_onetoall", &["simple", "-i", "9"]);
    assert_eq!(units_in(&report, "cons"), [9, 9]);
}

#[test]
fn grouping_alltoone_sends_everything_to_instance_zero() {
    check_matrix("grouping_alltoone", |i| one_to("cons2", "output", i));
    let plan = plan_counts("grouping_alltoone", &["simple", "-n", "2"]);
    assert_eq!((plan["prod"], plan["cons1"], plan["cons2"]), (1, 5, 5));
    let report = run_report("grouping_alltoone", &["simple", "-i", "23"]);
    assert_eq!(units_in(&report, "cons2"), [23, 0, 0, 0, 0]);
    let cons1 = units_in(&report, "cons1");
    assert_eq!(cons1.len(), 5);
    assert_eq!(cons1.iter().sum::<i64>(), 23);
    assert!(cons1.iter().all(|n| *n > 0), "shuffle deals to every instance of cons1: {cons1:?}");
}

#[test]
fn word_count_running_counts_have_no_gap_and_no_repeat() {
    for n in PROCESSES {
        for i in [1u64, 10, 500] {
            let got = run_collect("word_count", &["simple", "-n", &n.to_string(), "-i", &i.to_string()]);
            // Structure: per word, the counts are exactly 1..=k; the k's sum to i.
            let mut per_word: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for (pe, port, text) in &got {
                assert_eq!((pe.as_str(), port.as_str()), ("count", "output"));
                let v: Json = serde_json::from_str(text).unwrap();
                let pair = v.as_array().unwrap();
                assert_eq!(pair.len(), 2, "{text}");
                per_word
                    .entry(pair[0].as_str().unwrap().to_owned())
                    .or_default()
                    .push(pair[1].as_i64().unwrap());
            }
            let mut total = 0;
            for (word, mut counts) in per_word {
                assert!(testing_pes::WORDS.contains(&word.as_str()), "unknown word {word}");
                counts.sort_unstable();
                let k = counts.len() as i64;
                assert_eq!(counts, (1..=k).collect::<Vec<_>>(), "-n {n} -i {i}: counts of {word}");
                total += k;
            }
            assert_eq!(total, i as i64, "-n {n} -i {i}");
            // Exactly: the words the seeded generator draws, counted here.
            let mut rng = SplitMix64::new(testing_pes::WORD_SEED);
            let mut seen: HashMap<&str, i64> = HashMap::new();
            let mut want = Vec::new();
            for _ in 0..i {
                let word = testing_pes::WORDS[rng.below(7) as usize];
                let c = seen.entry(word).or_default();
                *c += 1;
                want.push(record("count", "output", json!([word, *c])));
            }
            assert_multiset_eq(&got, &multiset(want), &format!("word_count -n {n} -i {i}"));
        }
    }
    assert_eq!(plan_counts("word_count", &["simple", "-n", "1"])["count"], 3);
}

#[test]
fn aggregates_reduce_the_partials() {
    // Population standard deviation of 0..=999, two-pass.
    let xs: Vec<f64> = (0..1000).map(f64::from).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
    assert!((std - ((1000.0f64 * 1000.0 - 1.0) / 12.0).sqrt()).abs() < 1e-9);
    for n in [1usize, 3, 8] {
        for i in [1i64, 3] {
            let mut got = run_collect("aggregates", &["simple", "-n", &n.to_string(), "-i", &i.to_string()]);
            let at = got.iter().position(|r| r.0 == "reduce" && r.1 == "stddev");
            let (_, _, stddev) = got.remove(at.unwrap_or_else(|| panic!("no reduce.stddev in {got:?}")));
            let stddev: f64 = stddev.parse().unwrap();
            assert!((stddev - std).abs() < 1e-9 * std, "-n {n} -i {i}: stddev {stddev}, expected {std}");
            let want = vec![
                record("reduce", "sum", json!(499_500 * i)),
                record("reduce", "count", json!(1000 * i)),
                record("reduce", "min", json!(0)),
                record("reduce", "max", json!(999)),
                record("reduce", "mean", json!(499.5)),
            ];
            assert_multiset_eq(&got, &multiset(want), &format!("aggregates -n {n} -i {i}"));
        }
    }
    let plan = plan_counts("aggregates", &["simple", "-n", "8"]);
    assert_eq!(plan["partial"], 3);
    assert!(plan["reduce"] > 1, "with -n 8 the reducer has several instances: {plan:?}");
}

// The example files, included as modules the way the benchmarks include them.
#[allow(dead_code)]
#[path = "../examples/aggregates.rs"]
mod ex_aggregates;
#[allow(dead_code)]
#[path = "../examples/grouping_alltoone.rs"]
mod ex_grouping_alltoone;
#[allow(dead_code)]
#[path = "../examples/grouping_onetoall.rs"]
mod ex_grouping_onetoall;
#[allow(dead_code)]
#[path = "../examples/parallel_pipeline.rs"]
mod ex_parallel_pipeline;
#[allow(dead_code)]
#[path = "../examples/pipeline_composite.rs"]
mod ex_pipeline_composite;
#[allow(dead_code)]
#[path = "../examples/pipeline_test.rs"]
mod ex_pipeline_test;
#[allow(dead_code)]
#[path = "../examples/producer_tee.rs"]
mod ex_producer_tee;
#[allow(dead_code)]
#[path = "../examples/split_merge.rs"]
mod ex_split_merge;
#[allow(dead_code)]
#[path = "../examples/teecopy.rs"]
mod ex_teecopy;
#[allow(dead_code)]
#[path = "../examples/unconnected_pipeline.rs"]
mod ex_unconnected_pipeline;
#[allow(dead_code)]
#[path = "../examples/word_count.rs"]
mod ex_word_count;

#[test]
fn example_graphs_have_the_reference_pe_names() {
    let names =
        |g: dispel4rs::WorkflowGraph| g.pes().map(|p| p.name.to_owned()).collect::<Vec<_>>().join(" ");
    let cases = [
        (ex_pipeline_test::graph(), "prod cons1 cons2 cons3 cons4 cons5"),
        (ex_split_merge::graph(), "prod cons1 cons2 merge"),
        (ex_teecopy::graph(), "prod cons1 cons2"),
        (ex_producer_tee::graph(), "prod cons1a cons1b cons2"),
        (
            ex_unconnected_pipeline::graph(),
            "prod_a cons_a1 cons_a2 cons_a3 cons_a4 cons_a5 prod_b cons_b1 cons_b2 cons_b3 cons_b4 cons_b5",
        ),
        (ex_parallel_pipeline::graph(), "prod cons1 cons2 cons3"),
        (ex_pipeline_composite::graph(), "prod chain/add2 chain/times4 chain/div2 chain/minus1"),
        (ex_grouping_onetoall::graph(), "prod cons"),
        (ex_grouping_alltoone::graph(), "prod cons1 cons2"),
        (ex_word_count::graph(), "prod count"),
        (ex_aggregates::graph(), "numbers partial reduce"),
    ];
    for (graph, want) in cases {
        let graph = graph.unwrap();
        graph.validate().unwrap();
        assert_eq!(names(graph), want);
    }
}
