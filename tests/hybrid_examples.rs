//! `hybrid_redis` on every reference example, the stateful ones included (`wordcount`,
//! `word_count`, `grouping_onetoall`, `grouping_alltoone`, `aggregates`), with a real
//! `redis-server` started here: with `-n` 1, 2, 4 and 8 the outputs equal `simple`'s with the
//! same `-n` (per-instance aggregates of stateless PEs compared by their totals; the pinned
//! instances are the plan's, so theirs compare exactly). `word_count`'s running counts show
//! that a group_by key always lands on one instance; `postprocess` runs once per pinned
//! instance (the report lists each, once).
#![cfg(feature = "redis")]

mod support;

use dispel4rs_transports::redis::JobKeys;
use dispel4rs_transports::redis_server::PrivateRedis;

#[test]
fn every_example_under_hybrid_redis_matches_simple() {
    let server = PrivateRedis::start(None).expect("redis-server (scripts/setup.sh installs it)");
    let url = server.url().secret_form().to_owned();
    let mut job = 0;
    support::assert_workloads_same_as_simple(
        support::all_workloads(),
        support::HYBRID_MAPPING,
        &[1, 2, 4, 8],
        |example, args| {
            job += 1;
            let id = format!("h{job}");
            let mut all = vec![
                support::HYBRID_MAPPING.to_owned(),
                "--redis".into(),
                url.clone(),
                "--job".into(),
                id.clone(),
            ];
            all.extend(args.iter().cloned());
            let records = support::run_collect(example, &all);
            let mut conn = server.url().connect(std::time::Duration::from_secs(3)).unwrap();
            assert_eq!(
                conn.job_key_count(&JobKeys::new(&id)).unwrap(),
                0,
                "{example}: job {id} left keys behind"
            );
            records
        },
    );
}

#[test]
fn every_pinned_instance_runs_postprocess_once() {
    let report = support::run_report("word_count", &[support::HYBRID_MAPPING, "-n", "2", "-i", "300"]);
    let counts: Vec<&serde_json::Value> =
        report["instances"].as_array().unwrap().iter().filter(|i| i["pe"] == "count").collect();
    let mut indices: Vec<i64> = counts.iter().map(|i| i["index"].as_i64().unwrap()).collect();
    indices.sort_unstable();
    assert_eq!(
        indices,
        vec![0, 1, 2],
        "three pinned instances (numprocesses 3) on two processes, each once: {report}"
    );
    let total: i64 = counts.iter().map(|i| i["units_in"].as_i64().unwrap()).sum();
    assert_eq!(total, 300, "{report}");
}
