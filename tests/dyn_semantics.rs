//! The dynamic engine's promises, checked in process with test PEs under `dyn_multi` and
//! `dyn_auto_multi`: end of stream by counting (every worker instance runs `postprocess` once,
//! and what it writes reaches the next PE before that one ends; a PE no unit reached still
//! runs it once), no deadlock when one worker meets a PE that writes a thousand units per
//! unit, and the end-of-stream tail is measured.

use dispel4rs::pe::counter;
use dispel4rs::{FnPe, Mapping, Output, Pe, PeError, PeSpec, RunResult, Runner, Value, WorkflowGraph};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const MAPPINGS: [Mapping; 2] = [Mapping::DynMulti, Mapping::DynAutoMulti];

fn run(g: &WorkflowGraph, mapping: Mapping, workers: usize, calls: u64) -> RunResult {
    Runner::new(g)
        .mapping(mapping)
        .processes(workers)
        .iterations(calls)
        .configure(|o| o.pool.min_workers = workers.min(2))
        .run()
        .unwrap()
}

/// Passes numbers on; at end of stream writes one `["summary", worker]` downstream and
/// counts its postprocess calls.
#[derive(Clone)]
struct Stage {
    postprocessed: Arc<AtomicUsize>,
}

impl Pe for Stage {
    fn spec(&self) -> PeSpec {
        PeSpec::new("stage").input("input").output("output")
    }
    fn process(&mut self, _: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", unit)
    }
    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        self.postprocessed.fetch_add(1, Ordering::SeqCst);
        out.write("output", ("summary", out.instance().index as i64))
    }
}

/// Counts numbers and summaries; writes `{"numbers", "summaries"}` at the end.
#[derive(Clone, Default)]
struct Tally {
    numbers: i64,
    summaries: i64,
}

impl Pe for Tally {
    fn spec(&self) -> PeSpec {
        PeSpec::new("tally").input("input").output("output")
    }
    fn process(&mut self, _: &str, unit: Value, _: &mut Output<'_>) -> Result<(), PeError> {
        match unit.as_int() {
            Some(_) => self.numbers += 1,
            None => self.summaries += 1,
        }
        Ok(())
    }
    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", Value::map([("numbers", self.numbers), ("summaries", self.summaries)]))
    }
}

#[test]
fn every_worker_instance_postprocesses_once_and_its_writes_arrive_before_the_next_pe_ends() {
    for mapping in MAPPINGS {
        for workers in [1, 3] {
            let postprocessed = Arc::new(AtomicUsize::new(0));
            let mut g = WorkflowGraph::new("eos");
            let src = g.add(counter("src")).unwrap();
            let stage = g.add(Stage { postprocessed: postprocessed.clone() }).unwrap();
            let tally = g.add(Tally::default()).unwrap();
            g.connect(src, "output", stage, "input").unwrap();
            g.connect(stage, "output", tally, "input").unwrap();
            let r = run(&g, mapping, workers, 5000);
            let stage_instances = r.report.instances.iter().filter(|i| &*i.pe == "stage").count();
            assert!(stage_instances >= 1 && stage_instances <= workers.max(2), "{mapping} -n {workers}");
            assert_eq!(postprocessed.load(Ordering::SeqCst), stage_instances, "{mapping}: once per instance");
            let tallies = r.outputs.get("tally", "output").unwrap();
            let total =
                |k: &str| tallies.iter().map(|t| t.get(k).and_then(Value::as_int).unwrap()).sum::<i64>();
            assert_eq!(total("numbers"), 5000, "{mapping} -n {workers}");
            assert_eq!(
                total("summaries"),
                stage_instances as i64,
                "{mapping} -n {workers}: every summary written at end of stream reached the tally"
            );
            let tail = r.report.tail.expect("the dynamic mappings measure their tail");
            eprintln!("{mapping} -n {workers}: end-of-stream tail {:.3} ms", tail.as_secs_f64() * 1e3);
        }
    }
}

#[test]
fn a_pe_no_unit_reached_runs_postprocess_once() {
    for mapping in MAPPINGS {
        let postprocessed = Arc::new(AtomicUsize::new(0));
        let mut g = WorkflowGraph::new("empty");
        let src = g.add(counter("src")).unwrap();
        let stage = g.add(Stage { postprocessed: postprocessed.clone() }).unwrap();
        let tally = g.add(Tally::default()).unwrap();
        g.connect(src, "output", stage, "input").unwrap();
        g.connect(stage, "output", tally, "input").unwrap();
        let r = run(&g, mapping, 4, 0);
        assert_eq!(postprocessed.load(Ordering::SeqCst), 1, "{mapping}");
        let tallies = r.outputs.get("tally", "output").unwrap();
        assert_eq!(tallies, &[Value::map([("numbers", 0), ("summaries", 1)])], "{mapping}");
    }
}

#[test]
fn one_worker_and_a_pe_that_writes_a_thousand_units_per_unit_finish() {
    for mapping in MAPPINGS {
        let mut g = WorkflowGraph::new("explode");
        let src = g.add(counter("src")).unwrap();
        let explode = g
            .add(FnPe::new(
                PeSpec::new("explode").input("input").output("output"),
                |_: &str, unit: Value, out: &mut Output<'_>| {
                    let x = unit.try_int()?;
                    for i in 0..1000 {
                        out.write_at(0, x * 1000 + i)?;
                    }
                    Ok(())
                },
            ))
            .unwrap();
        let tally = g.add(Tally::default()).unwrap();
        g.connect(src, "output", explode, "input").unwrap();
        g.connect(explode, "output", tally, "input").unwrap();
        // A queue far smaller than what one task writes: workers' tasks are always taken.
        let r = Runner::new(&g)
            .mapping(mapping)
            .processes(1)
            .iterations(300)
            .configure(|o| o.pool.queue_units = Some(64))
            .run()
            .unwrap();
        let tallies = r.outputs.get("tally", "output").unwrap();
        let numbers: i64 = tallies.iter().map(|t| t.get("numbers").and_then(Value::as_int).unwrap()).sum();
        assert_eq!(numbers, 300_000, "{mapping}");
    }
}
