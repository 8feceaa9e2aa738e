//! [`Sink`]: where the batches an instance writes go. Each mapping implements it: `simple`
//! processes them downstream at once, the actor mappings send them to mailboxes, the
//! dynamic mappings turn them into tasks. A PE never sees it; it writes through
//! [`crate::Output`], whose full batches are handed to the sink.

use crate::abort::Abort;
use crate::value::Value;

/// Where full batches go: implemented by each mapping.
pub trait Sink {
    /// Moves the units of `batch`, written on output `port` (an index into the PE's
    /// outputs), onward. Must leave `batch` empty; may keep its capacity for reuse.
    fn flush(&mut self, port: usize, batch: &mut Vec<Value>) -> Result<(), Abort>;
}
