//! [`Abort`]: why a run stops before the end of its streams — not a failure of one data unit
//! (those are supervised, retried and dead-lettered) but something the run as a whole cannot
//! go on with: a process of the run died, a peer broke the protocol, an output file could
//! not be written. Every mapping stops with one, and the command line exits with status 1.
//!
//! ```
//! use dispel4rs::{Abort, AbortReason};
//! let a = Abort::new(AbortReason::PeerLost, "worker 2 (pid 4711) stopped responding");
//! assert_eq!(a.reason(), AbortReason::PeerLost);
//! assert_eq!(a.to_string(), "worker 2 (pid 4711) stopped responding");
//! ```

use std::fmt;

/// What kind of thing stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbortReason {
    /// Another process of the run died, stopped answering or closed its connection.
    PeerLost,
    /// Another process of the run failed and stopped it (its reason is in the message).
    PeerFailed,
    /// A peer sent what the protocol does not allow (a malformed frame, another workflow).
    Protocol,
    /// The processes of a run could not meet (nobody joined in time, a refused join).
    Startup,
    /// Sockets, MPI, threads or a queue failed underneath the run.
    Transport,
    /// Collected outputs, dead letters or the report could not be written.
    OutputFailed,
    /// A PE asked for the whole run to stop ([`crate::PeError::aborted`]).
    Requested,
    /// The run is already stopping for another reason: a consequence, not a cause.
    Stopping,
    /// A broken invariant inside dispel4rs (a bug: please report it).
    Internal,
}

impl AbortReason {
    /// A short name for logs and reports (`peer lost`, `protocol`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AbortReason::PeerLost => "peer lost",
            AbortReason::PeerFailed => "peer failed",
            AbortReason::Protocol => "protocol",
            AbortReason::Startup => "start-up",
            AbortReason::Transport => "transport",
            AbortReason::OutputFailed => "output failed",
            AbortReason::Requested => "requested",
            AbortReason::Stopping => "stopping",
            AbortReason::Internal => "internal",
        }
    }
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The run cannot go on: a reason and a message naming what is at fault. See the
/// [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abort {
    reason: AbortReason,
    message: String,
}

impl Abort {
    /// An abort for `reason`, described by `message`.
    pub fn new(reason: AbortReason, message: impl Into<String>) -> Self {
        Abort { reason, message: message.into() }
    }

    /// The run is already stopping (a receiver closed because something else failed).
    pub fn stopping(message: impl Into<String>) -> Self {
        Abort::new(AbortReason::Stopping, message)
    }

    /// A broken invariant inside dispel4rs.
    pub fn internal(message: impl Into<String>) -> Self {
        Abort::new(AbortReason::Internal, message)
    }

    /// Outputs could not be written.
    pub fn output(message: impl Into<String>) -> Self {
        Abort::new(AbortReason::OutputFailed, message)
    }

    /// What kind of thing stopped the run.
    pub fn reason(&self) -> AbortReason {
        self.reason
    }

    /// What is at fault, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same abort with `context: ` put before its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Abort { reason: self.reason, message: format!("{context}: {}", self.message) }
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Abort {}
