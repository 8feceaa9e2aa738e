//! Every reference example under `multi` with `-n` 1, 2, 4 and 8 gives the same multiset of
//! outputs as under `simple` with the same `-n` (the same plan).

mod support;

#[test]
fn every_example_under_multi_matches_simple() {
    support::assert_same_as_simple("multi", &[1, 2, 4, 8], |example, args| {
        let mut all = vec!["multi".to_owned()];
        all.extend(args.iter().cloned());
        support::run_collect(example, &all)
    });
}

#[test]
fn multi_reports_the_tail_between_its_last_unit_and_its_end() {
    let (records, report) =
        support::run_collect_report("pipeline", &["multi", "-n", "4", "-d", r#"{"source": [{"n": 20000}]}"#]);
    assert_eq!(records.len(), 1);
    // Measured and reported (the benchmark prints it); not a wall-clock gate.
    let tail = report["tail_s"].as_f64().expect("multi reports its tail");
    assert!(tail >= 0.0);
    eprintln!("multi end-of-stream tail: {:.3} ms", tail * 1e3);
}
