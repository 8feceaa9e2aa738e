//! `grouping_alltoone` (dispel4py's `graph_testing/grouping_alltoone`): a parallel stage
//! feeding a global one.
//!
//! ```text
//! prod (TestProducer) → cons1 (TestOneInOneOut) → cons2 (TestOneInOneOut)
//!
//! cons1: numprocesses 5, input grouping shuffle (the default)
//! cons2: numprocesses 5, input grouping all_to_one
//! ```
//!
//! `cons1`'s five instances share the units round robin; every unit then goes to instance 0
//! of `cons2` (the run report shows the other four instances of `cons2` receive nothing).
//!
//! Expected output for `-i N`: `cons2.output` collects 1..N, all written by `cons2[0]`.
//!
//! ```text
//! cargo run --example grouping_alltoone -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, Grouping, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("grouping_alltoone");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let cons1 = g.add(test_one_in_one_out("cons1"))?;
    let cons2 = g.add(test_one_in_one_out("cons2"))?;
    g.set_numprocesses(cons1, 5)?;
    g.set_numprocesses(cons2, 5)?;
    g.set_grouping(cons2, "input", Grouping::AllToOne)?;
    g.connect(prod, "output", cons1, "input")?;
    g.connect(cons1, "output", cons2, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
