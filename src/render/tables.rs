//! The numbers the run report shows, computed once for every renderer (HTML and CSV): a row
//! per PE and per instance, and the timelines binned for charts.

use crate::runtime::observe::histogram::UnitTimes;
use crate::runtime::observe::{Observation, Point};
use crate::runtime::report::RunReport;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One PE of a run: its instances' counters added up, their process times merged.
#[derive(Clone, Debug, PartialEq)]
pub struct PeRow {
    /// The PE.
    pub pe: Arc<str>,
    /// Its instances that reported.
    pub instances: usize,
    /// Units handed to them.
    pub units_in: u64,
    /// Units they wrote.
    pub units_out: u64,
    /// Seconds in their code.
    pub busy_s: f64,
    /// Their mean busy share of the run (busy time / (run time × instances)).
    pub busy_share: f64,
    /// Process time per unit, merged over the instances (observed runs).
    pub times: Option<UnitTimes>,
    /// Restarts.
    pub restarts: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

/// One instance of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceRow {
    /// The PE.
    pub pe: Arc<str>,
    /// The instance's index (its worker under the dynamic mappings).
    pub index: usize,
    /// The slot it was planned on (the worker under the dynamic mappings).
    pub slot: usize,
    /// The process it ran in, where the run was observed.
    pub process: Option<u32>,
    /// Units handed to it.
    pub units_in: u64,
    /// Units it wrote.
    pub units_out: u64,
    /// Seconds in its code.
    pub busy_s: f64,
    /// Its busy time over the run's.
    pub busy_share: f64,
    /// Process time per unit (observed runs).
    pub times: Option<UnitTimes>,
    /// Restarts.
    pub restarts: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Dead letters.
    pub dead_letters: u64,
    /// Why it was given up, if it was.
    pub gave_up: Option<String>,
    /// Its failed `postprocess`, if any.
    pub postprocess_error: Option<String>,
}

fn share(busy: f64, elapsed: f64) -> f64 {
    if elapsed > 0.0 {
        busy / elapsed
    } else {
        0.0
    }
}

/// A row per instance, in the report's order.
pub fn instance_rows(report: &RunReport, observation: Option<&Observation>) -> Vec<InstanceRow> {
    let elapsed = report.elapsed.as_secs_f64();
    let process: BTreeMap<(&str, usize), u32> = observation
        .map(|o| o.instances.iter().map(|s| ((&*s.pe, s.index), s.process)).collect())
        .unwrap_or_default();
    report
        .instances
        .iter()
        .map(|i| {
            let busy_s = i.stats.busy.as_secs_f64();
            InstanceRow {
                pe: i.pe.clone(),
                index: i.index,
                slot: i.slot,
                process: process.get(&(&*i.pe, i.index)).copied(),
                units_in: i.stats.units_in,
                units_out: i.stats.units_out,
                busy_s,
                busy_share: share(busy_s, elapsed),
                times: i.stats.process_times.clone(),
                restarts: i.stats.restarts,
                failures: i.stats.failures,
                dead_letters: i.stats.dead_letters,
                gave_up: i.stats.gave_up.clone(),
                postprocess_error: i.stats.postprocess_error.clone(),
            }
        })
        .collect()
}

/// A row per PE, in the order its first instance appears in the report (plan order).
pub fn pe_rows(report: &RunReport) -> Vec<PeRow> {
    let elapsed = report.elapsed.as_secs_f64();
    let mut rows: Vec<PeRow> = Vec::new();
    for i in &report.instances {
        let at = match rows.iter().position(|r| r.pe == i.pe) {
            Some(at) => at,
            None => {
                rows.push(PeRow {
                    pe: i.pe.clone(),
                    instances: 0,
                    units_in: 0,
                    units_out: 0,
                    busy_s: 0.0,
                    busy_share: 0.0,
                    times: None,
                    restarts: 0,
                    failures: 0,
                    dead_letters: 0,
                });
                rows.len() - 1
            }
        };
        let r = &mut rows[at];
        r.instances += 1;
        r.units_in += i.stats.units_in;
        r.units_out += i.stats.units_out;
        r.busy_s += i.stats.busy.as_secs_f64();
        r.restarts += i.stats.restarts;
        r.failures += i.stats.failures;
        r.dead_letters += i.stats.dead_letters;
        if let Some(t) = &i.stats.process_times {
            r.times.get_or_insert_with(UnitTimes::default).merge(t);
        }
    }
    for r in &mut rows {
        r.busy_share = share(r.busy_s, elapsed * r.instances.max(1) as f64);
    }
    rows
}

/// Equal time bins over a run: `count` of `width` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bins {
    /// How many.
    pub count: usize,
    /// Seconds each.
    pub width: f64,
}

/// At most this many bins on a chart.
pub const MAX_BINS: usize = 120;

