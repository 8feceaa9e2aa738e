//! The plan: the concrete graph every mapping enacts — how many instances each PE gets,
//! where each instance is placed (a *slot*: an arbiter, a process or an MPI rank), and the
//! routes between them. Computing it is pure and deterministic, so every process of a
//! multi-process run computes the same plan from the same graph and `-n`.
//!
//! # Instance counts (dispel4py's rules)
//!
//! * a root (no incoming connection) gets 1 instance;
//! * a PE with `numprocesses` set gets exactly that many;
//! * the other PEs share what is left of `n` equally (at least 1 each).
//!
//! # Placement
//!
//! Every root instance, every instance of a fixed PE and every instance of a sharing PE is a
//! placement unit of its own — except when fewer slots are left than there are sharing PEs:
//! then the sharing PEs, in topological order, are cut into as many contiguous *partitions*
//! as slots are left (at least one), and the PEs of a partition share a slot (co-location of
//! chatty neighbours instead of a refusal). Units are listed in topological order; with at
//! most `n` units, unit `u` goes to slot `u`; with more, unit `u` goes to slot `u·n / units`
//! (contiguous chunks, neighbours together).
//!
//! ```
//! use dispel4rs::{Iterative, PeError, Plan, Producer, Value, WorkflowGraph};
//! let mut g = WorkflowGraph::new("p");
//! let src = g.add(Producer::new("src", |_, o| o.write("output", 1))).unwrap();
//! let a = g.add(Iterative::new("a", |x: Value| Ok::<_, PeError>(x))).unwrap();
//! let b = g.add(Iterative::new("b", |x: Value| Ok::<_, PeError>(x))).unwrap();
//! g.connect(src, "output", a, "input").unwrap();
//! g.connect(a, "output", b, "input").unwrap();
//! let plan = Plan::new(&g, 5).unwrap();
//! assert_eq!(plan.pe_by_name("a").unwrap().count(), 2);
//! let plan = Plan::new(&g, 2).unwrap();
//! assert_eq!(plan.slot_of(plan.pe_by_name("a").unwrap().first()), plan.slot_of(plan.pe_by_name("b").unwrap().first()));
//! ```

use crate::graph::{GraphError, PeId, WorkflowGraph};
use crate::grouping::Grouping;
use crate::hash::StableHasher;
use crate::pe::{PeFactory, PeSpec};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

/// The most instances a plan may have (a guard against `-n` typos exhausting memory).
pub const MAX_INSTANCES: usize = 1 << 16;

/// Why no plan could be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// `-n 0`.
    #[error("the number of processes must be at least 1 (got -n 0)")]
    NoProcesses,
    /// More instances than a plan can hold.
    #[error("-n {processes} would create {instances} PE instances; at most {MAX_INSTANCES} are supported")]
    TooManyInstances {
        /// `-n`.
        processes: usize,
        /// Instances the rules would create.
        instances: usize,
    },
    /// The graph does not validate.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The graph broke an invariant its API guarantees (a bug: please report it).
    #[error("internal error while planning: {0}")]
    Internal(String),
    /// `-n` differs from the number of MPI ranks started.
    #[error("-n {asked} does not match the {ranks} MPI rank(s) mpirun started (omit -n, or use mpirun -n {asked})")]
    RankMismatch {
        /// `-n`.
        asked: usize,
        /// Ranks in the MPI job.
        ranks: usize,
    },
}

/// Where one output port's units go: every instance of one destination input.
#[derive(Clone, Debug)]
pub struct Route {
    /// Destination PE (plan index).
    pub to: usize,
    /// Destination input (index into its inputs).
    pub port: usize,
    /// The destination input's grouping.
    pub grouping: Grouping,
    /// Global ids of the destination's instances.
    pub instances: Range<usize>,
}

/// The name an unconnected output is reported under (a composite's port if it maps to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectName {
    /// PE (or composite) name.
    pub pe: Arc<str>,
    /// Port name.
    pub port: Arc<str>,
}

