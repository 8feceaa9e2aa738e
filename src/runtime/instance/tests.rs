//! Unit tests of [`Instance`]: the supervision every mapping relies on, driven directly with
//! a recording sink (no mapping involved).

use super::*;
use crate::graph::WorkflowGraph;
use crate::pe::{FnPe, Output, PeError, PeSpec};
use crate::plan::Plan;
use crate::AbortReason;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records every flushed batch.
#[derive(Default)]
struct Recorder(Vec<(usize, Vec<Value>)>);

impl Sink for Recorder {
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        self.0.push((port, std::mem::take(batch)));
        Ok(())
    }
}

impl Recorder {
    fn units(&self) -> Vec<Value> {
        self.0.iter().flat_map(|(_, b)| b.iter().cloned()).collect()
    }
}

/// A sink whose receiver has gone.
struct Gone;

impl Sink for Gone {
    fn flush(&mut self, _: usize, batch: &mut Vec<Value>) -> Result<(), Abort> {
        batch.clear();
        Err(Abort::new(AbortReason::PeerLost, "worker 2 died"))
    }
}

/// A plan holding one PE made by `pe` (wired after a source so that it has an input).
fn plan_of(pe: impl crate::pe::Pe + Clone) -> Plan {
    let mut g = WorkflowGraph::new("t");
    let name = pe.spec().name;
    let src = g.add(crate::pe::counter("src")).unwrap();
    let id = g.add(pe).unwrap();
    g.connect(src, "output", id, "input").unwrap();
    let plan = Plan::new(&g, 1).unwrap();
    assert!(plan.pe_by_name(&name).is_some());
    plan
}

fn options(batch: usize, retries: u32) -> RunOptions {
    RunOptions { batch_size: batch, max_retries: retries, ..RunOptions::default() }
}

/// Creates instance 0 of `name` and checks its `preprocess` succeeded.
fn instance(plan: &Plan, name: &str, o: &RunOptions) -> (Instance, Arc<DeadLetters>) {
    let dead = Arc::new(DeadLetters::new(100, None).unwrap());
    let pe = plan.pe_by_name(name).unwrap();
    let (inst, flow) = Instance::new(pe, 0, pe.first(), o, dead.clone());
    assert_eq!(flow, Flow::Ready);
    (inst, dead)
}

/// Hands `units` over and waits out every back-off (as `simple` does, without sleeping).
fn run(inst: &mut Instance, units: Vec<Value>, sink: &mut dyn Sink) -> Result<(), Abort> {
    let mut units = units;
    let mut flow = inst.process_batch(0, &mut units, sink)?;
    assert!(units.is_empty(), "process_batch leaves the vector empty");
    while let Flow::Backoff(_) = flow {
        flow = inst.resume(sink)?;
    }
    inst.flush(sink)
}

fn ints(r: std::ops::Range<i64>) -> Vec<Value> {
    r.map(Value::Int).collect()
}

fn doubler(name: &str) -> impl crate::pe::Pe + Clone {
    FnPe::new(PeSpec::new(name).input("input").output("output"), |_: &str, v: Value, out: &mut Output<'_>| {
        out.write_at(0, v.try_int()? * 2)
    })
}

#[test]
fn units_pass_in_batches_and_are_counted() {
    let plan = plan_of(doubler("double"));
    let (mut inst, dead) = instance(&plan, "double", &options(4, 1));
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..10), &mut sink).unwrap();
    // Batches of 4 flushed when full, the rest on flush.
    let sizes: Vec<usize> = sink.0.iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    assert_eq!(sink.units(), (0..10).map(|i| Value::Int(i * 2)).collect::<Vec<_>>());
    let stats = inst.final_stats();
    assert_eq!((stats.units_in, stats.units_out, stats.restarts, stats.dead_letters), (10, 10, 0, 0));
    assert_eq!(dead.total(), 0);
}

#[test]
fn a_panic_restarts_the_instance_and_retries_the_unit_then_the_rest_of_the_batch() {
    // Panics once on unit 3 (shared counter: the restarted instance is a fresh clone).
    let panics = Arc::new(AtomicUsize::new(0));
    let p = panics.clone();
    let pe = FnPe::new(
        PeSpec::new("flaky").input("input").output("output"),
        move |_: &str, v: Value, out: &mut Output<'_>| {
            if v == Value::Int(3) && p.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("transient failure on 3");
            }
            out.write_at(0, v)
        },
    );
    let plan = plan_of(pe);
    let (mut inst, dead) = instance(&plan, "flaky", &options(1024, 1));
    let mut sink = Recorder::default();
    let mut units = ints(0..8);
    let flow = inst.process_batch(0, &mut units, &mut sink).unwrap();
    assert!(matches!(flow, Flow::Backoff(_)), "a failure asks for a back-off before the restart");
    assert_eq!(inst.resume(&mut sink).unwrap(), Flow::Ready);
    inst.flush(&mut sink).unwrap();
    // Everything arrives once, in order (the failed attempt wrote nothing that had left).
    assert_eq!(sink.units(), ints(0..8));
    let stats = inst.final_stats();
    assert_eq!((stats.restarts, stats.failures, stats.dead_letters), (1, 1, 0));
    assert_eq!(dead.total(), 0);
}

