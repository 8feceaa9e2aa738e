//! `pipeline_composite` (dispel4py's `graph_testing/pipeline_composite`): a producer feeding a
//! composite PE made with [`Composite::iterative_chain`] (dispel4py's
//! `create_iterative_chain`) of four function PEs.
//!
//! ```text
//! prod (TestProducer) → chain = [ add2: x + 2 → times4: x · 4 → div2: x / 2 → minus1: x − 1 ]
//! ```
//!
//! The inner PEs join the graph as `chain/add2`, `chain/times4`, `chain/div2` and
//! `chain/minus1`. Arithmetic follows Python: `+`, `·` and `−` keep integers integers, `/` is
//! true division and always gives a float. So `i` becomes `(i + 2) · 4 / 2 − 1 = 2i + 3`, a
//! float.
//!
//! Expected output for `-i N`: the composite's output `chain.output` (inner
//! `chain/minus1.output`, collected under the composite's name) collects 5.0, 7.0, 9.0, ...,
//! 2N + 3 as floats.
//!
//! ```text
//! cargo run --example pipeline_composite -- simple -i 10
//! ```

#[path = "common/testing_pes.rs"]
mod testing_pes;

use dispel4rs::{Composite, GraphError, PeError, Value, WorkflowGraph};
use testing_pes::TestProducer;

/// Applies `int_op` to an integer (an error if it overflows) or `float_op` to a float.
fn arith(
    x: &Value,
    what: &str,
    int_op: impl Fn(i64) -> Option<i64>,
    float_op: impl Fn(f64) -> f64,
) -> Result<Value, PeError> {
    match x {
        Value::Int(i) => {
            int_op(*i).map(Value::Int).ok_or_else(|| PeError::new(format!("{what}: {i} overflows")))
        }
        other => Ok(Value::Float(float_op(other.try_float()?))),
    }
}

/// The composite: add 2, multiply by 4, divide by 2 (true division), subtract 1.
pub fn chain() -> Result<Composite, GraphError> {
    Composite::iterative_chain(
        "chain",
        vec![
            ("add2", Composite::function(|x| arith(&x, "add2", |i| i.checked_add(2), |f| f + 2.0))),
            ("times4", Composite::function(|x| arith(&x, "times4", |i| i.checked_mul(4), |f| f * 4.0))),
            ("div2", Composite::function(|x| Ok(Value::Float(x.try_float()? / 2.0)))),
            ("minus1", Composite::function(|x| arith(&x, "minus1", |i| i.checked_sub(1), |f| f - 1.0))),
        ],
    )
}

/// The workflow graph (benchmarks and tests include this file).
pub fn graph() -> Result<WorkflowGraph, GraphError> {
    let mut g = WorkflowGraph::new("pipeline_composite");
    let prod = g.add(TestProducer::new("prod", 1))?;
    let chain = g.add_composite(chain()?)?;
    g.connect(prod, "output", chain, "input")?;
    Ok(g)
}

fn main() {
    dispel4rs::cli::main(graph())
}
