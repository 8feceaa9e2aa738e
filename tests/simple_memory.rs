//! `simple` streams: its memory does not grow with the length of the stream. The pipeline
//! example runs on a short and on a twenty times longer stream; the peak resident memory
//! of the two runs (from the JSON run report, `peak_rss_bytes`) may differ by less than
//! [`BOUND_BYTES`]. A mapping that held the stream in memory would need at least 16 bytes
//! per unit on each of four hops: over 200 MB more for the long stream.

mod support;

use serde_json::{json, Value as Json};

/// How much more memory the long run may use than the short one.
const BOUND_BYTES: i64 = 8 * 1024 * 1024;

/// Runs the pipeline on `items` numbers, checks its count and sum, and returns its peak
/// resident memory (`None` where the platform does not report it).
fn run_pipeline(items: i64) -> Option<i64> {
    let data = format!(r#"{{"source": [{{"n": {items}}}]}}"#);
    let (got, report) = support::run_collect_report("pipeline", &["simple", "-d", &data]);
    let want = support::record("sink", "output", json!({"count": items, "sum": items * (items + 1) / 2}));
    support::assert_multiset_eq(&got, &[want], &format!("pipeline on {items} numbers"));
    assert_eq!(report["mapping"], "simple");
    let sink: Vec<&Json> =
        report["instances"].as_array().unwrap().iter().filter(|i| i["pe"] == "sink").collect();
    assert_eq!(sink.len(), 1, "{report}");
    assert_eq!(sink[0]["units_in"].as_i64(), Some(items), "{report}");
    report["peak_rss_bytes"].as_i64()
}

#[test]
fn long_streams_run_in_flat_memory() {
    let short = run_pipeline(200_000);
    let long = run_pipeline(4_000_000);
    let (Some(short), Some(long)) = (short, long) else {
        eprintln!("peak RSS is not reported on this platform: memory not compared");
        return;
    };
    assert!(short > 0 && long > 0, "peak RSS {short} and {long}");
    assert!(
        long - short < BOUND_BYTES,
        "peak RSS grew from {short} to {long} bytes (+{:.1} MB, bound {} MB) with a 20 times longer stream",
        (long - short) as f64 / (1024.0 * 1024.0),
        BOUND_BYTES / (1024 * 1024)
    );
}
