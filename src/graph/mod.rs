//! The workflow graph: PEs (nodes) and connections from an output port to an input port.
//!
//! Every [`WorkflowGraph::connect`] is checked at once: an unknown PE or port, a declared
//! type mismatch, a duplicate connection or a cycle is an error that names the PEs and
//! ports at fault. Fan-out (one output to many inputs), fan-in (many outputs to one input)
//! and several connections between the same two PEs are all allowed. Ids are given in the
//! order PEs are added, so the same program builds the same graph in every process.
//!
//! Cycles are rejected: end of stream is only well defined on a DAG (see
//! docs/SEMANTICS.md). Composite PEs are flattened when they are added: their inner PEs
//! join the graph as `composite/inner`, and connections to the composite's ports go to the
//! inner ports they map to.
//!
//! ```
//! use dispel4rs::{Iterative, PeError, Producer, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("demo");
//! let src = g.add(Producer::new("src", |_, out| out.write("output", 1))).unwrap();
//! let inc = g.add(Iterative::new("inc", |x: Value| Ok::<_, PeError>(x.try_int()? + 1))).unwrap();
//! g.connect(src, "output", inc, "input").unwrap();
//! let err = g.connect(inc, "output", src, "input").unwrap_err();
//! assert_eq!(err.to_string(), "PE 'src' has no input port 'input' (inputs: none)");
//! let err = g.connect(inc, "out", inc, "input").unwrap_err();
//! assert!(err.to_string().starts_with("PE 'inc' has no output port 'out'"));
//! ```

mod composite;
mod export;
mod naming;

use crate::grouping::Grouping;
pub use composite::{ChainFn, Composite};

use crate::pe::{Pe, PeFactory, PeSpec};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

static NEXT_GRAPH: AtomicU32 = AtomicU32::new(1);

/// Identifies a PE (or a composite) within the graph that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeId {
    graph: u32,
    index: u32,
}

impl PeId {
    /// The position of the PE in its graph (insertion order, from 0).
    pub fn index(self) -> usize {
        self.index as usize
    }

    #[doc(hidden)]
    pub fn for_tests(index: u32) -> PeId {
        PeId { graph: 0, index }
    }
}

impl fmt::Display for PeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// Which side of a PE a port is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// An input port.
    Input,
    /// An output port.
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// A mistake in building a graph, naming what is at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// Two PEs with the same name.
    #[error("a PE named '{0}' is already in the graph (PE names must be unique)")]
    DuplicateName(String),
    /// A PE with an empty name.
    #[error("a PE needs a non-empty name")]
    EmptyName,
    /// A PE spec declares the same port twice.
    #[error("PE '{pe}' declares {direction} port '{port}' twice")]
    DuplicatePort {
        /// The PE.
        pe: String,
        /// The repeated port.
        port: String,
        /// Input or output.
        direction: Direction,
    },
    /// An id from another graph.
    #[error("PE id {0} does not belong to graph '{1}'")]
    ForeignId(PeId, String),
    /// A port the PE does not declare.
    #[error("PE '{pe}' has no {direction} port '{port}' ({direction}s: {available})")]
    UnknownPort {
        /// The PE.
        pe: String,
        /// The port asked for.
        port: String,
        /// Input or output.
        direction: Direction,
        /// The ports it does have, comma separated.
        available: String,
    },
    /// Declared port types that differ (boxed: it keeps `GraphError`, and every
    /// `Result<_, GraphError>`, small).
    #[error("{0}")]
    TypeMismatch(Box<TypeMismatch>),
    /// The same output connected to the same input twice.
    #[error("'{from}.{from_port}' is already connected to '{to}.{to_port}'")]
    DuplicateConnection {
        /// Source PE.
        from: String,
        /// Source port.
        from_port: String,
        /// Destination PE.
        to: String,
        /// Destination port.
        to_port: String,
    },
    /// A connection that would close a cycle; the path is given PE by PE.
    #[error("connecting '{from}' to '{to}' would make a cycle: {}", .path.join(" -> "))]
    Cycle {
        /// Source PE of the rejected connection.
        from: String,
        /// Destination PE.
        to: String,
        /// The cycle, first PE repeated at the end.
        path: Vec<String>,
    },
    /// An operation that needs a PE was given a composite.
    #[error("'{0}' is a composite PE: {1}")]
    Composite(String, &'static str),
    /// A graph with no PEs.
    #[error("graph '{0}' has no PEs")]
    Empty(String),
}

