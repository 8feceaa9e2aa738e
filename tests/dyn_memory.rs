//! The dynamic mappings run a long stream in flat memory: the pipeline example on a short and
//! on a twenty times longer stream, under `dyn_multi` and `dyn_auto_multi` with two workers;
//! the peak resident memory of the two runs (from the JSON run report) may differ by less
//! than [`BOUND_BYTES`]. Roots wait while the task queue is full (admission control), and
//! workers drain the tasks of later PEs first, so what is queued stays bounded whatever the
//! stream's length; a queue that held the stream would need at least 32 bytes per unit, over
//! 120 MB more for the long one. The bound is looser than `simple`'s (8 MB): with several
//! threads allocating and freeing batches, the allocator's per-thread arenas move the peak by
//! several MB from one run to the next, whatever its length (measured: 18–25 MB for either).

mod support;

use serde_json::{json, Value as Json};

/// How much more memory the long run may use than the short one.
const BOUND_BYTES: i64 = 24 * 1024 * 1024;

/// Runs the pipeline on `items` numbers under `mapping`, checks the totals of its sinks, and
/// returns its peak resident memory (`None` where the platform does not report it).
fn run_pipeline(mapping: &str, items: i64) -> Option<i64> {
    let data = format!(r#"{{"source": [{{"n": {items}}}]}}"#);
    let (got, report) = support::run_collect_report("pipeline", &[mapping, "-n", "2", "-d", &data]);
    let want = support::record("sink", "output", json!({"count": items, "sum": items * (items + 1) / 2}));
    support::assert_multiset_eq(
        &support::merge_count_sums(&got),
        &[want],
        &format!("{mapping}: {items} numbers"),
    );
    let sinks: i64 = report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["pe"] == "sink")
        .map(|i| i["units_in"].as_i64().unwrap())
        .sum::<i64>();
    assert_eq!(sinks, items, "{report}");
    let peak: Option<&Json> = report.get("peak_rss_bytes");
    peak.and_then(Json::as_i64)
}

#[test]
fn long_streams_run_in_flat_memory_under_the_pooled_mappings() {
    for mapping in support::POOLED_MAPPINGS {
        let short = run_pipeline(mapping, 200_000);
        let long = run_pipeline(mapping, 4_000_000);
        let (Some(short), Some(long)) = (short, long) else {
            eprintln!("peak RSS is not reported on this platform: memory not compared");
            return;
        };
        eprintln!(
            "{mapping}: peak RSS {:.1} MB (200 k units), {:.1} MB (4 M units)",
            short as f64 / 1e6,
            long as f64 / 1e6
        );
        assert!(
            long - short < BOUND_BYTES,
            "{mapping}: peak RSS grew from {short} to {long} bytes (+{:.1} MB, bound {} MB) with a 20 times longer stream",
            (long - short) as f64 / (1024.0 * 1024.0),
            BOUND_BYTES / (1024 * 1024)
        );
    }
}
