//! The scaling policy of a pool: how many workers the measured load needs. Pure — the time
//! and the measurements are passed in — so it is tested with synthetic load traces, and the
//! same policy drives an in-process pool of actors and a pool of processes.
//!
//! # The rule
//!
//! Every interval the executor reports a [`Load`]: how long the workers were busy, how much
//! work waits (the queue's backlog, in seconds of work at the measured cost of its tasks) and
//! how long producers waited for room in the queue. The policy estimates the **demand** in
//! workers, as DS2 (Kalavri et al., OSDI 2018) does from *useful* time rather than from queue
//! length alone:
//!
//! ```text
//! demand = busy / interval                 the work the pool absorbed, in workers
//!        + backlog_work / drain_target     what it takes to clear the backlog in time
//! target = ceil(demand × (1 + headroom)), within [min, max]
//! ```
//!
//! When producers were held back by a full queue and the backlog alone does not explain it
//! (its cost is not known yet), the pool is *saturated*: the target is at least twice the
//! current size.
//!
//! * **Up** at once when the demand reaches the pool (`demand > 0.95 × workers`: it is busy all
//!   the time, or a backlog builds) and `target > workers`: a backlog is expensive, an idle
//!   worker is cheap. A pool that keeps up with room to spare is not grown for noise.
//! * **Down** only with **hysteresis**: to `ceil(demand × (1 + headroom) / (1 − hysteresis))`
//!   at the larger demand of the last two of `down_patience` intervals in a row that all
//!   wanted fewer, and
//!   not within `cooldown` of the last change. The smaller pool is then at most
//!   `(1 − hysteresis) / (1 + headroom)` busy at that demand, far from the 95 % that grows
//!   it again: noise does not make it flap, and a lull must be real before workers go.

use std::time::Duration;

/// The knobs of the policy. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingPolicy {
    /// Fewest workers (at least 1).
    pub min: usize,
    /// Most workers (at least `min`).
    pub max: usize,
    /// Plan for this much more than the measured demand (0.25: 25 %).
    pub headroom: f64,
    /// The backlog should drain within this.
    pub drain_target: Duration,
    /// Shrink only when the target is at most `(1 − hysteresis)` of the pool.
    pub hysteresis: f64,
    /// Intervals in a row that must want fewer workers before the pool shrinks.
    pub down_patience: u32,
    /// No shrinking within this long after a change.
    pub cooldown: Duration,
}

impl ScalingPolicy {
    /// The policy between `min` and `max` workers for measurements every `interval`:
    /// 25 % headroom, a backlog drained within 4 intervals, 20 % hysteresis, 3 intervals of
    /// patience and a cooldown of 3 intervals before shrinking.
    pub fn new(min: usize, max: usize, interval: Duration) -> Self {
        let min = min.max(1);
        ScalingPolicy {
            min,
            max: max.max(min),
            headroom: 0.25,
            drain_target: interval * 4,
            hysteresis: 0.2,
            down_patience: 3,
            cooldown: interval * 3,
        }
    }
}

/// What the executor measured over one interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    /// When (since the start).
    pub at: Duration,
    /// The length of the interval measured.
    pub interval: Duration,
    /// Active workers during the interval.
    pub workers: usize,
    /// Time the workers spent working, summed over them.
    pub busy: Duration,
    /// Work waiting in the queue at the end of the interval, at its measured cost.
    pub backlog_work: Duration,
    /// Tasks waiting in the queue at the end of the interval.
    pub backlog_tasks: u64,
    /// Time producers spent waiting for room in the queue, summed over them.
    pub producers_waited: Duration,
}

/// Why the policy changed the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The measured demand needs more workers.
    Demand,
    /// Producers were held back by a full queue: at least double.
    Saturated,
    /// The demand stayed low for long enough.
    Lull,
}

impl Reason {
    /// A word for reports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Demand => "demand",
            Reason::Saturated => "saturated",
            Reason::Lull => "lull",
        }
    }
}

/// A change of the pool's size, with the figures it was based on.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingDecision {
    /// When (since the start).
    pub at: Duration,
    /// Workers before.
    pub from: usize,
    /// Workers after.
    pub to: usize,
    /// Why.
    pub reason: Reason,
    /// The measured demand, in workers.
    pub demand: f64,
    /// Busy share of the pool over the interval (0..=1).
    pub utilisation: f64,
    /// The backlog, in seconds of work.
    pub backlog_s: f64,
}

