//! The dynamic mappings on the reference examples: every stateless example under `dyn_multi`
//! and `dyn_auto_multi` with `-n` 1, 2, 4 and 8 gives the same outputs as `simple` with the
//! same `-n` (per-instance aggregates — the pipeline's and bursty's sinks, one per worker
//! that ran them — compared by their totals), and every stateful example is refused before
//! anything runs, with exit status 2 and a message naming the PE and pointing elsewhere.
//!
//! `split_merge`, `teecopy`, `producer_tee` and `parallel_pipeline` fan out: serving only one
//! connection of a port (dispel4py's dynamic mappings do) loses a branch, and fails here.

mod support;

#[test]
fn every_stateless_example_under_the_pooled_mappings_matches_simple() {
    for mapping in support::POOLED_MAPPINGS {
        support::assert_stateless_same_as_simple(mapping, &[1, 2, 4, 8], |example, args| {
            let mut all = vec![mapping.to_owned()];
            all.extend(args.iter().cloned());
            support::run_collect(example, &all)
        });
    }
}

#[test]
fn every_stateful_example_is_refused_naming_the_pe() {
    let args = |mapping: &str, example: &str| -> Vec<String> {
        let (_, extra) = support::example_workloads().into_iter().find(|(e, _)| *e == example).unwrap();
        let mut all = vec![mapping.to_owned(), "-n".into(), "2".into()];
        all.extend(extra);
        all
    };
    for mapping in support::POOLED_MAPPINGS {
        for (example, pe) in support::STATEFUL_EXAMPLES {
            let out = support::run(example, &args(mapping, example));
            out.assert_code(2).assert_stderr_contains(&[
                &format!("PE '{pe}' is stateful"),
                mapping,
                "multi",
                "hybrid_redis",
            ]);
            assert!(
                out.stdout.trim().is_empty(),
                "{example}: nothing runs, nothing is printed: {}",
                out.stdout
            );
        }
    }
}

#[test]
fn the_plan_of_a_pooled_mapping_says_any_worker_runs_a_pe() {
    let out = support::run("pipeline", &["dyn_multi", "-n", "3", "--plan"]);
    out.assert_success();
    assert!(out.stdout.contains("pool of up to 3 worker(s)"), "{}", out.stdout);
    assert!(out.stdout.contains("double") && out.stdout.contains("run by any worker"), "{}", out.stdout);
}
