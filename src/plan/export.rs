//! Pictures of the plan (`--plan --graph dot|mermaid|svg`): every instance, on its slot, and an
//! edge wherever an instance may send to another (which instance each unit goes to is the
//! destination grouping's choice, unit by unit). The SVG form is `render::graph::plan_instances`.

use super::Plan;
use std::fmt::Write as _;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Plan {
    /// What each instance is called in the pictures: `pe[index]`.
    fn instance_name(&self, global: usize) -> String {
        let i = self.instances[global];
        format!("{}[{}]", self.pes[i.pe].name, i.index)
    }

    /// Every `(from, to, label)` instance edge of the routes.
    fn instance_edges(&self) -> Vec<(usize, usize, String)> {
        let mut edges = Vec::new();
        for pe in &self.pes {
            for (o, routes) in pe.routes.iter().enumerate() {
                for r in routes {
                    let to = &self.pes[r.to];
                    let label = format!("{} → {} [{}]", pe.outputs[o], to.inputs[r.port], r.grouping);
                    for from in pe.instances.clone() {
                        for t in r.instances.clone() {
                            edges.push((from, t, label.clone()));
                        }
                    }
                }
            }
        }
        edges
    }

    /// Slots and their instances (a pooled plan: one group, "the pool").
    fn slot_groups(&self) -> Vec<(String, Vec<usize>)> {
        if self.pooled {
            return vec![("the pool".to_owned(), (0..self.instances.len()).collect())];
        }
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for slot in 0..self.processes {
            let members: Vec<usize> = self.instances_on(slot).collect();
            if !members.is_empty() {
                groups.push((format!("slot {slot}"), members));
            }
        }
        groups
    }

    /// The plan in Graphviz DOT: a cluster per slot, a node per instance, an edge per route
    /// between instances.
    ///
    /// ```
    /// use dispel4rs::{Iterative, PeError, Plan, Producer, Value, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("p");
    /// let a = g.add(Producer::new("a", |_, o| o.write("output", 1))).unwrap();
    /// let b = g.add(Iterative::new("b", |x: Value| Ok::<_, PeError>(x))).unwrap();
    /// g.connect(a, "output", b, "input").unwrap();
    /// let dot = Plan::new(&g, 3).unwrap().to_dot();
    /// assert!(dot.contains("subgraph \"cluster_slot 1\""));
    /// assert!(dot.contains("\"a[0]\" -> \"b[1]\" [label=\"output → input [shuffle]\"]"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", quote(&format!("plan of {}", self.graph_name)));
        out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        for (name, members) in self.slot_groups() {
            let _ = writeln!(out, "  subgraph {} {{", quote(&format!("cluster_{name}")));
            let _ = writeln!(out, "    label={};", quote(&name));
            for g in members {
                let _ = writeln!(out, "    {};", quote(&self.instance_name(g)));
            }
            out.push_str("  }\n");
        }
        for (from, to, label) in self.instance_edges() {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quote(&self.instance_name(from)),
                quote(&self.instance_name(to)),
                quote(&label)
            );
        }
        out.push_str("}\n");
        out
    }

    /// The plan as a Mermaid flowchart: a subgraph per slot, a node per instance.
    ///
    /// ```
    /// use dispel4rs::{Plan, Producer, WorkflowGraph};
    /// let mut g = WorkflowGraph::new("p");
    /// g.add(Producer::new("a", |_, o| o.write("output", 1))).unwrap();
    /// let m = Plan::new(&g, 1).unwrap().to_mermaid();
    /// assert!(m.starts_with("flowchart LR\n  subgraph s0 [\"slot 0\"]\n    i0[\"a[0]\"]"));
    /// ```
    pub fn to_mermaid(&self) -> String {
        let text = |s: &str| s.replace('"', "#quot;");
        let mut out = String::from("flowchart LR\n");
        for (k, (name, members)) in self.slot_groups().into_iter().enumerate() {
            let _ = writeln!(out, "  subgraph s{k} [\"{}\"]", text(&name));
            for g in members {
                let _ = writeln!(out, "    i{g}[\"{}\"]", text(&self.instance_name(g)));
            }
            out.push_str("  end\n");
        }
        for (from, to, label) in self.instance_edges() {
            let _ = writeln!(out, "  i{from} -->|\"{}\"| i{to}", text(&label));
        }
        out
    }
}