/// One PE of the plan.
#[derive(Clone)]
pub struct PlannedPe {
    /// Its id in the graph.
    pub id: PeId,
    /// Its name.
    pub name: Arc<str>,
    /// Its spec (with graph overrides applied).
    pub spec: PeSpec,
    /// Makes its instances.
    pub factory: PeFactory,
    /// Global ids of its instances.
    pub instances: Range<usize>,
    /// Input port names.
    pub inputs: Arc<[Arc<str>]>,
    /// Output port names.
    pub outputs: Arc<[Arc<str>]>,
    /// Per output port, the routes its units take (empty: collected).
    pub routes: Vec<Vec<Route>>,
    /// Per output port, the name it is collected under when it has no route.
    pub collect: Vec<Option<CollectName>>,
    /// How many upstream instances each instance waits for before end of stream.
    pub upstream: usize,
    /// Plan indices of the PEs that feed it.
    pub upstream_pes: Vec<usize>,
    /// True for a root: the mapping calls it.
    pub is_root: bool,
}

impl PlannedPe {
    /// Number of instances.
    pub fn count(&self) -> usize {
        self.instances.len()
    }

    /// Global id of instance 0.
    pub fn first(&self) -> usize {
        self.instances.start
    }

    /// The port a root is called on: its first input, or `""`.
    pub fn root_port(&self) -> Arc<str> {
        self.inputs.first().cloned().unwrap_or_else(|| Arc::from(crate::pe::NO_INPUT))
    }
}

/// One instance of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedInstance {
    /// Its PE (plan index).
    pub pe: usize,
    /// Its index among the PE's instances.
    pub index: usize,
    /// Where it runs: `0..processes`.
    pub slot: usize,
}

/// How instances are laid out: on slots (the fixed mappings), one logical instance per PE
/// for a pool of workers, or pinned stateful instances beside pooled stateless PEs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Fixed,
    Pooled,
    Hybrid,
}

/// The concrete graph. See the [module documentation](self).
#[derive(Clone)]
pub struct Plan {
    graph_name: String,
    processes: usize,
    pooled: bool,
    hybrid: bool,
    pes: Vec<PlannedPe>,
    instances: Vec<PlannedInstance>,
    by_name: HashMap<Arc<str>, usize>,
}

impl Plan {
    /// The plan of `graph` over `processes` slots (`-n`).
    pub fn new(graph: &WorkflowGraph, processes: usize) -> Result<Plan, PlanError> {
        Plan::build(graph, processes, Layout::Fixed)
    }

    /// The plan of a dynamic mapping with `workers` workers: every PE gets one *logical*
    /// instance on slot 0 (`numprocesses` does not apply), because any worker may run any of
    /// its units; routes between logical instances are plain hand-overs.
    ///
    /// ```
    /// use dispel4rs::{Iterative, PeError, PeSpec, Plan, Producer, Value, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("p");
    /// let src = g.add(Producer::new("src", |_, o| o.write("output", 1))).unwrap();
    /// let a = g.add(Iterative::new("a", |x: Value| Ok::<_, PeError>(x))).unwrap();
    /// g.set_numprocesses(a, 3).unwrap();
    /// g.connect(src, "output", a, "input").unwrap();
    /// let plan = Plan::pooled(&g, 8).unwrap();
    /// assert_eq!(plan.pe_by_name("a").unwrap().count(), 1);
    /// assert!(plan.is_pooled());
    /// assert_eq!(plan.processes(), 8);
    /// ```
    pub fn pooled(graph: &WorkflowGraph, workers: usize) -> Result<Plan, PlanError> {
        Plan::build(graph, workers, Layout::Pooled)
    }

    /// The plan of `hybrid_redis` with `workers` workers: every stateful PE (a grouped input,
    /// or declared stateful) gets the instances [`Plan::new`] would give it, each to be
    /// pinned to one worker; every stateless PE one logical instance, run by any worker.
    ///
    /// ```
    /// use dispel4rs::{Grouping, Iterative, PeError, PeSpec, FnPe, Plan, Producer, Value, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("h");
    /// let src = g.add(Producer::new("src", |_, o| o.write("output", ("a", 1)))).unwrap();
    /// let split = g.add(Iterative::new("split", |x: Value| Ok::<_, PeError>(x))).unwrap();
    /// let count = g.add(FnPe::new(
    ///     PeSpec::new("count").input_grouped("input", Grouping::group_by([0])).output("output").numprocesses(3),
    ///     |_: &str, u: Value, o: &mut dispel4rs::Output<'_>| o.write_at(0, u))).unwrap();
    /// g.connect(src, "output", split, "input").unwrap();
    /// g.connect(split, "output", count, "input").unwrap();
    /// let plan = Plan::hybrid(&g, 4).unwrap();
    /// assert_eq!(plan.pe_by_name("split").unwrap().count(), 1);
    /// assert_eq!(plan.pe_by_name("count").unwrap().count(), 3);
    /// ```
    pub fn hybrid(graph: &WorkflowGraph, workers: usize) -> Result<Plan, PlanError> {
        Plan::build(graph, workers, Layout::Hybrid)
    }

