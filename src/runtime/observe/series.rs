//! [`Series`]: the points of one timeline, kept to a bounded number however long the run. When
//! it is full, every other point is dropped and from then on only every second sample is
//! kept (and so on, doubling): a timeline of cumulative counters loses resolution, never
//! totals.

/// Most points a series keeps.
pub const MAX_POINTS: usize = 1000;

/// A bounded timeline of points. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct Series<T> {
    points: Vec<T>,
    /// Keep one sample in `stride`.
    stride: u64,
    offered: u64,
    cap: usize,
}

impl<T> Default for Series<T> {
    fn default() -> Self {
        Series::with_capacity(MAX_POINTS)
    }
}

impl<T> Series<T> {
    /// A series of at most `cap` points (at least 4).
    pub fn with_capacity(cap: usize) -> Self {
        Series { points: Vec::new(), stride: 1, offered: 0, cap: cap.max(4) }
    }

    /// Offers a sample; it is kept if it falls on the current stride.
    pub fn push(&mut self, point: T) {
        let keep = self.offered % self.stride == 0;
        self.offered += 1;
        if !keep {
            return;
        }
        if self.points.len() >= self.cap {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
        }
        self.points.push(point);
    }

    /// Adds a point whatever the stride (the first and the last of a timeline).
    pub fn push_always(&mut self, point: T) {
        self.points.push(point);
    }

    /// The points kept.
    pub fn points(&self) -> &[T] {
        &self.points
    }

    /// The last point kept.
    pub fn last(&self) -> Option<&T> {
        self.points.last()
    }

    /// The points, taken.
    pub fn into_points(self) -> Vec<T> {
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_series_stays_bounded_and_keeps_its_first_point() {
        let mut s = Series::with_capacity(10);
        for i in 0..1000u32 {
            s.push(i);
        }
        assert!(s.points().len() <= 10, "{:?}", s.points());
        assert_eq!(s.points()[0], 0);
        assert!(s.points().windows(2).all(|w| w[0] < w[1]));
        assert!(*s.last().unwrap() >= 1000 - 2 * 128, "recent enough: {:?}", s.last());
        s.push_always(5000);
        assert_eq!(s.last(), Some(&5000));
    }
}
