//! The observatory with a recorder that keeps what it is given (`metrics_util`'s debugging
//! recorder, installed for this thread only): names, labels and values per batch, the
//! timelines of a run, and the mirror of another process's samples.

use super::names;
use super::sample::{InstanceSample, ProcessSample};
use super::Observatory;
use crate::pe::PeError;
use crate::{Iterative, Mapping, Producer, Runner, Value, WorkflowGraph};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// source (n units, one call) → flaky (fails once on unit 5, then passes x+1) → collected.
fn graph(n: i64, failed: Arc<AtomicU64>) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("observed");
    let s = g
        .add(Producer::new("source", move |_, out| {
            for i in 1..=n {
                out.write("output", i)?;
            }
            Ok(())
        }))
        .unwrap();
    let f = g
        .add(Iterative::new("flaky", move |x: Value| {
            let x = x.try_int()?;
            if x == 5 && failed.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(PeError::new("once"));
            }
            Ok::<_, PeError>(x + 1)
        }))
        .unwrap();
    g.connect(s, "output", f, "input").unwrap();
    g
}

/// `name{labels}` → value, for every metric the recorder holds.
fn metrics(snapshotter: &Snapshotter) -> BTreeMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> =
                key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(m: &BTreeMap<String, DebugValue>, key: &str) -> u64 {
    match m.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{key}: {other:?} in {:?}", m.keys().collect::<Vec<_>>()),
    }
}

#[test]
fn every_batch_is_recorded_with_its_labels_and_the_timelines_end_with_the_report() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (result, seen) = metrics::with_local_recorder(&recorder, || {
        let observatory = Observatory::new(Duration::from_millis(10));
        let g = graph(2500, Arc::new(AtomicU64::new(0)));
        let result = Runner::new(&g)
            .mapping(Mapping::Simple)
            .configure(|o| o.batch_size = 100)
            .observe(observatory.clone())
            .run()
            .unwrap();
        let seen = observatory.finish(&result.report);
        (result, seen)
    });
    let m = metrics(&snapshotter);
    let flaky = "instance=0,pe=flaky,process=0";
    assert_eq!(counter(&m, &format!("{}{{{flaky}}}", names::UNITS_IN)), 2500);
    assert_eq!(counter(&m, &format!("{}{{{flaky}}}", names::UNITS_OUT)), 2500);
    assert_eq!(counter(&m, &format!("{}{{{flaky}}}", names::FAILURES)), 1);
    assert_eq!(counter(&m, &format!("{}{{{flaky}}}", names::RESTARTS)), 1);
    assert_eq!(counter(&m, &format!("{}{{{flaky}}}", names::DEAD_LETTERS)), 0);
    assert_eq!(counter(&m, &format!("{}{{instance=0,pe=source,process=0}}", names::UNITS_OUT)), 2500);
    match m.get(&format!("{}{{{flaky}}}", names::PROCESS_SECONDS)) {
        // 25 batches of 100, and the retry's resumed batch.
        Some(DebugValue::Histogram(h)) => assert!((25..=27).contains(&h.len()), "{} batches", h.len()),
        other => panic!("no process-time histogram: {other:?}"),
    }
    // The final counters, and the process times per unit, travel with the report.
    let stats = &result.report.instances[1].stats;
    assert_eq!(stats.process_times.as_ref().map(|t| t.count()), Some(2500));
    assert_eq!(seen.instances.len(), 2);
    for (series, instance) in seen.instances.iter().zip(&result.report.instances) {
        assert_eq!((&series.pe, series.index, series.process), (&instance.pe, instance.index, 0));
        let last = series.points.last().unwrap();
        assert_eq!((last.units_in, last.units_out), (instance.stats.units_in, instance.stats.units_out));
        assert!(series.points.windows(2).all(|w| w[0].t <= w[1].t), "{:?}", series.points);
    }
}

#[test]
fn a_run_that_is_not_observed_records_nothing() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let result = metrics::with_local_recorder(&recorder, || {
        Runner::new(&graph(100, Arc::new(AtomicU64::new(1)))).run().unwrap()
    });
    assert!(metrics(&snapshotter).is_empty());
    assert!(result.report.instances.iter().all(|i| i.stats.process_times.is_none()));
}

#[test]
fn samples_of_another_process_are_mirrored_with_its_label() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (seen, totals) = metrics::with_local_recorder(&recorder, || {
        let observatory = Observatory::new(Duration::from_millis(50));
        let mut times = super::histogram::UnitTimes::default();
        times.record(Duration::from_micros(30), 1);
        times.record(Duration::from_micros(31), 1);
        let sample = |units: u64, batch_times| ProcessSample {
            instances: vec![InstanceSample {
                pe: "count".into(),
                index: 2,
                units_in: units,
                units_out: units / 2,
                busy_ns: 1_000_000,
                mailbox: 3,
                batch_times,
                ..InstanceSample::default()
            }],
            queues: Vec::new(),
            pool: Some(4),
        };
        observatory.ingest(3, sample(100, Some(times.clone())));
        observatory.ingest(3, sample(250, None));
        let totals = observatory.totals();
        let report = crate::runtime::report::RunReport::default();
        (observatory.finish(&report), totals)
    });
    let m = metrics(&snapshotter);
    assert_eq!(counter(&m, &format!("{}{{instance=2,pe=count,process=3}}", names::UNITS_IN)), 250);
    match m.get(&format!("{}{{instance=2,pe=count,process=3}}", names::PROCESS_SECONDS)) {
        Some(DebugValue::Histogram(h)) => assert_eq!(h.len(), 2),
        other => panic!("{other:?}"),
    }
    match m.get(names::POOL_WORKERS).or_else(|| m.get(&format!("{}{{}}", names::POOL_WORKERS))) {
        Some(DebugValue::Gauge(g)) => assert_eq!(g.0, 4.0),
        other => panic!("{other:?}"),
    }
    assert_eq!(totals.get("count").map(|t| t.units_in), Some(250));
    assert_eq!(seen.instances.len(), 1);
    assert_eq!(seen.instances[0].process, 3);
    assert_eq!(seen.instances[0].points.last().unwrap().units_in, 250);
}
