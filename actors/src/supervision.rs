//! Supervision: catching a panic, and the restart policy that decides whether a failed
//! actor is re-created from its factory (and after how long) or given up.
//!
//! actix does not catch panics in handlers; a supervised actor runs each unit of user work
//! through [`catch_panic`] and reports failures to a [`RestartTracker`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use dispel4rs_actors::supervision::{Decision, RestartPolicy, RestartTracker, catch_panic};
//!
//! let failed = catch_panic(|| -> u32 { panic!("bad trace") }).unwrap_err();
//! assert_eq!(failed.message(), "bad trace");
//!
//! let mut t = RestartTracker::new(RestartPolicy { max_restarts: 1, ..RestartPolicy::default() });
//! let now = Instant::now();
//! assert!(matches!(t.on_failure(now), Decision::Restart { .. }));
//! assert!(matches!(t.on_failure(now), Decision::GiveUp { .. }));
//! ```

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// When a failing actor is restarted, and when it is given up.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestartPolicy {
    /// Most restarts allowed within [`Self::window`]; one more gives up.
    pub max_restarts: u32,
    /// The sliding window for [`Self::max_restarts`].
    pub window: Duration,
    /// Most failures in a row (with no success between) before giving up.
    pub max_consecutive: u32,
    /// Back-off before the first restart of a run of failures; doubles per consecutive failure.
    pub backoff_initial: Duration,
    /// Ceiling of the back-off.
    pub backoff_max: Duration,
}

impl Default for RestartPolicy {
    /// 100 restarts in 10 s, 10 failures in a row, back-off 1 ms doubling to 100 ms.
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 100,
            window: Duration::from_secs(10),
            max_consecutive: 10,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(100),
        }
    }
}

/// What to do after a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Re-create the actor from its factory after waiting `backoff`.
    Restart {
        /// How long to wait before the restart.
        backoff: Duration,
    },
    /// Stop restarting: the policy's limits are exhausted.
    GiveUp {
        /// Which limit, in words, for the run report.
        reason: String,
    },
}

/// Counts failures against a [`RestartPolicy`].
#[derive(Clone, Debug)]
pub struct RestartTracker {
    policy: RestartPolicy,
    recent: VecDeque<Instant>,
    consecutive: u32,
    total: u64,
}

impl RestartTracker {
    /// A tracker with no failures yet.
    pub fn new(policy: RestartPolicy) -> Self {
        RestartTracker { policy, recent: VecDeque::new(), consecutive: 0, total: 0 }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RestartPolicy {
        &self.policy
    }

    /// Restarts decided so far.
    pub fn restarts(&self) -> u64 {
        self.total
    }

    /// Records a success: the run of consecutive failures ends (back-off resets).
    pub fn on_success(&mut self) {
        self.consecutive = 0;
    }

    /// Records a failure at `now` and decides.
    pub fn on_failure(&mut self, now: Instant) -> Decision {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) > self.policy.window) {
            self.recent.pop_front();
        }
        self.consecutive += 1;
        if self.consecutive > self.policy.max_consecutive {
            return Decision::GiveUp {
                reason: format!(
                    "{} failures in a row (limit {})",
                    self.consecutive, self.policy.max_consecutive
                ),
            };
        }
        if self.recent.len() >= self.policy.max_restarts as usize {
            return Decision::GiveUp {
                reason: format!(
                    "more than {} restarts within {:?}",
                    self.policy.max_restarts, self.policy.window
                ),
            };
        }
        self.recent.push_back(now);
        self.total += 1;
        let shift = (self.consecutive - 1).min(30);
        let backoff = self.policy.backoff_initial.saturating_mul(1 << shift).min(self.policy.backoff_max);
        Decision::Restart { backoff }
    }
}

/// A panic caught by [`catch_panic`], with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked(String);

impl Panicked {
    /// The panic message (`"<non-string panic payload>"` when there was none).
    pub fn message(&self) -> &str {
        &self.0
    }

    fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let msg = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_owned()
        };
        Panicked(msg)
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.0)
    }
}

impl std::error::Error for Panicked {}

thread_local! {
    static SUPERVISED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic into an error. The caller must treat any state `f` touched as
/// suspect (a supervised actor discards it and re-creates the worker from its factory).
#[inline(always)]
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    let outer = SUPERVISED.with(|s| s.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f)).map_err(Panicked::from_payload);
    SUPERVISED.with(|s| s.set(outer));
    result
}

/// As [`catch_panic`], for calls nested inside one (the hot path of a batch: the outer call
/// already marks the thread as supervised, so this skips that bookkeeping).
#[inline(always)]
pub fn catch_panic_nested<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(Panicked::from_payload)
}

/// Installs (once per process) a panic hook that keeps panics caught by [`catch_panic`] off
/// stderr — the supervisor reports them, with the failed unit — and passes every other
/// panic to the hook that was installed before.
pub fn quiet_supervised_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SUPERVISED.with(|s| s.get()) {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(1),
            max_consecutive: 100,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
        }
    }

    #[test]
    fn window_limits_restarts_and_slides() {
        let mut t = RestartTracker::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(matches!(t.on_failure(t0), Decision::Restart { .. }));
            t.on_success();
        }
        assert!(matches!(t.on_failure(t0), Decision::GiveUp { .. }));
        // After the window has passed, restarts are allowed again.
        let later = t0 + Duration::from_millis(1500);
        assert!(matches!(t.on_failure(later), Decision::Restart { .. }));
        assert_eq!(t.restarts(), 4);
    }

    #[test]
    fn backoff_doubles_per_consecutive_failure_and_is_capped() {
        let mut p = policy();
        p.max_restarts = 100;
        let mut t = RestartTracker::new(p);
        let now = Instant::now();
        let got: Vec<Duration> = (0..5)
            .map(|_| match t.on_failure(now) {
                Decision::Restart { backoff } => backoff,
                d => panic!("{d:?}"),
            })
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(got, [ms(1), ms(2), ms(4), ms(5), ms(5)]);
        t.on_success();
        assert_eq!(t.on_failure(now), Decision::Restart { backoff: ms(1) });
    }

    #[test]
    fn consecutive_failures_give_up() {
        let mut p = policy();
        p.max_restarts = 1000;
        p.max_consecutive = 2;
        let mut t = RestartTracker::new(p);
        let now = Instant::now();
        assert!(matches!(t.on_failure(now), Decision::Restart { .. }));
        assert!(matches!(t.on_failure(now), Decision::Restart { .. }));
        match t.on_failure(now) {
            Decision::GiveUp { reason } => assert!(reason.contains("3 failures in a row"), "{reason}"),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn panics_are_caught_with_their_message() {
        assert_eq!(catch_panic(|| 5).unwrap(), 5);
        let e = catch_panic(|| panic!("x = {}", 3)).unwrap_err();
        assert_eq!(e.message(), "x = 3");
        let e = catch_panic(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(e.message(), "<non-string panic payload>");
    }
}
