//! # dispel4rs-actors
//!
//! Supervised actors, bounded credit-controlled mailboxes and routers on actix + tokio.
//! This crate knows nothing of workflows or processing elements: it moves batches between
//! actors, keeps memory bounded, and restarts what fails.
//!
//! ## Crate map
//!
//! | module | concept |
//! |---|---|
//! | [`credits`] | flow control: a receiver's credits, taken per batch, returned when processed |
//! | [`mailbox`] | an actor's address plus its credits; [`mailbox::Envelope`] carries a batch and its credit |
//! | [`pool`] | a pool of worker actors, each on a thread of its own, that grows and shrinks |
//! | [`scaling`] | the scaling policy: workers needed from measured busy time and backlog (pure) |
//! | [`outbox`] | a sender's batches waiting for credit, flushed in order |
//! | [`router`] | round-robin, hash, broadcast and single routing decisions |
//! | [`routing_actor`] | a router as a separate actor stage |
//! | [`supervision`] | catching panics, restart policy with window and exponential back-off |
#![warn(missing_docs)]

pub mod credits;
pub mod mailbox;
pub mod outbox;
pub mod pool;
pub mod router;
pub mod routing_actor;
pub mod scaling;
pub mod supervision;