/// Two connected ports whose declared types differ (see [`GraphError::TypeMismatch`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("type mismatch: '{from}.{from_port}' writes {from_type} but '{to}.{to_port}' reads {to_type}")]
pub struct TypeMismatch {
    /// Source PE.
    pub from: String,
    /// Source port.
    pub from_port: String,
    /// Its declared type.
    pub from_type: String,
    /// Destination PE.
    pub to: String,
    /// Destination port.
    pub to_port: String,
    /// Its declared type.
    pub to_type: String,
}

/// A connection between two PEs, at PE level (composites resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Source PE.
    pub from: PeId,
    /// Source output port.
    pub from_port: String,
    /// Destination PE.
    pub to: PeId,
    /// Destination input port.
    pub to_port: String,
}

#[derive(Clone)]
enum NodeKind {
    Pe { spec: PeSpec, factory: PeFactory },
    Composite { inputs: Vec<(String, Vec<(PeId, String)>)>, outputs: Vec<(String, PeId, String)> },
}

#[derive(Clone)]
struct Node {
    name: String,
    kind: NodeKind,
    parent: Option<PeId>,
}

/// A PE of a graph as seen by the plan and the mappings.
#[derive(Clone, Copy)]
pub struct PeRef<'g> {
    /// Its id.
    pub id: PeId,
    /// Its unique name.
    pub name: &'g str,
    /// What it declares (with any changes made through the graph).
    pub spec: &'g PeSpec,
    /// Makes a fresh instance.
    pub factory: &'g PeFactory,
}

/// A directed acyclic graph of PEs. See the [module documentation](self).
#[derive(Clone)]
pub struct WorkflowGraph {
    id: u32,
    name: String,
    nodes: Vec<Node>,
    by_name: HashMap<String, PeId>,
    connections: Vec<Connection>,
}

impl fmt::Debug for WorkflowGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowGraph")
            .field("name", &self.name)
            .field("pes", &self.nodes.iter().map(|n| &n.name).collect::<Vec<_>>())
            .field("connections", &self.connections)
            .finish()
    }
}