#[test]
fn a_unit_that_always_fails_is_retried_then_dead_lettered_with_its_error() {
    let pe = FnPe::new(
        PeSpec::new("picky").input("input").output("output"),
        |_: &str, v: Value, out: &mut Output<'_>| {
            if v == Value::Int(5) {
                return Err(PeError::new("five is not allowed"));
            }
            out.write_at(0, v)
        },
    );
    let plan = plan_of(pe);
    let (mut inst, dead) = instance(&plan, "picky", &options(1024, 2));
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..8), &mut sink).unwrap();
    let mut want = ints(0..8);
    want.retain(|v| *v != Value::Int(5));
    assert_eq!(sink.units(), want);
    assert_eq!(dead.total(), 1);
    let letter = &dead.kept()[0];
    assert_eq!((&*letter.pe, letter.instance, &*letter.port), ("picky", 0, "input"));
    assert_eq!(letter.unit, Value::Int(5));
    assert_eq!(letter.error, "five is not allowed");
    assert_eq!(letter.attempts, 3, "the first attempt and two retries");
    assert_eq!(inst.final_stats().restarts, 3);
}

#[test]
fn a_given_up_instance_dead_letters_without_running_user_code() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let pe = FnPe::new(
        PeSpec::new("broken").input("input").output("output"),
        move |_: &str, _: Value, _: &mut Output<'_>| {
            c.fetch_add(1, Ordering::SeqCst);
            Err(PeError::new("always"))
        },
    );
    let plan = plan_of(pe);
    let mut o = options(1024, 0);
    o.restart.max_consecutive = 2;
    let (mut inst, dead) = instance(&plan, "broken", &o);
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..10), &mut sink).unwrap();
    assert!(inst.gave_up());
    assert_eq!(dead.total(), 10, "every unit is dead-lettered, none lost");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "user code runs until the policy gives up, then never");
    run(&mut inst, ints(10..15), &mut sink).unwrap();
    assert_eq!(dead.total(), 15);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(inst.final_stats().gave_up.is_some());
}

#[derive(Clone)]
struct Stateful {
    seen: i64,
    fail_preprocess: Arc<AtomicUsize>,
}

impl crate::pe::Pe for Stateful {
    fn spec(&self) -> PeSpec {
        PeSpec::new("stateful").input("input").output("output")
    }
    fn preprocess(&mut self, _: &InstanceInfo) -> Result<(), PeError> {
        if self.fail_preprocess.fetch_sub(1, Ordering::SeqCst) > 0 {
            return Err(PeError::new("the calibration file is not there yet"));
        }
        Ok(())
    }
    fn process(&mut self, _: &str, _: Value, _: &mut Output<'_>) -> Result<(), PeError> {
        self.seen += 1;
        Ok(())
    }
    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write_at(0, self.seen)
    }
}

#[test]
fn a_failing_preprocess_is_supervised_and_postprocess_writes_at_the_end() {
    let pe = Stateful { seen: 0, fail_preprocess: Arc::new(AtomicUsize::new(1)) };
    let plan = plan_of(pe);
    let dead = Arc::new(DeadLetters::new(10, None).unwrap());
    let planned = plan.pe_by_name("stateful").unwrap();
    let (mut inst, flow) = Instance::new(planned, 0, planned.first(), &options(8, 1), dead.clone());
    assert!(matches!(flow, Flow::Backoff(_)), "a failing preprocess asks for a restart");
    let mut sink = Recorder::default();
    assert_eq!(inst.resume(&mut sink).unwrap(), Flow::Ready);
    run(&mut inst, ints(0..5), &mut sink).unwrap();
    assert!(sink.0.is_empty(), "nothing written before the end");
    inst.finish(&mut sink).unwrap();
    assert_eq!(sink.units(), vec![Value::Int(5)]);
    assert_eq!(inst.final_stats().restarts, 1);
    assert_eq!(dead.total(), 0);
}

#[test]
fn a_failing_postprocess_is_reported_not_retried() {
    #[derive(Clone)]
    struct BadEnd;
    impl crate::pe::Pe for BadEnd {
        fn spec(&self) -> PeSpec {
            PeSpec::new("bad_end").input("input").output("output")
        }
        fn process(&mut self, _: &str, _: Value, _: &mut Output<'_>) -> Result<(), PeError> {
            Ok(())
        }
        fn postprocess(&mut self, _: &mut Output<'_>) -> Result<(), PeError> {
            panic!("state lost")
        }
    }
    let plan = plan_of(BadEnd);
    let (mut inst, _) = instance(&plan, "bad_end", &options(8, 1));
    let mut sink = Recorder::default();
    inst.finish(&mut sink).unwrap();
    let stats = inst.final_stats();
    assert!(stats.postprocess_error.as_deref().is_some_and(|e| e.contains("state lost")), "{stats:?}");
    assert_eq!(stats.restarts, 0);
}

