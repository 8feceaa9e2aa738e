//! Supervision under every in-process mapping (the dynamic ones included: every worker's
//! instance is supervised alike): a panicking or failing PE is restarted from
//! its factory, the failed unit is retried, then dead-lettered; the restart policy's limits
//! hold; a PE that always fails neither hangs the run nor loops.

use dispel4rs::pe::counter;
use dispel4rs::{FnPe, Mapping, Output, PeError, PeSpec, Producer, RunResult, Runner, Value, WorkflowGraph};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MAPPINGS: [Mapping; 4] = [Mapping::Simple, Mapping::Multi, Mapping::DynMulti, Mapping::DynAutoMulti];

/// numbers → flaky (panics on every unit divisible by `k` the first time it sees it, or on
/// every unit divisible by `k` always) → collected.
fn graph(k: i64, always: bool, instances: usize) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("flaky");
    let p = g.add(counter("numbers")).unwrap();
    // The set of units seen lives outside the PE: a restart (a fresh clone) must not reset it.
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let flaky = g
        .add(FnPe::new(
            PeSpec::new("flaky").input("input").output("output").numprocesses(instances),
            move |_: &str, unit: Value, out: &mut Output<'_>| {
                let x = unit.try_int()?;
                if x % k == 0 {
                    let first = seen.lock().unwrap().insert(x);
                    if always || first {
                        panic!("flaky fails on {x}");
                    }
                }
                out.write("output", x)
            },
        ))
        .unwrap();
    g.connect(p, "output", flaky, "input").unwrap();
    g
}

fn run(
    g: &WorkflowGraph,
    mapping: Mapping,
    units: u64,
    configure: impl FnOnce(&mut dispel4rs::RunOptions),
) -> RunResult {
    Runner::new(g).mapping(mapping).processes(2).iterations(units).configure(configure).run().unwrap()
}

#[test]
fn a_pe_that_panics_on_every_kth_unit_processes_every_unit_after_restarts() {
    for mapping in MAPPINGS {
        let g = graph(10, false, 1);
        let r = run(&g, mapping, 200, |o| o.restart.max_restarts = 1000);
        let mut got: Vec<i64> =
            r.outputs.get("flaky", "output").unwrap().iter().filter_map(Value::as_int).collect();
        got.sort_unstable();
        assert_eq!(got, (1..=200).collect::<Vec<_>>(), "{mapping}: every unit processed once");
        assert_eq!(r.report.restarts(), 20, "{mapping}");
        assert_eq!(r.report.dead_letters_total, 0, "{mapping}");
        assert!(!r.report.has_failures(), "{mapping}");
    }
}

#[test]
fn a_unit_that_always_fails_is_retried_then_dead_lettered() {
    for mapping in MAPPINGS {
        let g = graph(50, true, 1);
        let r = run(&g, mapping, 200, |o| {
            o.max_retries = 2;
            o.restart.max_restarts = 1000;
        });
        let got = r.outputs.get("flaky", "output").unwrap();
        assert_eq!(got.len(), 196, "{mapping}");
        assert_eq!(r.report.dead_letters_total, 4, "{mapping}");
        let mut dead: Vec<i64> = r.report.dead_letters.iter().filter_map(|d| d.unit.as_int()).collect();
        dead.sort_unstable();
        assert_eq!(dead, [50, 100, 150, 200]);
        let d = &r.report.dead_letters[0];
        assert_eq!((&*d.pe, &*d.port, d.attempts), ("flaky", "input", 3));
        assert!(d.error.contains("panicked: flaky fails on"), "{}", d.error);
        // 4 units × 3 attempts, each followed by a restart.
        assert_eq!(r.report.restarts(), 12, "{mapping}");
        assert!(r.report.has_failures());
    }
}

#[test]
fn restart_policy_limits_give_up_and_the_run_still_ends() {
    for mapping in MAPPINGS {
        let g = graph(1, true, 2);
        let r = run(&g, mapping, 500, |o| {
            o.max_retries = 1;
            o.restart.max_restarts = 5;
            o.restart.window = Duration::from_secs(60);
        });
        assert!(r.outputs.get("flaky", "output").unwrap_or(&[]).is_empty());
        assert_eq!(r.report.dead_letters_total, 500, "{mapping}: every unit accounted for");
        for i in r.report.instances.iter().filter(|i| &*i.pe == "flaky") {
            assert!(i.stats.restarts <= 5, "{mapping}: {} restarts", i.stats.restarts);
            let why = i.stats.gave_up.as_deref().unwrap_or_default();
            assert!(why.contains("more than 5 restarts"), "{mapping}: {why:?}");
        }
        assert!(r.report.has_failures());
    }
}

#[test]
fn consecutive_failures_give_up_quickly_with_the_default_policy() {
    for mapping in MAPPINGS {
        let g = graph(1, true, 1);
        let started = std::time::Instant::now();
        let r = run(&g, mapping, 10_000, |_| {});
        assert_eq!(r.report.dead_letters_total, 10_000, "{mapping}");
        let flaky = r.report.instances.iter().find(|i| &*i.pe == "flaky").unwrap();
        assert!(flaky.stats.gave_up.as_deref().unwrap_or_default().contains("in a row"));
        // Not a timing assertion on speed: only a guard against an endless loop.
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

#[test]
fn preprocess_failures_are_supervised_too() {
    #[derive(Clone)]
    struct Fragile(Arc<AtomicUsize>);
    impl dispel4rs::Pe for Fragile {
        fn spec(&self) -> PeSpec {
            PeSpec::new("fragile").input("input").output("output")
        }
        fn preprocess(&mut self, _: &dispel4rs::InstanceInfo) -> Result<(), PeError> {
            if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(PeError::new("database not ready"));
            }
            Ok(())
        }
        fn process(&mut self, _: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
            out.write("output", unit)
        }
    }
    for mapping in MAPPINGS {
        let starts = Arc::new(AtomicUsize::new(0));
        let mut g = WorkflowGraph::new("fragile");
        let mut call = 0;
        let p = g
            .add(Producer::new("p", move |_, o: &mut Output<'_>| {
                call += 1;
                o.write("output", call)
            }))
            .unwrap();
        let f = g.add(Fragile(starts.clone())).unwrap();
        g.connect(p, "output", f, "input").unwrap();
        let r = Runner::new(&g).mapping(mapping).iterations(5).run().unwrap();
        assert_eq!(r.outputs.get("fragile", "output").map(<[Value]>::len), Some(5), "{mapping}");
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert_eq!(r.report.instances.iter().find(|i| &*i.pe == "fragile").unwrap().stats.restarts, 2);
    }
}
