//! `aggregates` (dispel4py's `graph_testing/aggregates`): parallel aggregates — sum, count,
//! min, max, mean and standard deviation — as per-instance partials merged by a global
//! reducer.
//!
//! ```text
//! numbers (NumberProducer: 0..=999 per call)
//!   → partial (numprocesses 3, input grouping shuffle)
//!   → reduce  (input grouping all_to_one)
//! ```
//!
//! * Each of the three `partial` instances aggregates the units it is dealt: count, sum,
//!   min, max, and the running mean and sum of squared deviations (Welford) that the
//!   standard deviation needs. At end of stream it writes one partial
//!   `{"count", "sum", "min", "max", "mean", "m2"}` (nothing if it saw no unit).
//! * `reduce` receives every partial on its instance 0 (`all_to_one`), merges them (Chan et
//!   al.'s pairwise formula for the squared deviations) and at end of stream writes one unit
//!   to each of its outputs: `sum`, `count`, `min`, `max`, `mean` (= sum / count) and
//!   `stddev` (the *population* standard deviation, √(m2 / count)). Its other instances, if
//!   `-n` gives it several, see nothing and write nothing.
//!
//! Integers stay integers in `sum`, `min` and `max` (the sum falls back to a float if it
//! would overflow or when a float arrives); `mean` and `stddev` are floats.
//!
//! Expected output for `-i N` (the numbers 0..=999, N times): `reduce.sum` 499500·N,
//! `reduce.count` 1000·N, `reduce.min` 0, `reduce.max` 999, `reduce.mean` 499.5,
//! `reduce.stddev` √((1000² − 1) / 12) ≈ 288.6749902572095 (the population standard
//! deviation of 0..=999, which repeating the numbers does not change).
//!
//! ```text
//! cargo run --example aggregates -- simple
//! cargo run --example aggregates -- simple -n 8 -i 3
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, Grouping, Output, Pe, PeError, PeSpec, Value, WorkflowGraph};
use testing_pes::{NumberProducer, NUMBERS_PER_CALL};

/// A sum that stays an integer while it can.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sum {
    Int(i64),
    Float(f64),
}

impl Sum {
    fn add(self, other: Sum) -> Sum {
        match (self, other) {
            (Sum::Int(a), Sum::Int(b)) => a.checked_add(b).map_or(Sum::Float(a as f64 + b as f64), Sum::Int),
            (a, b) => Sum::Float(a.as_f64() + b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Sum::Int(i) => i as f64,
            Sum::Float(f) => f,
        }
    }

    fn of(v: &Value) -> Result<Sum, PeError> {
        match v {
            Value::Int(i) => Ok(Sum::Int(*i)),
            other => Ok(Sum::Float(other.try_float()?)),
        }
    }

    fn to_value(self) -> Value {
        match self {
            Sum::Int(i) => Value::Int(i),
            Sum::Float(f) => Value::Float(f),
        }
    }
}

/// Count, sum, extremes, mean and sum of squared deviations of a set of numbers; mergeable.
#[derive(Clone, Debug, PartialEq)]
struct Stats {
    count: i64,
    sum: Sum,
    /// The smallest and largest number, as they arrived (an int stays an int).
    min: Value,
    max: Value,
    mean: f64,
    m2: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { count: 0, sum: Sum::Int(0), min: Value::Null, max: Value::Null, mean: 0.0, m2: 0.0 }
    }
}

impl Stats {
    /// Adds one number (Welford's update).
    fn add(&mut self, x: Value) -> Result<(), PeError> {
        let f = x.try_float()?;
        self.sum = self.sum.add(Sum::of(&x)?);
        self.count += 1;
        let delta = f - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (f - self.mean);
        if self.min.as_float().is_none_or(|m| f < m) {
            self.min = x.clone();
        }
        if self.max.as_float().is_none_or(|m| f > m) {
            self.max = x;
        }
        Ok(())
    }

    /// Merges another set's statistics (Chan, Golub and LeVeque's pairwise update).
    fn merge(&mut self, other: Stats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
        self.sum = self.sum.add(other.sum);
        if other.min.as_float() < self.min.as_float() {
            self.min = other.min;
        }
        if other.max.as_float() > self.max.as_float() {
            self.max = other.max;
        }
    }

    /// The partial as a data unit.
    fn to_value(&self) -> Value {
        Value::map([
            ("count", Value::Int(self.count)),
            ("sum", self.sum.to_value()),
            ("min", self.min.clone()),
            ("max", self.max.clone()),
            ("mean", Value::Float(self.mean)),
            ("m2", Value::Float(self.m2)),
        ])
    }

    /// A partial from a data unit written by [`Stats::to_value`].
    fn from_value(v: &Value) -> Result<Stats, PeError> {
        let field = |key: &str| {
            v.get(key).ok_or_else(|| PeError::new(format!("a partial aggregate needs '{key}', got {v}")))
        };
        let stats = Stats {
            count: field("count")?.try_int()?,
            sum: Sum::of(field("sum")?)?,
            min: field("min")?.clone(),
            max: field("max")?.clone(),
            mean: field("mean")?.try_float()?,
            m2: field("m2")?.try_float()?,
        };
        if stats.count < 0
            || (stats.count > 0 && (stats.min.as_float().is_none() || stats.max.as_float().is_none()))
        {
            return Err(PeError::new(format!("inconsistent partial aggregate {v}")));
        }
        Ok(stats)
    }
}

/// `input` → `output`: aggregates the numbers it is dealt, writes one partial at the end.
#[derive(Clone, Debug, Default)]
struct Partial {
    stats: Stats,
}

impl Pe for Partial {
    fn spec(&self) -> PeSpec {
        PeSpec::new("partial").input("input").output("output").numprocesses(3).stateful()
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        self.stats.add(unit)
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        if self.stats.count > 0 {
            out.write_at(0, self.stats.to_value())?;
        }
        Ok(())
    }
}

/// The names of the reducer's outputs, in declaration order.
pub const RESULT_PORTS: [&str; 6] = ["sum", "count", "min", "max", "mean", "stddev"];

/// `input` (all_to_one) → `sum`, `count`, `min`, `max`, `mean`, `stddev`: merges partials.
#[derive(Clone, Debug, Default)]
struct Reduce {
    stats: Stats,
}

impl Pe for Reduce {
    fn spec(&self) -> PeSpec {
        RESULT_PORTS
            .iter()
            .fold(PeSpec::new("reduce").input_grouped("input", Grouping::AllToOne), |spec, port| {
                spec.output(*port)
            })
            .stateful()
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        let partial = Stats::from_value(&unit)?;
        self.stats.merge(partial);
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        let s = &self.stats;
        if s.count == 0 {
            return Ok(());
        }
        let n = s.count as f64;
        out.write("sum", s.sum.to_value())?;
        out.write("count", s.count)?;
        out.write("min", s.min.clone())?;
        out.write("max", s.max.clone())?;
        out.write("mean", s.sum.as_f64() / n)?;
        out.write("stddev", (s.m2.max(0.0) / n).sqrt())
    }
}

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("aggregates");
    let numbers = g.add(NumberProducer::new("numbers", NUMBERS_PER_CALL))?;
    let partial = g.add(Partial::default())?;
    let reduce = g.add(Reduce::default())?;
    g.connect(numbers, "output", partial, "input")?;
    g.connect(partial, "output", reduce, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
