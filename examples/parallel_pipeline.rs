//! `parallel_pipeline` (dispel4py's `graph_testing/parallel_pipeline`): a pipeline that
//! forks after its first stage.
//!
//! ```text
//! prod (TestProducer) → cons1 (TestOneInOneOut) → cons2 (TestOneInOneOut)
//!                                               → cons3 (TestOneInOneOut)
//! ```
//!
//! Expected output for `-i N`: `cons2.output` collects 1..N and `cons3.output` collects 1..N.
//!
//! ```text
//! cargo run --example parallel_pipeline -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("parallel_pipeline");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let cons1 = g.add(test_one_in_one_out("cons1"))?;
    let cons2 = g.add(test_one_in_one_out("cons2"))?;
    let cons3 = g.add(test_one_in_one_out("cons3"))?;
    g.connect(prod, "output", cons1, "input")?;
    g.connect(cons1, "output", cons2, "input")?;
    g.connect(cons1, "output", cons3, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