#[test]
fn a_sink_that_fails_aborts_the_run_with_its_reason() {
    let plan = plan_of(doubler("double"));
    let (mut inst, _) = instance(&plan, "double", &options(2, 1));
    let err = run(&mut inst, ints(0..4), &mut Gone).unwrap_err();
    assert_eq!(err.reason(), AbortReason::PeerLost);
    assert_eq!(err.message(), "worker 2 died");
}

#[test]
fn a_pe_may_ask_for_the_whole_run_to_stop() {
    let pe = FnPe::new(
        PeSpec::new("stop").input("input").output("output"),
        |_: &str, _: Value, _: &mut Output<'_>| {
            Err(PeError::aborted("the archive is corrupt: stopping everything"))
        },
    );
    let plan = plan_of(pe);
    let (mut inst, dead) = instance(&plan, "stop", &options(8, 1));
    let err = run(&mut inst, ints(0..3), &mut Recorder::default()).unwrap_err();
    assert_eq!(err.reason(), AbortReason::Requested);
    assert!(err.message().contains("archive is corrupt"));
    assert_eq!(dead.total(), 0, "an abort is not a dead letter");
}

#[test]
fn a_root_call_counts_as_one_unit_in() {
    let mut g = WorkflowGraph::new("t");
    g.add(crate::pe::counter("src")).unwrap();
    let plan = Plan::new(&g, 1).unwrap();
    let (mut inst, _) = instance(&plan, "src", &options(8, 1));
    let mut sink = Recorder::default();
    for _ in 0..3 {
        assert_eq!(inst.call_root(Value::Null, &mut sink).unwrap(), Flow::Ready);
    }
    inst.finish(&mut sink).unwrap();
    assert_eq!(sink.units(), ints(1..4));
    assert_eq!(inst.final_stats().units_in, 3);
}

/// A PE that writes `n` units for each input and fails, once per process, after writing
/// them all (the statics stand for state that survives a restart from the factory).
fn writes_then_fails_once(
    name: &str,
    n: i64,
    failed: &'static std::sync::atomic::AtomicBool,
) -> impl crate::pe::Pe + Clone {
    FnPe::new(
        PeSpec::new(name).input("input").output("output"),
        move |_: &str, _: Value, out: &mut Output<'_>| {
            for i in 0..n {
                out.write_at(0, i)?;
            }
            if !failed.swap(true, Ordering::SeqCst) {
                return Err(PeError::new("fails once, after writing"));
            }
            Ok(())
        },
    )
}

/// Reproduces issue 13 finding 5: an attempt that wrote 5000 units (more than a batch) and
/// failed used to send all 5000 on and then 5000 more from its retry (10,000). Held back,
/// the failed attempt's batches never leave: the retry's 5000 are all there is.
#[test]
fn a_failed_attempt_that_wrote_several_batches_is_not_repeated_by_its_retry() {
    static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let plan = plan_of(writes_then_fails_once("many", 5000, &FAILED));
    let o = RunOptions { batch_size: 1024, max_retries: 1, ..RunOptions::default() };
    assert!(o.retry_hold_batches >= 4, "the default holds back what 5000 units fill");
    let (mut inst, dead) = instance(&plan, "many", &o);
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..1), &mut sink).unwrap();
    assert_eq!(sink.units(), ints(0..5000), "each unit once, in order");
    assert_eq!(dead.total(), 0);
    assert_eq!(inst.final_stats().units_out, 5000);
}

/// With nothing held back (`--retry-hold 0`), what SEMANTICS.md documents: the full batches
/// that had left are repeated by the retry, the units still buffered are discarded.
#[test]
fn without_hold_back_only_what_had_left_is_repeated() {
    static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let plan = plan_of(writes_then_fails_once("many", 5000, &FAILED));
    let o = RunOptions { batch_size: 1024, max_retries: 1, retry_hold_batches: 0, ..RunOptions::default() };
    let (mut inst, _) = instance(&plan, "many", &o);
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..1), &mut sink).unwrap();
    let mut want = ints(0..4096);
    want.extend(ints(0..5000));
    assert_eq!(sink.units(), want);
}

/// An attempt writing more than may be held back lets its batches go (bounded memory):
/// the retry then repeats those, and only those.
#[test]
fn an_attempt_writing_more_than_the_hold_lets_its_batches_go() {
    static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let plan = plan_of(writes_then_fails_once("many", 5000, &FAILED));
    let o = RunOptions { batch_size: 1024, max_retries: 1, retry_hold_batches: 2, ..RunOptions::default() };
    let (mut inst, _) = instance(&plan, "many", &o);
    let mut sink = Recorder::default();
    run(&mut inst, ints(0..1), &mut sink).unwrap();
    assert_eq!(sink.units().len(), 4096 + 5000);
}
