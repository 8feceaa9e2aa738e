//! # dispel4rs-python
//!
//! Python PEs on the dispel4rs runtime (WIP).
#![warn(missing_docs)]

pub mod convert;
pub(crate) mod imports;
