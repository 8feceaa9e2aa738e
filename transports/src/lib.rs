//! # dispel4rs-transports
//!
//! Moving framed batches of bytes between endpoints (knows nothing of workflows).
#![warn(missing_docs)]
