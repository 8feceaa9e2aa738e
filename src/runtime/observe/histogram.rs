//! Process-time histograms of one PE instance: the time to process one data unit, measured
//! per batch (a batch's time shared equally by its units, so each batch counts once per unit
//! it held), and the time of each batch (what the Prometheus histogram observes). Recording
//! is a few relaxed atomic operations, safe from the instance's thread while a sampler or the
//! end of the run reads it.
//!
//! Buckets follow the R10 series (10 per decade: 1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8 ×
//! 10^k ns) from 1 ns to 1000 s, so a percentile read from a bucket is within about ±12 % of
//! the true value; the mean (from the exact sum) and the maximum are exact. The Prometheus
//! buckets (1, 2.5 and 5 × 10^k seconds) are bounds of this series, so the counts of a
//! snapshot re-recorded into Prometheus buckets are exact ([`bucket_midpoint_s`]).
//!
//! ```
//! use dispel4rs::runtime::observe::histogram::UnitTimes;
//! use std::time::Duration;
//! let mut t = UnitTimes::default();
//! t.record(Duration::from_micros(10), 1); // one unit in 10 µs
//! t.record(Duration::from_micros(900), 9); // a batch of 9 units in 900 µs: 100 µs each
//! assert_eq!(t.count(), 10);
//! assert!((t.quantile(0.5) - 100e-6).abs() < 15e-6);
//! assert_eq!(t.max_s(), 100e-6);
//! assert!((t.mean_s() - 91e-6).abs() < 1e-9);
//! ```

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The mantissas of the R10 series, times 100.
const R10: [u64; 10] = [100, 125, 160, 200, 250, 315, 400, 500, 630, 800];

/// Decades covered, from 1 ns.
const DECADES: usize = 12;

/// Buckets: one at or below 1 ns, 10 per decade, and one above the last bound (1000 s).
pub const BUCKETS: usize = 1 + 10 * DECADES + 1;

/// Upper bound (ns, inclusive) of every bucket but the last, which has none.
fn bounds() -> &'static [u64; BUCKETS - 1] {
    static BOUNDS: OnceLock<[u64; BUCKETS - 1]> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut b = [0u64; BUCKETS - 1];
        b[0] = 1;
        let mut i = 1;
        for decade in 0..DECADES {
            let scale = 10u64.pow(decade as u32);
            for m in R10.iter().skip(1).chain(std::iter::once(&1000)) {
                // m / 100 × 10^decade ns, rounded to whole ns (exact from 100 ns on).
                b[i] = (m * scale).div_ceil(100);
                i += 1;
            }
        }
        b
    })
}

/// The bucket a time of `ns` nanoseconds falls in.
pub fn bucket_of(ns: u64) -> usize {
    bounds().partition_point(|&b| b < ns)
}

/// A value strictly inside bucket `i`, in seconds (its geometric middle; for the last bucket,
/// twice its lower bound): what a bucket's units are re-recorded as.
pub fn bucket_midpoint_s(i: usize) -> f64 {
    let b = bounds();
    let upper = match b.get(i) {
        Some(u) => *u as f64,
        None => return b[BUCKETS - 2] as f64 * 2.0 / 1e9,
    };
    let lower = if i == 0 { upper / 2.0 } else { b[i - 1] as f64 };
    (lower * upper).sqrt() / 1e9
}

/// The buckets of the Prometheus histogram `dispel4rs_process_seconds`, in seconds: 1, 2.5
/// and 5 × 10^k from 100 ns to 100 s, each a bound of the R10 series.
pub fn prometheus_buckets() -> Vec<f64> {
    let mut out = Vec::new();
    for exp in -7..=2 {
        for m in [1.0, 2.5, 5.0] {
            out.push(m * 10f64.powi(exp));
        }
    }
    out
}

/// A snapshot of process times: sparse bucket counts, the exact sum and the maximum.
/// Serialisable: workers send their instances' snapshots to the coordinator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitTimes {
    /// `(bucket, units)` for every bucket holding some, in bucket order.
    pub buckets: Vec<(u16, u64)>,
    /// Units recorded.
    pub units: u64,
    /// Their total time, ns.
    pub sum_ns: u64,
    /// The largest time per unit of one batch, ns.
    pub max_ns: u64,
}

impl UnitTimes {
    /// Records a batch of `units` units that took `took` in all.
    pub fn record(&mut self, took: Duration, units: u64) {
        if units == 0 {
            return;
        }
        let total = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        let each = total / units;
        let b = bucket_of(each) as u16;
        match self.buckets.binary_search_by_key(&b, |(i, _)| *i) {
            Ok(at) => self.buckets[at].1 += units,
            Err(at) => self.buckets.insert(at, (b, units)),
        }
        self.units += units;
        self.sum_ns = self.sum_ns.saturating_add(total);
        self.max_ns = self.max_ns.max(each);
    }

