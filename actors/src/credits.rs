//! Credits: the flow control actix lacks. A receiver owns a fixed number of credits (the
//! batches its mailbox may hold); a sender takes one per batch and the receiver gives it back
//! when it has *processed* the batch (by dropping the [`Permit`] that travelled with it). A
//! sender with no credit waits — asynchronously inside an actor (its mailbox pauses, its
//! arbiter keeps running other actors) or blocking on a thread of its own — so a fast
//! producer runs at the pace of a slow consumer and memory stays bounded.
//!
//! ```
//! use dispel4rs_actors::credits::Credits;
//! let credits = Credits::new(2);
//! let a = credits.try_take().unwrap();
//! let _b = credits.try_take().unwrap();
//! assert!(credits.try_take().is_none());
//! drop(a); // the receiver processed a batch
//! assert!(credits.try_take().is_some());
//! ```

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The credits of one receiver, shared by all its senders (cheap to clone).
#[derive(Clone, Debug)]
pub struct Credits {
    sem: Arc<Semaphore>,
    capacity: usize,
}

/// One credit, held by a batch in flight; dropping it gives the credit back.
pub struct Permit(Release);

enum Release {
    Local(#[allow(dead_code)] OwnedSemaphorePermit),
    Callback(Option<Box<dyn FnOnce() + Send>>),
}

impl Permit {
    /// A credit whose release runs `f` instead of freeing a local semaphore: a batch that came
    /// from another process carries one that sends the credit back over the network.
    pub fn releasing(f: impl FnOnce() + Send + 'static) -> Permit {
        Permit(Release::Callback(Some(Box::new(f))))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Release::Callback(f) = &mut self.0 {
            if let Some(f) = f.take() {
                f();
            }
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Release::Local(_) => "Permit(local)",
            Release::Callback(_) => "Permit(remote)",
        })
    }
}

/// The receiver is gone: no credit will ever come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the receiver has shut down")]
pub struct Closed;

impl Credits {
    /// `capacity` credits (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Credits { sem: Arc::new(Semaphore::new(capacity)), capacity }
    }

    /// The total number of credits.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Credits not taken right now.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }

    /// Takes a credit if one is free.
    pub fn try_take(&self) -> Option<Permit> {
        self.sem.clone().try_acquire_owned().ok().map(|p| Permit(Release::Local(p)))
    }

    /// Waits for a credit (for actors: `'static`, so it can be awaited with `ctx.wait`).
    pub fn take(&self) -> impl std::future::Future<Output = Result<Permit, Closed>> + Send + 'static {
        let sem = self.sem.clone();
        async move { sem.acquire_owned().await.map(|p| Permit(Release::Local(p))).map_err(|_| Closed) }
    }

    /// Blocks the calling thread until a credit is free (for threads that may block:
    /// sources and blocking PEs; never call it on an arbiter thread).
    pub fn take_blocking(&self) -> Result<Permit, Closed> {
        if let Some(p) = self.try_take() {
            return Ok(p);
        }
        futures::executor::block_on(self.take())
    }

    /// Shuts the credits: every waiting and future taker gets [`Closed`].
    pub fn close(&self) {
        self.sem.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn blocking_take_waits_for_a_release_from_another_thread() {
        let credits = Credits::new(1);
        let held = credits.try_take().unwrap();
        let c = credits.clone();
        let t = std::thread::spawn(move || c.take_blocking().map(|_| ()));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!t.is_finished());
        drop(held);
        assert_eq!(t.join().unwrap(), Ok(()));
        assert_eq!(credits.available(), 1);
    }

    #[test]
    fn a_releasing_permit_runs_its_callback_once_when_dropped() {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let p = Permit::releasing(move || {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        drop(p);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn close_wakes_waiters_with_an_error() {
        let credits = Credits::new(1);
        let _held = credits.try_take().unwrap();
        let c = credits.clone();
        let t = std::thread::spawn(move || c.take_blocking().map(|_| ()));
        std::thread::sleep(Duration::from_millis(20));
        credits.close();
        assert_eq!(t.join().unwrap(), Err(Closed));
    }
}