    fn build(graph: &WorkflowGraph, processes: usize, layout: Layout) -> Result<Plan, PlanError> {
        let pooled = layout != Layout::Fixed;
        if processes == 0 {
            return Err(PlanError::NoProcesses);
        }
        graph.validate()?;
        let order = graph.topological_order();
        let index_of: HashMap<PeId, usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let roots = graph.roots();
        let is_root: Vec<bool> = order.iter().map(|id| roots.contains(id)).collect();
        let specs: Vec<&PeSpec> = order
            .iter()
            .map(|id| graph.spec(*id).ok_or_else(|| PlanError::Internal(format!("{id} is not a PE"))))
            .collect::<Result<_, _>>()?;

        // Instance counts.
        let fixed_total: usize = order
            .iter()
            .enumerate()
            .filter(|(i, _)| !is_root[*i])
            .filter_map(|(i, _)| specs[i].numprocesses)
            .sum();
        let sharing: Vec<usize> =
            (0..order.len()).filter(|i| !is_root[*i] && specs[*i].numprocesses.is_none()).collect();
        let left = processes as isize - roots.len() as isize - fixed_total as isize;
        let share = if !sharing.is_empty() && left >= sharing.len() as isize {
            left as usize / sharing.len()
        } else {
            1
        };
        let counts: Vec<usize> = (0..order.len())
            .map(|i| {
                let one = is_root[i]
                    || layout == Layout::Pooled
                    || (layout == Layout::Hybrid && !specs[i].is_stateful());
                if one {
                    1
                } else {
                    specs[i].numprocesses.unwrap_or(share)
                }
            })
            .collect();
        let total = counts.iter().fold(0usize, |a, c| a.saturating_add(*c));
        if total > MAX_INSTANCES || processes > MAX_INSTANCES {
            return Err(PlanError::TooManyInstances { processes, instances: total });
        }

        // Partitions of the sharing PEs when slots run short: the blocking ones (declared
        // heavy or slow) keep a placement of their own; the others share what is left.
        let light: Vec<usize> = sharing.iter().copied().filter(|p| !specs[*p].blocking).collect();
        let heavy = sharing.len() - light.len();
        let short = !sharing.is_empty() && left < sharing.len() as isize;
        let groups = if short && !light.is_empty() { (left - heavy as isize).max(1) as usize } else { 0 };
        let mut group_of: HashMap<usize, usize> = HashMap::new();
        if groups > 0 {
            for (j, pe) in light.iter().enumerate() {
                group_of.insert(*pe, j * groups / light.len());
            }
        }

        // Placement units in topological order.
        let mut unit_of_instance: Vec<usize> = Vec::new();
        let mut instances = Vec::new();
        let mut units = 0usize;
        let mut group_unit: HashMap<usize, usize> = HashMap::new();
        for (p, count) in counts.iter().enumerate() {
            for index in 0..*count {
                let unit = match group_of.get(&p) {
                    Some(g) => *group_unit.entry(*g).or_insert_with(|| {
                        units += 1;
                        units - 1
                    }),
                    None => {
                        units += 1;
                        units - 1
                    }
                };
                unit_of_instance.push(unit);
                instances.push(PlannedInstance { pe: p, index, slot: 0 });
            }
        }
        for (inst, unit) in instances.iter_mut().zip(&unit_of_instance) {
            inst.slot = if pooled {
                0
            } else if units <= processes {
                *unit
            } else {
                unit * processes / units
            };
        }

        // PEs, routes, collection.
        let mut starts = Vec::with_capacity(counts.len());
        let mut next = 0;
        for c in &counts {
            starts.push(next);
            next += c;
        }
        let mut pes: Vec<PlannedPe> = Vec::with_capacity(order.len());
        for (p, id) in order.iter().enumerate() {
            let spec = specs[p].clone();
            let pe_ref = graph
                .pes()
                .find(|r| r.id == *id)
                .ok_or_else(|| PlanError::Internal(format!("{id} is not a PE")))?;
            let outputs: Vec<Arc<str>> = spec.outputs.iter().map(|o| Arc::from(o.name.as_str())).collect();
            let inputs: Vec<Arc<str>> = spec.inputs.iter().map(|i| Arc::from(i.name.as_str())).collect();
            let mut routes = vec![Vec::new(); outputs.len()];
            for c in graph.connections().iter().filter(|c| c.from == *id) {
                let unknown =
                    |port: &str| PlanError::Internal(format!("connection from unknown port {port}"));
                let out = spec
                    .outputs
                    .iter()
                    .position(|o| o.name == c.from_port)
                    .ok_or_else(|| unknown(&c.from_port))?;
                let to = index_of[&c.to];
                let to_spec = specs[to];
                let port = to_spec
                    .inputs
                    .iter()
                    .position(|i| i.name == c.to_port)
                    .ok_or_else(|| unknown(&c.to_port))?;
                routes[out].push(Route {
                    to,
                    port,
                    grouping: to_spec.inputs[port].grouping.clone(),
                    instances: starts[to]..starts[to] + counts[to],
                });
            }
            let collect = outputs
                .iter()
                .zip(&routes)
                .map(|(port, r)| {
                    r.is_empty().then(|| match graph.output_alias(*id, port) {
                        Some((pe, alias)) => CollectName { pe: Arc::from(pe), port: Arc::from(alias) },
                        None => CollectName { pe: Arc::from(pe_ref.name), port: port.clone() },
                    })
                })
                .collect();
            let mut upstream_pes: Vec<usize> =
                graph.connections().iter().filter(|c| c.to == *id).map(|c| index_of[&c.from]).collect();
            upstream_pes.sort_unstable();
            upstream_pes.dedup();
            pes.push(PlannedPe {
                id: *id,
                name: Arc::from(pe_ref.name),
                spec,
                factory: pe_ref.factory.clone(),
                instances: starts[p]..starts[p] + counts[p],
                inputs: inputs.into(),
                outputs: outputs.into(),
                routes,
                collect,
                upstream: upstream_pes.iter().map(|u| counts[*u]).sum(),
                upstream_pes,
                is_root: is_root[p],
            });
        }
        let by_name = pes.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        let hybrid = layout == Layout::Hybrid;
        Ok(Plan { graph_name: graph.name().to_owned(), processes, pooled, hybrid, pes, instances, by_name })
    }

