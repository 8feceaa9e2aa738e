//! Criterion benchmarks of the example workflows under the `simple` mapping, run in-process
//! through [`Runner`] (no command line, no process start-up).
//!
//! * `simple/pipeline/N` — `examples/pipeline.rs` with `{"source": [{"n": N}]}`: the source
//!   writes 1..=N, three arithmetic PEs transform each item, the sink counts and sums.
//!   Throughput is in items (N per iteration).
//! * `simple/wordcount/BYTES` — `examples/wordcount.rs` over generated text (see
//!   `benches/common`) written to a temporary file: read lines → split and lowercase →
//!   count per word (group-by). Throughput is in words of the text.
//!
//! Each iteration builds the graph and runs it to the end, checking the answer (outside the
//! measured closure's result only: the check is a few comparisons). Sizes are modest so
//! that `cargo bench --bench simple` takes a few minutes; for the comparison with Timely
//! Dataflow at full size see `benches/compare.rs`.

#[path = "../examples/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

#[path = "../examples/wordcount.rs"]
#[allow(dead_code)]
mod wordcount;

// Shared with compare.rs, which uses all of it.
#[allow(dead_code)]
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dispel4rs::{Mapping, Runner, Value};
use std::hint::black_box;
use std::time::Duration;

/// Runs the pipeline over 1..=n and returns the sink's `(count, sum)`.
fn run_pipeline(n: i64) -> (i64, i64) {
    let g = pipeline::graph().expect("pipeline graph");
    let result = Runner::new(&g)
        .mapping(Mapping::Simple)
        .data(format!(r#"{{"source": [{{"n": {n}}}]}}"#))
        .run()
        .expect("pipeline run");
    let out = result.outputs.get("sink", "output").expect("sink output");
    let field = |k: &str| out[0].get(k).and_then(|v| v.try_int().ok()).expect("count/sum");
    (field("count"), field("sum"))
}

/// Runs wordcount over the file at `path` and returns the number of distinct words and the
/// total of all counts.
fn run_wordcount(path: &str) -> (usize, i64) {
    let g = wordcount::graph().expect("wordcount graph");
    let data = Value::map([("read", Value::List(vec![Value::map([("path", path)])]))]).to_json();
    let result = Runner::new(&g).mapping(Mapping::Simple).data(data).run().expect("wordcount run");
    let out = result.outputs.get("count", "output").expect("count output");
    let total = out.iter().map(|pair| pair.index(1).and_then(|n| n.try_int().ok()).expect("[word, n]")).sum();
    (out.len(), total)
}

fn bench_pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("simple/pipeline");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for n in [100_000i64, 1_000_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| {
                let (count, sum) = run_pipeline(black_box(n));
                assert_eq!((count, sum), (n, n * (n + 1) / 2), "pipeline answer");
            })
        });
    }
    group.finish();
}

fn bench_wordcount(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("simple/wordcount");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for bytes in [256 << 10, 1 << 20] {
        let text = common::generate_text(bytes, common::TEXT_SEED);
        let path = dir.path().join(format!("text-{bytes}.txt"));
        std::fs::write(&path, &text.text).expect("write text");
        let path = path.to_str().expect("utf-8 temp path").to_owned();
        group.throughput(Throughput::Elements(text.words));
        group.bench_with_input(BenchmarkId::new("bytes", bytes), &path, |b, path| {
            b.iter(|| {
                let (_distinct, total) = run_wordcount(black_box(path));
                assert_eq!(total as u64, text.words, "wordcount total");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_pipeline, bench_wordcount);
criterion_main!(benches);
