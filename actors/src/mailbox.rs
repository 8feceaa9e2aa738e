//! Mailboxes: the address of an actor plus the credits that bound what it holds. Any actor
//! that handles [`Envelope<T>`] (on an arbiter or a sync arbiter) can sit behind one; so can a
//! proxy that forwards to another process, which is how a remote instance looks like a
//! local mailbox to a router.
//!
//! ```
//! use actix::prelude::*;
//! use dispel4rs_actors::mailbox::{Envelope, Mailbox};
//!
//! struct Sum(u64);
//! impl Actor for Sum { type Context = Context<Self>; }
//! impl Handler<Envelope<Vec<u64>>> for Sum {
//!     type Result = ();
//!     fn handle(&mut self, batch: Envelope<Vec<u64>>, _: &mut Context<Self>) {
//!         self.0 += batch.payload.iter().sum::<u64>();
//!         // dropping `batch` (and its permit) gives the credit back
//!     }
//! }
//!
//! System::new().block_on(async {
//!     let addr = Sum(0).start();
//!     let mailbox = Mailbox::new(addr.recipient(), 4);
//!     mailbox.send(vec![1, 2, 3]).await.unwrap();
//! });
//! ```

use crate::credits::{Closed, Credits, Permit};
use actix::{Message, Recipient};

/// A batch with the credit it holds. Handlers drop it (or its `permit`) once processed.
#[derive(Debug)]
pub struct Envelope<T> {
    /// The batch.
    pub payload: T,
    /// The credit; dropped when the batch has been processed.
    pub permit: Permit,
}

impl<T: 'static> Message for Envelope<T> {
    type Result = ();
}

/// Why a batch could not be sent right away; the batch comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No credit free now: wait for one ([`Mailbox::credits`]) and try again.
    NoCredit(T),
    /// The receiver has stopped.
    Closed(T),
}

/// A credit-controlled handle to an actor receiving `Envelope<T>`. Cheap to clone.
pub struct Mailbox<T: Send + 'static> {
    recipient: Recipient<Envelope<T>>,
    credits: Credits,
}

impl<T: Send + 'static> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox { recipient: self.recipient.clone(), credits: self.credits.clone() }
    }
}

impl<T: Send + 'static> Mailbox<T> {
    /// A mailbox holding at most `capacity` batches for `recipient`.
    pub fn new(recipient: Recipient<Envelope<T>>, capacity: usize) -> Self {
        Mailbox { recipient, credits: Credits::new(capacity) }
    }

    /// A mailbox sharing existing credits (several addresses, one bound).
    pub fn with_credits(recipient: Recipient<Envelope<T>>, credits: Credits) -> Self {
        Mailbox { recipient, credits }
    }

    /// The receiver's credits.
    pub fn credits(&self) -> &Credits {
        &self.credits
    }

    /// True while the receiver is alive.
    pub fn is_open(&self) -> bool {
        self.recipient.connected()
    }

    /// Sends with a credit taken beforehand (from [`Credits::take`]).
    pub fn send_with(&self, payload: T, permit: Permit) -> Result<(), Closed> {
        if !self.recipient.connected() {
            return Err(Closed);
        }
        self.recipient.do_send(Envelope { payload, permit });
        Ok(())
    }

    /// Sends now if a credit is free.
    pub fn try_send(&self, payload: T) -> Result<(), TrySendError<T>> {
        if !self.recipient.connected() {
            return Err(TrySendError::Closed(payload));
        }
        match self.credits.try_take() {
            Some(permit) => {
                self.recipient.do_send(Envelope { payload, permit });
                Ok(())
            }
            None => Err(TrySendError::NoCredit(payload)),
        }
    }

    /// Sends, waiting for a credit.
    pub async fn send(&self, payload: T) -> Result<(), Closed> {
        let permit = self.credits.take().await?;
        self.send_with(payload, permit)
    }

    /// Sends, blocking the thread until a credit is free (never on an arbiter thread).
    pub fn send_blocking(&self, payload: T) -> Result<(), Closed> {
        let permit = self.credits.take_blocking()?;
        self.send_with(payload, permit)
    }
}
