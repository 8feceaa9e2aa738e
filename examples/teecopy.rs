//! `teecopy` (dispel4py's `graph_testing/teecopy`): one output fanned out to two PEs.
//!
//! ```text
//! prod (TestProducer) → cons1 (TestOneInOneOut)
//!                     → cons2 (TestOneInOneOut)
//! ```
//!
//! Expected output for `-i N`: `cons1.output` collects 1..N and `cons2.output` collects
//! 1..N (2N units in all: fan-out copies every unit to both branches).
//!
//! ```text
//! cargo run --example teecopy -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("teecopy");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let cons1 = g.add(test_one_in_one_out("cons1"))?;
    let cons2 = g.add(test_one_in_one_out("cons2"))?;
    g.connect(prod, "output", cons1, "input")?;
    g.connect(prod, "output", cons2, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
