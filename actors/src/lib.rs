//! # dispel4rs-actors
//!
//! Supervised actors, bounded credit-controlled mailboxes and routers on actix + tokio.
//! This crate knows nothing of workflows or processing elements: it moves batches of `T`
//! between actors, keeps memory bounded, and restarts what fails.
//!
//! ## Crate map
//!
//! | module | concept |
//! |---|---|
//! | [`router`] | round-robin, hash, broadcast and single routing decisions |
//! | [`supervision`] | catching panics, restart policy with window and exponential back-off |
#![warn(missing_docs)]

pub mod router;
pub mod supervision;
