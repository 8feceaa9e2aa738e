//! `unconnected_pipeline` (dispel4py's `graph_testing/unconnected_pipeline`): two
//! independent pipelines in one graph, each a producer and five pass-through PEs.
//!
//! ```text
//! prod_a (TestProducer) → cons_a1 → cons_a2 → cons_a3 → cons_a4 → cons_a5
//! prod_b (TestProducer) → cons_b1 → cons_b2 → cons_b3 → cons_b4 → cons_b5
//! ```
//!
//! (`cons_*` are TestOneInOneOut.) Both producers are roots, so `-i N` runs each N times.
//!
//! Expected output for `-i N`: `cons_a5.output` collects 1..N and `cons_b5.output` collects
//! 1..N.
//!
//! ```text
//! cargo run --example unconnected_pipeline -- simple -i 10
//! cargo run --example unconnected_pipeline -- simple -d '{"prod_a": 3, "prod_b": 5}'
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("unconnected_pipeline");
    for branch in ["a", "b"] {
        let mut prev = g.add(TestProducer::new(format!("prod_{branch}"), 1))?;
        for i in 1..=5 {
            let cons = g.add(test_one_in_one_out(format!("cons_{branch}{i}")))?;
            g.connect(prev, "output", cons, "input")?;
            prev = cons;
        }
    }
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
