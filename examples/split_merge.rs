//! `split_merge` (dispel4py's `graph_testing/split_merge`): a producer with two outputs whose
//! branches meet again in a PE with two inputs.
//!
//! ```text
//! prod (TestProducer(2)) .output0 → cons1 (TestOneInOneOut)       → merge.input0
//!                        .output1 → cons2 (TestOneInOneOutWriter) → merge.input1
//! merge (TestTwoInOneOut)
//! ```
//!
//! Expected output for `-i N`: `merge.output` collects each of `"1"`, `"2"`, ..., `"N"`
//! exactly twice (once per branch), as strings.
//!
//! ```text
//! cargo run --example split_merge -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{GraphError, WorkflowGraph};
use testing_pes::{test_one_in_one_out, TestOneInOneOutWriter, TestProducer, TestTwoInOneOut};

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("split_merge");
    let prod = g.add(TestProducer::new("prod", 2))?;
    let cons1 = g.add(test_one_in_one_out("cons1"))?;
    let cons2 = g.add(TestOneInOneOutWriter::new("cons2"))?;
    let merge = g.add(TestTwoInOneOut::new("merge"))?;
    g.connect(prod, "output0", cons1, "input")?;
    g.connect(prod, "output1", cons2, "input")?;
    g.connect(cons1, "output", merge, "input0")?;
    g.connect(cons2, "output", merge, "input1")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
