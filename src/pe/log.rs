//! Logging from a PE: [`Output::log`], [`Output::warn`], [`Output::debug`] — dispel4py's
//! `self.log(...)`. Each message is a `tracing` event with target `dispel4rs::pe` and the PE
//! and instance as fields, so it reads `... INFO dispel4rs::pe: split[2]: 40 lines read`.
//!
//! The command line shows `log` and `warn` messages at the default verbosity (its filter is
//! `warn,dispel4rs::pe=info`), `debug` ones with `-vv`; `RUST_LOG` overrides. Under the
//! multi-process mappings a worker's messages reach the coordinator's terminal like
//! everything else the worker writes on its standard error (prefixed with the worker).
//!
//! `tracing` itself is re-exported ([`crate::tracing`]) for PEs that want its macros; the
//! events they emit while a unit is processed carry the instance's span (`pe{name=split
//! instance=2}`).
//!
//! ```
//! use dispel4rs::{Consumer, Runner, WorkflowGraph, Producer, Value};
//! let mut g = WorkflowGraph::new("logged");
//! let src = g.add(Producer::new("numbers", |_, out| {
//!     out.log("writing 3 units");
//!     for i in 0..3 { out.write("output", i)?; }
//!     Ok(())
//! })).unwrap();
//! let sink = g.add(Consumer::new("sink", |v: Value| { let _ = v; Ok(()) })).unwrap();
//! g.connect(src, "output", sink, "input").unwrap();
//! Runner::new(&g).run().unwrap();
//! ```

use super::Output;
use std::fmt::Display;

/// The target of every PE message: `RUST_LOG=dispel4rs::pe=debug` selects them.
pub const TARGET: &str = "dispel4rs::pe";

impl Output<'_> {
    /// Logs `message` at level INFO (shown by default), naming this PE and instance.
    pub fn log(&self, message: impl Display) {
        let i = self.instance();
        tracing::info!(target: TARGET, "{}[{}]: {message}", i.pe, i.index);
    }

    /// Logs `message` at level WARN, naming this PE and instance.
    pub fn warn(&self, message: impl Display) {
        let i = self.instance();
        tracing::warn!(target: TARGET, "{}[{}]: {message}", i.pe, i.index);
    }

    /// Logs `message` at level DEBUG (shown with `-vv`), naming this PE and instance.
    pub fn debug(&self, message: impl Display) {
        let i = self.instance();
        tracing::debug!(target: TARGET, "{}[{}]: {message}", i.pe, i.index);
    }
}