impl WorkflowGraph {
    /// An empty graph.
    pub fn new(name: impl Into<String>) -> Self {
        WorkflowGraph {
            id: NEXT_GRAPH.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            nodes: Vec::new(),
            by_name: HashMap::new(),
            connections: Vec::new(),
        }
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a PE; every instance is a clone of `pe`.
    pub fn add<P: Pe + Clone>(&mut self, pe: P) -> Result<PeId, GraphError> {
        let spec = pe.spec();
        let prototype = Mutex::new(pe);
        let factory: PeFactory = Arc::new(move || {
            let guard = prototype.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Box::new(guard.clone()) as Box<dyn Pe>
        });
        self.add_with_factory(spec, factory)
    }

    /// Adds a PE made by `factory` (for PEs that cannot be cloned); every instance and
    /// every restart calls it.
    pub fn add_factory<P: Pe, F>(&mut self, factory: F) -> Result<PeId, GraphError>
    where
        F: Fn() -> P + Send + Sync + 'static,
    {
        let spec = factory().spec();
        self.add_with_factory(spec, Arc::new(move || Box::new(factory()) as Box<dyn Pe>))
    }

    /// Adds a PE with an explicit spec and factory (used by registries and composites).
    pub fn add_with_factory(&mut self, spec: PeSpec, factory: PeFactory) -> Result<PeId, GraphError> {
        check_spec(&spec)?;
        let name = spec.name.clone();
        self.push_node(Node { name, kind: NodeKind::Pe { spec, factory }, parent: None })
    }

    fn push_node(&mut self, node: Node) -> Result<PeId, GraphError> {
        if node.name.is_empty() {
            return Err(GraphError::EmptyName);
        }
        if self.by_name.contains_key(&node.name) {
            return Err(GraphError::DuplicateName(node.name));
        }
        let id = PeId { graph: self.id, index: self.nodes.len() as u32 };
        self.by_name.insert(node.name.clone(), id);
        self.nodes.push(node);
        Ok(id)
    }

    /// Adds a composite PE: its inner PEs join this graph as `name/inner`, and the returned
    /// id stands for the composite's mapped ports in [`Self::connect`]. On error the graph
    /// is left as it was.
    pub fn add_composite(&mut self, composite: Composite) -> Result<PeId, GraphError> {
        let (nodes, connections) = (self.nodes.len(), self.connections.len());
        let result = self.flatten_composite(composite);
        if result.is_err() {
            // No half-added composite: its inner PEs would otherwise run as roots.
            for node in self.nodes.drain(nodes..) {
                self.by_name.remove(&node.name);
            }
            self.connections.truncate(connections);
        }
        result
    }

    fn flatten_composite(&mut self, composite: Composite) -> Result<PeId, GraphError> {
        let (name, inner, inputs, outputs) = composite.into_parts();
        let mut remap: HashMap<PeId, PeId> = HashMap::new();
        let mut added = Vec::new();
        for (i, node) in inner.nodes.iter().enumerate() {
            let old = PeId { graph: inner.id, index: i as u32 };
            let mut node = node.clone();
            node.name = format!("{name}/{}", node.name);
            if let NodeKind::Pe { spec, .. } = &mut node.kind {
                spec.name = node.name.clone();
            }
            let new = self.push_node(node)?;
            remap.insert(old, new);
            added.push(new);
        }
        let fix = |id: PeId| remap.get(&id).copied().ok_or(GraphError::ForeignId(id, inner.name.clone()));
        for new in &added {
            let node = &mut self.nodes[new.index()];
            node.parent = match node.parent {
                Some(p) => Some(fix(p)?),
                None => None,
            };
            if let NodeKind::Composite { inputs, outputs } = &mut node.kind {
                for (_, targets) in inputs.iter_mut() {
                    for (id, _) in targets.iter_mut() {
                        *id = fix(*id)?;
                    }
                }
                for (_, id, _) in outputs.iter_mut() {
                    *id = fix(*id)?;
                }
            }
        }
        for c in &inner.connections {
            self.connections.push(Connection {
                from: fix(c.from)?,
                from_port: c.from_port.clone(),
                to: fix(c.to)?,
                to_port: c.to_port.clone(),
            });
        }
        // Resolve the composite's port map down to PE ports.
        let mut in_map = Vec::new();
        for (port, targets) in inputs {
            let mut resolved = Vec::new();
            for (id, inner_port) in targets {
                for target in self.resolve_inputs(fix(id)?, &inner_port)? {
                    // A port mapped twice to one inner input must not deliver twice.
                    if !resolved.contains(&target) {
                        resolved.push(target);
                    }
                }
            }
            in_map.push((port, resolved));
        }
        let mut out_map = Vec::new();
        for (port, id, inner_port) in outputs {
            let (pe, p) = self.resolve_output(fix(id)?, &inner_port)?;
            out_map.push((port, pe, p));
        }
        let cid = self.push_node(Node {
            name: name.clone(),
            kind: NodeKind::Composite { inputs: in_map, outputs: out_map },
            parent: None,
        })?;
        for new in added {
            let node = &mut self.nodes[new.index()];
            if node.parent.is_none() {
                node.parent = Some(cid);
            }
        }
        Ok(cid)
    }

    fn node(&self, id: PeId) -> Result<&Node, GraphError> {
        if id.graph != self.id {
            return Err(GraphError::ForeignId(id, self.name.clone()));
        }
        self.nodes.get(id.index()).ok_or_else(|| GraphError::ForeignId(id, self.name.clone()))
    }

    fn resolve_output(&self, id: PeId, port: &str) -> Result<(PeId, String), GraphError> {
        let node = self.node(id)?;
        match &node.kind {
            NodeKind::Pe { spec, .. } => {
                if spec.output_spec(port).is_none() {
                    let names: Vec<&str> = spec.outputs.iter().map(|o| o.name.as_str()).collect();
                    return Err(unknown_port(&node.name, port, Direction::Output, &names));
                }
                Ok((id, port.to_owned()))
            }
            NodeKind::Composite { outputs, .. } => match outputs.iter().find(|(p, _, _)| p == port) {
                Some((_, pe, p)) => Ok((*pe, p.clone())),
                None => {
                    let names: Vec<&str> = outputs.iter().map(|(p, _, _)| p.as_str()).collect();
                    Err(unknown_port(&node.name, port, Direction::Output, &names))
                }
            },
        }
    }

    fn resolve_inputs(&self, id: PeId, port: &str) -> Result<Vec<(PeId, String)>, GraphError> {
        let node = self.node(id)?;
        match &node.kind {
            NodeKind::Pe { spec, .. } => {
                if spec.input_spec(port).is_none() {
                    let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
                    return Err(unknown_port(&node.name, port, Direction::Input, &names));
                }
                Ok(vec![(id, port.to_owned())])
            }
            NodeKind::Composite { inputs, .. } => match inputs.iter().find(|(p, _)| p == port) {
                Some((_, targets)) => Ok(targets.clone()),
                None => {
                    let names: Vec<&str> = inputs.iter().map(|(p, _)| p.as_str()).collect();
                    Err(unknown_port(&node.name, port, Direction::Input, &names))
                }
            },
        }
    }

    /// Connects output `out_port` of `from` to input `in_port` of `to`, checking both ports,
    /// declared types, duplicates and cycles at once.
    pub fn connect(&mut self, from: PeId, out_port: &str, to: PeId, in_port: &str) -> Result<(), GraphError> {
        let (src, src_port) = self.resolve_output(from, out_port)?;
        let targets = self.resolve_inputs(to, in_port)?;
        for (dst, dst_port) in &targets {
            self.check_connection(src, &src_port, *dst, dst_port)?;
        }
        for (dst, dst_port) in targets {
            self.connections.push(Connection {
                from: src,
                from_port: src_port.clone(),
                to: dst,
                to_port: dst_port,
            });
        }
        Ok(())
    }

    fn check_connection(
        &self,
        src: PeId,
        src_port: &str,
        dst: PeId,
        dst_port: &str,
    ) -> Result<(), GraphError> {
        let (from_name, to_name) =
            (self.nodes[src.index()].name.clone(), self.nodes[dst.index()].name.clone());
        let out_type = self.spec(src).and_then(|s| s.output_spec(src_port)).and_then(|o| o.type_name.clone());
        let in_type = self.spec(dst).and_then(|s| s.input_spec(dst_port)).and_then(|i| i.type_name.clone());
        if let (Some(a), Some(b)) = (&out_type, &in_type) {
            if a != b {
                return Err(GraphError::TypeMismatch(Box::new(TypeMismatch {
                    from: from_name,
                    from_port: src_port.to_owned(),
                    from_type: a.clone(),
                    to: to_name,
                    to_port: dst_port.to_owned(),
                    to_type: b.clone(),
                })));
            }
        }
        if self
            .connections
            .iter()
            .any(|c| c.from == src && c.from_port == src_port && c.to == dst && c.to_port == dst_port)
        {
            return Err(GraphError::DuplicateConnection {
                from: from_name,
                from_port: src_port.to_owned(),
                to: to_name,
                to_port: dst_port.to_owned(),
            });
        }
        if let Some(path) = self.path(dst, src) {
            let mut names: Vec<String> = path.iter().map(|id| self.nodes[id.index()].name.clone()).collect();
            names.push(to_name.clone());
            return Err(GraphError::Cycle { from: from_name, to: to_name, path: names });
        }
        Ok(())
    }

    /// A path of PEs from `a` to `b` along existing connections (both ends included).
    fn path(&self, a: PeId, b: PeId) -> Option<Vec<PeId>> {
        let mut prev: HashMap<PeId, PeId> = HashMap::new();
        let mut seen = HashSet::from([a]);
        let mut queue = VecDeque::from([a]);
        while let Some(x) = queue.pop_front() {
            if x == b {
                let mut path = vec![b];
                let mut cur = b;
                while let Some(p) = prev.get(&cur) {
                    path.push(*p);
                    cur = *p;
                }
                path.reverse();
                return Some(path);
            }
            for c in self.connections.iter().filter(|c| c.from == x) {
                if seen.insert(c.to) {
                    prev.insert(c.to, x);
                    queue.push_back(c.to);
                }
            }
        }
        None
    }

    /// Sets the number of instances of a PE (overrides its spec).
    pub fn set_numprocesses(&mut self, pe: PeId, n: usize) -> Result<(), GraphError> {
        self.spec_mut(pe)?.numprocesses = Some(n.max(1));
        Ok(())
    }

    /// Marks a PE as blocking (overrides its spec; see [`PeSpec::blocking`]).
    pub fn set_blocking(&mut self, pe: PeId) -> Result<(), GraphError> {
        self.spec_mut(pe)?.blocking = true;
        Ok(())
    }

    /// Sets the grouping of an input (overrides its spec). For a composite input, sets it on
    /// every inner input the port maps to.
    pub fn set_grouping(&mut self, pe: PeId, port: &str, grouping: Grouping) -> Result<(), GraphError> {
        for (id, p) in self.resolve_inputs(pe, port)? {
            if let Some(input) = self.spec_mut(id)?.inputs.iter_mut().find(|i| i.name == p) {
                input.grouping = grouping.clone();
            }
        }
        Ok(())
    }

    fn spec_mut(&mut self, pe: PeId) -> Result<&mut PeSpec, GraphError> {
        self.node(pe)?;
        let node = &mut self.nodes[pe.index()];
        match &mut node.kind {
            NodeKind::Pe { spec, .. } => Ok(spec),
            NodeKind::Composite { .. } => {
                Err(GraphError::Composite(node.name.clone(), "set this on its inner PEs"))
            }
        }
    }

    /// The spec of a PE (`None` for a composite or a foreign id).
    pub fn spec(&self, pe: PeId) -> Option<&PeSpec> {
        match &self.node(pe).ok()?.kind {
            NodeKind::Pe { spec, .. } => Some(spec),
            NodeKind::Composite { .. } => None,
        }
    }

    /// The name of a PE or composite.
    pub fn name_of(&self, pe: PeId) -> Option<&str> {
        self.node(pe).ok().map(|n| n.name.as_str())
    }

    /// The PE or composite named `name`.
    pub fn find(&self, name: &str) -> Option<PeId> {
        self.by_name.get(name).copied()
    }

    /// The PE with index `index` (a PE's "id" on the command line).
    pub fn by_index(&self, index: usize) -> Option<PeId> {
        (index < self.nodes.len()).then_some(PeId { graph: self.id, index: index as u32 })
    }

    /// Every PE (composites excluded) in id order.
    pub fn pes(&self) -> impl Iterator<Item = PeRef<'_>> {
        self.nodes.iter().enumerate().filter_map(move |(i, n)| match &n.kind {
            NodeKind::Pe { spec, factory } => {
                Some(PeRef { id: PeId { graph: self.id, index: i as u32 }, name: &n.name, spec, factory })
            }
            NodeKind::Composite { .. } => None,
        })
    }

