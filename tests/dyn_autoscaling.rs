//! `dyn_auto_multi` and `dyn_auto_redis` (the same policy, its workers in worker processes
//! fed through a private `redis-server`) spawn and retire worker actors with the load: the bursty example with a
//! dense phase, a sparse one and a dense one again grows its pool from one worker under the
//! first burst, shrinks it in the lull and grows it again for the second burst — asserted on
//! the run report's pool timeline and decisions, not on wall time — and gives the same totals
//! as `simple`. A fixed pool (`dyn_multi`) reports a flat timeline.

mod support;

use serde_json::Value as Json;

/// Dense, sparse, dense: each burst is 600 units of 3 ms (1.8 s of work for one worker); the
/// lull is 120 units 5 ms apart (0.6 s, needing under one worker).
const INPUT: &str = r#"{"source": [{"phases": [[600, 0], [120, 5000], [600, 0]], "work_ms": 3}]}"#;

fn timeline(report: &Json) -> Vec<(f64, i64)> {
    report["pool_timeline"]
        .as_array()
        .expect("a pool timeline")
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_i64().unwrap()))
        .collect()
}

#[test]
fn the_pool_grows_under_load_and_shrinks_in_a_lull() {
    the_pool_follows_the_load("dyn_auto_multi");
}

#[cfg(feature = "redis")]
#[test]
fn the_redis_pool_grows_under_load_and_shrinks_in_a_lull() {
    the_pool_follows_the_load("dyn_auto_redis");
}

fn the_pool_follows_the_load(mapping: &str) {
    let args = [mapping, "-n", "8", "--min-workers", "1", "--scale-interval-ms", "50", "-d", INPUT];
    let (got, report) = support::run_collect_report("bursty", &args);
    let want = support::record("sink", "output", serde_json::json!({"count": 1320, "sum": 1320 * 1321 / 2}));
    support::assert_multiset_eq(&support::merge_count_sums(&got), &[want], "bursty totals");
    let t = timeline(&report);
    let decisions = report["scaling_decisions"].as_array().expect("decisions");
    eprintln!("pool timeline: {t:?}");
    eprintln!("decisions: {}", serde_json::to_string(decisions).unwrap());
    assert_eq!(t.get(1).map(|p| p.1), Some(1), "{mapping}: the pool starts with --min-workers");
    // Grow, shrink, grow again: the sizes rise above 1, fall, and rise again.
    let sizes: Vec<i64> = t.iter().skip(1).map(|p| p.1).collect();
    let peak1 = sizes.iter().position(|s| *s > 2).expect("the first burst grows the pool");
    let trough = sizes[peak1..]
        .iter()
        .position(|s| *s < sizes[peak1])
        .map(|i| i + peak1)
        .expect("the lull shrinks it");
    assert!(sizes[trough..].iter().any(|s| *s > sizes[trough]), "the second burst grows it again: {sizes:?}");
    assert!(sizes.iter().all(|s| (1..=8).contains(s)), "within its bounds: {sizes:?}");
    // Every change is explained by a decision with its figures.
    for d in decisions {
        for key in ["t_s", "from", "to", "reason", "demand_workers", "utilisation", "backlog_s"] {
            assert!(d.get(key).is_some(), "decision without {key}: {d}");
        }
    }
    assert!(decisions.iter().any(|d| d["reason"] == "lull"), "{decisions:?}");
    let ws = report["worker_seconds"].as_f64().unwrap();
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    assert!(ws > 0.0 && ws < 8.0 * elapsed, "worker-seconds {ws} over {elapsed} s with at most 8 workers");
    assert_eq!(report["pool_bounds"], serde_json::json!([1, 8]));
}

#[test]
fn a_fixed_pool_reports_a_flat_timeline_and_its_worker_seconds() {
    let report = support::run_report("bursty", &["dyn_multi", "-n", "3", "-i", "50"]);
    let t = timeline(&report);
    assert_eq!(t.iter().skip(1).map(|p| p.1).collect::<Vec<_>>(), vec![3], "{t:?}");
    assert!(report["scaling_decisions"].as_array().unwrap().is_empty());
    let (ws, elapsed) = (report["worker_seconds"].as_f64().unwrap(), report["elapsed_s"].as_f64().unwrap());
    assert!(ws > 0.0 && ws <= 3.0 * elapsed + 1e-6, "{ws} worker-seconds in {elapsed} s");
    let units: i64 =
        report["units_per_worker"].as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum();
    // source → work → sink: 50 units through each of the two pooled PEs.
    assert_eq!(units, 100, "{report}");
}
