//! The outbox of a sending actor: batches for many destinations that could not leave yet
//! for want of credit, kept in order. An actor flushes what it can after each message and,
//! if something is still waiting, pauses its own mailbox (`ctx.wait`) until the credit it
//! needs comes back — a fast producer waits for a slow consumer without blocking the
//! arbiter. A thread that may block simply sends with [`Outbox::drain_blocking`].
//!
//! Order is kept per destination (and across destinations, which is simpler and cheap: the
//! head of the queue waits for its own credit).
//!
//! ```
//! use actix::prelude::*;
//! use dispel4rs_actors::mailbox::{Envelope, Mailbox};
//! use dispel4rs_actors::outbox::Outbox;
//!
//! struct Sink;
//! impl Actor for Sink { type Context = Context<Self>; }
//! impl Handler<Envelope<u32>> for Sink {
//!     type Result = ();
//!     fn handle(&mut self, _: Envelope<u32>, _: &mut Context<Self>) {}
//! }
//! System::new().block_on(async {
//!     let to = vec![Mailbox::new(Sink.start().recipient(), 1)];
//!     let mut outbox = Outbox::new();
//!     outbox.push(0, 1);
//!     outbox.push(0, 2); // no credit left: waits in the outbox
//!     outbox.flush(&to).unwrap();
//!     assert_eq!(outbox.len(), 1);
//! });
//! ```

use crate::credits::{Closed, Permit};
use crate::mailbox::{Mailbox, TrySendError};
use std::collections::VecDeque;
use std::future::Future;

/// Batches waiting for credit, with the index of their destination mailbox.
#[derive(Debug)]
pub struct Outbox<T> {
    queue: VecDeque<(usize, T)>,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox { queue: VecDeque::new() }
    }
}

impl<T: Send + 'static> Outbox<T> {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Batches waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a batch for destination `to` (an index into the mailboxes given to `flush`).
    pub fn push(&mut self, to: usize, payload: T) {
        self.queue.push_back((to, payload));
    }

    /// Sends `payload` to `to` now if nothing waits and a credit is free; else queues it.
    pub fn send_or_queue(&mut self, to: usize, payload: T, mailboxes: &[Mailbox<T>]) -> Result<(), Closed> {
        if self.queue.is_empty() {
            match mailboxes.get(to).ok_or(Closed)?.try_send(payload) {
                Ok(()) => return Ok(()),
                Err(TrySendError::NoCredit(p)) => self.queue.push_back((to, p)),
                Err(TrySendError::Closed(_)) => return Err(Closed),
            }
        } else {
            self.queue.push_back((to, payload));
        }
        Ok(())
    }

    /// Sends queued batches while credits allow; returns true when the outbox is empty.
    pub fn flush(&mut self, mailboxes: &[Mailbox<T>]) -> Result<bool, Closed> {
        while let Some((to, payload)) = self.queue.pop_front() {
            match mailboxes.get(to).ok_or(Closed)?.try_send(payload) {
                Ok(()) => {}
                Err(TrySendError::NoCredit(p)) => {
                    self.queue.push_front((to, p));
                    return Ok(false);
                }
                Err(TrySendError::Closed(_)) => return Err(Closed),
            }
        }
        Ok(true)
    }

    /// A future for the credit the head of the queue waits for (`None` if empty). Await it
    /// (in an actor: `ctx.wait`), then call [`Outbox::send_head`] with the permit.
    pub fn wait_for_credit(
        &self,
        mailboxes: &[Mailbox<T>],
    ) -> Option<impl Future<Output = Result<Permit, Closed>> + Send + 'static> {
        let (to, _) = self.queue.front()?;
        mailboxes.get(*to).map(|m| m.credits().take())
    }

    /// Sends the head of the queue with a credit obtained from [`Outbox::wait_for_credit`].
    pub fn send_head(&mut self, permit: Permit, mailboxes: &[Mailbox<T>]) -> Result<(), Closed> {
        match self.queue.pop_front() {
            Some((to, payload)) => mailboxes.get(to).ok_or(Closed)?.send_with(payload, permit),
            None => Ok(()),
        }
    }

    /// Sends everything, blocking the thread for credits (threads that may block only).
    pub fn drain_blocking(&mut self, mailboxes: &[Mailbox<T>]) -> Result<(), Closed> {
        while let Some((to, payload)) = self.queue.pop_front() {
            mailboxes.get(to).ok_or(Closed)?.send_blocking(payload)?;
        }
        Ok(())
    }
}
