//! `pipeline_test` (dispel4py's `graph_testing/pipeline_test`): a producer and a chain of five
//! pass-through PEs.
//!
//! ```text
//! prod (TestProducer) → cons1 → cons2 → cons3 → cons4 → cons5   (all TestOneInOneOut)
//! ```
//!
//! Expected output for `-i N`: `cons5.output` collects 1, 2, ..., N.
//!
//! ```text
//! cargo run --example pipeline_test -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("pipeline_test");
    let mut prev = g.add(TestProducer::new("prod", 1))?;
    for i in 1..=5 {
        let cons = g.add(test_one_in_one_out(format!("cons{i}")))?;
        g.connect(prev, "output", cons, "input")?;
        prev = cons;
    }
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