impl Bins {
    /// Bins over `elapsed` seconds, none shorter than the sampling `interval` (so a bin holds
    /// at least one sample).
    pub fn over(elapsed: f64, interval: f64) -> Bins {
        let elapsed = elapsed.max(1e-6);
        let count = ((elapsed / interval.max(1e-6)).floor() as usize).clamp(1, MAX_BINS);
        Bins { count, width: elapsed / count as f64 }
    }

    /// Spreads the growth of a cumulative value over the bins, each step of a timeline in
    /// proportion to the time it spans (a value that goes back counts from its highest).
    pub fn spread(&self, points: &[Point], value: impl Fn(&Point) -> f64) -> Vec<f64> {
        let mut out = vec![0.0; self.count];
        let mut high = points.first().map_or(0.0, &value);
        for w in points.windows(2) {
            let (t0, t1) = (w[0].t, w[1].t.max(w[0].t));
            let v = value(&w[1]);
            let delta = (v - high).max(0.0);
            high = high.max(v);
            if delta == 0.0 {
                continue;
            }
            if t1 - t0 <= 1e-9 {
                let k = ((t1 / self.width) as usize).min(self.count - 1);
                out[k] += delta;
                continue;
            }
            let first = ((t0 / self.width) as usize).min(self.count - 1);
            let last = ((t1 / self.width) as usize).min(self.count - 1);
            for (k, slot) in out.iter_mut().enumerate().take(last + 1).skip(first) {
                let (b0, b1) = (k as f64 * self.width, (k + 1) as f64 * self.width);
                let (b0, b1) = if k == self.count - 1 { (b0, f64::MAX) } else { (b0, b1) };
                let overlap = (t1.min(b1) - t0.max(b0)).max(0.0);
                *slot += delta * overlap / (t1 - t0);
            }
        }
        out
    }

    /// Step points `(start of bin, value)`, closed at the end of the last bin.
    pub fn steps(&self, values: &[f64]) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> =
            values.iter().enumerate().map(|(k, v)| (k as f64 * self.width, *v)).collect();
        if let Some(last) = values.last() {
            out.push((self.count as f64 * self.width, *last));
        }
        out
    }
}

/// Units per second through each PE over the run, by bin: `(PE, rates)` in report order —
/// the units handed to it, or for a root (named in `roots`) the units it wrote.
pub fn throughput(
    report: &RunReport,
    observation: &Observation,
    bins: Bins,
    roots: &[&str],
) -> Vec<(Arc<str>, Vec<f64>)> {
    let mut out: Vec<(Arc<str>, Vec<f64>)> =
        pe_rows(report).into_iter().map(|r| (r.pe, vec![0.0; bins.count])).collect();
    for s in &observation.instances {
        let at = match out.iter().position(|(pe, _)| *pe == s.pe) {
            Some(at) => at,
            None => {
                out.push((s.pe.clone(), vec![0.0; bins.count]));
                out.len() - 1
            }
        };
        let root = roots.contains(&&*s.pe);
        let spread = bins.spread(&s.points, |p| if root { p.units_out as f64 } else { p.units_in as f64 });
        for (acc, v) in out[at].1.iter_mut().zip(spread) {
            *acc += v / bins.width;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, units_in: u64, busy_s: f64) -> Point {
        Point { t, units_in, busy_s, ..Point::default() }
    }

    #[test]
    fn growth_is_spread_over_bins_in_proportion_and_totals_are_kept() {
        let bins = Bins { count: 4, width: 1.0 };
        let points = [point(0.0, 0, 0.0), point(2.0, 100, 1.0), point(2.0, 100, 1.0), point(4.0, 140, 3.0)];
        assert_eq!(bins.spread(&points, |p| p.units_in as f64), vec![50.0, 50.0, 20.0, 20.0]);
        assert_eq!(bins.spread(&points, |p| p.busy_s), vec![0.5, 0.5, 1.0, 1.0]);
        // A value that goes back and forth counts once.
        let wobbly = [point(0.0, 0, 0.0), point(1.0, 10, 0.0), point(2.0, 8, 0.0), point(3.0, 12, 0.0)];
        assert_eq!(bins.spread(&wobbly, |p| p.units_in as f64).iter().sum::<f64>(), 12.0);
        // Past the end: into the last bin.
        let late = [point(3.5, 0, 0.0), point(5.0, 30, 0.0)];
        assert_eq!(bins.spread(&late, |p| p.units_in as f64), vec![0.0, 0.0, 0.0, 30.0]);
        assert_eq!(bins.steps(&[1.0, 2.0]), vec![(0.0, 1.0), (1.0, 2.0), (4.0, 2.0)]);
    }

    #[test]
    fn bins_hold_at_least_one_sample_and_are_bounded() {
        assert_eq!(Bins::over(0.05, 0.1), Bins { count: 1, width: 0.05 });
        assert_eq!(Bins::over(1.0, 0.1).count, 10);
        assert_eq!(Bins::over(3600.0, 0.1).count, MAX_BINS);
    }
}
