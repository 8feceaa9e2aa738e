//! Tasks and their size: a task is a batch of data units for one input of one PE. Its size is
//! chosen per PE from the PE's measured cost per unit, so that a task takes about
//! `--task-ms`: a cheap PE (a few ns per unit) gets whole batches, a PE that waits 2 ms per
//! unit on a remote service gets one unit per task, and the pool can spread its work.

use crate::value::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Units for input `port` of plan PE `pe`.
#[derive(Debug)]
pub(crate) struct Task {
    /// Plan index of the PE.
    pub pe: usize,
    /// Global id of the instance it is for (a pooled PE's one logical instance, or one of a
    /// pinned PE's).
    pub instance: usize,
    /// Input port index.
    pub port: usize,
    /// The units.
    pub units: Vec<Value>,
}

/// Units per task while a PE's cost is not known yet (until its first task has run).
const FIRST_TASK_UNITS: usize = 8;

/// The measured cost per unit of each PE, and the task size it implies.
pub(crate) struct TaskCosts {
    /// Nanoseconds per unit, as f64 bits; 0 until measured.
    ns_per_unit: Vec<AtomicU64>,
    /// PEs measured here (not only [adopted](TaskCosts::adopt)).
    measured: Vec<AtomicBool>,
    target_ns: f64,
    max_units: usize,
}

impl TaskCosts {
    /// For `pes` PEs, tasks of about `target` and at most `max_units` units.
    pub(crate) fn new(pes: usize, target: Duration, max_units: usize) -> Self {
        TaskCosts {
            ns_per_unit: (0..pes).map(|_| AtomicU64::new(0)).collect(),
            measured: (0..pes).map(|_| AtomicBool::new(false)).collect(),
            target_ns: (target.as_nanos() as f64).max(1.0),
            max_units: max_units.max(1),
        }
    }

    /// The cost per unit of PE `pe` in ns, if measured.
    pub(crate) fn cost(&self, pe: usize) -> Option<f64> {
        let bits = self.ns_per_unit.get(pe)?.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    /// The largest measured cost per unit of any PE (for backlogs of PEs not measured yet).
    pub(crate) fn max_cost(&self) -> Option<f64> {
        (0..self.ns_per_unit.len()).filter_map(|p| self.cost(p)).reduce(f64::max)
    }

    /// Records that `units` units of PE `pe` took `took`: a moving average, 1/4 weight to the
    /// newest.
    pub(crate) fn record(&self, pe: usize, units: usize, took: Duration) {
        let Some(slot) = self.ns_per_unit.get(pe) else { return };
        if units == 0 {
            return;
        }
        if let Some(m) = self.measured.get(pe) {
            m.store(true, Ordering::Relaxed);
        }
        let now = (took.as_nanos() as f64 / units as f64).max(0.01);
        let old = slot.load(Ordering::Relaxed);
        let new = if old == 0 { now } else { 0.75 * f64::from_bits(old) + 0.25 * now };
        slot.store(new.to_bits(), Ordering::Relaxed);
    }

    /// The cost per unit (ns) of every PE, 0 where unknown.
    pub(crate) fn snapshot(&self) -> Vec<f64> {
        (0..self.ns_per_unit.len()).map(|pe| self.cost(pe).unwrap_or(0.0)).collect()
    }

    /// Takes the costs measured elsewhere (a Redis job's coordinator sees every worker's
    /// tasks) for the PEs not measured here: a process cuts the tasks it writes for a PE it
    /// never runs (a pinned one, say) to that PE's cost too.
    pub(crate) fn adopt(&self, costs: &[f64]) {
        for (pe, ns) in costs.iter().enumerate() {
            let here = self.measured.get(pe).is_some_and(|m| m.load(Ordering::Relaxed));
            if let (false, Some(slot), true) = (here, self.ns_per_unit.get(pe), *ns > 0.0 && ns.is_finite()) {
                slot.store(ns.to_bits(), Ordering::Relaxed);
            }
        }
    }
    /// How many units a task of PE `pe` should hold.
    pub(crate) fn task_units(&self, pe: usize) -> usize {
        match self.cost(pe) {
            None => FIRST_TASK_UNITS.min(self.max_units),
            Some(ns) => ((self.target_ns / ns) as usize).clamp(1, self.max_units),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_follow_the_measured_cost() {
        let costs = TaskCosts::new(2, Duration::from_millis(1), 1024);
        assert_eq!(costs.task_units(0), FIRST_TASK_UNITS);
        // 20 ns per unit: whole batches.
        costs.record(0, 1000, Duration::from_micros(20));
        assert_eq!(costs.task_units(0), 1024);
        // 2 ms per unit: one unit per task.
        costs.record(1, 4, Duration::from_millis(8));
        assert_eq!(costs.task_units(1), 1);
        assert_eq!(costs.max_cost(), Some(2e6));
        // A cheaper measurement moves the average a quarter of the way.
        costs.record(1, 1, Duration::from_millis(1));
        assert!((costs.cost(1).unwrap() - 1.75e6).abs() < 1.0);
        // Costs from elsewhere fill in what is not measured here, and only that.
        let other = TaskCosts::new(3, Duration::from_millis(1), 1024);
        other.record(0, 10, Duration::from_micros(10));
        other.adopt(&[5.0, 250_000.0, 0.0]);
        assert_eq!(other.snapshot(), vec![1000.0, 250_000.0, 0.0]);
        assert_eq!(other.task_units(1), 4);
        assert_eq!(other.task_units(2), FIRST_TASK_UNITS);
    }
}
