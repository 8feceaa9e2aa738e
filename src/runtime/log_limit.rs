//! Logging at a bounded rate: the first few events of a kind are logged in full, then only
//! a count per kind (per PE, per socket) at most once a second, so a PE that dead-letters
//! millions of units, or a stranger writing garbage to a port, cannot flood the log (nor
//! slow the run down writing it). The counts are exact; the report and `--dead-letters`
//! keep every event.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a count of events not logged one by one is written.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// The level of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Warn,
    Error,
}

#[derive(Debug)]
struct State {
    logged: u32,
    suppressed: u64,
    since: Instant,
    level: Level,
}

/// A log of one kind of event (`what`: "dead letters", "rejected frames"), keyed by where
/// they happen. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    what: &'static str,
    full: u32,
    states: Mutex<HashMap<String, State>>,
}

fn emit(level: Level, text: &str) {
    match level {
        Level::Warn => tracing::warn!("{text}"),
        Level::Error => tracing::error!("{text}"),
    }
}

impl RateLimitedLog {
    /// Logs the first `full` events of each key in full.
    pub(crate) fn new(what: &'static str, full: u32) -> Self {
        RateLimitedLog { what, full, states: Mutex::new(HashMap::new()) }
    }

    /// One event of `key`; `message` is only built if it is logged.
    pub(crate) fn event(&self, key: &str, level: Level, message: impl FnOnce() -> String) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let state = match states.get_mut(key) {
            Some(s) => s,
            None => {
                states.entry(key.to_owned()).or_insert(State { logged: 0, suppressed: 0, since: now, level })
            }
        };
        if state.logged < self.full {
            state.logged += 1;
            emit(level, &message());
            if state.logged == self.full {
                state.since = now;
            }
            return;
        }
        state.suppressed += 1;
        if now.duration_since(state.since) >= SUMMARY_EVERY {
            let text = self.summary(key, state.suppressed, now.duration_since(state.since));
            state.suppressed = 0;
            state.since = now;
            emit(level, &text);
        }
    }

    /// A warning without a key.
    pub(crate) fn warn(&self, message: &str) {
        self.event("", Level::Warn, || message.to_owned());
    }

    fn summary(&self, key: &str, n: u64, over: Duration) -> String {
        let at = if key.is_empty() { String::new() } else { format!(" ({key})") };
        format!("{n} more {}{at} in the last {:.1} s, not logged one by one", self.what, over.as_secs_f64())
    }

    /// Logs the counts not written yet (at the end of a run).
    pub(crate) fn flush(&self) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for (key, state) in states.iter_mut() {
            if state.suppressed > 0 {
                let text = self.summary(key, state.suppressed, now.duration_since(state.since));
                state.suppressed = 0;
                state.since = now;
                emit(state.level, &text);
            }
        }
    }

    /// Events of `key` not logged one by one and not yet summarised (for tests).
    #[cfg(test)]
    fn pending(&self, key: &str) -> u64 {
        self.states.lock().unwrap().get(key).map_or(0, |s| s.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_events_are_logged_then_only_counted() {
        let log = RateLimitedLog::new("dead letters", 2);
        let mut built = 0;
        for _ in 0..1000 {
            log.event("pe split", Level::Error, || {
                built += 1;
                "x".into()
            });
        }
        assert_eq!(built, 2, "only the logged messages are built");
        assert!(log.pending("pe split") >= 998 - 1, "the rest is counted");
        log.event("pe count", Level::Error, || "y".into());
        assert_eq!(log.pending("pe count"), 0, "each key has its own allowance");
        log.flush();
        assert_eq!(log.pending("pe split"), 0);
        assert_eq!(
            log.summary("pe split", 7, Duration::from_millis(1500)),
            "7 more dead letters (pe split) in the last 1.5 s, not logged one by one"
        );
    }
}
