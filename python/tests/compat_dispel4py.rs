//! Compatibility with the original: dispel4py's `graph_testing` graphs (the reference graphs,
//! as Python files in `tests/graphs`) run by the `dispel4rs` command under every built
//! mapping, compared with what the real dispel4py (stream-d4py 2.9.1 from PyPI, in the venv
//! of `scripts/python_venv.sh`) collects from the same file with the same `-i`.
//!
//! * The truth is dispel4py's `multi` mapping: our every mapping (`hybrid_redis` included, for
//!   every graph) gives its multiset exactly;
//!   so do dispel4py's `simple` and `mpi`, except where they are documented to differ.
//! * Where dispel4py is wrong, the test checks the documented difference, so it fails if
//!   either side changes: dispel4py's `simple` forces one instance per PE (a one_to_all
//!   destination with `numprocesses = 2` then gets each unit once); its dynamic mappings
//!   (`dyn_multi`, `dyn_auto_multi`, `dyn_redis`) follow only one connection per PE (lost
//!   branches), never call `postprocess`, copy roots per call or per worker (so a counter
//!   restarts) and ignore groupings — checked as the number of units each PE collects
//!   (docs/PYTHON.md has the table). Our dynamic mappings refuse the graphs with stateful PEs (grouped inputs),
//!   naming the PE.

mod support;

use support::*;

const N: u64 = 5;
const MAX_MPI_RANKS: usize = 6;

struct Case {
    graph: &'static str,
    /// The processes dispel4py's fixed mappings need: one per instance (fewer make it fall
    /// back to its partitioned `simple`). Its `mpi` runs when that is at most
    /// [`MAX_MPI_RANKS`] (each rank busy-polls a core).
    d4py_processes: usize,
    /// Has a grouped input: our dynamic mappings refuse it.
    stateful: bool,
    /// What dispel4py's dynamic mappings collect, PE by PE (at -i 5).
    d4py_dynamic: &'static [(&'static str, usize)],
    /// What dispel4py's simple mapping collects where it differs from multi.
    d4py_simple: Option<&'static [(&'static str, usize)]>,
    /// Run dispel4py's dyn_redis too (slow: idle time-outs).
    d4py_redis: bool,
}

fn check(case: Case) {
    let file = graph(case.graph);
    let n = N.to_string();
    let iters = ["-i", n.as_str()];

    // dispel4py's dynamic mappings wait for idle time-outs: run them while the rest runs.
    let (dynamic, truth) = std::thread::scope(|s| {
        let dynamic = s.spawn(|| {
            let mut out = vec![
                ("dyn_multi", dispel4py("dyn_multi", &file, N, 4, &[])),
                ("dyn_auto_multi", dispel4py("dyn_auto_multi", &file, N, 4, &[])),
            ];
            if case.d4py_redis {
                let redis = Redis::start();
                out.push((
                    "dyn_redis",
                    dispel4py("dyn_redis", &file, N, 4, &[("REDIS_PORT", redis.port.to_string())]),
                ));
            }
            out
        });
        let truth = dispel4py("multi", &file, N, case.d4py_processes, &[]);
        (dynamic.join().expect("the dispel4py dynamic runs"), truth)
    });
    assert!(!truth.is_empty(), "{}: dispel4py multi collected nothing", case.graph);

    // dispel4py's simple and mpi.
    let simple = dispel4py("simple", &file, N, 1, &[]);
    match case.d4py_simple {
        None => assert_same(&simple, &truth, &format!("{}: dispel4py simple vs dispel4py multi", case.graph)),
        Some(expected) => {
            assert_eq!(
                counts(&simple),
                table(expected),
                "{}: dispel4py simple (one instance per PE)",
                case.graph
            );
            assert!(
                is_submultiset(&simple, &truth),
                "{}: dispel4py simple collected units multi does not",
                case.graph
            );
        }
    }
    if case.d4py_processes <= MAX_MPI_RANKS {
        let mpi = dispel4py("mpi", &file, N, case.d4py_processes, &[]);
        assert_same(&mpi, &truth, &format!("{}: dispel4py mpi vs dispel4py multi", case.graph));
    }

    // dispel4py's dynamic mappings: the documented differences.
    for (mapping, records) in &dynamic {
        assert_eq!(
            counts(records),
            table(case.d4py_dynamic),
            "{}: what dispel4py {mapping} collects per PE (docs/PYTHON.md)",
            case.graph
        );
    }

    // Ours, under every mapping.
    // hybrid_redis runs every graph (stateful PEs pinned), so it joins the fixed mappings.
    let fixed: [&[&str]; 5] = [
        &["simple"],
        &["multi", "-n", "4"],
        &["zmq_multi", "-n", "3"],
        &["mpi", "-n", "3"],
        &["hybrid_redis", "-n", "3"],
    ];
    for mapping in fixed {
        let run = ours(mapping, &file, &iters);
        let context = format!("{}: dispel4rs {} vs dispel4py multi", case.graph, mapping.join(" "));
        run.assert_success(&context);
        assert_same(&run.records, &truth, &context);
    }
    let pooled: [&[&str]; 4] = [
        &["dyn_multi", "-n", "2"],
        &["dyn_auto_multi", "-n", "3"],
        &["dyn_redis", "-n", "2"],
        &["dyn_auto_redis", "-n", "2"],
    ];
    for mapping in pooled {
        let run = ours(mapping, &file, &iters);
        let context = format!("{}: dispel4rs {}", case.graph, mapping.join(" "));
        if case.stateful {
            assert_eq!(run.status, Some(2), "{context} should refuse a stateful PE:\n{}", run.stderr);
            assert!(run.stderr.contains("runs stateless PEs only, and PE '"), "{context}: {}", run.stderr);
        } else {
            run.assert_success(&context);
            assert_same(&run.records, &truth, &format!("{context} vs dispel4py multi"));
        }
    }
}