    /// The graph's name.
    pub fn graph_name(&self) -> &str {
        &self.graph_name
    }

    /// The number of slots (`-n`).
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// True for the plan of a dynamic mapping ([`Plan::pooled`], [`Plan::hybrid`]).
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// True for the plan of `hybrid_redis` ([`Plan::hybrid`]).
    pub fn is_hybrid(&self) -> bool {
        self.hybrid
    }

    /// True if plan PE `pe`'s instances are pinned (a stateful PE of a hybrid plan).
    pub fn is_pinned(&self, pe: usize) -> bool {
        self.hybrid && self.pes.get(pe).is_some_and(|p| !p.is_root && p.spec.is_stateful())
    }

    /// The PEs that keep state across units, with why in words: a grouped input (group_by,
    /// one_to_all, all_to_one pin units to instances) or a spec that says so. The dynamic
    /// mappings cannot run them (any worker may get any unit).
    pub fn stateful_pes(&self) -> Vec<(Arc<str>, String)> {
        self.pes
            .iter()
            .filter_map(|p| {
                if let Some(input) = p.spec.inputs.iter().find(|i| i.grouping.is_stateful()) {
                    return Some((
                        p.name.clone(),
                        format!("its input '{}' has the grouping {}", input.name, input.grouping),
                    ));
                }
                p.spec.stateful.then(|| (p.name.clone(), "its spec declares it stateful".to_owned()))
            })
            .collect()
    }

    /// The number of slots that host at least one instance.
    pub fn used_slots(&self) -> usize {
        self.instances.iter().map(|i| i.slot + 1).max().unwrap_or(0)
    }

    /// PEs in topological order (the plan index is the position here).
    pub fn pes(&self) -> &[PlannedPe] {
        &self.pes
    }

