//! Flow control between real actix actors on separate arbiters: a fast producer actor is
//! paced by a slow consumer (credits), keeps order per destination, and a routing actor
//! spreads batches by its strategy.

use actix::prelude::*;
use dispel4rs_actors::mailbox::{Envelope, Mailbox};
use dispel4rs_actors::outbox::Outbox;
use dispel4rs_actors::router::Router;
use dispel4rs_actors::routing_actor::RoutingActor;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Receives batches slowly, records them, tracks how far the producer is ahead.
struct Slow {
    seen: Arc<Mutex<Vec<u64>>>,
    produced: Arc<AtomicI64>,
    max_ahead: Arc<AtomicI64>,
}

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<Envelope<Vec<u64>>> for Slow {
    type Result = ();
    fn handle(&mut self, batch: Envelope<Vec<u64>>, _: &mut Context<Self>) {
        std::thread::sleep(Duration::from_millis(2));
        let mut seen = self.seen.lock().unwrap();
        seen.extend(batch.payload);
        let ahead = self.produced.load(Ordering::SeqCst) - seen.len() as i64;
        self.max_ahead.fetch_max(ahead, Ordering::SeqCst);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Go(u64);

/// Produces `Go(n)` batches of 10 as fast as credits allow, pausing its mailbox otherwise.
struct Fast {
    to: Vec<Mailbox<Vec<u64>>>,
    outbox: Outbox<Vec<u64>>,
    produced: Arc<AtomicI64>,
    next: u64,
    left: u64,
}

impl Fast {
    fn pump(&mut self, ctx: &mut Context<Self>) {
        while self.left > 0 {
            let batch: Vec<u64> = (self.next..self.next + 10).collect();
            self.next += 10;
            self.left -= 1;
            self.produced.fetch_add(10, Ordering::SeqCst);
            self.outbox.send_or_queue(0, batch, &self.to).unwrap();
            if !self.outbox.is_empty() {
                let credit = self.outbox.wait_for_credit(&self.to).unwrap();
                ctx.wait(fut::wrap_future::<_, Self>(credit).map(|permit, act, ctx| {
                    act.outbox.send_head(permit.unwrap(), &act.to).unwrap();
                    act.pump(ctx);
                }));
                return;
            }
        }
    }
}

impl Actor for Fast {
    type Context = Context<Self>;
}

impl Handler<Go> for Fast {
    type Result = ();
    fn handle(&mut self, go: Go, ctx: &mut Context<Self>) {
        self.left = go.0;
        self.pump(ctx);
    }
}

#[test]
fn a_fast_actor_is_paced_by_a_slow_one_and_order_is_kept() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let produced = Arc::new(AtomicI64::new(0));
    let max_ahead = Arc::new(AtomicI64::new(0));
    let (s, p, p2, m) = (seen.clone(), produced.clone(), produced.clone(), max_ahead.clone());
    let seen_probe = seen.clone();
    System::new().block_on(async move {
        let a = Arbiter::new();
        let b = Arbiter::new();
        let slow = Slow::start_in_arbiter(&a.handle(), move |_| Slow { seen: s, produced: p2, max_ahead: m });
        let to = vec![Mailbox::new(slow.recipient(), 3)];
        let fast = Fast::start_in_arbiter(&b.handle(), move |_| Fast {
            to,
            outbox: Outbox::new(),
            produced: p,
            next: 0,
            left: 0,
        });
        fast.send(Go(100)).await.unwrap();
        while seen_probe.lock().unwrap().len() < 1000 {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        a.stop();
        b.stop();
    });
    assert_eq!(produced.load(Ordering::SeqCst), 1000);
    let ahead = max_ahead.load(Ordering::SeqCst);
    // 3 credits of 10-item batches, one batch being processed, one waiting in the outbox.
    assert!(ahead <= 50, "producer ran {ahead} items ahead");
    let got = seen.lock().unwrap();
    assert_eq!(*got, (0..1000).collect::<Vec<u64>>(), "order kept");
}

struct Collect(Arc<Mutex<Vec<(usize, u64)>>>, usize);

impl Actor for Collect {
    type Context = Context<Self>;
}

impl Handler<Envelope<Vec<u64>>> for Collect {
    type Result = ();
    fn handle(&mut self, b: Envelope<Vec<u64>>, _: &mut Context<Self>) {
        let mut v = self.0.lock().unwrap();
        v.extend(b.payload.into_iter().map(|x| (self.1, x)));
    }
}

#[test]
fn the_routing_actor_hashes_round_robins_and_broadcasts() {
    for (router, expect_total) in
        [(Router::hash(3), 300), (Router::round_robin(3, 0), 300), (Router::broadcast(3), 900)]
    {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        System::new().block_on(async move {
            let targets: Vec<_> =
                (0..3).map(|i| Mailbox::new(Collect(g.clone(), i).start().recipient(), 2)).collect();
            let r =
                RoutingActor::new(router, targets, |x: &u64| x.wrapping_mul(0x9E37_79B9_7F4A_7C15)).start();
            let into = Mailbox::new(r.recipient(), 2);
            for chunk in (0..300u64).collect::<Vec<_>>().chunks(30) {
                into.send(chunk.to_vec()).await.unwrap();
            }
            while g.lock().unwrap().len() < expect_total {
                actix_rt::time::sleep(Duration::from_millis(2)).await;
            }
        });
        let got = got.lock().unwrap();
        assert_eq!(got.len(), expect_total);
        let mut per_target = [0usize; 3];
        for (t, _) in got.iter() {
            per_target[*t] += 1;
        }
        assert!(per_target.iter().all(|c| *c > 0), "{per_target:?}");
        if expect_total == 300 {
            // Each item reached exactly one target, and for hashing, always the same one.
            let mut items: Vec<u64> = got.iter().map(|(_, x)| *x).collect();
            items.sort_unstable();
            assert_eq!(items, (0..300).collect::<Vec<_>>());
        }
    }
}