    /// Units recorded.
    pub fn count(&self) -> u64 {
        self.units
    }

    /// Adds another snapshot (the instances of one PE).
    pub fn merge(&mut self, other: &UnitTimes) {
        for &(b, n) in &other.buckets {
            match self.buckets.binary_search_by_key(&b, |(i, _)| *i) {
                Ok(at) => self.buckets[at].1 += n,
                Err(at) => self.buckets.insert(at, (b, n)),
            }
        }
        self.units += other.units;
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The time per unit below which a fraction `q` of the units fell, in seconds (the middle
    /// of its bucket, at most the maximum); 0 with nothing recorded.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.units == 0 {
            return 0.0;
        }
        let rank = (q.clamp(0.0, 1.0) * self.units as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for &(b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return bucket_midpoint_s(b as usize).min(self.max_s());
            }
        }
        self.max_s()
    }

    /// The largest time per unit, seconds.
    pub fn max_s(&self) -> f64 {
        self.max_ns as f64 / 1e9
    }

    /// The mean time per unit, seconds.
    pub fn mean_s(&self) -> f64 {
        if self.units == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.units as f64 / 1e9
        }
    }
}

/// The live form of [`UnitTimes`]: written by one instance, read by anyone.
pub(crate) struct AtomicUnitTimes {
    buckets: Box<[AtomicU64]>,
    units: AtomicU64,
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Default for AtomicUnitTimes {
    fn default() -> Self {
        AtomicUnitTimes {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            units: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
        }
    }
}

impl AtomicUnitTimes {
    /// Records a batch of `units` that took `total_ns`.
    pub(crate) fn record(&self, total_ns: u64, units: u64) {
        let each = total_ns / units.max(1);
        self.buckets[bucket_of(each)].fetch_add(units, Ordering::Relaxed);
        self.units.fetch_add(units, Ordering::Relaxed);
        self.sum_ns.fetch_add(total_ns, Ordering::Relaxed);
        self.max_ns.fetch_max(each, Ordering::Relaxed);
    }

    /// Units recorded so far.
    pub(crate) fn units(&self) -> u64 {
        self.units.load(Ordering::Relaxed)
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> UnitTimes {
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then_some((i as u16, n))
            })
            .collect();
        UnitTimes {
            buckets,
            units: self.units.load(Ordering::Relaxed),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_follow_the_r10_series_and_every_prometheus_bucket_is_one_of_them() {
        let b = bounds();
        assert_eq!(&b[..11], &[1, 2, 2, 2, 3, 4, 4, 5, 7, 8, 10]);
        assert_eq!(b[11..21], [13, 16, 20, 25, 32, 40, 50, 63, 80, 100]);
        assert_eq!(b[BUCKETS - 2], 1_000_000_000_000, "1000 s");
        for w in b[11..].windows(2) {
            assert!(w[0] < w[1]);
        }
        for bound in prometheus_buckets() {
            let ns = (bound * 1e9).round() as u64;
            assert!(b.contains(&ns), "{bound} s is not a bucket bound");
            // A midpoint re-recorded lands in the Prometheus bucket its bucket belongs to.
            let i = bucket_of(ns);
            assert!(bucket_midpoint_s(i) <= bound && bucket_midpoint_s(i + 1) > bound);
        }
    }

    #[test]
    fn buckets_hold_their_bounds_and_quantiles_stay_within_a_bucket() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(100), bucket_of(99));
        assert_eq!(bucket_of(101), bucket_of(100) + 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        let mut t = UnitTimes::default();
        for us in 1..=1000u64 {
            t.record(Duration::from_micros(us), 1);
        }
        for (q, want) in [(0.5, 500e-6), (0.95, 950e-6), (0.99, 990e-6)] {
            let got = t.quantile(q);
            assert!((got - want).abs() / want < 0.13, "q{q}: {got} vs {want}");
        }
        assert_eq!(t.max_s(), 1e-3);
        assert!((t.mean_s() - 500.5e-6).abs() < 1e-9);
        let atomic = AtomicUnitTimes::default();
        for us in 1..=1000u64 {
            atomic.record(us * 1000, 1);
        }
        assert_eq!(atomic.snapshot(), t);
        let mut both = t.clone();
        both.merge(&t);
        assert_eq!((both.count(), both.quantile(0.5)), (2000, t.quantile(0.5)));
    }

    #[test]
    fn a_batch_counts_once_per_unit_at_its_mean() {
        let mut t = UnitTimes::default();
        t.record(Duration::from_millis(10), 1000);
        assert_eq!(t.buckets, vec![(bucket_of(10_000) as u16, 1000)]);
        t.record(Duration::from_secs(1), 0);
        assert_eq!(t.count(), 1000);
    }
}
