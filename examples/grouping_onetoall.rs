//! `grouping_onetoall` (dispel4py's `graph_testing/grouping_onetoall`): a broadcast to a PE
//! with two instances.
//!
//! ```text
//! prod (TestProducer) → cons (TestOneInOneOut, numprocesses 2, input grouping one_to_all)
//! ```
//!
//! Every instance of `cons` receives every unit, under every mapping (`simple` included: it
//! enacts the same plan, two instances of `cons`).
//!
//! Expected output for `-i N`: `cons.output` collects each of 1..N exactly twice (2N units).
//!
//! ```text
//! cargo run --example grouping_onetoall -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, Grouping, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestProducer};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("grouping_onetoall");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let cons = g.add(test_one_in_one_out("cons"))?;
    g.set_numprocesses(cons, 2)?;
    g.set_grouping(cons, "input", Grouping::OneToAll)?;
    g.connect(prod, "output", cons, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
