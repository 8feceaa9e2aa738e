//! Times of provenance records: `xsd:dateTime` in UTC with microseconds
//! (`2025-01-02T03:04:05.123456Z`), read from a monotonic clock anchored to the wall clock
//! once per process, so that a run's times are ordered even if the wall clock is adjusted.

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock that renders wall-clock times.
#[derive(Clone, Debug)]
pub struct Clock {
    anchor: Instant,
    /// Microseconds since the Unix epoch at `anchor`.
    anchor_us: i64,
    /// The last second rendered and its text (`2025-01-02T03:04:05`), reused within it.
    cached: (i64, String),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Self {
        let anchor = Instant::now();
        let anchor_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
        Clock { anchor, anchor_us, cached: (i64::MIN, String::new()) }
    }

    /// Microseconds since the Unix epoch at `at`.
    pub fn micros(&self, at: Instant) -> i64 {
        self.anchor_us + at.saturating_duration_since(self.anchor).as_micros() as i64
    }

    /// Microseconds since the Unix epoch now.
    pub fn now_micros(&self) -> i64 {
        self.micros(Instant::now())
    }

    /// Appends `us` (microseconds since the epoch) as `xsd:dateTime`, without quotes.
    pub fn write(&mut self, us: i64, out: &mut String) {
        let secs = us.div_euclid(1_000_000);
        let frac = us.rem_euclid(1_000_000);
        if self.cached.0 != secs {
            self.cached.1.clear();
            write_second(secs, &mut self.cached.1);
            self.cached.0 = secs;
        }
        out.push_str(&self.cached.1);
        let _ = write!(out, ".{frac:06}Z");
    }
}

/// Appends `secs` since the epoch as `YYYY-MM-DDThh:mm:ss` (proleptic Gregorian, UTC).
fn write_second(secs: i64, out: &mut String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(us: i64) -> String {
        let mut out = String::new();
        Clock::new().write(us, &mut out);
        out
    }

    #[test]
    fn renders_xsd_date_times() {
        assert_eq!(text(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(text(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(text(1_735_787_045_123_456), "2025-01-02T03:04:05.123456Z");
    }

    #[test]
    fn the_clock_is_near_the_wall_clock_and_monotonic() {
        let c = Clock::new();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
        let a = c.now_micros();
        assert!((a - wall).abs() < 1_000_000);
        assert!(c.now_micros() >= a);
    }
}
