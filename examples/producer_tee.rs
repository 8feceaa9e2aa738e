//! `producer_tee` (dispel4py's `graph_testing/producer_tee`): a fan-out where one branch is
//! longer than the other.
//!
//! ```text
//! prod (TestProducer) → cons1a (TestOneInOneOut) → cons2 (TestOneInOneOut)
//!                     → cons1b (TestOneInOneOut)
//! ```
//!
//! Expected output for `-i N`: `cons1b.output` collects 1..N and `cons2.output` collects
//! 1..N (`cons1a.output` is connected, so it is not collected).
//!
//! ```text
//! cargo run --example producer_tee -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("producer_tee");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let cons1a = g.add(test_one_in_one_out("cons1a"))?;
    let cons1b = g.add(test_one_in_one_out("cons1b"))?;
    let cons2 = g.add(test_one_in_one_out("cons2"))?;
    g.connect(prod, "output", cons1a, "input")?;
    g.connect(prod, "output", cons1b, "input")?;
    g.connect(cons1a, "output", cons2, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
