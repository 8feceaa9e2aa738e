//! Routing: sender-owned routers versus a routing actor (one extra hop per batch).
//!
//! The workflow runtime routes with a `Router` owned by each sending instance. This bench
//! measures, side by side in one run, what a separate routing actor would cost: batches of
//! 1024 items go to 4 target actors on another arbiter, hashed by item, either split by the
//! sender itself or sent whole to a `RoutingActor` that splits and forwards them.
//!
//! `cargo bench --bench routing` (add `-- --quick` for a short run).

use actix::prelude::*;
use dispel4rs_actors::mailbox::{Envelope, Mailbox};
use dispel4rs_actors::router::{Pick, Router};
use dispel4rs_actors::routing_actor::RoutingActor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: u64 = 1024;
const TARGETS: usize = 4;

struct Count(Arc<AtomicU64>);

impl Actor for Count {
    type Context = Context<Self>;
}

impl Handler<Envelope<Vec<u64>>> for Count {
    type Result = ();
    fn handle(&mut self, b: Envelope<Vec<u64>>, _: &mut Context<Self>) {
        let sum: u64 = b.payload.iter().fold(0, |a, x| a.wrapping_add(*x));
        std::hint::black_box(sum);
        self.0.fetch_add(b.payload.len() as u64, Ordering::Relaxed);
    }
}

fn key(x: &u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Items per second through `batches` batches, with the sender routing (`actor == false`) or a
/// routing actor in between.
fn run(batches: u64, actor: bool) -> f64 {
    System::new().block_on(async move {
        let arbiter = Arbiter::new();
        let seen = Arc::new(AtomicU64::new(0));
        let targets: Vec<Mailbox<Vec<u64>>> = (0..TARGETS)
            .map(|_| {
                let s = seen.clone();
                Mailbox::new(Count::start_in_arbiter(&arbiter.handle(), move |_| Count(s)).recipient(), 8)
            })
            .collect();
        let total = batches * BATCH;
        let start = Instant::now();
        if actor {
            let router = RoutingActor::new(Router::hash(TARGETS), targets.clone(), key);
            let into = Mailbox::new(router.start().recipient(), 8);
            for b in 0..batches {
                into.send((b * BATCH..(b + 1) * BATCH).collect()).await.expect("router alive");
            }
        } else {
            let mut router = Router::hash(TARGETS);
            let mut splits: Vec<Vec<u64>> = (0..TARGETS).map(|_| Vec::new()).collect();
            for b in 0..batches {
                for x in b * BATCH..(b + 1) * BATCH {
                    if let Pick::One(t) = router.pick_by(key(&x)) {
                        splits[t].push(x);
                    }
                }
                for (t, split) in splits.iter_mut().enumerate() {
                    if !split.is_empty() {
                        targets[t].send(std::mem::take(split)).await.expect("target alive");
                    }
                }
            }
        }
        while seen.load(Ordering::Relaxed) < total {
            actix_rt::time::sleep(Duration::from_micros(100)).await;
        }
        let rate = total as f64 / start.elapsed().as_secs_f64();
        arbiter.stop();
        rate
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let batches = if quick { 500 } else { 5_000 };
    let reps = if quick { 3 } else { 7 };
    let (mut owned, mut hop) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        owned.push(run(batches, false));
        hop.push(run(batches, true));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, h) = (median(&mut owned), median(&mut hop));
    println!("routing {} batches of {BATCH} items to {TARGETS} actors, median of {reps}:", batches);
    println!("  sender-owned router   {:>8.1} M items/s", o / 1e6);
    println!("  routing actor (+hop)  {:>8.1} M items/s", h / 1e6);
    println!("  routing actor / sender-owned = {:.2}x", h / o);
}
