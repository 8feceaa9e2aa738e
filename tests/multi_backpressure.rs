//! Backpressure: a fast producer feeding a deliberately slow consumer stays a bounded number
//! of units ahead of it, directly (a root on its own thread blocks for credit) and through an
//! actor in between (which pauses its mailbox while waiting for credit).

use dispel4rs::{FnPe, Iterative, Mapping, Output, PeError, PeSpec, Producer, Runner, Value, WorkflowGraph};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const UNITS: i64 = 60_000;
const BATCH: usize = 100;
const MAILBOX: usize = 4;

struct Counters {
    produced: AtomicI64,
    max_ahead: AtomicI64,
}

fn graph(hops: usize, counters: Arc<Counters>) -> WorkflowGraph {
    let mut g = WorkflowGraph::new("backpressure");
    let c = counters.clone();
    let mut prev = g
        .add(Producer::new("fast", move |_, out: &mut Output<'_>| {
            for i in 0..UNITS {
                c.produced.fetch_add(1, Ordering::SeqCst);
                out.write("output", i)?;
            }
            Ok(())
        }))
        .unwrap();
    for h in 0..hops {
        let pass = g.add(Iterative::new(format!("pass{h}"), |x: Value| Ok::<_, PeError>(x))).unwrap();
        g.connect(prev, "output", pass, "input").unwrap();
        prev = pass;
    }
    let mut consumed = 0i64;
    let slow = g
        .add(FnPe::new(
            PeSpec::new("slow").input("input"),
            move |_: &str, _unit: Value, _: &mut Output<'_>| {
                consumed += 1;
                let ahead = counters.produced.load(Ordering::SeqCst) - consumed;
                counters.max_ahead.fetch_max(ahead, Ordering::SeqCst);
                if consumed % 50 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                Ok(())
            },
        ))
        .unwrap();
    g.connect(prev, "output", slow, "input").unwrap();
    g
}

fn max_ahead(hops: usize, n: usize) -> i64 {
    let counters = Arc::new(Counters { produced: AtomicI64::new(0), max_ahead: AtomicI64::new(0) });
    let g = graph(hops, counters.clone());
    let r = Runner::new(&g)
        .mapping(Mapping::Multi)
        .processes(n)
        .configure(|o| {
            o.batch_size = BATCH;
            o.mailbox_batches = MAILBOX;
            o.retry_hold_batches = HOLD;
        })
        .run()
        .unwrap();
    let slow = r.report.instances.iter().find(|i| &*i.pe == "slow").unwrap();
    assert_eq!(slow.stats.units_in, UNITS as u64);
    counters.max_ahead.load(Ordering::SeqCst)
}

/// Full batches the root's (single, long) call holds back until it succeeds or the hold is
/// full (`--retry-hold`).
const HOLD: usize = 2;

/// Per hop: the sender's partial batch, one batch waiting for credit, and the receiver's
/// mailbox (credits are returned only once a batch has been processed); plus what the
/// root's attempt holds back.
fn bound(hops: usize) -> i64 {
    ((hops + 1) * (MAILBOX + 2) * BATCH + HOLD * BATCH) as i64
}

#[test]
fn a_root_waits_for_a_slow_consumer() {
    let ahead = max_ahead(0, 2);
    assert!(ahead <= bound(0), "producer ran {ahead} units ahead (bound {}, stream {UNITS})", bound(0));
}

#[test]
fn an_actor_in_between_pauses_its_mailbox_instead_of_buffering() {
    for n in [1, 3] {
        let ahead = max_ahead(2, n);
        assert!(
            ahead <= bound(2),
            "-n {n}: producer ran {ahead} units ahead (bound {}, stream {UNITS})",
            bound(2)
        );
    }
}

#[test]
fn simple_holds_at_most_a_batch_per_port() {
    let counters = Arc::new(Counters { produced: AtomicI64::new(0), max_ahead: AtomicI64::new(0) });
    let g = graph(2, counters.clone());
    Runner::new(&g)
        .configure(|o| {
            o.batch_size = BATCH;
            o.retry_hold_batches = HOLD;
        })
        .run()
        .unwrap();
    let ahead = counters.max_ahead.load(Ordering::SeqCst);
    assert!(ahead <= ((3 + HOLD) * BATCH) as i64, "simple ran {ahead} units ahead");
}
