//! Composite PEs: a subgraph that presents as one PE, with ports mapped to inner ports.
//! A composite is flattened when it is added to a graph (see [`WorkflowGraph::add_composite`]).
//!
//! ```
//! use dispel4rs::{Composite, Iterative, PeError, Producer, Value, WorkflowGraph};
//! // dispel4py's create_iterative_chain: (x + 2) * 4
//! let chain = Composite::iterative_chain("prep", vec![
//!     ("add2", Composite::function(|x: Value| Ok(Value::from(x.try_float()? + 2.0)))),
//!     ("times4", Composite::function(|x: Value| Ok(Value::from(x.try_float()? * 4.0)))),
//! ]).unwrap();
//! let mut g = WorkflowGraph::new("g");
//! let src = g.add(Producer::new("src", |_, out| out.write("output", 1))).unwrap();
//! let prep = g.add_composite(chain).unwrap();
//! g.connect(src, "output", prep, "input").unwrap();
//! assert!(g.find("prep/times4").is_some());
//! ```

use super::{GraphError, PeId, WorkflowGraph};
use crate::pe::{Iterative, PeError};
use crate::value::Value;
use std::sync::Arc;

/// A function of one data unit, shareable between instances (see [`Composite::iterative_chain`]).
pub type ChainFn = Arc<dyn Fn(Value) -> Result<Value, PeError> + Send + Sync>;

type InputMap = Vec<(String, Vec<(PeId, String)>)>;
type OutputMap = Vec<(String, PeId, String)>;

/// A subgraph with named input and output ports, flattened by
/// [`WorkflowGraph::add_composite`].
pub struct Composite {
    name: String,
    graph: WorkflowGraph,
    inputs: InputMap,
    outputs: OutputMap,
}

impl Composite {
    /// A composite named `name` around `graph`; map its ports with [`Self::map_input`] and
    /// [`Self::map_output`].
    pub fn new(name: impl Into<String>, graph: WorkflowGraph) -> Self {
        Composite { name: name.into(), graph, inputs: Vec::new(), outputs: Vec::new() }
    }

    /// Maps composite input `port` to `inner_port` of inner PE `inner`. Mapping one port
    /// several times fans its units out to every inner port.
    pub fn map_input(mut self, port: impl Into<String>, inner: PeId, inner_port: impl Into<String>) -> Self {
        let port = port.into();
        let target = (inner, inner_port.into());
        match self.inputs.iter_mut().find(|(p, _)| *p == port) {
            Some((_, targets)) => targets.push(target),
            None => self.inputs.push((port, vec![target])),
        }
        self
    }

    /// Maps composite output `port` to `inner_port` of inner PE `inner`.
    pub fn map_output(mut self, port: impl Into<String>, inner: PeId, inner_port: impl Into<String>) -> Self {
        self.outputs.push((port.into(), inner, inner_port.into()));
        self
    }

    /// Chains inner PEs `stages[0] -> stages[1] -> ...` through their `output` and `input`
    /// ports; the composite's `input` is the first stage's and its `output` the last's.
    pub fn pipeline(
        name: impl Into<String>,
        mut graph: WorkflowGraph,
        stages: &[PeId],
    ) -> Result<Self, GraphError> {
        let name = name.into();
        let (first, last) = match (stages.first(), stages.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => return Err(GraphError::Empty(name)),
        };
        for pair in stages.windows(2) {
            graph.connect(pair[0], "output", pair[1], "input")?;
        }
        Ok(Composite::new(name, graph)
            .map_input("input", first, "input")
            .map_output("output", last, "output"))
    }

    /// dispel4py's `create_iterative_chain`: one [`Iterative`] PE per named function, chained.
    pub fn iterative_chain(
        name: impl Into<String>,
        functions: Vec<(&str, ChainFn)>,
    ) -> Result<Self, GraphError> {
        let name = name.into();
        let mut graph = WorkflowGraph::new(name.clone());
        let mut stages = Vec::new();
        for (stage, f) in functions {
            stages.push(graph.add(Iterative::new(stage, move |x: Value| f(x)))?);
        }
        Composite::pipeline(name, graph, &stages)
    }

    /// Wraps a closure as a [`ChainFn`].
    pub fn function(f: impl Fn(Value) -> Result<Value, PeError> + Send + Sync + 'static) -> ChainFn {
        Arc::new(f)
    }

    pub(crate) fn into_parts(self) -> (String, WorkflowGraph, InputMap, OutputMap) {
        (self.name, self.graph, self.inputs, self.outputs)
    }
}
