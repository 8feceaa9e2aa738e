//! A router as an actor of its own: batches come in, are split by a [`Router`], and leave
//! for the target mailboxes with the same flow control as any sender.
//!
//! The workflow runtime routes with a [`Router`] owned by each sender instead (no extra hop
//! per batch); this actor exists for topologies that want routing as a separate stage, and
//! for the benchmark that measures what the extra hop costs (`benches/routing.rs`).
//!
//! ```
//! use actix::prelude::*;
//! use dispel4rs_actors::mailbox::{Envelope, Mailbox};
//! use dispel4rs_actors::router::Router;
//! use dispel4rs_actors::routing_actor::RoutingActor;
//! use std::sync::{Arc, Mutex};
//!
//! struct Collect(Arc<Mutex<Vec<u64>>>);
//! impl Actor for Collect { type Context = Context<Self>; }
//! impl Handler<Envelope<Vec<u64>>> for Collect {
//!     type Result = ();
//!     fn handle(&mut self, b: Envelope<Vec<u64>>, _: &mut Context<Self>) {
//!         self.0.lock().unwrap().extend(b.payload);
//!     }
//! }
//! System::new().block_on(async {
//!     let seen = Arc::new(Mutex::new(Vec::new()));
//!     let targets: Vec<_> = (0..2).map(|_| Mailbox::new(Collect(seen.clone()).start().recipient(), 4)).collect();
//!     let router = RoutingActor::new(Router::broadcast(2), targets, |x: &u64| *x).start();
//!     Mailbox::new(router.recipient(), 4).send(vec![1, 2]).await.unwrap();
//! });
//! ```

use crate::mailbox::{Envelope, Mailbox};
use crate::outbox::Outbox;
use crate::router::{Pick, Router};
use actix::prelude::*;

/// Routes batches of `T` to target mailboxes. See the [module documentation](self).
pub struct RoutingActor<T: Clone + Send + Unpin + 'static, K: Fn(&T) -> u64 + Unpin + 'static> {
    router: Router,
    targets: Vec<Mailbox<Vec<T>>>,
    key: K,
    outbox: Outbox<Vec<T>>,
    splits: Vec<Vec<T>>,
}

impl<T: Clone + Send + Unpin + 'static, K: Fn(&T) -> u64 + Unpin + 'static> RoutingActor<T, K> {
    /// A routing actor over `targets` (as many as the router's targets), hashing with `key`.
    pub fn new(router: Router, targets: Vec<Mailbox<Vec<T>>>, key: K) -> Self {
        let splits = (0..targets.len()).map(|_| Vec::new()).collect();
        RoutingActor { router, targets, key, outbox: Outbox::new(), splits }
    }

    fn wait_for_credit(&mut self, ctx: &mut Context<Self>) {
        if let Some(credit) = self.outbox.wait_for_credit(&self.targets) {
            ctx.wait(fut::wrap_future::<_, Self>(credit).map(|permit, act, ctx| {
                let sent = permit.and_then(|p| act.outbox.send_head(p, &act.targets));
                match sent.and_then(|()| act.outbox.flush(&act.targets)) {
                    Ok(false) => act.wait_for_credit(ctx),
                    Ok(true) => {}
                    Err(_) => ctx.stop(),
                }
            }));
        }
    }
}

impl<T: Clone + Send + Unpin + 'static, K: Fn(&T) -> u64 + Unpin + 'static> Actor for RoutingActor<T, K> {
    type Context = Context<Self>;
}

impl<T: Clone + Send + Unpin + 'static, K: Fn(&T) -> u64 + Unpin + 'static> Handler<Envelope<Vec<T>>>
    for RoutingActor<T, K>
{
    type Result = ();

    fn handle(&mut self, batch: Envelope<Vec<T>>, ctx: &mut Context<Self>) {
        let n = self.targets.len();
        if n == 0 {
            return;
        }
        for item in batch.payload {
            match self.router.pick_by((self.key)(&item)) {
                Pick::One(t) => self.splits[t.min(n - 1)].push(item),
                Pick::All => {
                    for split in &mut self.splits[..n - 1] {
                        split.push(item.clone());
                    }
                    self.splits[n - 1].push(item);
                }
            }
        }
        for t in 0..n {
            if !self.splits[t].is_empty() {
                let part = std::mem::take(&mut self.splits[t]);
                if self.outbox.send_or_queue(t, part, &self.targets).is_err() {
                    ctx.stop();
                    return;
                }
            }
        }
        if !self.outbox.is_empty() {
            self.wait_for_credit(ctx);
        }
    }
}
