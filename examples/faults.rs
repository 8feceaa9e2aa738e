//! `faults`: source → stage → sink, with faults to order — for trying how each mapping
//! handles a PE that fails, hangs, or writes what cannot travel (the tests use it too).
//!
//! `source` takes `{"n": N, "do": ACTION, "fail_once": BOOL}` and writes `[i, ACTION]` for
//! i = 1..=N; with `fail_once` its first call in a process fails *after* writing them all
//! (its retry writes them again). `stage` does ACTION to each unit:
//!
//! | ACTION | `stage` writes |
//! |---|---|
//! | `pass` (default) | i |
//! | `fail` | nothing: it fails on every unit (dead letters) |
//! | `panic` | nothing: it panics on every unit (dead letters) |
//! | `sleep:MS` | i, after sleeping MS milliseconds |
//! | `nest:D` | i wrapped in D nested lists |
//! | `big:BYTES` | a string of BYTES bytes |
//! | `alloc:MB` | i, after touching MB MiB of memory it then frees |
//! | `print` | i, after printing `stage printed unit i` on its standard output |
//! | `log` | i, after logging `stage logged unit i` with [`Output::log`] |
//!
//! `sink` counts what it receives and sums the integers; at end of stream it writes
//! `{"count": c, "sum": s}`.
//!
//! ```text
//! cargo run --example faults -- simple -d '{"source": [{"n": 1000, "do": "fail"}]}'
//! cargo run --example faults -- zmq_multi -n 3 -d '{"source": [{"n": 5, "do": "sleep:100"}]}'
//! ```

use dispel4rs::{GraphError, Output, Pe, PeError, PeSpec, Producer, Value, WorkflowGraph};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once `source` has failed in this process (a restart from the factory keeps it).
static SOURCE_FAILED: AtomicBool = AtomicBool::new(false);

#[derive(Clone)]
struct Stage;

impl Pe for Stage {
    fn spec(&self) -> PeSpec {
        PeSpec::new("stage").input("input").output("output")
    }

    fn process(&mut self, _port: &str, unit: Value, out: &mut Output<'_>) -> Result<(), PeError> {
        let (i, action): (i64, &str) = unit.try_tuple()?;
        let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
        let number =
            || arg.parse::<u64>().map_err(|_| PeError::new(format!("{verb} needs a number: {action:?}")));
        match verb {
            "pass" => out.write_at(0, i),
            "fail" => Err(PeError::new(format!("stage fails on purpose (unit {i})"))),
            "panic" => panic!("stage panics on purpose (unit {i})"),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(number()?));
                out.write_at(0, i)
            }
            "nest" => {
                let mut v = Value::Int(i);
                for _ in 0..number()? {
                    v = Value::List(vec![v]);
                }
                out.write_at(0, v)
            }
            "big" => out.write_at(0, "x".repeat(number()? as usize)),
            "alloc" => {
                let mut block = vec![0u8; number()? as usize * (1 << 20)];
                // Touch every page, so that it is resident.
                for page in block.chunks_mut(4096) {
                    page[0] = 1;
                }
                std::hint::black_box(&block);
                drop(block);
                out.write_at(0, i)
            }
            "print" => {
                println!("stage printed unit {i}");
                out.write_at(0, i)
            }
            "log" => {
                out.log(format!("stage logged unit {i}"));
                out.write_at(0, i)
            }
            _ => Err(PeError::new(format!("unknown action {action:?}"))),
        }
    }
}

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
        self.count += 1;
        self.sum += unit.as_int().unwrap_or(0);
        Ok(())
    }

    fn postprocess(&mut self, out: &mut Output<'_>) -> Result<(), PeError> {
        out.write("output", Value::map([("count", self.count), ("sum", self.sum)]))
    }
}

/// The workflow graph.
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("faults");
    let source = g.add(Producer::new("source", |input: Value, out: &mut Output<'_>| {
        let n = input.get("n").map_or(Ok(1), Value::try_int)?;
        let action = input.get("do").map_or(Ok("pass"), Value::try_str)?.to_owned();
        for i in 1..=n {
            out.write_at(0, (i, action.as_str()))?;
        }
        let fail_once = input.get("fail_once").and_then(Value::as_bool).unwrap_or(false);
        if fail_once && !SOURCE_FAILED.swap(true, Ordering::SeqCst) {
            return Err(PeError::new("source fails once, after writing its units"));
        }
        Ok(())
    }))?;
    let stage = g.add(Stage)?;
    let sink = g.add(Sink::default())?;
    g.connect(source, "output", stage, "input")?;
    g.connect(stage, "output", sink, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