    /// The enclosing composite of a PE, if it came from one.
    pub fn parent(&self, pe: PeId) -> Option<PeId> {
        self.node(pe).ok().and_then(|n| n.parent)
    }

    /// All connections, in the order they were made (composites resolved).
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// PEs with no incoming connection, in id order: the mapping calls them.
    pub fn roots(&self) -> Vec<PeId> {
        self.pes().filter(|p| !self.connections.iter().any(|c| c.to == p.id)).map(|p| p.id).collect()
    }

    /// PEs in a topological order (ties broken by id, so the order is deterministic).
    pub fn topological_order(&self) -> Vec<PeId> {
        let pes: Vec<PeId> = self.pes().map(|p| p.id).collect();
        let mut indegree: HashMap<PeId, usize> = pes.iter().map(|p| (*p, 0)).collect();
        for c in &self.connections {
            *indegree.entry(c.to).or_default() += 1;
        }
        let mut ready: std::collections::BTreeSet<PeId> =
            pes.iter().filter(|p| indegree[*p] == 0).copied().collect();
        let mut order = Vec::with_capacity(pes.len());
        while let Some(p) = ready.pop_first() {
            order.push(p);
            for c in self.connections.iter().filter(|c| c.from == p) {
                if let Some(d) = indegree.get_mut(&c.to) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert(c.to);
                    }
                }
            }
        }
        order
    }

    /// Checks the whole graph before a run: it has PEs and no cycle (connect already refuses
    /// cycles; this also catches graphs assembled by other means).
    pub fn validate(&self) -> Result<(), GraphError> {
        let count = self.pes().count();
        if count == 0 {
            return Err(GraphError::Empty(self.name.clone()));
        }
        let order = self.topological_order();
        if order.len() != count {
            let placed: HashSet<PeId> = order.into_iter().collect();
            let stuck = self.pes().find(|p| !placed.contains(&p.id)).map(|p| p.id);
            if let Some(s) = stuck {
                let succ =
                    self.connections.iter().find(|c| c.from == s && !placed.contains(&c.to)).map(|c| c.to);
                let path = succ.and_then(|n| self.path(n, s)).unwrap_or_default();
                let mut names: Vec<String> =
                    path.iter().map(|id| self.nodes[id.index()].name.clone()).collect();
                if let Some(first) = names.first().cloned() {
                    names.push(first);
                }
                let name = self.nodes[s.index()].name.clone();
                return Err(GraphError::Cycle { from: name.clone(), to: name, path: names });
            }
        }
        Ok(())
    }

    pub(crate) fn composite_ports(&self, id: PeId) -> Option<(Vec<&str>, Vec<&str>)> {
        match &self.node(id).ok()?.kind {
            NodeKind::Composite { inputs, outputs } => Some((
                inputs.iter().map(|(p, _)| p.as_str()).collect(),
                outputs.iter().map(|(p, _, _)| p.as_str()).collect(),
            )),
            NodeKind::Pe { .. } => None,
        }
    }

    /// The composite output port (composite name, port) that an inner PE output stands for.
    pub fn output_alias(&self, pe: PeId, port: &str) -> Option<(&str, &str)> {
        let mut found = None;
        for node in &self.nodes {
            if let NodeKind::Composite { outputs, .. } = &node.kind {
                if let Some((p, _, _)) = outputs.iter().find(|(_, id, p)| *id == pe && p == port) {
                    // The outermost composite wins: later nodes enclose earlier ones.
                    found = Some((node.name.as_str(), p.as_str()));
                }
            }
        }
        found
    }
}

fn unknown_port(pe: &str, port: &str, direction: Direction, names: &[&str]) -> GraphError {
    GraphError::UnknownPort {
        pe: pe.to_owned(),
        port: port.to_owned(),
        direction,
        available: crate::pe::output::list_names(names),
    }
}

fn check_spec(spec: &PeSpec) -> Result<(), GraphError> {
    let mut seen = HashSet::new();
    for i in &spec.inputs {
        if !seen.insert(i.name.as_str()) {
            return Err(GraphError::DuplicatePort {
                pe: spec.name.clone(),
                port: i.name.clone(),
                direction: Direction::Input,
            });
        }
    }
    seen.clear();
    for o in &spec.outputs {
        if !seen.insert(o.name.as_str()) {
            return Err(GraphError::DuplicatePort {
                pe: spec.name.clone(),
                port: o.name.clone(),
                direction: Direction::Output,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
