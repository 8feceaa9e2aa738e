//! `pipeline`: source → add_one → double → halve_minus_one → sink.
//!
//! * `source` with `{"n": N}` writes 1..=N in one call; with `-i N` it writes its call
//!   counter (1, 2, ...) on each call.
//! * `add_one` x+1, `double` x·2, `halve_minus_one` x/2−1 (integer division): the chain
//!   gives back x.
//! * `sink` counts and sums what it receives and, at end of stream, writes one
//!   `{"count": c, "sum": s}` per sink instance to its unconnected output.
//!
//! ```text
//! cargo run --release --example pipeline -- simple -d '{"source": [{"n": 1000000}]}'
//! cargo run --release --example pipeline -- simple -i 10
//! ```

use dispel4rs::{GraphError, Iterative, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};

/// Counts and sums integers; writes `{"count", "sum"}` at end of stream (shared with the
/// benchmarks, which include this file).
#[derive(Clone, Default)]
pub struct Sink {
    count: i64,
    sum: i64,
}

impl Pe for Sink {
    fn spec(&self) -> PeSpec {
        PeSpec::new("sink").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        self.count += 1;
        self.sum += unit.try_int()?;
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", Value::map([("count", self.count), ("sum", self.sum)]))
    }
}

/// The workflow graph (shared with the benchmarks, which include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("pipeline");
    let mut calls: i64 = 0;
    let source = g.add(Producer::new("source", move |input: Value, out: &mut Output<'_>| {
        match input.get("n") {
            Some(n) => {
                for i in 1..=n.try_int()? {
                    out.write_at(0, i)?;
                }
            }
            None => {
                calls += 1;
                out.write_at(0, calls)?;
            }
        }
        Ok(())
    }))?;
    let add_one = g.add(Iterative::new("add_one", |x: Value| Ok::<_, PeError>(x.try_int()? + 1)))?;
    let double = g.add(Iterative::new("double", |x: Value| Ok::<_, PeError>(x.try_int()? * 2)))?;
    let halve =
        g.add(Iterative::new("halve_minus_one", |x: Value| Ok::<_, PeError>(x.try_int()? / 2 - 1)))?;
    let sink = g.add(Sink::default())?;
    g.connect(source, "output", add_one, "input")?;
    g.connect(add_one, "output", double, "input")?;
    g.connect(double, "output", halve, "input")?;
    g.connect(halve, "output", sink, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