/// The policy's memory between intervals. See the [module documentation](self).
///
/// ```
/// use dispel4rs_actors::scaling::{Load, ScalingPolicy, Scaler};
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut s = Scaler::new(ScalingPolicy::new(1, 16, ms(100)));
/// // One worker busy all the time and 3 s of work queued: grow at once.
/// let d = s.observe(&Load { at: ms(100), interval: ms(100), workers: 1, busy: ms(100),
///     backlog_work: ms(3000), backlog_tasks: 300, ..Load::default() }).unwrap();
/// // demand 1 + 3 s / 0.4 s = 8.5 workers, with 25 % headroom: 11
/// assert_eq!((d.from, d.to), (1, 11));
/// ```
#[derive(Clone, Debug)]
pub struct Scaler {
    policy: ScalingPolicy,
    last_change: Option<Duration>,
    wanting_fewer: u32,
    /// The down targets of the intervals of the current streak, newest last (at most 2).
    recent_down: Vec<usize>,
}

impl Scaler {
    /// A scaler with no history.
    pub fn new(policy: ScalingPolicy) -> Self {
        Scaler { policy, last_change: None, wanting_fewer: 0, recent_down: Vec::new() }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ScalingPolicy {
        &self.policy
    }

    /// The demand in workers that `load` shows, and whether producers were saturated.
    pub fn demand(&self, load: &Load) -> (f64, bool) {
        let interval = load.interval.as_secs_f64().max(1e-9);
        let served = load.busy.as_secs_f64() / interval;
        let backlog = load.backlog_work.as_secs_f64() / self.policy.drain_target.as_secs_f64().max(1e-9);
        let held_back = load.producers_waited.as_secs_f64() / interval > 0.05;
        let saturated = held_back && backlog < load.workers as f64;
        (served + backlog, saturated)
    }

    /// Takes one interval's measurements; returns the change to make, if any.
    pub fn observe(&mut self, load: &Load) -> Option<ScalingDecision> {
        let p = &self.policy;
        let workers = load.workers;
        let (demand, saturated) = self.demand(load);
        let mut target = (demand * (1.0 + p.headroom)).ceil() as usize;
        if saturated {
            target = target.max(workers * 2);
        }
        let target = target.clamp(p.min, p.max);
        let utilisation = if workers == 0 {
            0.0
        } else {
            (load.busy.as_secs_f64() / (workers as f64 * load.interval.as_secs_f64().max(1e-9))).min(1.0)
        };
        let decision = |to: usize, reason: Reason| ScalingDecision {
            at: load.at,
            from: workers,
            to,
            reason,
            demand,
            utilisation,
            backlog_s: load.backlog_work.as_secs_f64(),
        };
        let reaches_pool = demand > workers as f64 * 0.95 || saturated;
        if (reaches_pool && target > workers) || workers < p.min {
            self.wanting_fewer = 0;
            self.last_change = Some(load.at);
            let reason = if saturated { Reason::Saturated } else { Reason::Demand };
            return Some(decision(target.max(p.min), reason));
        }
        // Shrinking keeps the band: at the largest demand of the streak the smaller pool is
        // still at most `(1 − hysteresis)` busy after the headroom.
        let down = ((demand * (1.0 + p.headroom)) / (1.0 - p.hysteresis).max(0.05)).ceil() as usize;
        if down < workers {
            if self.wanting_fewer == 0 {
                self.recent_down.clear();
            }
            self.recent_down.push(down);
            if self.recent_down.len() > 2 {
                self.recent_down.remove(0);
            }
            let streak_target = self.recent_down.iter().copied().max().unwrap_or(down);
            self.wanting_fewer += 1;
            let cooled = self.last_change.is_none_or(|t| load.at.saturating_sub(t) >= p.cooldown);
            if self.wanting_fewer >= p.down_patience && cooled && streak_target < workers {
                let to = streak_target.clamp(p.min, p.max);
                self.wanting_fewer = 0;
                self.last_change = Some(load.at);
                return Some(decision(to, Reason::Lull));
            }
            return None;
        }
        self.wanting_fewer = 0;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    /// A pool serving work that arrives at `demand(i)` workers' worth in interval `i`, with a
    /// backlog carried between intervals; returns the pool size after each interval and every
    /// decision.
    fn simulate(
        start: usize,
        max: usize,
        intervals: usize,
        demand: impl Fn(usize) -> f64,
    ) -> (Vec<usize>, Vec<ScalingDecision>) {
        let mut scaler = Scaler::new(ScalingPolicy::new(1, max, INTERVAL));
        let mut workers = start;
        let mut backlog = 0.0f64; // seconds of work
        let mut sizes = Vec::new();
        let mut decisions = Vec::new();
        let i_s = INTERVAL.as_secs_f64();
        for i in 0..intervals {
            let arriving = demand(i) * i_s;
            let capacity = workers as f64 * i_s;
            let busy = capacity.min(backlog + arriving);
            backlog = (backlog + arriving - busy).max(0.0);
            let load = Load {
                at: INTERVAL * (i as u32 + 1),
                interval: INTERVAL,
                workers,
                busy: Duration::from_secs_f64(busy),
                backlog_work: Duration::from_secs_f64(backlog),
                backlog_tasks: (backlog / 0.002) as u64,
                producers_waited: Duration::ZERO,
            };
            if let Some(d) = scaler.observe(&load) {
                workers = d.to;
                decisions.push(d);
            }
            sizes.push(workers);
        }
        (sizes, decisions)
    }

    #[test]
    fn a_step_up_is_met_within_three_decisions() {
        let (sizes, decisions) = simulate(1, 32, 30, |i| if i < 5 { 0.5 } else { 10.0 });
        let first_up = decisions.iter().position(|d| d.to > d.from).expect("it grows");
        let enough = sizes.iter().skip(5).position(|s| *s >= 10).expect("it reaches the demand");
        assert!(enough <= 3, "reached 10 workers {enough} intervals after the step: {sizes:?}");
        assert!(decisions.len() - first_up <= 3 || sizes[29] >= 10, "{decisions:?}");
        // Settled afterwards within the band: enough for the demand, at most 1/0.64 of it.
        assert!(sizes[29] >= 10 && sizes[29] <= 16, "{sizes:?}");
        assert_eq!(sizes[25..], [sizes[29]; 5], "{sizes:?}");
    }

    #[test]
    fn a_step_down_shrinks_after_a_real_lull_and_not_below_the_need() {
        let (sizes, decisions) = simulate(16, 16, 40, |i| if i < 10 { 12.0 } else { 1.0 });
        assert!(sizes[9] >= 12, "it keeps the workers the load needs: {sizes:?}");
        let lull = decisions.iter().find(|d| d.reason == Reason::Lull).expect("it shrinks");
        assert!(lull.at > INTERVAL * 11, "not before the lull lasted: {lull:?}");
        assert!(sizes[39] >= 2 && sizes[39] <= 3, "one worker of demand with headroom: {sizes:?}");
    }

    #[test]
    fn a_steady_load_does_not_change_the_pool() {
        let (sizes, decisions) = simulate(4, 16, 50, |_| 5.0);
        // It settles within a few intervals, then never moves.
        let last_change = decisions.last().map_or(Duration::ZERO, |d| d.at);
        assert!(last_change <= INTERVAL * 5, "{decisions:?}");
        assert!(sizes[49] >= 5 && sizes[49] <= 8, "{sizes:?}");
    }

    #[test]
    fn noise_around_a_level_does_not_make_it_flap() {
        // ±30 % noise from a fixed sequence around 6 workers of demand.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<f64> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                6.0 * (0.7 + 0.6 * (x % 1000) as f64 / 1000.0)
            })
            .collect();
        let (sizes, decisions) = simulate(6, 32, 200, |i| noise[i]);
        let downs = decisions.iter().filter(|d| d.reason == Reason::Lull).count();
        assert!(decisions.len() <= 8, "{} changes in 200 intervals: {decisions:?}", decisions.len());
        assert!(downs <= 3, "{decisions:?}");
        assert!(sizes.iter().skip(20).all(|s| *s >= 6), "never below the mean demand: {sizes:?}");
    }

    #[test]
    fn held_back_producers_with_an_unknown_backlog_double_the_pool() {
        let mut s = Scaler::new(ScalingPolicy::new(1, 16, INTERVAL));
        let load = Load {
            at: INTERVAL,
            interval: INTERVAL,
            workers: 3,
            busy: INTERVAL * 3,
            backlog_work: Duration::ZERO,
            backlog_tasks: 500,
            producers_waited: INTERVAL / 2,
        };
        let d = s.observe(&load).unwrap();
        assert_eq!((d.from, d.to, d.reason), (3, 6, Reason::Saturated));
    }

    #[test]
    fn the_pool_stays_within_its_bounds() {
        let (sizes, _) = simulate(1, 4, 20, |_| 100.0);
        assert!(sizes.iter().all(|s| *s <= 4));
        let (sizes, _) = simulate(3, 8, 40, |_| 0.0);
        assert!(sizes.iter().all(|s| *s >= 1));
        assert_eq!(sizes[39], 1, "an idle pool shrinks to its minimum: {sizes:?}");
    }
}
