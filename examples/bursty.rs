//! `bursty`: source → work → sink, a stateless workflow whose units each wait on something
//! slow (like a galaxy's query to a remote catalogue in dispel4py's internal-extinction
//! workflow), fed in phases of dense and sparse load: what autoscaling is for.
//!
//! * `source` with `{"phases": [[units, gap_us], ...], "work_ms": W}` writes, phase after
//!   phase, `units` units `{"id": k, "work_ms": W}` (k counting from 1 over the whole input),
//!   `gap_us` microseconds apart (a unit is sent on at once when a gap follows it). With
//!   `-i N` each call writes one unit `{"id": call, "work_ms": 0}`.
//! * `work` sleeps `work_ms` milliseconds (standing for the remote call) and passes the unit
//!   on. It is declared `blocking`: under `multi` it gets a thread of its own; under the
//!   dynamic mappings every worker has one anyway.
//! * `sink` counts the units it receives and sums their ids; at end of stream each sink
//!   instance writes one `{"count": c, "sum": s}`.
//!
//! ```text
//! cargo run --release --example bursty -- dyn_auto_multi -n 16 --min-workers 1 --report run.json \
//!     -d '{"source": [{"phases": [[4000, 0], [300, 5000], [4000, 0]], "work_ms": 2}]}'
//! ```

use dispel4rs::{FnPe, GraphError, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};
use std::time::Duration;

/// Counts units and sums their ids; writes `{"count", "sum"}` at end of stream.
#[derive(Clone, Default)]
struct Sink {
    count: i64,
    sum: i64,
}

impl Pe for Sink {
    fn spec(&self) -> PeSpec {
        PeSpec::new("sink").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, _out: &mut Output<'_>) -> Result<(), PeError> {
        let id = unit.get("id").ok_or_else(|| PeError::new("a unit without an 'id'"))?.try_int()?;
        self.count += 1;
        self.sum += id;
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", Value::map([("count", self.count), ("sum", self.sum)]))
    }
}

/// One phase of the input: how many units, how far apart.
fn phase(v: &Value) -> Result<(i64, u64), PeError> {
    let bad =
        || PeError::new(format!("a phase must be [units, gap_us] with non-negative numbers, found {v}"));
    let units = v.index(0).and_then(Value::as_int).filter(|n| *n >= 0).ok_or_else(bad)?;
    let gap = v.index(1).and_then(Value::as_int).filter(|n| *n >= 0).ok_or_else(bad)?;
    Ok((units, gap as u64))
}

/// The workflow graph (shared with the benchmarks, which include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("bursty");
    let mut calls: i64 = 0;
    let source = g.add(Producer::new("source", move |input: Value, out: &mut Output<'_>| {
        let Some(phases) = input.get("phases") else {
            calls += 1;
            return out.write_at(0, Value::map([("id", calls), ("work_ms", 0)]));
        };
        let work_ms = input.get("work_ms").map_or(Ok(0), Value::try_int)?;
        let phases = phases.try_list()?;
        let mut id = 0i64;
        for p in phases {
            let (units, gap_us) = phase(p)?;
            for _ in 0..units {
                id += 1;
                out.write_at(0, Value::map([("id", id), ("work_ms", work_ms)]))?;
                if gap_us > 0 {
                    // A slow stream: send the unit on now rather than when the batch fills.
                    out.flush()?;
                    std::thread::sleep(Duration::from_micros(gap_us));
                }
            }
        }
        Ok(())
    }))?;
    let work = g.add(FnPe::new(
        PeSpec::new("work").input("input").output("output").blocking(),
        |_port: &str, unit: Value, out: &mut Output<'_>| {
            let ms = unit.get("work_ms").map_or(Ok(0), Value::try_int)?;
            if ms > 0 {
                std::thread::sleep(Duration::from_millis(ms as u64));
            }
            out.write_at(0, unit)
        },
    ))?;
    let sink = g.add(Sink::default())?;
    g.connect(source, "output", work, "input")?;
    g.connect(work, "output", sink, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
