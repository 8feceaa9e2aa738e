//! The error a PE returns: anything that went wrong in user code.

use std::fmt;

/// An error returned by PE code. Any `std::error::Error` converts into it, so `?` works on
/// I/O, parsing and [`crate::value::ConvertError`] alike; [`PeError::new`] makes one from a
/// message. The supervisor restarts the instance and retries or dead-letters the unit.
///
/// ```
/// use dispel4rs::PeError;
/// fn parse(s: &str) -> Result<i64, PeError> {
///     let n: i64 = s.trim().parse()?;
///     if n < 0 { return Err(PeError::new(format!("negative count {n}"))); }
///     Ok(n)
/// }
/// assert_eq!(parse(" 3 ").unwrap(), 3);
/// assert!(parse("x").unwrap_err().to_string().contains("invalid digit"));
/// ```
pub struct PeError(Box<Inner>);

// Boxed so that `Result<(), PeError>`, returned by every write, fits in a register.
struct Inner {
    message: String,
    aborted: bool,
}

impl PeError {
    /// An error with a message.
    #[cold]
    pub fn new(message: impl Into<String>) -> Self {
        PeError(Box::new(Inner { message: message.into(), aborted: false }))
    }

    /// An error that stops the whole run instead of being retried (the mapping could not
    /// move data on, e.g. a peer process died).
    pub fn aborted(message: impl Into<String>) -> Self {
        PeError(Box::new(Inner { message: message.into(), aborted: true }))
    }

    /// True if the run must stop (see [`PeError::aborted`]).
    pub fn is_abort(&self) -> bool {
        self.0.aborted
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for PeError {
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        PeError::new(message)
    }
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeError({:?}{})", self.0.message, if self.0.aborted { ", aborted" } else { "" })
    }
}