    /// The PE named `name`.
    pub fn pe_by_name(&self, name: &str) -> Option<&PlannedPe> {
        self.by_name.get(name).map(|i| &self.pes[*i])
    }

    /// The plan index of the PE named `name`.
    pub fn pe_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// All instances by global id.
    pub fn instances(&self) -> &[PlannedInstance] {
        &self.instances
    }

    /// The slot of the instance with global id `global`.
    pub fn slot_of(&self, global: usize) -> usize {
        self.instances[global].slot
    }

    /// Global ids of the instances placed on `slot`.
    pub fn instances_on(&self, slot: usize) -> impl Iterator<Item = usize> + '_ {
        self.instances.iter().enumerate().filter(move |(_, i)| i.slot == slot).map(|(g, _)| g)
    }

    /// The root PEs (plan indices).
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        self.pes.iter().enumerate().filter(|(_, p)| p.is_root).map(|(i, _)| i)
    }

    /// A stable fingerprint of the plan's structure (names, ports, counts, placement,
    /// routes): processes of one run compare it to make sure they run the same workflow.
    pub fn fingerprint(&self) -> u64 {
        let mut h = StableHasher::new();
        h.write(self.graph_name.as_bytes());
        h.write(&(self.processes as u64).to_le_bytes());
        h.write(&[u8::from(self.pooled), u8::from(self.hybrid)]);
        for p in &self.pes {
            h.write(p.name.as_bytes());
            for port in p.inputs.iter().chain(p.outputs.iter()) {
                h.write(port.as_bytes());
                h.write(&[0xff]);
            }
            h.write(&(p.instances.start as u64).to_le_bytes());
            h.write(&(p.instances.end as u64).to_le_bytes());
            for r in p.routes.iter().flatten() {
                h.write(&(r.to as u64).to_le_bytes());
                h.write(&(r.port as u64).to_le_bytes());
                h.write(r.grouping.to_string().as_bytes());
            }
        }
        for i in &self.instances {
            h.write(&(i.slot as u64).to_le_bytes());
        }
        h.finish()
    }

    /// A human-readable description: one line per PE with its instances and slots, then the
    /// routes.
    pub fn describe(&self) -> String {
        if self.pooled {
            return self.describe_pooled();
        }
        let mut out = format!("plan for '{}' on {} slot(s):\n", self.graph_name, self.processes);
        for p in &self.pes {
            let slots: Vec<String> =
                p.instances.clone().map(|g| self.instances[g].slot.to_string()).collect();
            let _ = writeln!(
                out,
                "  {:<24} {} instance(s){}{} on slot(s) {}",
                p.name,
                p.count(),
                if p.is_root { " (root)" } else { "" },
                if p.spec.blocking { " (blocking: a thread each)" } else { "" },
                slots.join(",")
            );
        }
        self.describe_routes(&mut out);
        for w in crate::runtime::advice::plan_warnings(self) {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }

    fn describe_pooled(&self) -> String {
        let mut out =
            format!("plan for '{}' on a pool of up to {} worker(s):\n", self.graph_name, self.processes);
        for (i, p) in self.pes.iter().enumerate() {
            let how = if p.is_root {
                "1 instance (root), on a thread of its own".to_owned()
            } else if self.is_pinned(i) {
                format!("{} instance(s), each pinned to one worker (stateful)", p.count())
            } else {
                "run by any worker".to_owned()
            };
            let _ = writeln!(out, "  {:<24} {how}", p.name);
        }
        self.describe_routes(&mut out);
        out
    }

    fn describe_routes(&self, out: &mut String) {
        for p in &self.pes {
            for (o, routes) in p.routes.iter().enumerate() {
                for r in routes {
                    let to = &self.pes[r.to];
                    let _ = writeln!(
                        out,
                        "  {}.{} -> {}.{} [{}]",
                        p.name, p.outputs[o], to.name, to.inputs[r.port], r.grouping
                    );
                }
                if let Some(c) = &p.collect[o] {
                    let _ =
                        writeln!(out, "  {}.{} -> (collected as {}.{})", p.name, p.outputs[o], c.pe, c.port);
                }
            }
        }
    }
}

mod export;
pub mod tuning;
pub use tuning::PeTuning;

#[cfg(test)]
mod tests;