fn table(entries: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    entries.iter().map(|(pe, n)| ((*pe).to_owned(), *n)).collect()
}

#[test]
fn pipeline_test() {
    check(Case {
        graph: "pipeline_test",
        d4py_processes: 6,
        stateful: false,
        d4py_dynamic: &[("TestOneInOneOut5", 5)],
        d4py_simple: None,
        d4py_redis: false,
    });
}

#[test]
fn split_merge() {
    // dispel4py's dynamic mappings deliver only one of the merge's two inputs.
    check(Case {
        graph: "split_merge",
        d4py_processes: 4,
        stateful: false,
        d4py_dynamic: &[("TestTwoInOneOut3", 5)],
        d4py_simple: None,
        d4py_redis: true,
    });
}

#[test]
fn teecopy() {
    check(Case {
        graph: "teecopy",
        d4py_processes: 3,
        stateful: false,
        d4py_dynamic: &[("TestOneInOneOut2", 5)],
        d4py_simple: None,
        d4py_redis: true,
    });
}

#[test]
fn producer_tee() {
    check(Case {
        graph: "producer_tee",
        d4py_processes: 4,
        stateful: false,
        d4py_dynamic: &[("TestOneInOneOut2", 5)],
        d4py_simple: None,
        d4py_redis: true,
    });
}

#[test]
fn unconnected_pipeline() {
    check(Case {
        graph: "unconnected_pipeline",
        d4py_processes: 12,
        stateful: false,
        d4py_dynamic: &[("TestOneInOneOut11", 5), ("TestOneInOneOut5", 5)],
        d4py_simple: None,
        d4py_redis: false,
    });
}

#[test]
fn parallel_pipeline() {
    check(Case {
        graph: "parallel_pipeline",
        d4py_processes: 4,
        stateful: false,
        d4py_dynamic: &[("TestOneInOneOut3", 5)],
        d4py_simple: None,
        d4py_redis: true,
    });
}

#[test]
fn pipeline_composite() {
    // Nothing at all comes out of the composite chain under dispel4py's dynamic mappings.
    check(Case {
        graph: "pipeline_composite",
        d4py_processes: 5,
        stateful: false,
        d4py_dynamic: &[],
        d4py_simple: None,
        d4py_redis: false,
    });
}

#[test]
fn grouping_onetoall() {
    // Two instances each get every unit; dispel4py's simple and dynamic mappings make one.
    check(Case {
        graph: "grouping_onetoall",
        d4py_processes: 3,
        stateful: true,
        d4py_dynamic: &[("TestOneInOneOut1", 5)],
        d4py_simple: Some(&[("TestOneInOneOut1", 5)]),
        d4py_redis: false,
    });
}

#[test]
fn grouping_alltoone() {
    check(Case {
        graph: "grouping_alltoone",
        d4py_processes: 11,
        stateful: true,
        d4py_dynamic: &[("TestOneInOneOut2", 5)],
        d4py_simple: None,
        d4py_redis: false,
    });
}

#[test]
fn word_count() {
    check(Case {
        graph: "word_count",
        d4py_processes: 4,
        stateful: true,
        d4py_dynamic: &[("WordCounter1", 5)],
        d4py_simple: None,
        d4py_redis: false,
    });
}

#[test]
fn aggregates() {
    // dispel4py's dynamic mappings never run postprocess, where the aggregates are written.
    check(Case {
        graph: "aggregates",
        d4py_processes: 25,
        stateful: true,
        d4py_dynamic: &[],
        d4py_simple: None,
        d4py_redis: false,
    });
}
